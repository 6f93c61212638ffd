"""A page with a keydown binding filtered to Enter and a debounced change binding."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, LiveView, event
from fastapi_live.pubsub.memory import MemoryPubSub

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class Search(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(searched="", calls=0, last="")

    @event("search")
    async def search(self, socket: LiveSocket, key: str, value: str = "") -> None:
        socket.assign(searched=f"{value} ({key})")

    @event("suggest")
    async def suggest(self, socket: LiveSocket, q: str = "") -> None:
        socket.update("calls", lambda n: n + 1)
        socket.assign(last=q)


def make_app() -> FastAPI:
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub())
    live.page("/search", template="search.html")(Search)
    app = FastAPI()
    app.include_router(live)
    return app
