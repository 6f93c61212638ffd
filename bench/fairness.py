"""8. Fairness: what one abuser costs everyone else, beside the same figure with no abuse, one run.

* **Unconnected flood.** 300 dashboard pages loaded by fresh "browsers" that never open their
  stream, each starting its two blocking loads (300 ms and 600 ms, run on threads). Then
  another user loads the same dashboard and opens its stream: page request sent → every async
  part on the stream. A fresh flood before each of a few loads; the median. Baseline: the
  same user's loads before any flood.
* **Mailbox flood.** One session gets 10,000 messages at once, each handled by a
  ``handle_info`` doing 2 ms of work that never waits (20 s of work for that session). Another
  session's events meanwhile: POST sent → response, p99 over a window. Baseline: the same
  window before the flood.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi_live.testing._sse import SSEMessage

from . import wire
from .apps import LIVE_APP, PROFILE_LATENCY
from .load import EVENT_URL, bounded, open_live_page
from .report import Row, median, percentile
from .servers import ServerProcess, Settings

NAME = "fairness"
FLOOD_PAGES = 300
FLOOD_TARGET = 1.5
MESSAGES = 10_000
MAILBOX_SLACK_MS = 20.0  # a few of the flooded session's 2 ms turns, never its whole backlog
PARTS = ('id="org-name"', 'id="profile-name"', 'id="rank-value"')


async def user_load(server: ServerProcess, path: str, timeout: float = 60.0) -> float:
    """Seconds from the page request to the last of its async parts on the stream."""
    loop = asyncio.get_running_loop()
    complete: asyncio.Future[float] = loop.create_future()
    seen: set[str] = set()

    def on_message(message: SSEMessage, now: float) -> None:
        seen.update(part for part in PARTS if part in message.data)
        if len(seen) == len(PARTS) and not complete.done():
            complete.set_result(now)

    started = time.perf_counter()
    page = await open_live_page(server.host, server.port, path, on_message=on_message, timeout=timeout)
    try:
        return await asyncio.wait_for(complete, timeout) - started
    finally:
        page.close()


async def flood_pages(server: ServerProcess, path: str, count: int) -> float:
    """Load ``count`` pages, each from a fresh browser that never opens the stream; seconds taken."""

    async def one(_: int) -> None:
        conn = await wire.connect(server.host, server.port)
        try:
            response = await conn.request("GET", path)
            if response.status != 200:
                raise wire.HttpError(f"flood page answered {response.status}")
        finally:
            conn.close()

    started = time.perf_counter()
    await bounded(range(count), 32, one)
    return time.perf_counter() - started


async def measure_unconnected_flood(settings: Settings) -> dict[str, Any]:
    loads = settings.pick(5, 2)
    async with ServerProcess(LIVE_APP, settings, label="live-fairness") as server:
        await user_load(server, "/dash/blocking/warmup")
        quiet = [await user_load(server, f"/dash/blocking/user-{n}") for n in range(loads)]
        flooded: list[float] = []
        flood_s: list[float] = []
        for n in range(loads):  # a fresh flood before each load: every load meets one at its height
            flood_s.append(await flood_pages(server, f"/dash/blocking/flood-{n}", FLOOD_PAGES))
            during = await server.stats()
            flooded.append(await user_load(server, f"/dash/blocking/user-{n}"))
        after = await server.stats()
    return {
        "quiet_s": quiet,
        "flooded_s": flooded,
        "quiet_p50_ms": median(quiet) * 1000.0,
        "flooded_p50_ms": median(flooded) * 1000.0,
        "slowest_load_ms": PROFILE_LATENCY * 1000.0,
        "flood_pages": FLOOD_PAGES,
        "flood_s": flood_s,
        "server_after_flood": during,
        "server_after_measuring": after,
    }


async def event_latencies(page: Any, seconds: float) -> list[float]:
    """One client's events, back to back, for ``seconds``: each POST → response, in ms."""
    headers = page.headers("inc")
    latencies: list[float] = []
    ends = time.perf_counter() + seconds
    while time.perf_counter() < ends:
        response = await asyncio.wait_for(page.page.request("POST", EVENT_URL, headers, b"by=1"), 30)
        if response.status != 200:
            raise wire.HttpError(f"event answered {response.status}: {response.text[:200]}")
        latencies.append((response.done_at - response.sent_at) * 1000.0)
    return latencies


async def measure_mailbox_flood(settings: Settings) -> dict[str, Any]:
    window = settings.pick(4.0, 0.6)
    messages = settings.pick(MESSAGES, 2_000)
    async with ServerProcess(LIVE_APP, settings, label="live-fairness") as server:
        frames: list[float] = []
        flooded = await open_live_page(server.host, server.port, "/busy", on_message=lambda message, now: frames.append(now))
        other = await open_live_page(server.host, server.port, "/counter", stream="separate")
        try:
            await event_latencies(other, 0.5)  # warm-up
            quiet = await event_latencies(other, window)
            control = await wire.connect(server.host, server.port)
            try:
                sent = await control.request("POST", f"/bench/flood?topic=busy&n={messages}")
            finally:
                control.close()
            if sent.status != 204:
                raise wire.HttpError(f"/bench/flood answered {sent.status}")
            before = len(frames)
            during = await event_latencies(other, window)
            delivered = len(frames) - before
            stats = await server.stats()
        finally:
            flooded.close()
            other.close()
    return {
        "quiet_p50_ms": percentile(quiet, 50),
        "quiet_p99_ms": percentile(quiet, 99),
        "flooded_p50_ms": percentile(during, 50),
        "flooded_p99_ms": percentile(during, 99),
        "flooded_max_ms": max(during),
        "events_quiet": len(quiet),
        "events_flooded": len(during),
        "messages": messages,
        "window_s": window,
        "flooded_session_frames_in_window": delivered,
        "server": stats,
    }


async def run(settings: Settings) -> list[Row]:
    unconnected = await measure_unconnected_flood(settings)
    mailbox = await measure_mailbox_flood(settings)
    return [
        Row(
            f"another user's async parts under a {FLOOD_PAGES}-page unconnected flood, p50 (vs same user, no flood)",
            unconnected["flooded_p50_ms"],
            unconnected["quiet_p50_ms"],
            "ms",
            target=f"≤ {FLOOD_TARGET}×",
            check=lambda live, base: live <= FLOOD_TARGET * base,
            details=unconnected,
            group=NAME,
        ),
        Row(
            f"another session's event p99 while one session receives {mailbox['messages']:,} messages (vs no flood)",
            mailbox["flooded_p99_ms"],
            mailbox["quiet_p99_ms"],
            "ms",
            target=f"≤ +{MAILBOX_SLACK_MS:.0f} ms",
            check=lambda live, base: live <= base + MAILBOX_SLACK_MS,
            details=mailbox,
            group=NAME,
        ),
    ]
