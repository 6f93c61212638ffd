"""A page of client-side commands: a menu toggled without a round trip, commands that stick
across server patches, a push in a chain and commands the server sends."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import JS, LiveRouter, LiveSocket, LiveView, event
from fastapi_live.pubsub.memory import MemoryPubSub

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class MenuPage(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(ticks=0)

    @event("tick")
    async def tick(self, socket: LiveSocket, by: int = 1) -> None:
        socket.update("ticks", lambda n: n + by)

    @event("reveal")
    async def reveal(self, socket: LiveSocket) -> None:
        socket.exec_js(JS().show("#secret").add_class("revealed", to="#secret"))


def make_app() -> FastAPI:
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub())
    live.page("/menu", template="commands.html")(MenuPage)
    app = FastAPI()
    app.include_router(live)
    return app
