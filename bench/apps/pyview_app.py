"""The pyview bench app: the same counter, fan-out page and 10-region page as ``live_app``.

pyview (``pyview-web``, the ``bench`` extra) renders the page over HTTP, then the browser
joins the view over a Phoenix-channel WebSocket (``/live/websocket``): events come back as a
``phx_reply`` carrying a diff, infos as ``diff`` pushes. PubSub is pyview's in-process hub
(it has no cross-process backend). Templates are pyview's own (ibis) syntax, in
``templates/pyview/``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pyview import ConnectedLiveViewSocket, LiveView, LiveViewSocket, PyView, is_connected
from pyview.events import InfoEvent
from pyview.live_socket import pub_sub_hub
from pyview.meta import PyViewMeta
from pyview.template import LiveRender, LiveTemplate, RenderedContent, template_file
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

from . import TEMPLATES, GcPauses, load_org, load_profile_rank, org_of, profile_rank_of, regions_state

PYVIEW_TEMPLATES = TEMPLATES / "pyview"


def _template(name: str) -> LiveTemplate:
    template = template_file(str(PYVIEW_TEMPLATES / name))
    if template is None:
        raise FileNotFoundError(PYVIEW_TEMPLATES / name)
    return template


class _View(LiveView[dict[str, Any]]):
    """A view whose template is named (pyview's default is one ``<module>.html`` per module)."""

    template_name = ""

    async def render(self, assigns: dict[str, Any], meta: PyViewMeta) -> RenderedContent:
        return LiveRender(_template(self.template_name), assigns, meta)


class Counter(_View):
    template_name = "counter.html"

    async def mount(self, socket: LiveViewSocket[dict[str, Any]], session: dict[str, Any]) -> None:
        socket.context = {"title": "Counter", "count": 0, "echo": ""}

    async def handle_event(self, event: str, payload: dict[str, Any], socket: LiveViewSocket[dict[str, Any]]) -> None:
        if event == "inc":
            socket.context["count"] += int(payload.get("by", 1))


class Fanout(_View):
    template_name = "fanout.html"

    async def mount(self, socket: LiveViewSocket[dict[str, Any]], session: dict[str, Any]) -> None:
        socket.context = {"n": 0, "news": ""}

    async def handle_params(self, url: Any, params: dict[str, Any], socket: LiveViewSocket[dict[str, Any]]) -> None:
        socket.context["n"] = int(params["n"])
        if is_connected(socket):
            await socket.subscribe(f"user:{socket.context['n']}")
            await socket.subscribe("all")

    async def handle_info(self, event: InfoEvent, socket: ConnectedLiveViewSocket[dict[str, Any]]) -> None:
        socket.context["news"] = str(event.payload)


class Regions(_View):
    template_name = "regions.html"

    async def mount(self, socket: LiveViewSocket[dict[str, Any]], session: dict[str, Any]) -> None:
        socket.context = regions_state()
        if is_connected(socket):
            await socket.subscribe("regions")

    async def handle_event(self, event: str, payload: dict[str, Any], socket: LiveViewSocket[dict[str, Any]]) -> None:
        if event == "bump":
            key = f"m{int(payload.get('i', 3))}"
            socket.context[key] = {**socket.context[key], "value": socket.context[key]["value"] + 1}

    async def handle_info(self, event: InfoEvent, socket: ConnectedLiveViewSocket[dict[str, Any]]) -> None:
        index, _, note = str(event.payload).partition(":")
        key = f"m{int(index)}"
        socket.context[key] = {**socket.context[key], "note": note}


class NoLoadDashboard(_View):
    """The dashboard with its data at hand."""

    template_name = "dashboard.html"

    async def mount(self, socket: LiveViewSocket[dict[str, Any]], session: dict[str, Any]) -> None:
        socket.context = {"slug": "", "org": None, "profile": None, "rank": None}

    async def handle_params(self, url: Any, params: dict[str, Any], socket: LiveViewSocket[dict[str, Any]]) -> None:
        slug = str(params["slug"])
        socket.context.update(slug=slug, org=org_of(slug), **profile_rank_of(slug))


class AwaitedDashboard(NoLoadDashboard):
    """The loads awaited before rendering (on the page GET, and again on the WebSocket join)."""

    async def handle_params(self, url: Any, params: dict[str, Any], socket: LiveViewSocket[dict[str, Any]]) -> None:
        slug = str(params["slug"])
        org = await load_org(slug)
        profile_rank = await load_profile_rank(slug)
        socket.context.update(slug=slug, org=org, **profile_rank)


class AsyncDashboard(NoLoadDashboard):
    """pyview's way to a fast first byte: no loads on the page GET; once joined, tasks load and send infos."""

    async def handle_params(self, url: Any, params: dict[str, Any], socket: LiveViewSocket[dict[str, Any]]) -> None:
        slug = str(params["slug"])
        socket.context["slug"] = slug
        if is_connected(socket):
            self.tasks = [
                asyncio.create_task(self._load(socket, "org", load_org(slug))),
                asyncio.create_task(self._load(socket, "profile", load_profile_rank(slug))),
            ]

    async def _load(self, socket: ConnectedLiveViewSocket[dict[str, Any]], name: str, load: Any) -> None:
        await socket.send_info(InfoEvent(name, await load))

    async def handle_info(self, event: InfoEvent, socket: ConnectedLiveViewSocket[dict[str, Any]]) -> None:
        socket.context.update({"org": event.payload} if event.name == "org" else event.payload)


def create_app() -> PyView:
    os.environ.setdefault("PYVIEW_SECRET", "bench-secret")
    gc_pauses = GcPauses.install()
    app = PyView()
    app.add_live_view("/counter", Counter)
    app.add_live_view("/fan/{n:int}", Fanout)
    app.add_live_view("/regions", Regions)
    app.add_live_view("/dash/none/{slug}", NoLoadDashboard)
    app.add_live_view("/dash/async/{slug}", AsyncDashboard)
    app.add_live_view("/dash/awaited/{slug}", AwaitedDashboard)
    handler = app.live_handler

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def stats(request: Request) -> Response:
        return JSONResponse({"pid": os.getpid(), "sessions": handler.sessions, "gc": gc_pauses.as_json()})

    async def publish(request: Request) -> Response:
        await pub_sub_hub.send_all_on_topic_async(request.query_params["topic"], request.query_params["message"])
        return Response(status_code=204)

    app.add_route("/bench/ping", ping, methods=["GET"])
    app.add_route("/bench/stats", stats, methods=["GET"])
    app.add_route("/bench/publish", publish, methods=["POST"])
    app.mount("/static", StaticFiles(packages=[("pyview", "static")]), name="static")  # pyview's JS client, for Chromium
    return app
