"""The fastapi-live bench app: a counter, three dashboards, a fan-out page, a 10-region page, a
10-region page with tabs in its URL, and bench-only endpoints.

``BENCH_PUBSUB`` picks the PubSub backend: ``memory`` (default) or a ``redis://`` URL.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import JSONResponse, PlainTextResponse, Response

from fastapi_live import AsyncResult, LiveRouter, LiveSocket, LiveView, SessionConfig, create_pubsub, event

from . import TEMPLATES, GcPauses, load_org, load_profile_rank, org_of, profile_rank_of, regions_state


class Counter(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(title="Counter", count=0, echo="")

    @event("inc")
    async def inc(self, socket: LiveSocket, by: int = 1) -> None:
        socket.update("count", lambda n: n + by)


class AsyncDashboard(LiveView):
    """The loads run after the first render; their results arrive on the stream."""

    async def mount(self, socket: LiveSocket, slug: str) -> None:
        socket.assign(slug=slug)
        socket.assign_async("org", load_org, slug)
        socket.assign_async(["profile", "rank"], load_profile_rank, slug)


class AwaitedDashboard(LiveView):
    """The same loads awaited inside mount, one after the other: the page waits for both."""

    async def mount(self, socket: LiveSocket, slug: str) -> None:
        org = await load_org(slug)
        profile_rank = await load_profile_rank(slug)
        socket.assign(
            slug=slug,
            org=AsyncResult.ok(org),
            profile=AsyncResult.ok(profile_rank["profile"]),
            rank=AsyncResult.ok(profile_rank["rank"]),
        )


class NoLoadDashboard(LiveView):
    """The same page with its data at hand: no loads at all."""

    async def mount(self, socket: LiveSocket, slug: str) -> None:
        profile_rank = profile_rank_of(slug)
        socket.assign(
            slug=slug,
            org=AsyncResult.ok(org_of(slug)),
            profile=AsyncResult.ok(profile_rank["profile"]),
            rank=AsyncResult.ok(profile_rank["rank"]),
        )


class Fanout(LiveView):
    async def mount(self, socket: LiveSocket, n: int) -> None:
        await socket.subscribe(f"user:{n}")
        await socket.subscribe("all")
        socket.assign(n=n, news="", pid=os.getpid())

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        socket.assign(news=str(message))


class Regions(LiveView):
    """Ten regions, each reading its own assign ``m0`` … ``m9``: one change re-renders one region."""

    async def mount(self, socket: LiveSocket) -> None:
        await socket.subscribe("regions")
        socket.assign(**regions_state())

    @event("bump")
    async def bump(self, socket: LiveSocket, i: int = 3) -> None:
        socket.update(f"m{i}", lambda m: {**m, "value": m["value"] + 1})

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        index, _, note = str(message).partition(":")
        socket.update(f"m{int(index)}", lambda m: {**m, "note": note})


TABS = ("overview", "activity", "settings")
PANELS = {
    "overview": "Everything at a glance: ten metrics, their notes and their tags, updated as they change.",
    "activity": "Recent activity: three deploys, twelve comments and one rollback, newest first.",
    "settings": "Settings: who is notified of each metric, how often, and through which channel.",
}


class Tabs(Regions):
    """The 10-region page with tabs in its URL (``?tab=settings``): a tab is a patch."""

    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(**regions_state(), tabs=TABS, panels=PANELS)

    async def handle_params(self, socket: LiveSocket, tab: Literal["overview", "activity", "settings"] = "overview") -> None:
        socket.assign(tab=tab)


def create_app() -> FastAPI:
    gc_pauses = GcPauses.install()
    backend = os.environ.get("BENCH_PUBSUB", "memory")
    live = LiveRouter(
        templates=Jinja2Templates(directory=TEMPLATES),
        secret_key="bench-secret",
        pubsub=create_pubsub(None if backend == "memory" else backend),
        # The awaited dashboard blocks on purpose; its warning would only flood the log.
        config=SessionConfig(mount_warning_ms=None),
    )
    live.page("/counter", template="live_counter.html")(Counter)
    live.page("/dash/async/{slug}", template="dashboard.html")(AsyncDashboard)
    live.page("/dash/awaited/{slug}", template="dashboard.html")(AwaitedDashboard)
    live.page("/dash/none/{slug}", template="dashboard.html")(NoLoadDashboard)
    live.page("/fan/{n}", template="fanout.html")(Fanout)
    live.page("/regions", template="regions.html")(Regions)
    live.page("/tabs", template="tabs.html")(Tabs)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(live)

    @app.get("/bench/ping")
    async def ping() -> Response:
        return PlainTextResponse("ok")

    @app.get("/bench/stats")
    async def stats() -> Response:
        sessions = list(live.manager.sessions.values())
        attached = sum(1 for session in sessions if session.attached)
        return JSONResponse({"pid": os.getpid(), "sessions": len(sessions), "attached": attached, "gc": gc_pauses.as_json()})

    @app.post("/bench/publish")
    async def publish(request: Request) -> Response:
        await live.pubsub.publish(request.query_params["topic"], request.query_params["message"])
        return Response(status_code=204)

    return app
