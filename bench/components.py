"""13. One component changed in a list of 1,000: bytes and server time per event.

Two pages show the same 1,000 rows. On ``/components`` each row is a ``LiveComponent`` with
its own count; a click inside row 500 goes to that component, and only its fragment is sent.
On ``/region`` the rows are one region over a ``counts`` assign; the same click re-renders the
region. Measured in this process, on pages opened through the real endpoints: the event's
response body (what goes on the wire) and the server's time to handle the event and render
its patch (``LiveSession.handle_event``, median of many), for both, in the same run.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import ComponentSocket, LiveComponent, LiveRouter, LiveSocket, LiveView, event
from fastapi_live.pubsub.memory import MemoryPubSub
from fastapi_live.testing import live
from fastapi_live.wire import PARAM_COMPONENT

from .report import Row
from .servers import Settings

NAME = "components"
ROWS = 1000
CHANGED = 500
TEMPLATES = Path(__file__).resolve().parent / "apps" / "templates"


@dataclass(frozen=True)
class ListItem:
    id: int
    title: str


def _items() -> list[ListItem]:
    return [ListItem(i, f"Row number {i}") for i in range(1, ROWS + 1)]


class BenchItem(LiveComponent):
    template = "component_item.html"

    async def mount(self, socket: ComponentSocket) -> None:
        socket.assign(count=0)

    @event("bump")
    async def bump(self, socket: ComponentSocket) -> None:
        socket.update("count", lambda n: n + 1)


class ComponentList(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(items=_items())


class RegionList(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(items=_items(), counts=dict.fromkeys(range(1, ROWS + 1), 0))

    @event("bump")
    async def bump(self, socket: LiveSocket, id: int) -> None:
        socket.update("counts", lambda counts: {**counts, id: counts[id] + 1})


def make_app() -> FastAPI:
    live_router = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), pubsub=MemoryPubSub(), secret_key="bench-secret")
    live_router.page("/components", template="component_list.html")(ComponentList)
    live_router.page("/region", template="region_list.html")(RegionList)
    app = FastAPI()
    app.include_router(live_router)
    return app


async def _measure(app: FastAPI, path: str, params: dict[str, Any], events: int) -> dict[str, Any]:
    view, html = await live(app, path)
    try:
        session = view.session
        body, _ = await session.handle_event("bump", dict(params))  # warm: templates compiled, caches filled
        timings: list[float] = []
        gc.collect()
        for _ in range(events):
            started = time.perf_counter()
            body, _ = await session.handle_event("bump", dict(params))
            timings.append((time.perf_counter() - started) * 1000.0)
        fragments = body.count("<hx-partial ")
    finally:
        await view.close()
    return {
        "page_bytes": len(html.encode()),
        "event_body_bytes": len(body.encode()),
        "fragments": fragments,
        "server_ms_median": statistics.median(timings),
        "server_ms_p90": sorted(timings)[int(len(timings) * 0.9)],
        "events": events,
    }


async def run(settings: Settings) -> list[Row]:
    app = make_app()
    events = settings.pick(400, 60)
    probe, _ = await live(app, "/components")
    cid = probe.session.patcher.components.get(BenchItem, CHANGED)
    await probe.close()
    if cid is None:
        raise RuntimeError(f"no BenchItem id={CHANGED} on /components")
    # A fresh page per side; the component's cid is the same on every fresh page (numbered in render order).
    component = await _measure(app, "/components", {PARAM_COMPONENT: cid.cid}, events)
    region = await _measure(app, "/region", {"id": str(CHANGED)}, events)
    if component["fragments"] != 1 or region["fragments"] != 1:
        raise RuntimeError(f"expected one fragment per event, got {component['fragments']} (components) and {region['fragments']} (region)")
    details = {"components": component, "region": region, "rows": ROWS}
    return [
        Row(
            f"one component changed in a list of {ROWS:,}: event response body (vs the list as one region re-rendered)",
            component["event_body_bytes"],
            region["event_body_bytes"],
            "B",
            target="≤ 0.1×",
            check=lambda live_value, base: live_value <= 0.1 * base,
            details=details,
            group=NAME,
        ),
        Row(
            f"one component changed in a list of {ROWS:,}: server time per event, median (vs the list as one region re-rendered)",
            component["server_ms_median"],
            region["server_ms_median"],
            "ms",
            target="≤ 0.3×",
            check=lambda live_value, base: live_value <= 0.3 * base,
            group=NAME,
        ),
    ]
