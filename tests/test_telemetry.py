"""Telemetry events: what a handler hears at each of a page's points, with durations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from jinja2 import DictLoader, Environment

from fastapi_live import LiveRouter, LiveSocket, LiveView, TelemetryEvent, event
from fastapi_live import telemetry as telemetry_module
from fastapi_live.telemetry import Telemetry, telemetry
from fastapi_live.testing import LiveTestClient, live, render_async, render_click, send_info

PAGE = """<html>{% live_root %}{% region "count" %}Count: {{ count }}{% endregion %}
{% async_result total %}{% loading %}Loading...{% failed reason %}Failed{% ok value %}Total: {{ value }}{% endasync_result %}
{% endlive_root %}</html>"""


async def slow_total() -> int:
    await asyncio.sleep(0.02)  # why: the work whose duration the handle_async span must report
    return 42


class Measured(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        await asyncio.sleep(0.03)  # why: the work whose duration the mount span must report
        await socket.subscribe("measured")
        socket.assign(count=0)
        socket.assign_async("total", slow_total)

    async def handle_params(self, socket: LiveSocket, tab: str = "a") -> None:
        socket.assign(tab=tab)

    @event("inc")
    async def inc(self, socket: LiveSocket) -> None:
        await asyncio.sleep(0.05)  # why: the work whose duration the handle_event span must report
        socket.update("count", lambda n: n + 1)

    @event("explode")
    async def explode(self, socket: LiveSocket) -> None:
        raise RuntimeError("boom")

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        socket.update("count", lambda n: n + 10)


def make_app() -> tuple[FastAPI, LiveRouter]:
    live_router = LiveRouter(templates=Environment(loader=DictLoader({"measured.html": PAGE}), autoescape=True), secret_key="t" * 32)
    live_router.page("/measured", template="measured.html")(Measured)
    app = FastAPI()
    app.include_router(live_router)
    return app, live_router


@pytest.fixture
def events() -> Iterator[list[TelemetryEvent]]:
    heard: list[TelemetryEvent] = []
    detach = telemetry.attach(heard.append)
    yield heard
    detach()


def named(events: list[TelemetryEvent], name: str, phase: str | None = None) -> list[TelemetryEvent]:
    return [e for e in events if e.name == name and (phase is None or e.phase == phase)]


async def test_a_page_reports_mount_params_render_session_and_stream(events: list[TelemetryEvent]) -> None:
    app, router = make_app()
    assert router.telemetry is telemetry
    async with LiveTestClient(app) as client:
        view, _ = await live(client, "/measured?tab=b")
        await render_async(view)
        session_id = named(events, "mount", "start")[0].session_id
        [mount_stop] = named(events, "mount", "stop")
        assert (mount_stop.view, mount_stop.session_id, mount_stop.metadata["url"]) == ("Measured", session_id, "/measured?tab=b")
        assert mount_stop.duration is not None and mount_stop.duration >= 0.03  # mount sleeps 30 ms
        assert mount_stop.span is named(events, "mount", "start")[0].span
        [params_stop] = named(events, "handle_params", "stop")
        assert params_stop.metadata["url"] == "/measured?tab=b" and params_stop.duration is not None
        first_render = named(events, "render", "stop")[0]
        assert first_render.metadata["first"] is True and first_render.session_id == session_id
        assert named(events, "session", "start")[0].session_id == session_id
        assert named(events, "stream", "attach")[0].view == "Measured"
        [async_stop] = named(events, "handle_async", "stop")
        assert async_stop.metadata["kind"] == "assign" and async_stop.metadata["name"] == "total" and async_stop.metadata["ok"] is True
        order = [(e.name, e.phase) for e in events if e.name in ("mount", "handle_params", "session")]
        assert order == [("mount", "start"), ("mount", "stop"), ("handle_params", "start"), ("handle_params", "stop"), ("session", "start")]
    stops = named(events, "session", "stop")
    assert [e.session_id for e in stops] == [session_id] and stops[0].duration is not None and stops[0].duration > 0
    assert named(events, "stream", "detach")


async def test_an_event_reports_its_name_and_its_handlers_duration(events: list[TelemetryEvent]) -> None:
    app, _ = make_app()
    async with LiveTestClient(app) as client:
        view, _ = await live(client, "/measured")
        await render_async(view)
        events.clear()
        started = time.perf_counter()
        assert "Count: 1" in await render_click(view, "inc")
        elapsed = time.perf_counter() - started
    [start] = named(events, "handle_event", "start")
    [stop] = named(events, "handle_event", "stop")
    assert start.metadata["event"] == "inc" and stop.span is start.span
    assert stop.duration is not None and 0.05 <= stop.duration <= elapsed  # the handler sleeps 50 ms
    render = named(events, "render", "stop")
    assert render and render[0].metadata["first"] is False
    # The render is nested inside the event's span: it starts after it and ends before it.
    kinds = [(e.name, e.phase) for e in events if e.name in ("handle_event", "render")]
    assert kinds[:4] == [("handle_event", "start"), ("render", "start"), ("render", "stop"), ("handle_event", "stop")]


async def test_a_raising_handler_reports_an_exception_with_the_error(events: list[TelemetryEvent], caplog: pytest.LogCaptureFixture) -> None:
    app, _ = make_app()
    async with LiveTestClient(app) as client:
        view, _ = await live(client, "/measured")
        await render_async(view)
        events.clear()
        with pytest.raises(Exception, match="boom"):
            await render_click(view, "explode")
    [failed] = named(events, "handle_event", "exception")
    assert isinstance(failed.error, RuntimeError) and failed.metadata["event"] == "explode" and failed.duration is not None
    assert not named(events, "handle_event", "stop")  # an exception ends the span: no stop after it


async def test_pubsub_publish_and_deliver_then_handle_info(events: list[TelemetryEvent]) -> None:
    app, router = make_app()
    async with LiveTestClient(app) as client:
        view, _ = await live(client, "/measured")
        await render_async(view)
        events.clear()
        await router.publish("measured", "hello")
        assert "Count: 10" in await render_async(view)
        await send_info(view, "direct")
    [publish] = named(events, "pubsub", "publish")
    assert publish.metadata["topic"] == "measured" and publish.metadata["backend"] == "memory"
    [deliver] = named(events, "pubsub", "deliver")
    assert deliver.metadata["listeners"] == 1
    infos = named(events, "handle_info", "stop")
    assert [e.metadata["message"] for e in infos] == ["str", "str"]


async def test_nothing_is_reported_once_detached_and_a_raising_handler_is_detached(caplog: pytest.LogCaptureFixture) -> None:
    heard: list[TelemetryEvent] = []
    detach = telemetry_module.attach(heard.append)
    detach()
    assert telemetry.on is False

    def broken(event: TelemetryEvent) -> None:
        raise ValueError("handler bug")

    telemetry_module.attach(broken)
    app, _ = make_app()
    async with LiveTestClient(app) as client:
        view, _ = await live(client, "/measured")
        assert "Count: 1" in await render_click(view, "inc")  # the page lives on
    assert heard == [] and telemetry.on is False
    assert "telemetry handler" in caplog.text and "it is detached" in caplog.text


def test_attach_refuses_a_non_callable() -> None:
    with pytest.raises(TypeError, match=r"telemetry.attach\(\) takes a callable handler\(event\), got 'nope'"):
        Telemetry().attach("nope")  # type: ignore[arg-type]


async def test_a_queued_event_carries_its_requests_context(events: list[TelemetryEvent]) -> None:
    app, _ = make_app()
    async with LiveTestClient(app) as client:
        view, _ = await live(client, "/measured")
        await render_async(view)
        events.clear()
        await asyncio.gather(render_click(view, "inc"), render_click(view, "inc"))
    starts = named(events, "handle_event", "start")
    # The first is handled at once, in its request's task; the second waits its turn and carries its request's context.
    assert [e.metadata["context"] is not None for e in starts] == [False, True]


def test_a_stream_whose_reader_falls_behind_reports_its_overflow(events: list[TelemetryEvent], caplog: pytest.LogCaptureFixture) -> None:
    from fastapi_live.connection import Connection

    connection = Connection(limit=2)
    for frame in (b"one", b"two", b"three"):
        connection.send(frame)
    [overflow] = named(events, "stream", "overflow")
    assert overflow.metadata["frames"] == 3 and overflow.metadata["bytes"] == len(b"onetwothree") and connection.closed
