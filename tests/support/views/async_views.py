"""Pages with async assigns, start_async tasks and streams whose timing the test controls.

Every page takes a ``run`` query parameter: its async functions wait on the gates
``GATES.get(run, name)``, so a test decides when each one finishes and with what.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import Exit, LiveRouter, LiveSocket, LiveView, Ok, SessionConfig, event
from fastapi_live.pubsub.memory import MemoryPubSub
from tests.support.gates import GATES

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


async def gated(run: str, name: str) -> Any:
    """Async: returns (or raises) what the test opens the gate with."""
    return await GATES.get(run, name).wait()


def gated_blocking(run: str, name: str) -> Any:
    """Sync, blocking its thread until the test opens the gate."""
    return GATES.get(run, name).wait_blocking()


async def gated_batches(run: str) -> Any:
    """An async generator: each gate ``batch-<n>`` releases one batch; ``None`` ends it."""
    for n in range(1, 10):
        batch = await GATES.get(run, f"batch-{n}").wait()
        if batch is None:
            return
        yield batch


class AssignPage(LiveView):
    """``org`` alone, ``profile`` + ``rank`` from one function, ``report`` shown without its reason."""

    async def mount(self, socket: LiveSocket, run: str, sync: bool = False) -> None:
        socket.assign(run=run, clicks=0)
        socket.assign_async("org", gated_blocking if sync else gated, run, "org")
        socket.assign_async(["profile", "rank"], gated, run, "pair")
        socket.assign_async("report", gated, run, "report")

    @event("inc")
    async def inc(self, socket: LiveSocket) -> None:
        socket.update("clicks", lambda n: n + 1)

    @event("reload-org")
    async def reload_org(self, socket: LiveSocket, gate: str, reset: bool = False, sync: bool = False) -> None:
        socket.assign_async("org", gated_blocking if sync else gated, socket.assigns.run, gate, reset=reset)

    @event("reload-pair")
    async def reload_pair(self, socket: LiveSocket, gate: str, reset: str = "") -> None:
        keys = [key for key in reset.split(",") if key]
        socket.assign_async(["profile", "rank"], gated, socket.assigns.run, gate, reset=keys)

    @event("cancel")
    async def cancel(self, socket: LiveSocket, key: str, by_result: bool = False) -> None:
        socket.cancel_async(socket.assigns[key] if by_result else key, "stopped by the test")


class TaskPage(LiveView):
    """``start_async("fetch", ...)`` with a ``handle_async`` for both outcomes."""

    async def mount(self, socket: LiveSocket, run: str) -> None:
        socket.assign(run=run, status="Waiting", clicks=0)
        socket.start_async("fetch", gated, run, "fetch")

    @event("restart")
    async def restart(self, socket: LiveSocket, gate: str) -> None:
        socket.assign(status="Waiting again")
        socket.start_async("fetch", gated, socket.assigns.run, gate)

    @event("cancel")
    async def cancel(self, socket: LiveSocket) -> None:
        socket.cancel_async("fetch", "stopped by the test")

    @event("inc")
    async def inc(self, socket: LiveSocket) -> None:
        socket.update("clicks", lambda n: n + 1)

    async def handle_async(self, name: str, outcome: Any, socket: LiveSocket) -> None:
        match name, outcome:
            case "fetch", Ok(value):
                socket.assign(status=f"Fetched {value}")
            case "fetch", Exit(reason):
                socket.assign(status=f"Gave up: {reason}")


class NoHandlerPage(LiveView):
    """Starts a task but defines no ``handle_async``."""

    async def mount(self, socket: LiveSocket, run: str) -> None:
        socket.assign(clicks=0)
        socket.start_async("fetch_org", gated, run, "fetch")

    @event("inc")
    async def inc(self, socket: LiveSocket) -> None:
        socket.update("clicks", lambda n: n + 1)


class PostsPage(LiveView):
    """``stream_async("posts", ...)`` from a list (``mode=list``) or an async generator (``mode=batches``)."""

    async def mount(self, socket: LiveSocket, run: str, mode: str = "list") -> None:
        socket.assign(run=run, clicks=0)
        socket.stream_configure("posts", dom_id=lambda post: f"post-{post['id']}")
        if mode == "batches":
            socket.stream_async("posts", gated_batches, run)
        else:
            socket.stream_async("posts", gated, run, "posts")

    @event("reload")
    async def reload(self, socket: LiveSocket, gate: str) -> None:
        socket.stream_async("posts", gated, socket.assigns.run, gate, reset=True)

    @event("inc")
    async def inc(self, socket: LiveSocket) -> None:
        socket.update("clicks", lambda n: n + 1)


class PairPage(LiveView):
    """Two independent async assigns, ``first`` and ``second``."""

    async def mount(self, socket: LiveSocket, run: str) -> None:
        socket.assign_async("first", gated, run, "first")
        socket.assign_async("second", gated, run, "second")


class SlowMountPage(LiveView):
    """A mount that blocks for ``ms`` milliseconds (the mistake the warning is about)."""

    async def mount(self, socket: LiveSocket, ms: int = 0) -> None:
        time.sleep(ms / 1000)  # why: the point of this page is a blocking load in mount
        socket.assign(clicks=0)


class FeedPage(LiveView):
    """A stream driven by events: insert, replace, delete, reset, limits."""

    async def mount(self, socket: LiveSocket, n: int = 0) -> None:
        socket.assign(inserted=n, heading="Feed")
        socket.stream_configure("posts", dom_id=lambda post: f"post-{post['id']}")
        socket.stream("posts", [{"id": i, "title": f"Post {i}"} for i in range(1, n + 1)])

    @event("insert")
    async def insert(self, socket: LiveSocket, id: int, title: str, at: int = -1, limit: int | None = None, update_only: bool = False) -> None:
        socket.stream_insert("posts", {"id": id, "title": title}, at=at, limit=limit, update_only=update_only)
        socket.update("inserted", lambda n: n + 1)

    @event("delete")
    async def delete(self, socket: LiveSocket, id: int) -> None:
        socket.stream_delete("posts", {"id": id})

    @event("delete-dom-id")
    async def delete_dom_id(self, socket: LiveSocket, dom_id: str) -> None:
        socket.stream_delete_by_dom_id("posts", dom_id)

    @event("retitle")
    async def retitle(self, socket: LiveSocket, heading: str) -> None:
        socket.assign(heading=heading)  # read by the live container itself: it re-renders whole

    @event("reset")
    async def reset(self, socket: LiveSocket, ids: str = "") -> None:
        items = [{"id": int(i), "title": f"Fresh {i}"} for i in ids.split(",") if i]
        socket.stream("posts", items, reset=True)


def make_app(config: SessionConfig | None = None) -> tuple[FastAPI, LiveRouter]:
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub(), config=config)
    live.page("/assign", template="async_assign.html")(AssignPage)
    live.page("/task", template="async_task.html")(TaskPage)
    live.page("/no-handler", template="async_clicks.html")(NoHandlerPage)
    live.page("/posts", template="async_posts.html")(PostsPage)
    live.page("/pair", template="async_pair.html")(PairPage)
    live.page("/slow-mount", template="async_clicks.html")(SlowMountPage)
    live.page("/feed", template="stream_feed.html")(FeedPage)
    live.page("/feed-statics", template="stream_statics.html")(FeedPage)
    app = FastAPI()
    app.include_router(live)
    return app, live
