"""A counter page: the smallest live page, with typed event params and an info handler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, LiveView, SessionConfig, event
from fastapi_live.pubsub.memory import MemoryPubSub

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class Counter(LiveView):
    async def mount(self, socket: LiveSocket, start: int = 0) -> None:
        socket.assign(title="Counter", count=start, echo="")

    @event("inc")
    async def inc(self, socket: LiveSocket, by: int = 1) -> None:
        socket.update("count", lambda n: n + by)

    @event("echo")
    async def echo(self, socket: LiveSocket, text: str) -> dict[str, Any]:
        socket.assign(echo=text)
        return {"echoed": text}

    @event("retitle")
    async def retitle(self, socket: LiveSocket) -> None:
        socket.update("title", lambda t: t + "!")

    @event("boom")
    async def boom(self, socket: LiveSocket) -> None:
        socket.assign(count=-1)
        raise RuntimeError("boom")

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        if isinstance(message, tuple) and message[0] == "set":
            socket.assign(count=message[1])
        if message == "raise":
            socket.assign(count=-1)
            raise RuntimeError("a bug in handle_info")


def make_app(config: SessionConfig | None = None, **router_kwargs: Any) -> tuple[FastAPI, LiveRouter]:
    router_kwargs.setdefault("secret_key", "test-secret")
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), pubsub=MemoryPubSub(), config=config, **router_kwargs)
    live.page("/counter", template="counter.html")(Counter)
    app = FastAPI()
    app.include_router(live)
    return app, live
