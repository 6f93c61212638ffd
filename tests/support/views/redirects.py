"""A page that redirects where a request asks it to: the classic open redirect, defused."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, LiveView, event
from fastapi_live.pubsub.memory import MemoryPubSub
from fastapi_live.socket import ClientOp

from .counter import TEMPLATES


class Redirects(LiveView):
    external = ""

    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(status="here", external=self.external)

    @event("go")
    async def go(self, socket: LiveSocket, to: str) -> None:
        socket.redirect(to)

    @event("nav")
    async def nav(self, socket: LiveSocket, to: str) -> None:
        socket.navigate(to)

    @event("unchecked")
    async def unchecked(self, socket: LiveSocket, to: str) -> None:
        # What a server bug (or a tampered response) would send: the client must refuse it too.
        socket._queue_op(ClientOp("redirect", to, None))

    @event("go_external")
    async def go_external(self, socket: LiveSocket, to: str) -> None:
        socket.redirect(external=to)


def make_app(external: str = "") -> tuple[FastAPI, LiveRouter]:
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub())
    live.page("/redirects", template="redirects.html")(type("Redirects", (Redirects,), {"external": external}))
    app = FastAPI()
    app.include_router(live)
    return app, live
