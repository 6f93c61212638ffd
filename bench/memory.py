"""3. Memory per idle connected live page: (server RSS after − before) / N with N pages open.

Each live page is a page GET plus its stream held open on the same keep-alive connection.
Baseline: N default sse-starlette streams on a hand-written endpoint, each generator waiting
on its own ``asyncio.Event``. pyview: N counter views joined over their WebSockets (the page
GET's connection is closed, as a browser's would idle out; the WebSocket stays), without
WebSocket compression (the table's figure: pyview at its leanest) and, in the JSON details,
with permessage-deflate negotiated as browsers do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from . import wire
from .apps import HAND_APP, LIVE_APP, PYVIEW_APP
from .load import LivePage, bounded, guarded, open_live_page, settle_rss
from .pyview import PyviewPage, open_pyview_page
from .report import Row
from .servers import ServerProcess, Settings

NAME = "memory"
TARGET_KB = 30.0
WARM = 300
"""Pages opened (and kept) before the "before" reading: imports, template compilation, pools, and the
memory the server freed at startup, which later pages would otherwise fill without growing RSS (with
20 warm pages the live figure read 11.8 KB a page instead of 12.4 KB; the floors' barely moved).
A quick run opens 100: a smoke run's figure, a little flattered."""


def warm_pages(settings: Settings) -> int:
    return int(settings.pick(WARM, 100))


async def _open_settled(server: ServerProcess, settings: Settings, count: int, one: Callable[[int], Awaitable[None]]) -> tuple[int, int]:
    """Open ``WARM`` (kept) and settle: the "before" RSS; open ``count`` more and settle: the "after" RSS."""
    await bounded(range(warm_pages(settings)), 50, one)
    before = await settle_rss(server.rss, minimum=1.0, maximum=5.0)
    await bounded(range(count), 50, one)
    after = await settle_rss(server.rss, minimum=settings.pick(3.0, 1.0), maximum=15.0)
    return before, after


def _rss_figures(before: int, after: int, count: int) -> dict[str, float]:
    return {
        "rss_before_mb": before / 2**20,
        "rss_after_mb": after / 2**20,
        "kb_per_page": (after - before) / count / 1024,
    }


async def measure_live(settings: Settings, count: int) -> dict[str, Any]:
    async with ServerProcess(LIVE_APP, settings, label="live") as server:
        pages: list[LivePage] = []

        async def one(_: int) -> None:
            pages.append(await open_live_page(server.host, server.port, "/counter"))

        try:
            before, after = await _open_settled(server, settings, count, one)
            stats = await server.stats()
        finally:
            for page in pages:
                page.close()
    if stats.get("attached") != count + warm_pages(settings):
        raise wire.HttpError(f"expected {count + warm_pages(settings)} attached streams, the server holds {stats}")
    return {
        **_rss_figures(before, after, count),
        "pages": count,
        "server": stats,
    }


async def measure_hand(settings: Settings, count: int) -> dict[str, Any]:
    async with ServerProcess(HAND_APP, settings, label="hand") as server:
        conns: list[wire.Connection] = []

        async def one(_: int) -> None:
            conn = await wire.connect(server.host, server.port)
            conns.append(conn)
            await asyncio.wait_for(conn.open_stream("/idle", None, None), 20)

        try:
            before, after = await _open_settled(server, settings, count, one)
        finally:
            for conn in conns:
                conn.close()
    return {
        **_rss_figures(before, after, count),
        "streams": count,
    }


async def measure_pyview(settings: Settings, count: int, *, deflate: bool = False) -> dict[str, Any]:
    async with ServerProcess(PYVIEW_APP, settings, label="pyview-deflate" if deflate else "pyview") as server:
        pages: list[PyviewPage] = []

        async def one(_: int) -> None:
            pages.append(await open_pyview_page(server.host, server.port, "/counter", deflate=deflate))

        try:
            before, after = await _open_settled(server, settings, count, one)
            stats = await server.stats()
            alive = await asyncio.gather(*(page.heartbeat() for page in pages[:: max(1, count // 20)]))
        finally:
            for page in pages:
                page.close()
    # /bench/stats's own connection is no view; a heartbeat answered proves the sockets are open
    if stats.get("sessions") != count + warm_pages(settings) or not all(reply.payload.get("status") == "ok" for reply in alive):
        raise wire.HttpError(f"expected {count + warm_pages(settings)} joined views, the server holds {stats}")
    return {
        **_rss_figures(before, after, count),
        "pages": count,
        "server": stats,
        "permessage_deflate": deflate,
    }


async def run(settings: Settings) -> list[Row]:
    count = settings.pick(2000, 500)
    # All four at once: each reads its own server's RSS, which does not depend on what the others do
    # meanwhile (they only make the pages slower to open).
    live, hand, (pyview, pyview_error), (deflate, deflate_error) = await asyncio.gather(
        measure_live(settings, count),
        measure_hand(settings, count),
        guarded(measure_pyview(settings, count), "pyview memory"),
        guarded(measure_pyview(settings, count, deflate=True), "pyview memory with permessage-deflate"),
    )
    if pyview is not None:
        pyview["browser_like_permessage_deflate"] = deflate or {"error": deflate_error}
    return [
        Row(
            f"memory per idle live page, {count:,} open (vs idle sse-starlette stream)",
            live["kb_per_page"],
            hand["kb_per_page"],
            "KB",
            target=f"≤ {TARGET_KB:.0f} KB, < pyview",
            check=lambda live_value, _base: live_value <= TARGET_KB,
            details={"fastapi_live": live, "baseline": hand, "pyview": pyview},
            group=NAME,
            pyview=None if pyview is None else pyview["kb_per_page"],
            pyview_check=lambda live_value, pyview_value: live_value < pyview_value,
            pyview_error=pyview_error,
        )
    ]
