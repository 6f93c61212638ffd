"""A page carrying the example's notification widget, recording what reaches the view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from examples.app.notifications import NotificationWidget
from fastapi_live import LiveRouter, LiveSocket, LiveView, event
from fastapi_live.pubsub import PubSub
from fastapi_live.pubsub.memory import MemoryPubSub

HERE = Path(__file__).resolve().parent
EXAMPLE_TEMPLATES = HERE.parent.parent.parent / "examples" / "app" / "templates"


class WidgetPage(LiveView):
    seen_events: list[str]
    seen_infos: list[Any]

    async def mount(self, socket: LiveSocket) -> None:
        self.seen_events, self.seen_infos = [], []
        socket.assign(clicks=0)

    @event("page-click")
    async def page_click(self, socket: LiveSocket) -> None:
        self.seen_events.append("page-click")
        socket.update("clicks", lambda n: n + 1)

    async def handle_event(self, event: str, params: dict[str, Any], socket: LiveSocket) -> None:
        self.seen_events.append(event)

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        self.seen_infos.append(message)


def make_app(pubsub: PubSub | None = None) -> tuple[FastAPI, LiveRouter]:
    templates = Jinja2Templates(directory=HERE.parent / "templates")
    templates.env.loader = ChoiceLoader([templates.env.loader, FileSystemLoader(str(EXAMPLE_TEMPLATES))])  # type: ignore[list-item]
    live = LiveRouter(templates=templates, secret_key="test-secret", pubsub=pubsub or MemoryPubSub(), on_mount=[NotificationWidget])
    live.page("/widget", template="widget_page.html")(WidgetPage)
    app = FastAPI()
    app.include_router(live)
    return app, live
