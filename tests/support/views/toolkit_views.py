"""Fixture views for the testing toolkit: async assigns and streams, a PubSub widget,
a form with every kind of control, key and hook events, redirects and endless tasks."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse

from fastapi_live import CONT, HALT, Exit, LiveHook, LiveRouter, LiveSocket, LiveView, Ok, event
from fastapi_live.pubsub.memory import MemoryPubSub

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Org:
    name: str


@dataclass(frozen=True)
class Post:
    id: int
    title: str


@dataclass(frozen=True)
class NewNotification:
    id: int
    message: str


ORGS = {"acme": Org("Acme Corp"), "initech": Org("Initech")}


async def fetch_org(slug: str) -> Org:
    if slug not in ORGS:
        raise LookupError(f"no organization {slug!r}")
    return ORGS[slug]


def fetch_profile_and_rank(slug: str) -> dict[str, Any]:
    """Sync on purpose: it runs in the thread pool."""
    return {"profile": f"{slug.title()} profile", "rank": 1}


async def list_posts(slug: str) -> list[Post]:
    return [Post(1, "First"), Post(2, "Second")]


async def never_finish() -> None:
    await asyncio.Event().wait()


async def build_report() -> str:
    return "report ready"


def current_user(request: Request) -> str:
    return request.cookies.get("user", "guest")


class NotificationWidget(LiveHook):
    """The seed's widget: subscribes per user, counts notifications, handles its own event."""

    async def on_mount(self, socket: LiveSocket, user: str = Depends(current_user)) -> None:
        await socket.subscribe(f"notifications:{user}")
        socket.assign(notifications=[], notification_count=0)
        socket.attach_hook("notification_handler", "handle_info", self.on_info)
        socket.attach_hook("notification_events", "handle_event", self.on_event)

    async def on_info(self, message: Any, socket: LiveSocket) -> Any:
        if isinstance(message, NewNotification):
            socket.update("notifications", lambda ns: [message, *ns])
            socket.update("notification_count", lambda n: n + 1)
            return HALT
        return CONT

    async def on_event(self, name: str, params: dict[str, Any], socket: LiveSocket) -> Any:
        if name != "dismiss-notification":
            return CONT
        dismissed = int(params["id"])
        socket.update("notifications", lambda ns: [n for n in ns if n.id != dismissed])
        socket.update("notification_count", lambda n: max(n - 1, 0))
        return HALT


class Dashboard(LiveView):
    async def mount(self, socket: LiveSocket, slug: str) -> None:
        socket.assign(page_title=f"Dashboard {slug}", slug=slug, next_post=3)
        socket.assign_async("org", fetch_org, slug)
        socket.assign_async(["profile", "rank"], fetch_profile_and_rank, slug)
        socket.stream_configure("posts", dom_id=lambda post: f"post-{post.id}")
        socket.stream_async("posts", list_posts, slug)

    @event("more")
    async def more(self, socket: LiveSocket) -> None:
        number = socket.assigns.next_post
        socket.stream_insert("posts", Post(number, f"Post {number}"), at=0, limit=3)
        socket.assign(next_post=number + 1)

    @event("delete-post")
    async def delete_post(self, socket: LiveSocket, id: int) -> None:
        socket.stream_delete_by_dom_id("posts", f"post-{id}")

    @event("retitle")
    async def retitle(self, socket: LiveSocket) -> None:
        socket.update("page_title", lambda title: title + "!")

    @event("reload")
    async def reload(self, socket: LiveSocket) -> None:
        slug = socket.assigns.slug
        socket.assign_async("org", fetch_org, slug)


class Settings(LiveView):
    """Records every event and the params the browser sent, so tests can read them."""

    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(name="Ada", email="ada@example.com", bio="Hello", query_draft="draft", last_event="", last_params="", errors=[])

    async def handle_event(self, name: str, params: dict[str, Any], socket: LiveSocket) -> Any:
        socket.assign(last_event=name, last_params=json.dumps(params, sort_keys=True))
        if name == "validate":
            socket.assign(errors=[] if "@" in str(params.get("email", "")) else ["email is invalid"])
        elif name == "save":
            socket.push_event("saved", {"name": params.get("name")})
        elif name == "leave":
            socket.redirect("/dashboard/acme")
        elif name == "go":
            socket.navigate("/dashboard/initech")
        elif name == "chart-ready":
            socket.push_event("chart-data", {"points": [1, 2, 3]})
            return {"points": 3}
        return None


class Tasks(LiveView):
    async def mount(self, socket: LiveSocket, mode: str = "forever") -> None:
        if mode == "broken":
            raise ConnectionError("the report service is down")
        socket.assign(status="started")
        if mode == "forever":
            socket.start_async("forever", never_finish)
        else:
            socket.start_async("quick", build_report)
        socket.assign_async("report", build_report)

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        if message == "explode":
            raise RuntimeError("handle_info exploded")
        if isinstance(message, tuple) and message[0] == "explode":
            raise RuntimeError(message[1])
        socket.assign(status=f"info: {message}")

    async def handle_async(self, name: str, outcome: Any, socket: LiveSocket) -> None:
        match outcome:
            case Ok(value):
                socket.assign(status=f"{name}: {value}")
            case Exit(reason):
                socket.assign(status=f"{name} exited: {reason}")


def require_user(socket: LiveSocket, user: str = Depends(current_user)) -> Any:
    if user == "guest":
        socket.redirect("/login?user=alice")
        return HALT
    return CONT


def make_toolkit_app() -> tuple[FastAPI, LiveRouter]:
    from fastapi.templating import Jinja2Templates

    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="toolkit-secret", pubsub=MemoryPubSub())
    live.page("/dashboard/{slug}", template="toolkit_dashboard.html", on_mount=[NotificationWidget])(Dashboard)
    live.page("/settings", template="toolkit_settings.html")(Settings)
    live.page("/tasks", template="toolkit_tasks.html")(Tasks)
    live.page("/private", template="toolkit_tasks.html", on_mount=[require_user])(Tasks)
    app = FastAPI()

    @app.get("/login")
    async def login(user: str) -> RedirectResponse:
        response = RedirectResponse("/dashboard/acme", status_code=303)
        response.set_cookie("user", user)
        return response

    app.include_router(live)
    return app, live
