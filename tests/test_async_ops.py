"""Async operations on the socket: the critical rule, loading states, reset, outcomes."""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from typing import Any

import pytest

from fastapi_live import AsyncResult, CallbackReturnError, CapturedSocketError, ConfigurationError, Exit, LiveSocket, Ok
from fastapi_live.async_ops import TaskRecord, apply_assign_outcome, call_user_function, is_async_generator


class RecordedTasks(dict[Any, TaskRecord]):
    """The tasks the socket asked its session to run, by key; and those it cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled: list[tuple[Any, Any]] = []

    def start(self, key: object, record: TaskRecord) -> None:
        self[key] = record

    def cancel(self, key: object, reason: object) -> bool:
        if key not in self:
            return False
        del self[key]
        self.cancelled.append((key, reason))
        return True

    def keys(self) -> list[Any]:  # type: ignore[override]  # the Tasks protocol's list
        return list(super().keys())


class FakeRuntime:
    """Records what the socket asks the session to run or cancel."""

    def __init__(self) -> None:
        self.tasks = RecordedTasks()

    @property
    def cancelled(self) -> list[tuple[Any, Any]]:
        return self.tasks.cancelled

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def socket(runtime) -> LiveSocket:
    socket = LiveSocket(view_name="Dashboard", runtime=runtime, connected=True)
    socket.assign(slug="acme", user_id=7)
    return socket


def fetch_org(slug: str) -> str:
    return f"org {slug}"


async def fetch_org_async(slug: str) -> str:
    return f"org {slug}"


# -- the critical rule: refused captures ----------------------------------------------------------

INSTEAD_OF_DO = re.compile(
    r"(?s)^(?P<op>assign_async|start_async|stream_async)\(\) was given .+, which captures the socket or its assigns through (?P<where>.+)\.\n"
    r"The task would hold the whole page state and read it from another thread or task\.\n\n"
    r"Instead of:\n    socket\.(?P=op)\(\"org\", lambda: fetch_org\(socket\.assigns\.slug\)\)\n\n"
    r"Do: capture the value you need and pass it as an argument\n"
    r"    slug = socket\.assigns\.slug\n"
    r"    socket\.(?P=op)\(\"org\", fetch_org, slug\)\n\n"
    r"See https://\S+$"
)


class Holder:
    def __init__(self, value: Any) -> None:
        self.value = value

    def load(self) -> str:
        return "x"

    async def load_async(self) -> str:
        return "x"


def capturing_functions(socket: LiveSocket) -> dict[str, tuple[Any, tuple[Any, ...], str]]:
    """Every way a task function can carry the socket: (fn, args, where the message points)."""
    assigns = socket.assigns
    data = socket._data

    def nested():
        def inner():
            return socket.assigns.slug

        return inner

    inner = nested()

    async def async_closure():
        return socket.assigns.slug

    async def async_generator():
        yield [socket.assigns.slug]

    def keyword_default(*, s=socket):
        return s

    return {
        "closure over the socket": (lambda: fetch_org(socket.assigns.slug), (), "a closure variable"),
        "closure over the assigns": (lambda: fetch_org(assigns.slug), (), "a closure variable"),
        "closure over the assigns dict": (lambda: fetch_org(data["slug"]), (), "a closure variable"),
        "async closure": (async_closure, (), "a closure variable"),
        "async generator closure": (async_generator, (), "a closure variable"),
        "closure through a nested function": (lambda: inner(), (), "a closure variable (through a nested function)"),
        "default argument": (lambda s=socket: fetch_org(s.assigns.slug), (), "a default argument"),
        "keyword-only default": (keyword_default, (), "a default argument"),
        "default holding the assigns": (lambda a=assigns: a.slug, (), "a default argument"),
        "partial positional argument": (functools.partial(fetch_org, socket), (), "a functools.partial argument"),
        "partial keyword argument": (functools.partial(fetch_org, slug=assigns), (), "a functools.partial argument"),
        "partial of a capturing lambda": (functools.partial(lambda x: socket, 1), (), "a closure variable"),
        "bound method of an object holding the socket": (Holder(socket).load, (), "an attribute of the bound Holder object"),
        "async bound method holding the assigns": (Holder(assigns).load_async, (), "an attribute of the bound Holder object"),
        "partial of a bound method holding the socket": (functools.partial(Holder(socket).load), (), "an attribute of the bound Holder object"),
        "bound method of the socket itself": (socket.assigns.get, (), "the bound object"),
        "the socket as an argument": (fetch_org, (socket,), "an argument"),
        "the assigns as an argument": (fetch_org, (assigns,), "an argument"),
    }


def _sample_socket() -> LiveSocket:
    return LiveSocket().assign(slug="acme", user_id=7)  # type: ignore[return-value]


CASES = list(capturing_functions(_sample_socket()).keys())


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("operation", ["assign_async", "start_async", "stream_async"])
def test_every_capture_is_refused_with_the_instead_of_do_message(socket, runtime, case, operation):
    fn, args, where = capturing_functions(socket)[case]
    before = dict(socket.assigns)
    socket._take_changes()
    with pytest.raises(CapturedSocketError) as info:
        getattr(socket, operation)("org", fn, *args)
    match = INSTEAD_OF_DO.match(str(info.value))
    assert match is not None, str(info.value)
    assert (match["op"], match["where"]) == (operation, where)
    # Refused at once: nothing started, nothing assigned.
    assert runtime.tasks == {}
    assert dict(socket.assigns) == before and socket.changed == frozenset()


def test_the_message_names_the_refused_function(socket):
    def load_org_for_page():
        return socket.assigns.slug

    with pytest.raises(CapturedSocketError, match=r"^assign_async\(\) was given .*load_org_for_page, which captures"):
        socket.assign_async("org", load_org_for_page)


def test_a_keyword_argument_holding_the_socket_is_refused(socket):
    with pytest.raises(CapturedSocketError, match=r"captures the socket or its assigns through an argument\."):
        socket.assign_async("org", fetch_org, slug=socket)


def plain_functions(socket: LiveSocket) -> dict[str, tuple[Any, tuple[Any, ...]]]:
    slug = socket.assigns.slug
    user_id = socket.assigns.user_id
    settings = {"region": "eu", "ids": [1, 2]}
    holder = Holder("plain value")

    def helper():
        return slug

    return {
        "function and argument": (fetch_org, (slug,)),
        "async function and argument": (fetch_org_async, (slug,)),
        "closure over a captured value": (lambda: fetch_org(slug), ()),
        "closure over several values": (lambda: (slug, user_id, settings), ()),
        "closure over a helper function": (lambda: helper(), ()),
        "default holding a value": (lambda s=slug: fetch_org(s), ()),
        "partial with a value": (functools.partial(fetch_org, slug), ()),
        "bound method of a plain object": (holder.load, ()),
        "builtin": (len, ([1, 2],)),
        "copy of the assigns": (lambda d=dict(socket.assigns): d, ()),
    }


@pytest.mark.parametrize("case", list(plain_functions(_sample_socket()).keys()))
@pytest.mark.parametrize("operation", ["assign_async", "start_async", "stream_async"])
def test_plain_captured_values_are_never_refused(socket, runtime, case, operation):
    fn, args = plain_functions(socket)[case]
    getattr(socket, operation)("org", fn, *args)
    assert len(runtime.tasks) == 1
    (record,) = runtime.tasks.values()
    assert (record.fn, record.args) == (fn, args)


def test_a_capture_by_another_socket_is_not_this_sockets_business(socket):
    other = LiveSocket()
    socket.assign_async("org", lambda: other)  # the rule is about this page's own state


# -- assign_async on the socket -------------------------------------------------------------------


def test_assign_async_marks_each_key_loading_and_starts_one_task(socket, runtime):
    socket._take_changes()
    socket.assign_async(["profile", "rank"], fetch_org, "acme")
    assert socket.assigns.profile == socket.assigns.rank == AsyncResult.loading()
    assert socket.changed == {"profile", "rank"}
    assert list(runtime.tasks) == [("assign", ("profile", "rank"))]
    record = runtime.tasks[("assign", ("profile", "rank"))]
    assert (record.kind, record.name, record.args, record.label) == ("assign", ("profile", "rank"), ("acme",), "assign_async(['profile', 'rank'])")


def test_assign_async_passes_keyword_arguments(socket, runtime):
    socket.assign_async("org", fetch_org, slug="acme")
    assert runtime.tasks[("assign", ("org",))].kwargs == {"slug": "acme"}


@pytest.mark.parametrize("keys", [[], "", ["ok", ""], [1], ("a", None)])
def test_assign_async_keys_must_be_names(socket, keys):
    with pytest.raises(ConfigurationError, match=rf"^assign_async keys must be a name or a list of names, got {re.escape(repr(keys))}$"):
        socket.assign_async(keys, fetch_org)


def test_by_default_a_loaded_key_keeps_its_value_while_reloading(socket):
    socket.assign(org=AsyncResult.ok(AsyncResult.loading(), "Acme"))
    socket.assign_async("org", fetch_org, "acme")
    assert socket.assigns.org == AsyncResult.loading(AsyncResult.ok(AsyncResult.loading(), "Acme"))
    assert socket.assigns.org.result == "Acme" and socket.assigns.org.ok


def test_reset_true_clears_every_key(socket):
    socket.assign(profile=AsyncResult.ok("p"), rank=AsyncResult.ok(1))
    socket.assign_async(["profile", "rank"], fetch_org, "acme", reset=True)
    assert socket.assigns.profile == socket.assigns.rank == AsyncResult.loading()


def test_reset_with_a_list_clears_only_those_keys(socket):
    socket.assign(profile=AsyncResult.ok("p"), rank=AsyncResult.ok(1))
    socket.assign_async(["profile", "rank"], fetch_org, "acme", reset=["rank"])
    assert socket.assigns.profile.result == "p" and socket.assigns.profile.loading
    assert socket.assigns.rank == AsyncResult.loading()


def test_a_plain_value_under_the_key_is_replaced_by_loading(socket):
    socket.assign(org="not an AsyncResult")
    socket.assign_async("org", fetch_org, "acme")
    assert socket.assigns.org == AsyncResult.loading()


def test_a_socket_without_a_session_cannot_run_tasks():
    socket = LiveSocket()
    for operation in ("assign_async", "start_async", "stream_async"):
        with pytest.raises(ConfigurationError, match=rf"^{operation}\(\) needs a running session: call it from mount, an event or an info handler$"):
            getattr(socket, operation)("org", fetch_org, "acme")


def test_start_async_and_stream_async_record_their_tasks(socket, runtime):
    socket.start_async("fetch", fetch_org, "acme")
    socket.assign(posts=AsyncResult.ok(True))
    socket.stream_async("posts", fetch_org, "acme", reset=True)
    assert runtime.tasks[("start", "fetch")].label == "start_async('fetch')"
    assert runtime.tasks[("stream", "posts")].label == "stream_async('posts')"
    assert runtime.tasks[("stream", "posts")].reset is True
    assert socket.assigns.posts == AsyncResult.loading()  # reset: the stale state is not kept


def test_stream_async_without_reset_keeps_the_stale_state(socket):
    socket.assign(posts=AsyncResult.ok(True))
    socket.stream_async("posts", fetch_org, "acme")
    assert socket.assigns.posts == AsyncResult.loading(AsyncResult.ok(True))


# -- cancel_async -----------------------------------------------------------------------------------


def test_cancel_async_by_task_name(socket, runtime):
    socket.start_async("fetch", fetch_org, "acme")
    socket.cancel_async("fetch", "user left")
    assert runtime.cancelled == [(("start", "fetch"), "user left")]


def test_cancel_async_by_assign_key_and_by_its_result(socket, runtime):
    socket.assign_async(["profile", "rank"], fetch_org, "acme")
    socket.cancel_async("rank")
    assert runtime.cancelled == [(("assign", ("profile", "rank")), "cancelled")]
    socket.assign_async("org", fetch_org, "acme")
    socket.cancel_async(socket.assigns.org, "enough")
    assert runtime.cancelled[-1] == (("assign", ("org",)), "enough")


def test_cancel_async_of_nothing_running_is_a_no_op(socket, runtime):
    socket.cancel_async("nothing")
    socket.cancel_async(AsyncResult.loading())
    assert runtime.cancelled == []


# -- outcomes of assign_async -------------------------------------------------------------------------


def record(keys: tuple[str, ...], fn: Any = fetch_org) -> TaskRecord:
    return TaskRecord("assign", keys, fn, (), {})


def test_one_key_takes_the_return_value(socket):
    socket.assign_async("org", fetch_org, "acme")
    apply_assign_outcome(socket, record(("org",)), Ok("Acme"))
    assert socket.assigns.org == AsyncResult.ok(AsyncResult.loading(), "Acme")


def test_one_key_also_accepts_liveviews_keyed_mapping(socket):
    socket.assign_async("org", fetch_org, "acme")
    apply_assign_outcome(socket, record(("org",)), Ok({"org": "Acme"}))
    assert socket.assigns.org.result == "Acme"


def test_one_key_with_a_mapping_of_other_keys_keeps_the_mapping(socket):
    socket.assign_async("org", fetch_org, "acme")
    apply_assign_outcome(socket, record(("org",)), Ok({"name": "Acme"}))
    assert socket.assigns.org.result == {"name": "Acme"}


def test_several_keys_take_their_values_from_a_mapping(socket):
    socket.assign_async(["profile", "rank"], fetch_org, "acme")
    apply_assign_outcome(socket, record(("profile", "rank")), Ok({"profile": "p", "rank": 1, "extra": "ignored"}))
    assert (socket.assigns.profile.result, socket.assigns.rank.result) == ("p", 1)
    assert "extra" not in socket.assigns


def test_a_missing_key_fails_every_key_and_names_the_missing_ones(socket):
    def load_profile_and_rank():
        return {"profile": "p"}

    socket.assign_async(["profile", "rank", "badge"], load_profile_and_rank)
    apply_assign_outcome(socket, record(("profile", "rank", "badge"), load_profile_and_rank), Ok({"profile": "p"}))
    for key in ("profile", "rank", "badge"):
        result = socket.assigns[key]
        assert not result.ok and result.loading is None
        assert isinstance(result.failed, CallbackReturnError)
    assert socket.assigns.profile.failed is socket.assigns.rank.failed
    assert re.fullmatch(
        r"invalid return from assign_async\(\['profile', 'rank', 'badge'\]\) function '.*load_profile_and_rank': "
        r"missing keys \['rank', 'badge'\]\nExpected a mapping with every key: \['profile', 'rank', 'badge'\]\nGot: \{'profile': 'p'\}",
        str(socket.assigns.rank.failed),
    )


def test_a_non_mapping_for_several_keys_fails_them_all(socket):
    socket.assign_async(["profile", "rank"], fetch_org, "acme")
    apply_assign_outcome(socket, record(("profile", "rank")), Ok(["p", 1]))
    assert str(socket.assigns.profile.failed) == (
        "invalid return from assign_async(['profile', 'rank']) function: expected a mapping with keys ['profile', 'rank']\nGot: ['p', 1]"
    )
    assert socket.assigns.rank.failed is socket.assigns.profile.failed


def test_a_long_wrong_return_is_shortened_in_the_message(socket):
    socket.assign_async(["a", "b"], fetch_org, "acme")
    apply_assign_outcome(socket, record(("a", "b")), Ok("x" * 1000))
    message = str(socket.assigns.a.failed)
    assert message.endswith("...") and len(message) < 400


def test_an_exit_fails_every_key_and_keeps_stale_results(socket):
    socket.assign(profile=AsyncResult.ok("old profile"))
    socket.assign_async(["profile", "rank"], fetch_org, "acme")
    error = RuntimeError("db down")
    apply_assign_outcome(socket, record(("profile", "rank")), Exit(error))
    assert socket.assigns.profile == AsyncResult(_ok=True, _failed=error, result="old profile")
    assert socket.assigns.rank == AsyncResult.failed(AsyncResult.loading(), error)


# -- running user functions ----------------------------------------------------------------------------


async def test_async_functions_run_on_the_loop():
    loop_thread = threading.get_ident()

    async def where(x):
        return threading.get_ident(), x

    assert await call_user_function(where, (1,), {}) == (loop_thread, 1)


async def test_sync_functions_run_in_the_thread_pool():
    loop_thread = threading.get_ident()
    thread, value = await call_user_function(lambda x, y=0: (threading.get_ident(), x + y), (1,), {"y": 2})
    assert value == 3
    assert thread != loop_thread


async def test_a_partial_of_an_async_function_is_awaited_on_the_loop():
    async def add(a, b):
        return threading.get_ident(), a + b

    assert await call_user_function(functools.partial(add, 1), (2,), {}) == (threading.get_ident(), 3)


async def test_an_async_callable_object_is_awaited():
    class Loader:
        async def __call__(self, x):
            return x * 2

    assert await call_user_function(Loader(), (21,), {}) == 42


async def test_a_sync_function_returning_a_coroutine_is_awaited():
    async def inner():
        return "inner"

    assert await call_user_function(lambda: inner(), (), {}) == "inner"


async def test_a_sync_function_blocking_does_not_block_the_loop():
    release = threading.Event()
    task = asyncio.create_task(call_user_function(release.wait, (5,), {}))
    # The loop still runs other work while the sync function blocks its thread.
    await asyncio.sleep(0)  # why: yield once so the task reaches the thread pool
    assert not task.done()
    release.set()
    assert await asyncio.wait_for(task, 5) is True


def test_is_async_generator():
    async def batches():
        yield [1]

    assert is_async_generator(batches)
    assert is_async_generator(functools.partial(batches))
    assert not is_async_generator(fetch_org_async)
    assert not is_async_generator(fetch_org)


class CallableLoader:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self) -> str:
        return "x"


def nested_captures(socket: LiveSocket) -> dict[str, Any]:
    held_partial = functools.partial(fetch_org, socket)
    held_method = Holder(socket).load
    return {
        "closure over a partial holding the socket": lambda: held_partial(),
        "closure over a bound method of an object holding the socket": lambda: held_method(),
        "callable object holding the socket": CallableLoader(socket),
    }


@pytest.mark.parametrize("case", list(nested_captures(_sample_socket()).keys()))
def test_captures_hidden_one_level_deeper_are_refused_too(socket, runtime, case):
    with pytest.raises(CapturedSocketError, match=r"^assign_async\(\) was given .* which captures the socket or its assigns"):
        socket.assign_async("org", nested_captures(socket)[case])
