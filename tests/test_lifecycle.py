"""Lifecycle hooks: attach/detach, running chains with CONT/HALT, checked returns."""

from __future__ import annotations

import pytest

from fastapi_live import CONT, HALT, CallbackReturnError, ConfigurationError, LiveSocket
from fastapi_live.lifecycle import callable_name, check_signal, run_hooks

STAGES = "handle_params, handle_event, handle_info, handle_async, after_render"


@pytest.fixture
def socket() -> LiveSocket:
    return LiveSocket(view_name="Page")


def recorder(calls: list, name: str, result=CONT):
    def hook(*args):
        calls.append((name, args[:-1]))
        return result

    hook.__qualname__ = f"hook_{name}"
    return hook


async def test_hooks_run_in_attach_order_with_the_stage_arguments(socket):
    calls: list = []
    socket.attach_hook("first", "handle_event", recorder(calls, "first"))
    socket.attach_hook("second", "handle_event", recorder(calls, "second"))
    halted = await run_hooks(socket, "handle_event", "save", {"id": 1})
    assert halted is False
    assert calls == [("first", ("save", {"id": 1})), ("second", ("save", {"id": 1}))]


async def test_the_socket_is_the_last_argument(socket):
    seen = []
    socket.attach_hook("h", "handle_info", lambda message, s: seen.append((message, s)))
    await run_hooks(socket, "handle_info", "ping")
    assert seen == [("ping", socket)]


async def test_halt_stops_the_later_hooks(socket):
    calls: list = []
    socket.attach_hook("stopper", "handle_info", recorder(calls, "stopper", HALT))
    socket.attach_hook("never", "handle_info", recorder(calls, "never"))
    assert await run_hooks(socket, "handle_info", "msg") is True
    assert [name for name, _ in calls] == ["stopper"]


async def test_async_hooks_are_awaited(socket):
    async def hook(name, outcome, s):
        return HALT

    socket.attach_hook("a", "handle_async", hook)
    assert await run_hooks(socket, "handle_async", "fetch", None) is True


async def test_none_counts_as_cont(socket):
    socket.attach_hook("quiet", "handle_event", lambda e, p, s: None)
    assert await run_hooks(socket, "handle_event", "x", {}) is False


async def test_after_render_hooks_take_only_the_socket_and_their_return_is_ignored(socket):
    calls: list = []
    socket.attach_hook("one", "after_render", lambda s: calls.append("one") or "anything")
    socket.attach_hook("two", "after_render", lambda s: calls.append("two") or HALT)
    socket.attach_hook("three", "after_render", lambda s: calls.append("three"))
    assert await run_hooks(socket, "after_render") is False
    assert calls == ["one", "two", "three"]


async def test_a_stage_without_hooks_does_not_halt(socket):
    assert await run_hooks(socket, "handle_event", "x", {}) is False


async def test_an_invalid_return_names_the_hook_its_callable_and_what_came_back(socket):
    def on_info(message, s):
        return {"ok": True}

    socket.attach_hook("notifications", "handle_info", on_info)
    with pytest.raises(CallbackReturnError) as info:
        await run_hooks(socket, "handle_info", "msg")
    assert str(info.value) == (
        "invalid return from hook 'notifications' (test_an_invalid_return_names_the_hook_its_callable_and_what_came_back.<locals>.on_info)"
        " on handle_info: expected CONT or HALT\nExpected one of: CONT, HALT, None\nGot: {'ok': True}"
    )


async def test_a_bound_method_hook_is_named_by_its_class(socket):
    class Widget:
        def on_event(self, event, params, s):
            return True

    socket.attach_hook("widget", "handle_event", Widget().on_event)
    with pytest.raises(CallbackReturnError, match=r"(?s)^invalid return from hook 'widget' \(.*Widget\.on_event\) on handle_event: .*\nGot: True$"):
        await run_hooks(socket, "handle_event", "x", {})


def test_attach_returns_the_socket_for_chaining(socket):
    assert socket.attach_hook("a", "handle_info", lambda m, s: CONT) is socket


def test_a_duplicate_name_on_a_stage_is_refused(socket):
    socket.attach_hook("notifications", "handle_info", lambda m, s: CONT)
    with pytest.raises(ConfigurationError, match=r"^a hook named 'notifications' is already attached to handle_info; detach it first or pick another name$"):
        socket.attach_hook("notifications", "handle_info", lambda m, s: CONT)


def test_the_same_name_on_another_stage_is_fine(socket):
    socket.attach_hook("widget", "handle_info", lambda m, s: CONT)
    socket.attach_hook("widget", "handle_event", lambda e, p, s: CONT)
    assert [name for name, _ in socket._hooks_for("handle_event")] == ["widget"]


@pytest.mark.parametrize("stage", ["mount", "handle_param", "", "HANDLE_EVENT"])
def test_an_unknown_stage_is_refused_listing_the_stages(socket, stage):
    with pytest.raises(ConfigurationError, match=rf"^invalid stage '{stage}' for hook 'h'\nExpected one of: {STAGES}\nGot: '{stage}'$"):
        socket.attach_hook("h", stage, lambda *a: CONT)
    with pytest.raises(ConfigurationError, match=rf"^invalid stage '{stage}'\nExpected one of: {STAGES}\nGot: '{stage}'$"):
        socket.detach_hook("h", stage)


def test_a_hook_must_be_callable(socket):
    with pytest.raises(ConfigurationError, match=r"^hook 'h' on handle_info must be callable, got 'not callable'$"):
        socket.attach_hook("h", "handle_info", "not callable")


async def test_detach_removes_only_that_hook(socket):
    calls: list = []
    socket.attach_hook("a", "handle_info", recorder(calls, "a"))
    socket.attach_hook("b", "handle_info", recorder(calls, "b"))
    socket.detach_hook("a", "handle_info")
    await run_hooks(socket, "handle_info", "m")
    assert [name for name, _ in calls] == ["b"]
    socket.attach_hook("a", "handle_info", recorder(calls, "a"))  # the name is free again


def test_detaching_an_unknown_hook_is_ignored(socket):
    socket.detach_hook("never-attached", "handle_event")
    assert socket._hooks_for("handle_event") == []


async def test_a_hook_may_detach_itself_while_running(socket):
    calls: list = []

    def once(message, s):
        calls.append(message)
        s.detach_hook("once", "handle_info")
        return CONT

    socket.attach_hook("once", "handle_info", once)
    await run_hooks(socket, "handle_info", 1)
    await run_hooks(socket, "handle_info", 2)
    assert calls == [1]


def test_check_signal():
    assert check_signal(HALT, "x") is True
    assert check_signal(CONT, "x") is False
    assert check_signal(None, "x") is False
    expected = r"^invalid return from on_mount hook auth: expected CONT or HALT\nExpected one of: CONT, HALT, None\nGot: 'halt'$"
    with pytest.raises(CallbackReturnError, match=expected):
        check_signal("halt", "on_mount hook auth")


def test_signals_read_well_in_messages():
    assert (repr(CONT), repr(HALT)) == ("CONT", "HALT")


def test_callable_name():
    class Widget:
        def on_info(self):
            pass

    def plain():
        pass

    assert callable_name(plain) == "test_callable_name.<locals>.plain"
    assert callable_name(Widget().on_info) == "test_callable_name.<locals>.Widget.on_info"


def test_callable_name_of_a_builtin():
    assert callable_name(len) == "len"
