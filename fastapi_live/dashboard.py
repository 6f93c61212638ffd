"""The live dashboard: the app's live sessions, handlers and processes, on a live page of its own.

>>> app.include_router(live_dashboard(dependencies=[Depends(admin_only)]))   # at /_live/dashboard

It shows sessions per view and per process (every process sharing the app's Redis, when the
PubSub is Redis), each session's age, state size, running tasks and subscriptions; the
slowest handlers; the recent exceptions; each process's memory and queues, refreshed every
second. Assign values are never shown unless ``show_assigns=True``: names, counts and sizes only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket as socket_module
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi.params import Depends as DependsParam
from jinja2 import Environment, select_autoescape

from .async_ops import Ok
from .exceptions import ConfigurationError
from .introspection import HandlerStats, process_snapshot
from .pubsub import PubSub, create_pubsub
from .router import LiveRouter
from .view import LiveSocket, LiveView, event

log = logging.getLogger("fastapi_live.dashboard")

KEY_PREFIX = "fastapi-live:{dashboard}:"  # one hash tag: on Redis Cluster every key sits in one slot
WATCH_KEY = KEY_PREFIX + "watch"
NODES_KEY = KEY_PREFIX + "nodes"
DOCS = "https://github.com/fastapi-live/fastapi-live#the-live-dashboard"


def node_key(node: str) -> str:
    return f"{KEY_PREFIX}node:{node}"


def _routers_of(app: Any) -> list[LiveRouter]:
    """The live routers ``app`` serves (their stream endpoints are bound methods of theirs)."""
    found: list[LiveRouter] = []
    for route in getattr(app, "routes", ()):
        owner = getattr(getattr(route, "endpoint", None), "__self__", None)
        if isinstance(owner, LiveRouter) and owner not in found:
            found.append(owner)
    return found


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover - reason: the loop returns at GB


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min"


class Board:
    """What every dashboard page of one process reads: this process's snapshot, and the others' from Redis."""

    def __init__(self, router: DashboardRouter, observed: Sequence[LiveRouter], interval: float, show_assigns: bool) -> None:
        self.router = router
        self.observed = list(observed)
        self.interval = interval
        self.show_assigns = show_assigns
        self.stats = HandlerStats()
        self.node = f"{socket_module.gethostname()}:{os.getpid()}"
        self.client: Any = None
        self._reporter: asyncio.Task[None] | None = None
        self._failed = False

    async def start(self, app: Any) -> None:
        if not self.observed:
            self.observed = _routers_of(app)
        if self.router not in self.observed:
            self.stats.ignore = frozenset({LiveDashboard.__name__})
        self.stats.attach()
        client = getattr(self.router.pubsub, "client", None)
        if callable(client):  # Redis: every process reports while a dashboard watches
            self.client = client()
            self._reporter = asyncio.get_running_loop().create_task(self._report(), name="fastapi-live dashboard reporter")

    async def stop(self) -> None:
        self.stats.detach()
        if self._reporter is not None:
            self._reporter.cancel()
            self._reporter = None

    def local(self) -> dict[str, Any]:
        """This process: the observed routers' sessions, merged, with its handler stats."""
        merged: dict[str, Any] = {"node": self.node, "pid": os.getpid(), "sessions": 0, "per_view": {}, "streams": 0, "queues": {}, "list": []}
        for live in self.observed:
            snap = process_snapshot(live.manager, self.node, values=self.show_assigns)
            merged["sessions"] += snap["sessions"]
            merged["streams"] += snap["streams"]
            merged["rss"] = snap["rss"]
            merged["at"] = snap["at"]
            for view, count in snap["per_view"].items():
                merged["per_view"][view] = merged["per_view"].get(view, 0) + count
            for name, depth in snap["queues"].items():
                merged["queues"][name] = merged["queues"].get(name, 0) + depth
            merged["list"].extend(snap["list"])
        merged.setdefault("rss", 0)
        merged.setdefault("at", time.time())
        merged["handlers"] = self.stats.as_json()
        return merged

    async def gather(self) -> list[dict[str, Any]]:
        """Every process's snapshot, this one's first (the others only with Redis)."""
        nodes = [self.local()]
        if self.client is None:
            return nodes
        try:
            await self.client.set(WATCH_KEY, self.node, ex=max(5, int(self.interval * 5)))
            now = time.time()
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in await self.client.zrangebyscore(NODES_KEY, now - 3 * self.interval, "+inf")]
            others = [n for n in names if n != self.node]
            if others:
                for raw in await self.client.mget([node_key(n) for n in others]):
                    if raw:
                        nodes.append(json.loads(raw))
        except Exception as exc:  # Redis away: this process's own view still shows
            self._log_failure(exc)
        return nodes

    async def _report(self) -> None:
        while True:
            try:
                if await self.client.exists(WATCH_KEY):
                    ttl = max(3, int(self.interval * 3) + 1)
                    await self.client.set(node_key(self.node), json.dumps(self.local(), default=str), ex=ttl)
                    now = time.time()
                    await self.client.zadd(NODES_KEY, {self.node: now})
                    await self.client.zremrangebyscore(NODES_KEY, "-inf", now - 60)
                self._failed = False
            except Exception as exc:
                self._log_failure(exc)
            await asyncio.sleep(self.interval)

    def _log_failure(self, exc: Exception) -> None:
        if not self._failed:
            log.warning("fastapi-live: the live dashboard could not reach Redis (%s): it shows this process only", exc)
        self._failed = True

    async def refresh(self) -> dict[str, Any]:
        """Wait one interval, then gather: a dashboard page's tick (its ``start_async`` function)."""
        await asyncio.sleep(self.interval)
        return view_model(await self.gather())


def _merged_handlers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per handler across processes, slowest first."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["span"], row["view"], row["event"])
        into = merged.get(key)
        if into is None:
            merged[key] = {**row, "total_ms": row["mean_ms"] * row["calls"]}
            continue
        into["calls"] += row["calls"]
        into["failures"] += row["failures"]
        into["total_ms"] += row["mean_ms"] * row["calls"]
        into["slowest_ms"] = max(into["slowest_ms"], row["slowest_ms"])
    for row in merged.values():
        row["mean_ms"] = round(row.pop("total_ms") / row["calls"], 2) if row["calls"] else 0.0
    return sorted(merged.values(), key=lambda h: h["slowest_ms"], reverse=True)


def view_model(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The assigns a dashboard page shows, from every process's snapshot (plain values only)."""
    now = time.time()
    views: dict[str, dict[str, int]] = {}
    sessions: list[dict[str, Any]] = []
    slowest: list[dict[str, Any]] = []
    exceptions: list[dict[str, Any]] = []
    events = 0
    for node in nodes:
        label = str(node["node"])
        for view, count in node.get("per_view", {}).items():
            views.setdefault(view, {})[label] = count
        for item in node.get("list", []):
            sessions.append(
                {
                    **item,
                    "node": label,
                    "age_text": _age(float(item["age"])),
                    "size_text": _bytes(float(item["state_bytes"])),
                    "tasks_text": ", ".join(item["tasks"]) or "—",
                    "subscriptions_text": ", ".join(item["subscriptions"]) or "—",
                }
            )
        handlers = node.get("handlers", {})
        events += int(handlers.get("events", 0))
        slowest.extend({**h, "node": label} for h in handlers.get("slowest", []))
        exceptions.extend({**e, "node": label, "ago": _age(max(0.0, now - float(e["at"])))} for e in handlers.get("exceptions", []))
    sessions.sort(key=lambda s: s["age"])
    slowest = _merged_handlers(slowest)
    exceptions.sort(key=lambda e: e["at"], reverse=True)
    processes = [
        {
            "node": str(n["node"]),
            "pid": n.get("pid"),
            "sessions": n.get("sessions", 0),
            "streams": n.get("streams", 0),
            "rss_text": _bytes(float(n.get("rss", 0))),
            "queues": n.get("queues", {}),
        }
        for n in nodes
    ]
    node_names = [p["node"] for p in processes]
    return {
        "processes": processes,
        "node_names": node_names,
        "views": [{"view": v, "counts": [counts.get(n, 0) for n in node_names], "total": sum(counts.values())} for v, counts in sorted(views.items())],
        "sessions": sessions[:100],
        "session_total": sum(int(n.get("sessions", 0)) for n in nodes),
        "stream_total": sum(int(n.get("streams", 0)) for n in nodes),
        "memory_total": _bytes(sum(float(n.get("rss", 0)) for n in nodes)),
        "events_total": events,
        "clock": now,
        "slowest": slowest[:10],
        "exceptions": exceptions[:10],
        "updated": time.strftime("%H:%M:%S", time.localtime(now)),
    }


class LiveDashboard(LiveView):
    """The dashboard page: one snapshot per second, gathered off the mailbox by ``start_async``."""

    board: Board

    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(page_title="Live dashboard", paused=False, events_rate="—", **view_model(await self.board.gather()))
        socket.start_async("tick", self.board.refresh)

    async def handle_async(self, name: str, outcome: Any, socket: LiveSocket) -> None:
        if isinstance(outcome, Ok):
            before, since = socket.assigns.events_total, socket.assigns.clock
            socket.assign(**outcome.value)
            elapsed = outcome.value["clock"] - since
            if elapsed > 0 and outcome.value["events_total"] >= before:
                socket.assign(events_rate=f"{(outcome.value['events_total'] - before) / elapsed:.1f}/s")
        if not socket.assigns.paused:
            socket.start_async("tick", self.board.refresh)

    @event("toggle-pause")
    async def toggle_pause(self, socket: LiveSocket) -> None:
        paused = not socket.assigns.paused
        socket.assign(paused=paused)
        if paused:
            socket.cancel_async("tick", "paused")
        else:
            socket.start_async("tick", self.board.refresh)


class DashboardRouter(LiveRouter):
    """The dashboard's own live router (its page, stream and event endpoints under its path)."""

    board: Board

    @asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        async with super()._lifespan(app):
            await self.board.start(app)
            try:
                yield
            finally:
                await self.board.stop()


def live_dashboard(
    *observed: LiveRouter,
    dependencies: Sequence[Any] = (),
    dev: bool = False,
    path: str = "/_live/dashboard",
    show_assigns: bool = False,
    interval: float = 1.0,
    pubsub: PubSub | None = None,
    secret_key: str | bytes | None = None,
) -> LiveRouter:
    """A router serving the live dashboard at ``path``; include it in the app.

    ``dependencies`` guard the page as on any FastAPI route (raise ``HTTPException(403)`` for
    anyone else); without one the dashboard refuses to build, unless ``dev=True`` says the app
    is a development app. ``observed`` are the routers whose sessions it shows (default: every
    live router the app serves). With a Redis PubSub (``pubsub``, one of its own; by default on the
    first observed router's Redis, else ``REDIS_URL`` as for ``LiveRouter``) it shows every process
    sharing that Redis.

    >>> def admin_only(user: User = Depends(current_user)) -> None:
    ...     if user.name != "admin":
    ...         raise HTTPException(403)
    >>> app.include_router(live_dashboard(dependencies=[Depends(admin_only)]))
    """
    dependencies = list(dependencies)
    bad = [d for d in dependencies if not isinstance(d, DependsParam)]
    if bad:
        raise ConfigurationError(
            f"live_dashboard(dependencies=...) takes FastAPI dependencies, e.g. [Depends(admin_only)]\nGot: {bad[0]!r}"
        )
    if not dependencies and not dev:
        raise ConfigurationError(
            "live_dashboard() needs an auth dependency: it shows every live session of the app, its handlers and its errors\n"
            "Expected: live_dashboard(dependencies=[Depends(admin_only)]), where admin_only raises HTTPException(403) for anyone else; "
            "or live_dashboard(dev=True) for a development app nobody else can reach\n"
            f"Got: no dependencies and dev=False (see {DOCS})"
        )
    if not isinstance(interval, (int, float)) or interval <= 0:
        raise ConfigurationError(f"live_dashboard(interval=...) takes seconds between refreshes, a number above 0\nGot: {interval!r}")
    if pubsub is None:
        # A connection of its own to the same backend: a router starts and stops its PubSub with the app,
        # and the app's router still publishes (its pages' leaves) after the dashboard's stopped.
        url = getattr(observed[0].pubsub, "url", None) if observed else os.environ.get("REDIS_URL")
        pubsub = create_pubsub(url if isinstance(url, str) else None)
    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    router = DashboardRouter(templates=environment, pubsub=pubsub, secret_key=secret_key, live_prefix=path.rstrip("/") + "/live")
    board = router.board = Board(router, observed, float(interval), show_assigns)
    view_cls = type("LiveDashboard", (LiveDashboard,), {"board": board, "__module__": __name__})
    router.page(path, template="live/dashboard.html", dependencies=dependencies, name="live_dashboard", include_in_schema=False)(view_cls)
    return router


__all__ = ["live_dashboard"]

