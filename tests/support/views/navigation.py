"""Pages for live navigation: params bound by handle_params, patch and navigate links, the flash."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from fastapi_live import HALT, LiveRouter, LiveSocket, LiveView, event
from fastapi_live.pubsub.memory import MemoryPubSub

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


async def stock_level() -> int:
    return 42


class Catalog(LiveView):
    """Tabs and pages in the URL; a section in the path (``/catalog/{section}``)."""

    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(mount_id=uuid.uuid4().hex[:8], params_calls=0, seen_urls=[], tab="a", page=1, section="all")
        socket.assign_async("stock", stock_level)

    async def handle_params(
        self,
        socket: LiveSocket,
        url: str,
        tab: Literal["a", "b", "c"] = "a",
        page: Annotated[int, Field(ge=1)] = 1,
        section: str = "all",
        legacy: bool = False,
    ) -> None:
        if legacy:  # an old URL: the page canonicalises it, replacing the history entry
            socket.push_patch(f"?tab={tab}", replace=True)
            return
        socket.assign(tab=tab, page=page, section=section)
        socket.update("params_calls", lambda n: n + 1)
        socket.update("seen_urls", lambda urls: [*urls, url])

    @event("next-page")
    async def next_page(self, socket: LiveSocket) -> None:
        socket.push_patch(f"?tab={socket.assigns.tab}&page={socket.assigns.page + 1}")

    @event("first-page")
    async def first_page(self, socket: LiveSocket) -> None:
        socket.push_patch(f"?tab={socket.assigns.tab}", replace=True)

    @event("bad-page")
    async def bad_page(self, socket: LiveSocket) -> None:
        socket.push_patch("?page=0")

    @event("patch-elsewhere")
    async def patch_elsewhere(self, socket: LiveSocket) -> None:
        socket.push_patch("/other")

    @event("go-other")
    async def go_other(self, socket: LiveSocket) -> None:
        socket.put_flash("info", "Welcome from the catalog")
        socket.push_navigate("/other")

    @event("go-redirect")
    async def go_redirect(self, socket: LiveSocket) -> None:
        socket.put_flash("error", "Redirected with a flash")
        socket.redirect("/other")

    @event("go-plain")
    async def go_plain(self, socket: LiveSocket) -> None:
        socket.push_navigate("/plain")

    @event("flash")
    async def flash(self, socket: LiveSocket, message: str = "Saved") -> None:
        socket.put_flash("info", message)

    @event("flash-brief")
    async def flash_brief(self, socket: LiveSocket) -> None:
        socket.put_flash("info", "Gone in a moment", clear_after=0.2)


class Other(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(hits=0, mount_id=uuid.uuid4().hex[:8])

    @event("hit")
    async def hit(self, socket: LiveSocket) -> None:
        socket.update("hits", lambda n: n + 1)

    @event("back-to-catalog")
    async def back(self, socket: LiveSocket) -> None:
        socket.push_navigate("/catalog?tab=b", replace=True)


class Moved(LiveView):
    """A page that moved: its mount redirects, with a flash for the page it lands on."""

    async def mount(self, socket: LiveSocket) -> None:
        socket.put_flash("info", "The page moved here")
        socket.redirect("/other")


class Filters(BaseModel):
    q: str = ""
    tags: list[str] = []
    limit: int = Field(10, le=50)


class Search(LiveView):
    """handle_params with a pydantic model, and FastAPI's Query(alias=...)."""

    async def handle_params(self, socket: LiveSocket, filters: Filters) -> None:
        socket.assign(filters=filters)


class Aliased(LiveView):
    async def handle_params(self, socket: LiveSocket, size: int = Query(5, alias="page-size"), tag: list[str] = Query([])) -> None:
        socket.assign(size=size, tags=tag)


class Raw(LiveView):
    """LiveView's own order: params, url, socket."""

    async def handle_params(self, params: dict[str, Any], url: str, socket: LiveSocket) -> None:
        socket.assign(raw=params, url_seen=url)


class Guarded(LiveView):
    """A handle_params hook (attached in mount) that halts for ?blocked=1."""

    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(view_saw="", hook_saw="")
        socket.attach_hook("audit", "handle_params", self.audit)

    async def audit(self, params: dict[str, Any], url: str, socket: LiveSocket) -> Any:
        socket.assign(hook_saw=url)
        return HALT if params.get("blocked") == "1" else None

    async def handle_params(self, socket: LiveSocket, url: str) -> None:
        socket.assign(view_saw=url)


def make_app() -> tuple[FastAPI, LiveRouter]:
    templates = Jinja2Templates(directory=TEMPLATES)
    live = LiveRouter(templates=templates, secret_key="test-secret", pubsub=MemoryPubSub())
    live.page("/catalog", template="catalog.html")(Catalog)
    live.page("/catalog/{section}", template="catalog.html", name="catalog-section")(Catalog)
    live.page("/other", template="other_page.html")(Other)
    live.page("/search", template="params.html")(Search)
    live.page("/aliased", template="params.html")(Aliased)
    live.page("/raw", template="params.html")(Raw)
    live.page("/guarded", template="params.html")(Guarded)
    live.page("/moved", template="params.html")(Moved)
    # Another router of the same app: its pages are a full load away.
    foreign = LiveRouter(templates=templates, secret_key="test-secret", pubsub=MemoryPubSub(), live_prefix="/_foreign")
    foreign.page("/foreign", template="other_page.html")(Other)
    app = FastAPI()
    app.include_router(live)
    app.include_router(foreign)

    @app.get("/plain", response_class=HTMLResponse)
    async def plain() -> str:
        return "<!doctype html><html><head><title>Plain</title></head><body><h1 id='plain'>A plain page</h1></body></html>"

    return app, live
