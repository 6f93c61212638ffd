"""Socket state: assigns, change tracking, client operations, snapshots."""

from __future__ import annotations

import pytest

from fastapi_live import LiveError, LiveSocket, RedirectError
from fastapi_live.socket import Assigns, ClientOp, SocketState


@pytest.fixture
def socket() -> LiveSocket:
    return LiveSocket(view_name="Page")


def test_assign_sets_values_and_records_the_changed_keys(socket):
    socket.assign({"a": 1}, b=2)
    assert dict(socket.assigns) == {"a": 1, "b": 2}
    assert socket.changed == {"a", "b"}


def test_assigning_an_equal_value_is_not_a_change(socket):
    socket.assign(count=1, items=[1, 2])
    socket._take_changes()
    socket.assign(count=1, items=[1, 2])
    assert socket.changed == frozenset()
    socket.assign(count=2)
    assert socket.changed == {"count"}


def test_a_value_whose_comparison_raises_counts_as_changed(socket):
    class Weird:
        def __eq__(self, other):
            raise TypeError("no comparing")

        __hash__ = object.__hash__

    socket.assign(x=Weird())
    socket._take_changes()
    socket.assign(x=Weird())
    assert socket.changed == {"x"}


@pytest.mark.parametrize("name", ["live", "__live__", "socket", "streams", "flash", "flash_clear_after"])
def test_reserved_names_are_refused(socket, name):
    reserved = r"\['__live__', 'flash', 'flash_clear_after', 'live', 'socket', 'streams'\]"
    with pytest.raises(LiveError, match=rf"^'{name}' is a reserved name and cannot be assigned; reserved: {reserved}$"):
        socket.assign({name: 1})
    assert name not in socket.assigns


def test_update_applies_a_function_to_the_old_value(socket):
    socket.assign(count=1)
    socket._take_changes()
    socket.update("count", lambda n: n + 1)
    assert socket.assigns.count == 2
    assert socket.changed == {"count"}


def test_update_of_a_missing_key_names_what_is_assigned(socket):
    socket.assign(a=1, b=2)
    with pytest.raises(LiveError, match=r"^cannot update 'count': it is not assigned; assigned: \['a', 'b'\]$"):
        socket.update("count", lambda n: n + 1)


def test_assign_new_only_fills_a_missing_key(socket):
    calls = []
    socket.assign_new("a", lambda: calls.append(1) or "first")
    socket.assign_new("a", lambda: calls.append(2) or "second")
    assert socket.assigns.a == "first"
    assert calls == [1]


def test_mark_changed_forces_a_rerender_after_an_in_place_mutation(socket):
    socket.assign(rows=[1])
    socket._take_changes()
    socket.assigns.rows.append(2)
    assert socket.changed == frozenset()
    socket.mark_changed("rows")
    assert socket.changed == {"rows"}


def test_assigns_are_read_only_and_readable_by_attribute(socket):
    socket.assign(title="Hi")
    assert isinstance(socket.assigns, Assigns)
    assert socket.assigns["title"] == socket.assigns.title == "Hi"
    assert len(socket.assigns) == 1
    assert list(socket.assigns) == ["title"]
    with pytest.raises(TypeError):
        socket.assigns["title"] = "changed"  # type: ignore[index]
    with pytest.raises(AttributeError, match=r"^no assign named 'missing'; assigned: \['title'\]$"):
        _ = socket.assigns.missing


def test_client_operations_are_queued_in_order(socket):
    socket.push_event("highlight", {"id": 3}).redirect("/elsewhere").navigate("/other", replace=True).push_event("ping")
    _, ops = socket._take_changes()
    assert ops == [
        ClientOp("push", "highlight", {"id": 3}),
        ClientOp("redirect", "/elsewhere", None),
        ClientOp("navigate", "/other", {"replace": True}),
        ClientOp("push", "ping", {}),
    ]


@pytest.mark.parametrize("name", ["", None, 3])
def test_push_event_needs_a_name(socket, name):
    with pytest.raises(LiveError, match=rf"^push_event name must be a non-empty string, got {name!r}$"):
        socket.push_event(name)


def test_take_changes_hands_over_and_resets(socket):
    socket.assign(a=1).push_event("x")
    changed, ops = socket._take_changes()
    assert changed == {"a"} and len(ops) == 1
    assert socket._take_changes() == (frozenset(), [])


def test_restore_rolls_back_assigns_changes_and_queued_operations(socket):
    socket.assign(a=1)
    socket.push_event("kept")
    snapshot = socket._snapshot()
    socket.assign(a=2, b=3)
    socket.push_event("dropped")
    socket._restore(snapshot)
    assert dict(socket.assigns) == {"a": 1}
    assert socket.changed == {"a"}
    assert [op.name for op in socket._take_changes()[1]] == ["kept"]


def test_the_assigns_view_stays_live_after_a_restore(socket):
    view = socket.assigns
    snapshot = socket._snapshot()
    socket.assign(a=1)
    socket._restore(snapshot)
    socket.assign(b=2)
    assert dict(view) == {"b": 2}


def test_a_new_socket_is_not_connected_or_mounted():
    socket = LiveSocket()
    assert (socket.connected, socket.mounted, socket.view_name) == (False, False, "LiveView")


@pytest.mark.parametrize(
    "target",
    ["javascript:alert(1)", "JavaScript:alert(1)", "//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example", "evil", "", " /x"],
)
def test_redirect_and_navigate_take_only_local_paths(target):
    socket = LiveSocket()
    refused = r"^socket\.redirect\(\) takes a path on this site, got .*\nExpected: a path starting with a single '/'.*\n"
    with pytest.raises(RedirectError, match=refused + r"For another site, say so: socket\.redirect\(external="):
        socket.redirect(target)
    with pytest.raises(RedirectError, match=r"^socket\.push_navigate\(\) takes a path on this site"):
        socket.push_navigate(target)
    with pytest.raises(RedirectError, match=r"^socket\.push_navigate\(\) takes a path on this site"):
        socket.navigate(target)  # the alias
    if target:  # an empty one "needs a URL" (tests/test_navigation.py)
        with pytest.raises(RedirectError, match=r"^socket\.push_patch\(\) takes a path on this site"):
            socket.push_patch(target)
    assert socket._client_ops == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,hi", "//evil.example", "/local", "https:///nohost", "ftp://example.com/"])
def test_an_external_redirect_takes_only_an_absolute_http_url(url):
    with pytest.raises(RedirectError, match=r"^socket\.redirect\(external=\.\.\.\) takes an absolute http:// or https:// URL, got "):
        SocketState().redirect(external=url)


def test_local_and_explicit_external_redirects_are_queued():
    socket = SocketState()
    socket.redirect("/dashboard?tab=2").redirect(external="https://example.com/docs").navigate("/todos", replace=True)
    assert [(op.kind, op.name) for op in socket._client_ops] == [
        ("redirect", "/dashboard?tab=2"),
        ("redirect", "https://example.com/docs"),
        ("navigate", "/todos"),
    ]
    with pytest.raises(RedirectError, match="exactly one of them"):
        socket.redirect("/a", external="https://example.com")
    with pytest.raises(RedirectError, match="exactly one of them"):
        socket.redirect()
