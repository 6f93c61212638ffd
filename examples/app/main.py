"""The example app served by ``make run``: http://127.0.0.1:8000."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, LiveView, event

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
live = LiveRouter(templates=templates, secret_key="dev-only-secret", client_config={"disconnectedTimeout": 1000})


@live.page("/counter", template="counter.html")
class Counter(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(page_title="Counter", count=0, clicks=0, current_user=None)

    @event("inc")
    async def inc(self, socket: LiveSocket, by: int = 1) -> None:
        socket.update("count", lambda n: n + by)
        socket.update("clicks", lambda n: n + 1)

    @event("reset")
    async def reset(self, socket: LiveSocket) -> None:
        socket.assign(count=0)
        socket.update("clicks", lambda n: n + 1)


app = FastAPI(title="fastapi-live example")
app.include_router(live)
app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
