"""A page whose two regions change one text node at a time: clicks change the count, published
notes the note (``POST /publish?note=…``); every response's headers are recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, LiveView, event
from fastapi_live.pubsub.memory import MemoryPubSub

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TOPIC = "ticker"


class Ticker(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        await socket.subscribe(TOPIC)
        socket.assign(count=0, note="none yet", by="nobody")

    @event("inc")
    async def inc(self, socket: LiveSocket) -> None:
        socket.update("count", lambda n: n + 1)

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        socket.assign(note=str(message))


class HeaderLog:
    """ASGI middleware noting, for each GET under ``/_live/``, the request's ``Accept-Encoding``
    and the response's ``Content-Encoding``; and the name of each event posted."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, str | None, str | None]] = []  # (path, accept-encoding, content-encoding)
        self.events: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (name := dict(scope["headers"]).get(b"x-live-event")):
            self.events.append(name.decode())
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith("/_live/"):
            await self.app(scope, receive, send)
            return
        accept = dict(scope["headers"]).get(b"accept-encoding")

        async def noting(message: Any) -> None:
            if message["type"] == "http.response.start":
                encoding = dict(message.get("headers", [])).get(b"content-encoding")
                self.seen.append((scope["path"], accept and accept.decode(), encoding and encoding.decode()))
            await send(message)

        await self.app(scope, receive, noting)


def make_app() -> tuple[HeaderLog, LiveRouter]:
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), pubsub=MemoryPubSub(), secret_key="test-secret")
    live.page("/ticker", template="ticker.html")(Ticker)
    app = FastAPI()
    app.include_router(live)

    @app.post("/publish")
    async def publish(note: str) -> Response:
        await live.publish(TOPIC, note)
        return Response(status_code=204)

    return HeaderLog(app), live
