"""Hand-written baselines: plain FastAPI, Jinja2Templates and sse-starlette, no fastapi-live.

* ``GET /page``: the counter page rendered with Jinja2Templates.
* ``GET /counter`` + ``GET /stream`` + ``POST /event``: a counter whose POST pushes the
  re-rendered fragment to that client's SSE stream.
* ``GET /idle``: an SSE stream waiting on an ``asyncio.Event``.
* ``GET /fan/stream`` + ``POST /bench/publish``: one fragment pushed to every stream.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.templating import Jinja2Templates
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import JSONResponse, PlainTextResponse, Response

from . import TEMPLATES, GcPauses

COOKIE = "bench_client"


class Client:
    __slots__ = ("count", "queue")

    def __init__(self) -> None:
        self.count = 0
        self.queue: asyncio.Queue[str] = asyncio.Queue()


def create_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    gc_pauses = GcPauses.install()
    templates = Jinja2Templates(directory=TEMPLATES)
    count_fragment = templates.get_template("count_fragment.html")
    news_fragment = templates.get_template("news_fragment.html")
    clients: dict[str, Client] = {}
    idle: dict[int, asyncio.Event] = {}
    idle_ids = itertools.count()
    subscribers: set[asyncio.Queue[str]] = set()

    @app.get("/bench/ping")
    async def ping() -> Response:
        return PlainTextResponse("ok")

    @app.get("/bench/stats")
    async def stats() -> Response:
        return JSONResponse({"clients": len(clients), "idle": len(idle), "subscribers": len(subscribers), "gc": gc_pauses.as_json()})

    @app.get("/page")
    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "plain_counter.html", {"title": "Counter", "count": 0, "echo": ""})

    @app.get("/counter")
    async def counter(request: Request) -> Response:
        client_id = secrets.token_urlsafe(18)
        clients[client_id] = Client()
        response = templates.TemplateResponse(request, "plain_counter.html", {"title": "Counter", "count": 0, "echo": ""})
        response.set_cookie(COOKIE, client_id, httponly=True, samesite="lax")
        return response

    @app.get("/stream")
    async def stream(request: Request) -> Response:
        client = clients.get(request.cookies.get(COOKIE, ""))
        if client is None:
            return PlainTextResponse("no such client", status_code=410)

        async def events() -> AsyncIterator[ServerSentEvent]:
            frame = 0
            while True:
                fragment = await client.queue.get()
                frame += 1
                yield ServerSentEvent(data=fragment, id=str(frame))

        return EventSourceResponse(events())

    @app.post("/event")
    async def event(request: Request) -> Response:
        client = clients.get(request.cookies.get(COOKIE, ""))
        if client is None:
            return PlainTextResponse("no such client", status_code=410)
        params = dict(parse_qsl((await request.body()).decode()))
        client.count += int(params.get("by", "1"))
        client.queue.put_nowait(count_fragment.render(count=client.count))
        return Response(status_code=204)

    @app.get("/idle")
    async def idle_stream() -> Response:
        key = next(idle_ids)
        done = idle[key] = asyncio.Event()

        async def events() -> AsyncIterator[dict[str, str]]:
            try:
                await done.wait()
                yield {"data": "bye"}
            finally:
                idle.pop(key, None)

        return EventSourceResponse(events())

    @app.get("/fan/stream")
    async def fan_stream() -> Response:
        queue: asyncio.Queue[str] = asyncio.Queue()
        subscribers.add(queue)

        async def events() -> AsyncIterator[ServerSentEvent]:
            frame = 0
            try:
                while True:
                    fragment = await queue.get()
                    frame += 1
                    yield ServerSentEvent(data=fragment, id=str(frame))
            finally:
                subscribers.discard(queue)

        return EventSourceResponse(events())

    @app.post("/bench/publish")
    async def publish(request: Request) -> Response:
        fragment = news_fragment.render(news=request.query_params["message"])
        for queue in subscribers:
            queue.put_nowait(fragment)
        return Response(status_code=204)

    return app
