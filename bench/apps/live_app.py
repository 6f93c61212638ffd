"""The fastapi-live bench app: a counter, three dashboards, a fan-out page, a 10-region page, a
10-region page with tabs in its URL, and bench-only endpoints.

``BENCH_PUBSUB`` picks the PubSub backend: ``memory`` (default) or a ``redis://`` URL; ``BENCH_HEARTBEAT``
the seconds between stream heartbeats (15, the default);
``BENCH_TELEMETRY=1`` attaches a telemetry handler (the live dashboard's, ``HandlerStats``).
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import JSONResponse, PlainTextResponse, Response

from fastapi_live import AsyncResult, LiveRouter, LiveSocket, LiveView, PresenceDiff, SessionConfig, create_pubsub, event
from fastapi_live.introspection import HandlerStats

from . import (
    TEMPLATES,
    GcPauses,
    busy_work,
    load_org,
    load_org_blocking,
    load_profile_rank,
    load_profile_rank_blocking,
    org_of,
    profile_rank_of,
    regions_state,
)


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


class BlockingDashboard(LiveView):
    """The async dashboard with plain (blocking) loads: they run on the session's threads."""

    async def mount(self, socket: LiveSocket, slug: str) -> None:  # type: ignore[override]  # path params, as the library documents
        socket.assign(slug=slug)
        socket.assign_async("org", load_org_blocking, slug)
        socket.assign_async(["profile", "rank"], load_profile_rank_blocking, slug)


class Busy(LiveView):
    """A counter whose ``handle_info`` does 2 ms of work that never waits, one message at a time."""

    async def mount(self, socket: LiveSocket) -> None:
        await socket.subscribe("busy")
        socket.assign(title="Busy", count=0, echo="")

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        busy_work(0.002)
        socket.update("count", lambda n: n + 1)


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


class PresenceWatch(LiveView):
    """Subscribes to a room's presence and shows who joined last: 1,000 of them measure a join's delivery."""

    async def mount(self, socket: LiveSocket, n: int) -> None:  # type: ignore[override]  # path params, as the library documents
        await socket.subscribe("room")
        socket.assign(n=n, joined="", pid=os.getpid())

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        if isinstance(message, PresenceDiff) and message.joins:
            socket.assign(joined=" ".join(sorted(message.joins)))


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
        # BENCH_HEARTBEAT: seconds between heartbeats (the scale bench's memory server idles beside
        # the one it times: its heartbeats would be foreign load there).
        config=SessionConfig(mount_warning_ms=None, heartbeat=float(os.environ.get("BENCH_HEARTBEAT", "15"))),
    )
    live.page("/counter", template="live_counter.html")(Counter)
    live.page("/dash/async/{slug}", template="dashboard.html")(AsyncDashboard)
    live.page("/dash/awaited/{slug}", template="dashboard.html")(AwaitedDashboard)
    live.page("/dash/none/{slug}", template="dashboard.html")(NoLoadDashboard)
    live.page("/dash/blocking/{slug}", template="dashboard.html")(BlockingDashboard)
    live.page("/busy", template="live_counter.html")(Busy)
    live.page("/fan/{n}", template="fanout.html")(Fanout)
    live.page("/regions", template="regions.html")(Regions)
    live.page("/tabs", template="tabs.html")(Tabs)
    live.page("/presence/{n}", template="presence_watch.html")(PresenceWatch)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(live)
    if os.environ.get("BENCH_TELEMETRY") == "1":
        HandlerStats().attach()  # every event's spans (handle_event, render) go to a handler

    @app.get("/bench/ping")
    async def ping() -> Response:
        return PlainTextResponse("ok")

    @app.get("/bench/stats")
    async def stats() -> Response:
        sessions = list(live.manager.sessions.values())
        attached = sum(1 for session in sessions if session.attached)
        executor = live.manager.executor
        return JSONResponse(
            {
                "pid": os.getpid(),
                "sessions": len(sessions),
                "attached": attached,
                "unconnected": len(live.manager.unconnected),
                "sync_running": executor.running,
                "sync_waiting": executor.waiting,
                "gc": gc_pauses.as_json(),
            }
        )

    @app.post("/bench/flood")
    async def flood(request: Request) -> Response:
        # Every message published at once, as a burst of POSTs to a notification endpoint does.
        topic, count = request.query_params["topic"], int(request.query_params["n"])
        for n in range(count):
            await live.pubsub.publish(topic, n)
        return Response(status_code=204)

    @app.post("/bench/presence/join")
    async def presence_join(request: Request) -> Response:
        """Track ``key`` on ``topic`` (as a session would); 204 once stored and its diff published."""
        key = request.query_params["key"]
        await live.presence.track(f"bench-{key}", request.query_params["topic"], key, {"name": key})
        return Response(status_code=204)

    @app.post("/bench/presence/fill")
    async def presence_fill(request: Request) -> Response:
        topic, count = request.query_params["topic"], int(request.query_params["count"])
        for n in range(count):
            await live.presence.track(f"bench-fill-{topic}-{n}", topic, f"user-{n}", {"name": f"User {n}", "joined_at": "2026-12-01T09:00:00Z"})
        return Response(status_code=204)

    @app.get("/bench/presence/list")
    async def presence_list(request: Request) -> Response:
        """Times one ``live.presence.list(topic)`` here, in the server: ``{"ms": ..., "keys": ...}``."""
        started = time.perf_counter()
        listed = await live.presence.list(request.query_params["topic"])
        return JSONResponse({"ms": (time.perf_counter() - started) * 1000.0, "keys": len(listed)})

    @app.post("/bench/publish")
    async def publish(request: Request) -> Response:
        await live.pubsub.publish(request.query_params["topic"], request.query_params["message"])
        return Response(status_code=204)

    return app
