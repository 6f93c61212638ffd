"""A page exercising JS hooks, push_event, pushEvent replies and redirects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, LiveView, event
from fastapi_live.pubsub.memory import MemoryPubSub

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class HooksPage(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(show=True, value=0, answer="")

    @event("bump")
    async def bump(self, socket: LiveSocket) -> None:
        socket.update("value", lambda n: n + 1)

    @event("hide")
    async def hide(self, socket: LiveSocket) -> None:
        socket.assign(show=False)

    @event("push")
    async def push(self, socket: LiveSocket) -> None:
        socket.push_event("highlight", {"color": "gold"})

    @event("ask")
    async def ask(self, socket: LiveSocket, question: str) -> dict[str, Any]:
        socket.assign(answer=f"asked: {question}")
        return {"answer": 42}

    @event("go")
    async def go(self, socket: LiveSocket) -> None:
        socket.redirect("/elsewhere")

    @event("nav")
    async def nav(self, socket: LiveSocket) -> None:
        socket.navigate("/other")


class OtherPage(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(hits=0)

    @event("hit")
    async def hit(self, socket: LiveSocket) -> None:
        socket.update("hits", lambda n: n + 1)


def make_app() -> FastAPI:
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub())
    live.page("/hooks", template="hooks.html")(HooksPage)
    live.page("/other", template="other.html")(OtherPage)
    app = FastAPI()
    app.include_router(live)

    @app.get("/elsewhere")
    async def elsewhere() -> dict[str, str]:
        return {"page": "elsewhere"}

    return app
