"""2. Event round trip on a counter: 50 clients, each with its own page and open stream, looping events.

fastapi-live: POST sent → the response carrying the fragment received.
Baseline (FastAPI + sse-starlette by hand): POST sent → the fragment read from that client's stream.
Bare ASGI (the limit reference): the same POST answered with fastapi-live's own reply bytes by an
ASGI app with no framework at all (``bench/apps/bare_app.py``).
pyview: a joined view per client; ``event`` pushed on its WebSocket → the ``phx_reply`` with the diff received.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi_live.testing._sse import SSEMessage

from . import wire
from .apps import BARE_APP, HAND_APP, LIVE_APP, PYVIEW_APP
from .load import EVENT_URL, CpuWindow, LivePage, bounded, guarded, open_live_page
from .pyview import PyviewPage, open_pyview_page
from .report import Row, percentile
from .servers import ServerProcess, Settings

NAME = "events"
TARGET_RATIO = 1.3
TARGET_PYVIEW = 1.2
TARGET_TELEMETRY = 0.85  # listening costs a few spans per event (handle_event, render): at most 15 %
_COUNT = re.compile(rb"Count: (-?\d+)")

RoundTrip = Callable[[], Awaitable[tuple[float, float, int]]]
"""One event: returns (sent_at, fragment_at, count shown by the fragment)."""


async def drive(server: ServerProcess, trips: list[RoundTrip], *, warmup: float, duration: float) -> dict[str, Any]:
    """Every client loops its round trip until the window closes; figures from the window only."""
    start = time.perf_counter()
    measure_from = start + warmup
    measure_to = measure_from + duration
    latencies: list[float] = []
    completed = 0
    mismatches: list[str] = []
    cpu = CpuWindow(server.cpu_seconds, measure_from, measure_to)

    async def client(trip: RoundTrip) -> None:
        nonlocal completed
        sent = 0
        for _ in range(1_000_000):  # bounded; the window ends it far sooner
            if time.perf_counter() >= measure_to:
                return
            sent_at, fragment_at, count = await asyncio.wait_for(trip(), 10)
            sent += 1
            if count != sent and not mismatches:
                mismatches.append(f"after {sent} events the fragment shows Count: {count}")
            if measure_from <= fragment_at <= measure_to:
                completed += 1
                if sent_at >= measure_from:
                    latencies.append((fragment_at - sent_at) * 1000.0)

    await asyncio.gather(cpu.sample(), *(client(t) for t in trips))
    if mismatches:
        raise wire.HttpError("wrong fragment: " + mismatches[0])
    return {
        "events_per_s": completed / duration,
        "events": completed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        **cpu.percentages(duration),
        "clients": len(trips),
        "window_s": duration,
    }


def _count(body: bytes) -> int:
    match = _COUNT.search(body)
    return int(match.group(1)) if match else -1


async def measure_live(settings: Settings, clients: int, warmup: float, duration: float) -> dict[str, Any]:
    async with ServerProcess(LIVE_APP, settings, label="live") as server:
        pages: list[LivePage] = await bounded(range(clients), 25, lambda _: open_live_page(server.host, server.port, "/counter", stream="separate"))
        try:

            result = await _drive_profiled(server, [event_trip(p, "event") for p in pages], warmup, duration)
            # One more event: the reply whose bytes the bare ASGI reference answers with.
            last = await pages[0].page.request("POST", EVENT_URL, pages[0].headers("inc"), b"by=1")
            count = _count(last.body)
            result["reply_template"] = re.sub(rf"\b{count}\b", "{count}", last.text)
            result["reply_headers"] = [(k, v) for k, v in last.headers.items() if k not in ("date", "server")]
            result["reply_bytes"] = len(last.raw_head) + len(last.body)
            return result
        finally:
            for page in pages:
                page.close()


def event_trip(page: LivePage, label: str) -> RoundTrip:
    """One ``inc`` event's round trip on ``page``: (sent at, done at, the count it answered)."""
    headers = page.headers("inc")

    async def trip() -> tuple[float, float, int]:
        response = await page.page.request("POST", EVENT_URL, headers, b"by=1")
        if response.status != 200:
            raise wire.HttpError(f"{label} answered {response.status}: {response.text[:200]}")
        return response.sent_at, response.done_at, _count(response.body)

    return trip


async def measure_bare(settings: Settings, clients: int, warmup: float, duration: float, reply: str, headers: list[tuple[str, str]]) -> dict[str, Any]:
    env = {"BENCH_BARE_REPLY": reply, "BENCH_BARE_HEADERS": json.dumps(headers)}
    async with ServerProcess(BARE_APP, settings, label="bare", env=env) as server:
        pages = [LivePage(f"bare-token-{n}", "fastapi_live_browser=bare", await wire.connect(server.host, server.port)) for n in range(clients)]
        try:

            result = await _drive_profiled(server, [event_trip(p, "bare event") for p in pages], warmup, duration)
            probe = await pages[0].page.request("POST", EVENT_URL, pages[0].headers("inc"), b"by=1")
            result["reply_bytes"] = len(probe.raw_head) + len(probe.body)
            return result
        finally:
            for page in pages:
                page.close()


def _live_trip(page: LivePage) -> tuple[RoundTrip, Callable[[], None]]:
    """A counter page's round trip, counted from the window it runs in (``next_window()`` rebases it)."""
    headers = page.headers("inc")
    state = {"offset": 0, "last": 0}

    async def trip() -> tuple[float, float, int]:
        response = await page.page.request("POST", EVENT_URL, headers, b"by=1")
        if response.status != 200:
            raise wire.HttpError(f"event answered {response.status}: {response.text[:200]}")
        state["last"] = _count(response.body)
        return response.sent_at, response.done_at, state["last"] - state["offset"]

    def next_window() -> None:
        state["offset"] = state["last"]

    return trip, next_window


async def measure_telemetry(settings: Settings, clients: int, *, rounds: int, window: float) -> tuple[dict[str, float], dict[str, float]]:
    """The counter's round trip without and with a telemetry handler attached, in alternating windows.

    Two servers, one with ``BENCH_TELEMETRY=1``, driven in turn for ``window`` seconds each,
    ``rounds`` times: both meet the same load from other processes, which drifts over a run.
    """
    async with (
        ServerProcess(LIVE_APP, settings, label="live") as plain,
        ServerProcess(LIVE_APP, settings, label="live-telemetry", env={"BENCH_TELEMETRY": "1"}) as observed,
    ):
        sides = []
        for server in (plain, observed):
            pages: list[LivePage] = await bounded(range(clients), 25, lambda _, s=server: open_live_page(s.host, s.port, "/counter", stream="separate"))
            sides.append((server, pages, [_live_trip(p) for p in pages]))
        totals = [{"events": 0.0, "seconds": 0.0, "p50s": []} for _ in sides]
        try:
            for _ in range(rounds):
                for (server, _pages, trips), total in zip(sides, totals, strict=True):
                    result = await drive(server, [trip for trip, _ in trips], warmup=0.2, duration=window)
                    for _, next_window in trips:
                        next_window()
                    total["events"] += result["events"]
                    total["seconds"] += window
                    total["p50s"].append(result["p50_ms"])
        finally:
            for _, pages, _ in sides:
                for page in pages:
                    page.close()
    figures = [{"events_per_s": t["events"] / t["seconds"], "p50_ms": percentile(t["p50s"], 50)} for t in totals]
    return figures[0], figures[1]


async def _drive_profiled(server: Any, trips: list[RoundTrip], warmup: float, duration: float) -> dict[str, Any]:
    """Drive the round trips under the server's profiler and attach its GC stats."""
    async with server.profiled(NAME, warmup + duration):
        result = await drive(server, trips, warmup=warmup, duration=duration)
    result["server_gc"] = await server.gc_stats()
    return result


async def hand_trip(host: str, port: int, conns: list[wire.Connection]) -> RoundTrip:
    """One client of the hand-written counter: its page and stream connections (added to
    ``conns``), and its round trip: POST the event, read the fragment from its stream."""
    page = await wire.connect(host, port)
    stream = await wire.connect(host, port)
    conns.extend((page, stream))
    response = await page.request("GET", "/counter")
    cookie = wire.cookie_header(response.cookies())
    waiting: list[asyncio.Future[tuple[SSEMessage, float]]] = []

    def on_message(message: SSEMessage, now: float) -> None:
        if waiting and not waiting[0].done():
            waiting.pop(0).set_result((message, now))

    await stream.open_stream("/stream", {"Cookie": cookie}, on_message)
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"}

    async def trip() -> tuple[float, float, int]:
        fragment: asyncio.Future[tuple[SSEMessage, float]] = asyncio.get_running_loop().create_future()
        waiting.append(fragment)
        response = await page.request("POST", "/event", headers, b"by=1")
        if response.status != 204:
            raise wire.HttpError(f"event answered {response.status}")
        message, arrived = await fragment
        return response.sent_at, arrived, _count(message.data.encode())

    return trip


async def measure_hand(settings: Settings, clients: int, warmup: float, duration: float) -> dict[str, Any]:
    async with ServerProcess(HAND_APP, settings, label="hand") as server:
        conns: list[wire.Connection] = []
        try:
            trips = await bounded(range(clients), 25, lambda _: hand_trip(server.host, server.port, conns))
            return await _drive_profiled(server, trips, warmup, duration)
        finally:
            for conn in conns:
                conn.close()


async def measure_pyview(settings: Settings, clients: int, warmup: float, duration: float) -> dict[str, Any]:
    async with ServerProcess(PYVIEW_APP, settings, label="pyview") as server:
        pages: list[PyviewPage] = await bounded(range(clients), 25, lambda _: open_pyview_page(server.host, server.port, "/counter"))
        try:

            def trip_of(page: PyviewPage) -> RoundTrip:
                async def trip() -> tuple[float, float, int]:
                    reply = await page.click("inc", {"by": "1"})
                    if reply.payload.get("status") != "ok":
                        raise wire.HttpError(f"pyview event answered {reply.payload!r:.200}")
                    diff = reply.payload["response"]["diff"]
                    return reply.sent_at, reply.received_at, int(diff.get("1", -1))

                return trip

            return await _drive_profiled(server, [trip_of(p) for p in pages], warmup, duration)
        finally:
            for page in pages:
                page.close()


async def run(settings: Settings) -> list[Row]:
    clients = 50
    warmup = settings.pick(2.0, 0.3)
    duration = settings.pick(10.0, 0.6)
    live = await measure_live(settings, clients, warmup, duration)
    hand = await measure_hand(settings, clients, warmup, duration)
    unobserved, observed = await measure_telemetry(settings, clients, rounds=settings.pick(10, 2), window=settings.pick(1.0, 0.5))
    pyview, pyview_error = await guarded(measure_pyview(settings, clients, warmup, duration), "pyview event round trip")
    bare = await measure_bare(settings, clients, warmup, duration, live["reply_template"], live["reply_headers"])
    details = {
        "fastapi_live": live,
        "baseline": hand,
        "pyview": pyview,
        "bare_asgi": bare,
        "telemetry": {"none_attached": unobserved, "handler_attached": observed},
    }

    def of_pyview(key: str) -> float | None:
        return None if pyview is None else float(pyview[key])

    return [
        Row(
            f"event round trip, {clients} clients: events/s (vs FastAPI+sse-starlette POST→SSE)",
            live["events_per_s"],
            hand["events_per_s"],
            "ev/s",
            target=f"≥ {TARGET_RATIO}× floor, ≥ {TARGET_PYVIEW}× pyview",
            check=lambda live_value, base: live_value >= TARGET_RATIO * base,
            details=details,
            group=NAME,
            pyview=of_pyview("events_per_s"),
            pyview_check=lambda live_value, pyview_value: live_value >= TARGET_PYVIEW * pyview_value,
            pyview_error=pyview_error,
        ),
        Row(
            "event round trip, p50 latency",
            live["p50_ms"],
            hand["p50_ms"],
            "ms",
            target="≤ pyview",
            group=NAME,
            pyview=of_pyview("p50_ms"),
            pyview_check=lambda live_value, pyview_value: live_value <= pyview_value,
            pyview_error=pyview_error,
        ),
        Row("event round trip, p99 latency", live["p99_ms"], hand["p99_ms"], "ms", group=NAME, pyview=of_pyview("p99_ms"), pyview_error=pyview_error),
        Row(
            f"event round trip, {clients} clients, a telemetry handler attached: events/s (vs none attached)",
            observed["events_per_s"],
            unobserved["events_per_s"],
            "ev/s",
            target=f"≥ {TARGET_TELEMETRY}×",
            check=lambda with_handler, without: with_handler >= TARGET_TELEMETRY * without,
            group=NAME,
        ),
        Row(
            "event round trip, a telemetry handler attached: p50 latency, median of the windows (vs none attached)",
            observed["p50_ms"],
            unobserved["p50_ms"],
            "ms",
            group=NAME,
        ),
        Row(
            f"event round trip, {clients} clients: events/s (vs a bare ASGI app answering the same POST with the same bytes: the limit)",
            live["events_per_s"],
            bare["events_per_s"],
            "ev/s",
            details={"bare_asgi": bare, "reply_bytes": {"fastapi_live": live["reply_bytes"], "bare_asgi": bare["reply_bytes"]}},
            group=NAME,
        ),
    ]
