"""A stream whose items live in a JSON file, so they outlive the server: remount tests.

A remounted page shows what the fresh mount streams; the items the dead render showed and
the store no longer has must go. ``stored_feed_app`` serves it under uvicorn from the file
named by ``FASTAPI_LIVE_TEST_FEED_STORE``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, LiveView, event
from fastapi_live.pubsub.memory import MemoryPubSub
from tests.support.views.async_views import TEMPLATES

STORE_ENV = "FASTAPI_LIVE_TEST_FEED_STORE"


def write_store(path: Path, ids: list[int]) -> None:
    path.write_text(json.dumps([{"id": i, "title": f"Post {i}"} for i in ids]), encoding="utf-8")


def read_store(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8")))


class StoredFeed(LiveView):
    """The stored posts, newest last; "delete" removes one from the store and the page."""

    store: ClassVar[Path]

    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(inserted=0, heading="Stored")
        socket.stream_configure("posts", dom_id=lambda post: f"post-{post['id']}")
        socket.stream("posts", read_store(self.store))

    @event("delete")
    async def delete(self, socket: LiveSocket, id: int) -> None:
        write_store(self.store, [post["id"] for post in read_store(self.store) if post["id"] != id])
        socket.stream_delete_by_dom_id("posts", f"post-{id}")


def make_app(store: Path) -> FastAPI:
    view = type("StoredFeed", (StoredFeed,), {"store": store})
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub())
    live.page("/stored", template="stream_statics.html")(view)
    app = FastAPI()
    app.include_router(live)
    return app
