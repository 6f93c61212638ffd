"""A small user module, as a user writes it: type-checked under mypy --strict by tests/test_typing.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from fastapi_live import CONT, HALT, JS, AsyncResult, Exit, Form, LiveRouter, LiveSocket, LiveView, Ok, event, to_form


@dataclass
class Post:
    id: int
    title: str


async def fetch_posts(org: str) -> list[Post]:
    return [Post(1, f"Hello from {org}")]


async def fetch_org(slug: str) -> dict[str, str]:
    return {"name": slug.title()}


class Settings(BaseModel):
    name: str = ""
    email: str = ""


async def store(settings: Settings) -> None:
    print(settings.name)


templates = Jinja2Templates(directory="templates")
live = LiveRouter(templates=templates)


@live.page("/dashboard/{slug}", template="dashboard.html")
class Dashboard(LiveView):
    async def mount(self, socket: LiveSocket, slug: str) -> None:
        socket.assign(slug=slug, count=0).stream_configure("posts", dom_id=lambda post: f"post-{post.id}").stream("posts", [])
        socket.assign_async("org", fetch_org, slug).stream_async("posts", fetch_posts, slug)
        socket.attach_hook("audit", "handle_event", self.audit).assign(title="Dashboard")
        socket.start_async("warm", fetch_org, slug)

    async def audit(self, name: str, params: dict[str, object], socket: LiveSocket) -> object:
        return HALT if name == "forbidden" else CONT

    async def handle_async(self, name: str, outcome: Ok[object] | Exit, socket: LiveSocket) -> None:
        match outcome:
            case Ok(value):
                socket.assign(warm=AsyncResult.loading().ok_with(value))
            case Exit(reason):
                socket.assign(warm=AsyncResult.loading().failed_with(reason))

    async def handle_params(self, socket: LiveSocket, tab: Literal["overview", "settings"] = "overview", page: int = 1) -> None:
        socket.assign(tab=tab, page=page)

    @event("inc")
    async def inc(self, socket: LiveSocket, by: int = 1) -> None:
        socket.update("count", lambda n: n + by).push_event("counted", {"count": socket.assigns.count})

    @event("save")
    async def save(self, socket: LiveSocket, form: Form[Settings]) -> None:
        if form.data is not None:
            await store(form.data)
            form = to_form(form.data).add_error("email", "Email already taken")
        field = form.email
        socket.assign(form=form, shown=field.error or "").exec_js(JS().show("#saved").add_class("done", to="#saved"))

    @event("reset")
    async def reset(self, socket: LiveSocket, params: dict[str, object]) -> None:
        fresh: Form[Settings] = to_form(Settings)
        socket.assign(form=fresh, typed=to_form({"q": ""}, params).values)

    @event("next-page")
    async def next_page(self, socket: LiveSocket) -> None:
        socket.push_patch(f"?tab={socket.assigns.tab}&page={socket.assigns.page + 1}", replace=False).put_flash("info", "Next page")

    @event("leave")
    async def leave(self, socket: LiveSocket) -> None:
        socket.put_flash("info", "Bye").push_navigate("/counter", replace=True)


@live.page("/search", template="search.html")
class Search(LiveView):
    """LiveView's own order: params, url, socket."""

    async def handle_params(self, params: dict[str, Any], url: str, socket: LiveSocket) -> None:
        socket.assign(query=params.get("q", ""), url=url)


app = FastAPI()
app.include_router(live)
