"""The session actor: one message at a time, its tasks, its frames, its timers."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from fastapi_live import (
    CONT,
    HALT,
    AsyncResult,
    CallbackReturnError,
    ConfigurationError,
    Exit,
    LiveError,
    LiveSocket,
    LiveView,
    Ok,
    SessionConfig,
    StreamBatch,
    event,
)
from fastapi_live.connection import Connection
from fastapi_live.messages import TaskDone
from fastapi_live.patches import text_checksum
from tests.support.gates import Gate, flag
from tests.support.harness import Harness, page_template
from tests.support.waits import eventually

PAGE = """<html>{% live_root %}<h1>{{ title }}</h1>
{% region "count" %}Count: {{ count }}{% endregion %}
{% region "outer" %}Outer {{ outer }}{% region "inner" %}Inner {{ inner }}{% endregion %}{% endregion %}
{% async_result org %}{% loading %}Loading org...{% failed reason %}Failed: {{ reason }}{% ok value %}Org: {{ value }}{% endasync_result %}
{% region "status" %}Status: {{ status }}{% endregion %}
{% live_stream posts as post id="posts" tag="ul" %}<li id="{{ dom_id }}">{{ post.title }}</li>{% endlive_stream %}
{% endlive_root %}</html>"""


class Page(LiveView):
    """A page whose behaviour the test scripts through ``self.gates`` and ``self.log``."""

    def __init__(self) -> None:
        self.gates: dict[str, Gate] = {}
        self.log: list[str] = []

    def gate(self, name: str) -> Gate:
        return self.gates.setdefault(name, Gate(name))

    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(title="Page", count=0, outer=0, inner=0, status="idle", org=AsyncResult.loading())

    @event("inc")
    async def inc(self, socket: LiveSocket) -> None:
        socket.update("count", lambda n: n + 1)

    @event("slow")
    async def slow(self, socket: LiveSocket, name: str) -> None:
        self.log.append(f"start {name}")
        await self.gate(name).wait()
        self.log.append(f"end {name}")
        socket.update("count", lambda n: n + 1)

    @event("load")
    async def load(self, socket: LiveSocket, gate: str, reset: bool = False) -> None:
        socket.assign_async("org", self.gate(gate).wait, reset=reset)

    @event("boom")
    async def boom(self, socket: LiveSocket) -> None:
        socket.assign(count=99)
        raise RuntimeError("handler exploded")

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        self.log.append(f"info {message}")
        socket.assign(status=message)

    async def handle_async(self, name: str, outcome: Any, socket: LiveSocket) -> None:
        match outcome:
            case Ok(value):
                socket.assign(status=f"{name} ok {value}")
            case Exit(reason):
                socket.assign(status=f"{name} exit {reason}")


@pytest.fixture
async def harness():
    harness = Harness(Page(), page_template(PAGE))
    await harness.start()
    yield harness
    await harness.stop()


def closed_signal(harness: Harness) -> asyncio.Event:
    """Set when the session is dropped from its manager."""
    closed = asyncio.Event()
    forget = harness.manager.forget

    def signalling_forget(session):
        forget(session)
        closed.set()

    harness.manager.forget = signalling_forget  # type: ignore[method-assign]
    return closed


# -- one message at a time ---------------------------------------------------------------------------


async def test_events_are_handled_one_at_a_time_in_order(harness):
    view = harness.session.view
    first = asyncio.create_task(harness.session.handle_event("slow", {"name": "a"}))
    second = asyncio.create_task(harness.session.handle_event("slow", {"name": "b"}))
    await flag(view.gate("a").started)
    await asyncio.sleep(0.02)  # why: give a (wrongly) concurrent second handler the chance to start
    assert view.log == ["start a"]
    view.gate("b").open()
    view.gate("a").open()
    body_a, _ = await asyncio.wait_for(first, 2)
    body_b, _ = await asyncio.wait_for(second, 2)
    assert view.log == ["start a", "end a", "start b", "end b"]
    assert "Count: 1" in body_a and "Count: 2" in body_b


async def test_infos_and_task_outcomes_wait_for_the_running_handler(harness):
    view = harness.session.view
    await harness.session.handle_event("load", {"gate": "task"})
    handler = asyncio.create_task(harness.session.handle_event("slow", {"name": "h"}))
    await flag(view.gate("h").started)
    harness.session.send_info("hello")
    view.gate("task").open("Acme")
    await flag(view.gate("task").finished)
    assert view.log == ["start h"]
    assert harness.socket.assigns.org == AsyncResult.loading()
    view.gate("h").open()
    await asyncio.wait_for(handler, 2)
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert view.log == ["start h", "end h", "info hello"]
    assert harness.socket.assigns.org.result == "Acme"


async def test_an_event_reply_holds_only_the_changed_regions(harness):
    body, reply = await harness.session.handle_event("inc", {})
    # One text node changed since the first render: a text patch, its checksum of the text shown then.
    assert body == f'<hx-partial id="count" hx-swap="liveText v:1 b:0 n:0 h:{text_checksum(["Count: 0"])}">Count: 1</hx-partial>'
    assert reply is None


async def test_each_patch_has_a_higher_region_version(harness):
    first, _ = await harness.session.handle_event("inc", {})
    second, _ = await harness.session.handle_event("inc", {})
    # Each change is one text node: a text patch, carrying the version and the one it follows.
    assert "liveText v:1 b:0 " in first and "liveText v:2 b:1 " in second


async def test_only_the_outermost_changed_region_is_sent(harness):
    await harness.session.call(lambda socket: socket.assign(outer=1, inner=1))
    reader = harness.attach()
    hello = await reader.next()
    assert hello["data"] == "" and hello["id"] == "0"
    message = await reader.next()
    assert message["data"].count("<hx-partial") == 1
    assert 'hx-target="#outer"' in message["data"] and "Inner 1" in message["data"]


async def test_a_nested_region_rendered_with_its_parent_carries_the_parents_version(harness):
    await harness.session.call(lambda socket: socket.assign(inner=1))  # version 1, the inner region alone
    await harness.session.call(lambda socket: socket.assign(outer=2, inner=2))  # version 2, outer and inner together
    frame = harness.session.outbound.replay.newest.decode()
    assert '<div id="outer" data-live-region="region" data-live-v="2">' in frame
    assert '<div id="inner" data-live-region="region" data-live-v="2">' in frame


async def test_a_failing_event_is_rolled_back_and_the_session_goes_on(harness, caplog):
    with pytest.raises(RuntimeError, match="handler exploded"):
        await harness.session.handle_event("boom", {})
    assert harness.socket.assigns.count == 0
    assert any(r.levelno == logging.ERROR and r.exc_info and "event 'boom' raised" in r.getMessage() for r in caplog.records)
    body, _ = await harness.session.handle_event("inc", {})
    assert "Count: 1" in body


async def test_a_handle_event_hook_may_halt_the_view(harness):
    harness.socket.attach_hook("guard", "handle_event", lambda event, params, socket: HALT if event == "inc" else CONT)
    body, _ = await harness.session.handle_event("inc", {})
    assert body == "" and harness.socket.assigns.count == 0


async def test_an_after_render_hook_runs_after_each_message(harness):
    rendered = []
    harness.socket.attach_hook("seen", "after_render", lambda socket: rendered.append(socket.assigns.count))
    await harness.session.handle_event("inc", {})
    await harness.session.call(lambda socket: socket.update("count", lambda n: n + 1))
    harness.session.send_info("x")
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    # The event's render saw 1; call() runs no hooks; the info's render saw 2.
    assert rendered == [1, 2]


async def test_after_render_sees_what_this_render_changed_and_its_own_assigns_are_not_rendered(harness):
    seen: list[frozenset[str]] = []

    def after(socket: LiveSocket) -> None:
        seen.append(socket.changed)
        socket.assign(status=f"rendered {socket.assigns.count}")  # kept, but no change to render

    harness.socket.attach_hook("audit", "after_render", after)
    first, _ = await harness.session.handle_event("inc", {})
    second, _ = await harness.session.handle_event("inc", {})
    assert seen == [frozenset({"count"}), frozenset({"count"})]  # the hook's own assign never compounds
    assert "Status:" not in first + second  # nor re-renders the region it wrote
    assert harness.socket.assigns.status == "rendered 2"


async def test_a_handle_event_hook_can_halt_with_a_reply(harness):
    harness.socket.attach_hook("ping", "handle_event", lambda name, params, socket: (HALT, {"pong": params["n"]}) if name == "ping" else CONT)
    body, reply = await harness.session.handle_event("ping", {"n": 3})
    assert reply == {"pong": 3}
    body, reply = await harness.session.handle_event("inc", {})
    assert reply is None and "Count: 1" in body


async def test_a_halt_whose_reply_is_not_a_mapping_is_a_clear_error(harness):
    harness.socket.attach_hook("ping", "handle_event", lambda name, params, socket: (HALT, 42))
    expected = r"(?s)invalid return from hook 'ping' .* on handle_event: a halt's reply must be a mapping.*Got: \(HALT, 42\)"
    with pytest.raises(CallbackReturnError, match=expected):
        await harness.session.handle_event("ping", {})


async def test_a_task_cancelled_from_inside_is_a_failure_like_any_exception(harness):
    async def cancelled_inside() -> str:
        raise asyncio.CancelledError("the driver's own task was cancelled")

    await harness.session.call(lambda socket: socket.assign_async("org", cancelled_inside))
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.socket.assigns.org.failed is not None
    assert isinstance(harness.socket.assigns.org.failed, asyncio.CancelledError)
    await harness.session.call(lambda socket: socket.start_async("fetch", cancelled_inside))
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.socket.assigns.status.startswith("fetch exit")  # handle_async ran with Exit


async def test_a_task_awaiting_a_future_that_was_cancelled_elsewhere_fails_too(harness):
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def waits() -> str:
        return await future

    await harness.session.call(lambda socket: socket.start_async("fetch", waits))
    future.cancel()  # e.g. a connection pool cancelled the request the function awaited
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.socket.assigns.status.startswith("fetch exit")


async def test_a_call_runs_inside_the_session_and_returns_its_result(harness):
    result = await harness.session.call(lambda socket: socket.assigns.count + 41)
    assert result == 41


async def test_a_failing_call_rolls_back_and_raises(harness):
    def bad(socket):
        socket.assign(count=5)
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        await harness.session.call(bad)
    assert harness.socket.assigns.count == 0


# -- tasks --------------------------------------------------------------------------------------------


async def test_a_task_result_reaches_only_its_region(harness):
    reader = harness.attach()
    await reader.next()
    await harness.session.handle_event("load", {"gate": "g"})
    harness.session.view.gate("g").open("Acme")
    message = await reader.next_with("Org: Acme")
    assert re.fullmatch(
        r'<hx-partial hx-target="#async-org" hx-swap="outerMorph"><div id="async-org" data-live-region="async" data-live-v="\d+">Org: Acme</div></hx-partial>',
        message["data"],
    )


async def test_a_newer_call_for_the_same_keys_replaces_the_older_task(harness):
    view = harness.session.view
    await harness.session.handle_event("load", {"gate": "old"})
    await flag(view.gate("old").started)
    await harness.session.handle_event("load", {"gate": "new"})
    await flag(view.gate("old").cancelled)
    view.gate("new").open("new value")
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.socket.assigns.org.result == "new value"


async def test_an_older_result_already_queued_is_dropped(harness):
    """The older task finished while a handler ran; the handler then replaced it."""
    view = harness.session.view

    async def reload_after(gate_name: str):
        def run(socket):
            async def inner():
                await view.gate("hold").wait()
                socket.assign_async("org", view.gate(gate_name).wait)

            return inner()

        return await harness.session.call(run)

    await harness.session.handle_event("load", {"gate": "old"})
    holding = asyncio.create_task(reload_after("new"))
    await flag(view.gate("hold").started)
    view.gate("old").open("old value")
    await flag(view.gate("old").finished)  # its outcome is now queued behind the running call
    assert harness.session.mailbox and isinstance(next(iter(harness.session.mailbox)), TaskDone)
    view.gate("hold").open()
    await asyncio.wait_for(holding, 2)
    await harness.session.call(lambda socket: None)  # queued behind the stale outcome: it has been handled
    assert harness.socket.assigns.org == AsyncResult.loading()
    view.gate("new").open("new value")
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.socket.assigns.org == AsyncResult.ok(AsyncResult.loading(), "new value")


async def test_a_replaced_sync_function_never_delivers(harness):
    view = harness.session.view
    blocking = Gate("blocking")

    def start(socket):
        socket.assign_async("org", blocking.wait_blocking)

    await harness.session.call(start)
    await flag(blocking.started)
    await harness.session.handle_event("load", {"gate": "new"})
    view.gate("new").open("new value")
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    blocking.open("old value")
    await flag(blocking.finished)
    await asyncio.sleep(0.05)  # why: nothing marks a delivery that must not happen; give a wrong one time to land
    await harness.session.call(lambda socket: None)
    assert harness.socket.assigns.org.result == "new value"


async def test_a_task_exception_is_logged_with_its_traceback_and_fails_the_keys(harness, caplog):
    reader = harness.attach()
    await reader.next()
    await harness.session.handle_event("load", {"gate": "g"})
    harness.session.view.gate("g").fail(ConnectionError("db at 10.0.0.5 refused"))
    message = await reader.next_with("Failed:")
    assert "Traceback" not in message["data"]
    (record,) = [r for r in caplog.records if r.name == "fastapi_live" and r.levelno == logging.ERROR]
    assert record.getMessage() == "Page: assign_async(['org']) failed"
    assert isinstance(record.exc_info[1], ConnectionError)
    assert "Traceback" in caplog.text and "db at 10.0.0.5 refused" in caplog.text
    assert isinstance(harness.socket.assigns.org.failed, ConnectionError)
    body, _ = await harness.session.handle_event("inc", {})
    assert "Count: 1" in body


async def test_start_async_outcomes_reach_handle_async(harness):
    ok, bad = Gate("ok"), Gate("bad")
    await harness.session.call(lambda socket: socket.start_async("fetch", ok.wait))
    ok.open(42)
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.socket.assigns.status == "fetch ok 42"
    await harness.session.call(lambda socket: socket.start_async("fetch", bad.wait))
    error = KeyError("missing")
    bad.fail(error)
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.socket.assigns.status == f"fetch exit {error}"


async def test_cancel_async_delivers_an_exit_with_the_reason(harness):
    gate = Gate("slow")
    await harness.session.call(lambda socket: socket.start_async("fetch", gate.wait))
    await flag(gate.started)
    await harness.session.call(lambda socket: socket.cancel_async("fetch", "user left"))
    await flag(gate.cancelled)
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.socket.assigns.status == "fetch exit user left"


async def test_cancel_async_of_an_assign_fails_its_keys(harness):
    view = harness.session.view
    await harness.session.handle_event("load", {"gate": "g"})
    await harness.session.call(lambda socket: socket.cancel_async(socket.assigns.org, "too slow"))
    await flag(view.gate("g").cancelled)
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.socket.assigns.org == AsyncResult.failed(AsyncResult.loading(), "too slow")


async def test_a_handle_async_hook_may_take_the_outcome(harness):
    seen = []

    def hook(name, outcome, socket):
        seen.append((name, outcome))
        return HALT

    harness.socket.attach_hook("tasks", "handle_async", hook)
    await harness.session.call(lambda socket: socket.start_async("fetch", fetch_answer))
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert seen == [("fetch", Ok(42))]
    assert harness.socket.assigns.status == "idle"


async def test_a_view_without_handle_async_gets_a_clear_error_and_stays_alive(caplog):
    class NoHandler(LiveView):
        async def mount(self, socket: LiveSocket) -> None:
            socket.assign(count=0)
            socket.start_async("fetch_org", fetch_answer)

    async with Harness(NoHandler(), page_template('{% live_root %}{% region "count" %}{{ count }}{% endregion %}{% endlive_root %}')) as harness:
        await harness.start()
        reader = harness.attach()
        await reader.next()
        frame = await reader.next()
        assert "Something went wrong on the server." in frame["data"]
        assert "handle_async" not in frame["data"] and "Traceback" not in frame["data"]
        await asyncio.wait_for(harness.session.wait_idle(), 2)
        (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert record.getMessage() == "NoHandler: task handler raised"
        assert str(record.exc_info[1]) == (
            "NoHandler has no handle_async for task 'fetch_org': define handle_async(self, name, outcome, socket) to receive its Ok outcome"
        )
        assert not harness.session.closed
        await harness.session.call(lambda socket: socket.assign(count=1))
        frame = await reader.next()
        assert frame["data"].startswith('<hx-partial id="count" hx-swap="liveText v:1 b:0 ') and frame["data"].endswith(">1</hx-partial>")


async def fetch_answer() -> int:
    return 42


# -- stream_async ---------------------------------------------------------------------------------------


class Posts(LiveView):
    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    async def mount(self, socket: LiveSocket) -> None:
        socket.stream_async("posts", self.fn, *self.args)


POSTS_PAGE = """{% live_root %}{% async_result posts %}{% loading %}Loading posts...{% failed r %}Failed posts: {{ r }}{% ok %}{% endasync_result %}
{% live_stream posts as post tag="ul" %}<li id="{{ dom_id }}">{{ post.title }}</li>{% endlive_stream %}{% endlive_root %}"""


async def test_stream_async_with_an_iterable_inserts_then_marks_ok():
    gate = Gate("posts")
    async with Harness(Posts(gate.wait), page_template(POSTS_PAGE)) as harness:
        html = await harness.start()
        assert "Loading posts..." in html
        reader = harness.attach()
        await reader.next()
        gate.open([{"id": 1, "title": "one"}, {"id": 2, "title": "two"}])
        message = await reader.next_with("posts-2")
        assert message["data"].count('hx-swap="liveStream at:-1"') == 2
        assert 'hx-target="#async-posts"' in message["data"] and "Loading posts..." not in message["data"]
        assert harness.socket.assigns.posts == AsyncResult.ok(AsyncResult.loading(), True)


async def test_stream_async_with_an_async_generator_sends_each_batch_as_it_comes():
    first, second = Gate("first"), Gate("second")

    async def batches():
        yield await first.wait()
        yield await second.wait()

    async with Harness(Posts(batches), page_template(POSTS_PAGE)) as harness:
        await harness.start()
        reader = harness.attach()
        await reader.next()
        first.open([{"id": 1, "title": "one"}])
        message = await reader.next_with("posts-1")
        assert "Loading posts..." not in message["data"] and harness.socket.assigns.posts.loading
        second.open([{"id": 2, "title": "two"}, {"id": 3, "title": "three"}])
        message = await reader.next_with("posts-3")
        assert "posts-2" in message["data"] and "posts-1" not in message["data"]
        await asyncio.wait_for(harness.session.wait_idle(), 2)
        assert harness.socket.assigns.posts.ok


async def test_stream_async_returning_a_non_iterable_fails_with_a_message():
    async def wrong():
        return 42

    async with Harness(Posts(wrong), page_template(POSTS_PAGE)) as harness:
        await harness.start()
        await asyncio.wait_for(harness.session.wait_idle(), 2)
        failed = harness.socket.assigns.posts.failed
        assert str(failed) == (
            "invalid return from stream_async('posts') function "
            "test_stream_async_returning_a_non_iterable_fails_with_a_message.<locals>.wrong: expected an iterable of items\nGot: 42"
        )


async def test_stream_async_failure_marks_the_stream_failed():
    async def broken():
        raise OSError("feed down")

    async with Harness(Posts(broken), page_template(POSTS_PAGE)) as harness:
        await harness.start()
        reader = harness.attach()
        await reader.next()
        message = await reader.next_with("Failed posts")
        assert "feed down" in message["data"]


async def test_stream_async_with_reset_shows_loading_and_keeps_the_items_until_a_batch_resets():
    gate = Gate("again")

    async with Harness(Posts(fetch_two), page_template(POSTS_PAGE)) as harness:
        await harness.start()
        await asyncio.wait_for(harness.session.wait_idle(), 2)
        reader = harness.attach(last_event_id=harness.session.last_frame_id)
        await reader.next()
        await harness.session.call(lambda socket: socket.stream_async("posts", gate.wait, reset=True))
        assert harness.socket.assigns.posts == AsyncResult.loading()  # not a stale "reloading" result
        loading = await reader.next_with("Loading posts...")
        assert "innerHTML" not in loading["data"]  # the items shown stay while loading
        gate.open(StreamBatch([{"id": 9, "title": "nine"}], reset=True))
        message = await reader.next_with("posts-9")
        # The function asked for the reset with its result: the container clears, then the new items.
        assert message["data"].index('<hx-partial hx-target="#posts" hx-swap="innerHTML"></hx-partial>') < message["data"].index("posts-9")


async def test_stream_async_puts_its_items_where_at_and_limit_say_and_never_passes_them_on():
    received: list[dict[str, Any]] = []

    async def fetch(**kwargs: Any) -> list[dict[str, Any]]:
        received.append(kwargs)
        return [{"id": 7, "title": "seven"}]

    async with Harness(Posts(fetch_two), page_template(POSTS_PAGE)) as harness:
        await harness.start()
        await asyncio.wait_for(harness.session.wait_idle(), 2)
        reader = harness.attach(last_event_id=harness.session.last_frame_id)
        await reader.next()
        await harness.session.call(lambda socket: socket.stream_async("posts", fetch, at=0, limit=-10))
        message = await reader.next_with("posts-7")
        assert 'hx-swap="liveStream at:0 limit:-10"' in message["data"]
        assert received == [{}]


async def test_a_stream_async_option_that_the_function_also_takes_is_an_error_naming_both():
    async def fetch(limit: int) -> list[dict[str, Any]]:
        return []

    async with Harness(Posts(fetch_two), page_template(POSTS_PAGE)) as harness:
        await harness.start()
        with pytest.raises(ConfigurationError, match=r"(?s)stream_async\(\) option limit=5 clashes with parameter 'limit' of .*fetch\(\).*functools.partial"):
            await harness.session.call(lambda socket: socket.stream_async("posts", fetch, limit=5))


async def fetch_two() -> list[dict[str, Any]]:
    return [{"id": 1, "title": "one"}, {"id": 2, "title": "two"}]


# -- frames, replay and resync -------------------------------------------------------------------------


async def test_the_first_attach_replays_what_happened_since_the_page_render(harness):
    await harness.session.call(lambda socket: socket.assign(count=1))
    await harness.session.call(lambda socket: socket.assign(count=2))
    reader = harness.attach()
    hello = await reader.next()
    assert (hello["id"], hello["retry"], hello["data"]) == ("0", "500", "")
    first, second = await reader.next(), await reader.next()
    assert (first["id"], second["id"]) == ("1", "2")
    assert "Count: 1" in first["data"] and "Count: 2" in second["data"]


async def test_a_reattach_with_last_event_id_gets_only_what_it_missed(harness):
    for n in (1, 2, 3):
        await harness.session.call(lambda socket, n=n: socket.assign(count=n))
    reader = harness.attach(last_event_id=1)
    assert (await reader.next())["id"] == "1"
    second, third = await reader.next(), await reader.next()
    assert (second["id"], third["id"]) == ("2", "3")
    assert "Count: 2" in second["data"] and "Count: 3" in third["data"]


async def test_a_reattach_up_to_date_gets_nothing_more(harness):
    await harness.session.call(lambda socket: socket.assign(count=1))
    reader = harness.attach(last_event_id=1)
    assert (await reader.next())["data"] == ""
    with pytest.raises(asyncio.TimeoutError):
        await reader.next(timeout=0.05)


async def test_a_reattach_past_the_replay_buffer_resyncs_the_live_container():
    harness = Harness(Page(), page_template(PAGE), SessionConfig(replay_size=2))
    async with harness:
        await harness.start()
        for n in (1, 2, 3, 4):
            await harness.session.call(lambda socket, n=n: socket.assign(count=n))
        reader = harness.attach(last_event_id=1)
        resync = await reader.next()
        assert resync["id"] == "4" and resync["retry"] == "500"
        assert resync["data"].startswith('<hx-partial hx-target="#live-root" hx-swap="innerMorph">')
        assert "Count: 4" in resync["data"] and "<h1>Page</h1>" in resync["data"]


@pytest.mark.parametrize("last_event_id", [None, 99])
async def test_a_stream_without_a_usable_id_after_the_first_resyncs(harness, last_event_id):
    first = harness.attach()
    await first.next()
    await harness.session.call(lambda socket: socket.assign(count=5))
    second = harness.attach(last_event_id)
    message = await second.next()
    assert 'hx-target="#live-root"' in message["data"] and "Count: 5" in message["data"]


async def test_a_first_attach_after_dropped_frames_resyncs():
    harness = Harness(Page(), page_template(PAGE), SessionConfig(replay_size=1))
    async with harness:
        await harness.start()
        await harness.session.call(lambda socket: socket.assign(count=1))
        await harness.session.call(lambda socket: socket.assign(count=2))
        message = await harness.attach().next()
        assert 'hx-target="#live-root"' in message["data"] and "Count: 2" in message["data"]


async def test_a_new_stream_replaces_the_old_one(harness):
    old = harness.attach()
    await old.next()
    new = harness.attach(last_event_id=0)
    await new.next()
    with pytest.raises(EOFError):
        await old.next()
    await harness.session.call(lambda socket: socket.assign(count=7))
    assert "Count: 7" in (await new.next())["data"]


async def test_a_slow_reader_is_cut_off_and_the_session_waits_for_its_reconnect():
    harness = Harness(Page(), page_template(PAGE), SessionConfig(outbound_limit=3))
    async with harness:
        await harness.start()
        connection = harness.session.attach(None)  # nobody reads it
        for n in range(1, 5):
            await harness.session.call(lambda socket, n=n: socket.assign(count=n))
        assert connection.closed and connection.overflowed
        assert not harness.session.attached and not harness.session.closed
        reader = harness.attach(last_event_id=2)
        assert [(await reader.next())["id"] for _ in range(3)] == ["2", "3", "4"]


async def test_a_replay_longer_than_the_outbound_limit_still_reaches_the_client():
    harness = Harness(Page(), page_template(PAGE), SessionConfig(outbound_limit=3, replay_size=8))
    async with harness:
        await harness.start()
        for n in range(1, 5):
            await harness.session.call(lambda socket, n=n: socket.assign(count=n))
        reader = harness.attach(last_event_id=0)
        await reader.next_with("Count: 4")


# -- lifetime ---------------------------------------------------------------------------------------


async def test_a_page_whose_stream_never_connects_is_dropped_and_its_tasks_cancelled():
    harness = Harness(Page(), page_template(PAGE), SessionConfig(connect_timeout=0.05))
    async with harness:
        closed = closed_signal(harness)
        await harness.start()
        await harness.session.handle_event("load", {"gate": "g"})
        await asyncio.wait_for(closed.wait(), 2)
        assert harness.session.closed and harness.manager.get(harness.session.id) is None
        await flag(harness.session.view.gate("g").cancelled)


async def test_an_attached_stream_stops_the_connect_timeout():
    harness = Harness(Page(), page_template(PAGE), SessionConfig(connect_timeout=0.05))
    async with harness:
        await harness.start()
        assert harness.session.outbound.waiting
        harness.attach()
        assert not harness.session.outbound.waiting


async def test_a_session_outlives_its_stream_for_the_grace_period_then_ends():
    harness = Harness(Page(), page_template(PAGE), SessionConfig(disconnect_grace=0.05))
    async with harness:
        closed = closed_signal(harness)
        await harness.start()
        connection = harness.session.attach(None)
        harness.session.detach(connection)
        assert not harness.session.closed and harness.session.outbound.waiting
        await asyncio.wait_for(closed.wait(), 2)
        assert harness.session.closed


async def test_a_reconnect_within_the_grace_period_keeps_the_session():
    harness = Harness(Page(), page_template(PAGE), SessionConfig(disconnect_grace=30))
    async with harness:
        await harness.start()
        connection = harness.session.attach(None)
        harness.session.detach(connection)
        assert harness.session.outbound.waiting
        harness.attach(last_event_id=0)
        assert not harness.session.outbound.waiting and not harness.session.closed


async def test_detaching_a_replaced_stream_does_not_arm_the_timer(harness):
    old = harness.session.attach(None)
    harness.attach(last_event_id=0)
    harness.session.detach(old)
    assert harness.session.attached and not harness.session.outbound.waiting


async def test_closing_cancels_tasks_fails_waiting_callers_and_refuses_attach(harness):
    view = harness.session.view
    await harness.session.handle_event("load", {"gate": "g"})
    pending = asyncio.create_task(harness.session.handle_event("slow", {"name": "hold"}))
    queued = asyncio.create_task(harness.session.handle_event("inc", {}))
    await flag(view.gate("hold").started)
    await harness.session.close()
    await flag(view.gate("g").cancelled)
    with pytest.raises(LiveError, match=r"^the live session is closed$"):
        await asyncio.wait_for(queued, 2)
    with pytest.raises(LiveError, match=r"^the live session is closed$"):
        harness.session.attach(None)
    with pytest.raises(LiveError, match=r"^the live session is closed$"):
        await harness.session.handle_event("inc", {})
    assert harness.manager.get(harness.session.id) is None
    pending.cancel()
    view.gate("hold").open()


async def test_closing_ends_the_stream(harness):
    reader = harness.attach()
    await reader.next()
    await harness.session.close()
    with pytest.raises(EOFError):
        await reader.next()


async def test_closing_twice_is_harmless(harness):
    await harness.session.close()
    await harness.session.close()
    assert harness.session.closed


async def test_messages_posted_before_the_mailbox_opens_wait_for_it():
    harness = Harness(Page(), page_template(PAGE))
    seen_during_mount: list[list[str]] = []

    async def mount(socket: LiveSocket) -> None:
        await harness.session.view.mount(socket)
        harness.session.send_info("early")
        seen_during_mount.append(list(harness.session.view.log))

    async with harness:
        await harness.session.mount([], mount)
        assert seen_during_mount == [[]]
        await asyncio.wait_for(harness.session.wait_idle(), 2)
        assert harness.session.view.log == ["info early"]


async def test_pubsub_messages_arrive_as_infos_until_unsubscribed(harness):
    await harness.socket.subscribe("news")
    await harness.manager.pubsub.publish("news", "first")
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    await harness.socket.unsubscribe("news")
    await harness.manager.pubsub.publish("news", "second")
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.session.view.log == ["info first"]


async def test_closing_drops_subscriptions(harness):
    await harness.socket.subscribe("news")
    await harness.session.close()
    assert harness.manager.pubsub.fanout.listener_count("news") == 0


async def test_a_task_started_by_a_handler_that_raised_is_rolled_back_too(harness):
    gate = Gate("late")

    def start_then_fail(socket):
        socket.assign_async("org", gate.wait)
        raise RuntimeError("handler failed after starting a task")

    await harness.session.call(lambda socket: socket.assign(org=AsyncResult.ok(AsyncResult.loading(), "kept")))
    with pytest.raises(RuntimeError):
        await harness.session.call(start_then_fail)
    assert harness.socket.assigns.org.result == "kept" and not harness.socket.assigns.org.loading
    gate.open("should never land")
    await asyncio.wait_for(harness.session.wait_idle(), 2)
    assert harness.socket.assigns.org == AsyncResult.ok(AsyncResult.loading(), "kept")


# -- the stream's outbound side: frames written on the sender's turn while the stream is idle --


class Server:
    """An ASGI ``send`` that records bodies; ``block()`` makes writes wait, as a slow client does."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.writer_tasks: list[asyncio.Task[Any] | None] = []
        self.fail: Exception | None = None

    def block(self) -> None:
        self.writable.clear()

    async def send(self, message: dict[str, Any]) -> None:
        if not self.writable.is_set():
            await self.writable.wait()
        if self.fail is not None:
            raise self.fail
        self.writer_tasks.append(asyncio.current_task())
        self.bodies.append(message["body"])


async def stream_task(conn: Connection, server: Server) -> asyncio.Task[None]:
    """What the stream response does: write each frame the connection yields."""

    async def run() -> None:
        conn.attach_writer(server.send)
        try:
            async for frame in conn.frames():
                await server.send({"type": "http.response.body", "body": frame, "more_body": True})
        finally:
            conn.attach_writer(None)

    task = asyncio.get_running_loop().create_task(run())
    await eventually(lambda: conn._waiter is not None)  # until it sits idle, waiting for frames
    return task


async def test_an_idle_stream_is_written_on_the_senders_turn():
    server, conn = Server(), Connection(limit=8)
    task = await stream_task(conn, server)
    conn.send(b"one")
    conn.send(b"two")
    assert server.bodies == [b"one", b"two"]  # written before this task gave up its turn
    assert server.writer_tasks == [asyncio.current_task()] * 2
    conn.close()
    await asyncio.wait_for(task, 5)


async def test_a_write_that_must_wait_is_finished_by_the_stream_and_later_frames_follow_in_order():
    server, conn = Server(), Connection(limit=8)
    task = await stream_task(conn, server)
    server.block()
    conn.send(b"1")  # the server makes this one wait
    conn.send(b"2")
    conn.send(b"3")  # these queue behind it
    assert server.bodies == []
    server.writable.set()
    await eventually(lambda: len(server.bodies) == 3)
    assert server.bodies == [b"1", b"2", b"3"]
    assert all(writer is task for writer in server.writer_tasks)
    conn.send(b"4")  # idle again: written at once
    assert server.bodies[-1] == b"4"
    conn.close()
    await asyncio.wait_for(task, 5)


async def test_a_stalled_stream_still_overflows_and_closes():
    server, conn = Server(), Connection(limit=4, byte_limit=1_000)
    task = await stream_task(conn, server)
    server.block()
    for n in range(10):
        conn.send(f"frame {n}".encode())
    assert conn.closed and conn.overflowed
    server.writable.set()
    await asyncio.wait_for(task, 5)  # the stream ends; its reconnect resyncs the page
    assert server.bodies == [b"frame 0"]  # the write already under way, nothing queued after


async def test_a_refused_write_closes_the_stream():
    server, conn = Server(), Connection(limit=8)
    task = await stream_task(conn, server)
    server.fail = ConnectionResetError("client went away")
    conn.send(b"lost")
    assert conn.closed
    await asyncio.wait_for(task, 5)
    conn.send(b"after")  # ignored: nothing raised, nothing written
    assert server.bodies == []


async def test_without_a_direct_writer_frames_wait_for_the_streams_task():
    server, conn = Server(), Connection(limit=8)

    async def run() -> None:
        async for frame in conn.frames():
            await server.send({"type": "http.response.body", "body": frame, "more_body": True})

    task = asyncio.get_running_loop().create_task(run())
    await eventually(lambda: conn._waiter is not None)
    conn.send(b"queued")
    assert server.bodies == []
    await eventually(lambda: server.bodies == [b"queued"])
    assert server.writer_tasks == [task]
    conn.close()
    await asyncio.wait_for(task, 5)


async def test_a_send_that_returns_a_plain_awaitable_is_written_too():
    written: list[bytes] = []
    conn = Connection(limit=8)

    def send(message: dict[str, Any]) -> asyncio.Future[None]:
        written.append(message["body"])
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    server = Server()
    task = await stream_task(conn, server)
    conn.attach_writer(send)
    conn.send(b"via a future")
    assert written == [b"via a future"] and server.bodies == []
    conn.close()
    await asyncio.wait_for(task, 5)


@pytest.mark.parametrize(("field", "value"), [("replay_size", 0), ("outbound_limit", 0), ("replay_size", 2.5)])
def test_a_session_config_that_could_keep_no_frame_is_refused(field, value):
    with pytest.raises(ConfigurationError, match=rf"SessionConfig\.{field} must be a whole number of at least 1\nGot: {value!r}"):
        SessionConfig(**{field: value})
