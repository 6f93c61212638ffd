"""Hand-written baselines: plain FastAPI, Jinja2Templates and sse-starlette, no fastapi-live.

* ``GET /page``: the counter page rendered with Jinja2Templates.
* ``GET /counter`` + ``GET /stream`` + ``POST /event``: a counter whose POST pushes the
  re-rendered fragment to that client's SSE stream.
* ``GET /idle``: an SSE stream waiting on an ``asyncio.Event``.
* ``GET /fan/stream`` + ``POST /bench/publish``: one fragment pushed to every stream. With
  ``BENCH_PUBSUB`` set to a ``redis://`` URL, the publish goes through Redis: every worker
  process holds one subscription and pushes the fragment to its own streams.
* ``GET /regions`` + ``POST /regions/event``: the 10-region page; the event answers with the
  whole page re-rendered (what an app without regions sends for a one-assign change).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.templating import Jinja2Templates
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import JSONResponse, PlainTextResponse, Response

from . import TEMPLATES, GcPauses, regions_state

COOKIE = "bench_client"
REDIS_CHANNEL = "bench-hand:fan"


class Client:
    __slots__ = ("count", "queue")

    def __init__(self) -> None:
        self.count = 0
        self.queue: asyncio.Queue[str] = asyncio.Queue()


def create_app() -> FastAPI:
    backend = os.environ.get("BENCH_PUBSUB", "memory")
    redis_url = None if backend == "memory" else backend
    subscribers: set[asyncio.Queue[str]] = set()
    templates = Jinja2Templates(directory=TEMPLATES)
    news_fragment = templates.get_template("news_fragment.html")
    redis: dict[str, Any] = {}

    def deliver(message: str) -> None:
        fragment = news_fragment.render(news=message)
        for queue in subscribers:
            queue.put_nowait(fragment)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if redis_url is None:
            yield
            return
        import redis.asyncio as aioredis

        client = aioredis.from_url(redis_url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(REDIS_CHANNEL)

        async def listen() -> None:
            async for message in pubsub.listen():
                deliver(message["data"].decode())

        listener = asyncio.create_task(listen())
        redis["client"] = client
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(BaseException):
                await listener
            await pubsub.aclose()
            await client.aclose()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    gc_pauses = GcPauses.install()
    count_fragment = templates.get_template("count_fragment.html")
    clients: dict[str, Client] = {}
    idle: dict[int, asyncio.Event] = {}
    idle_ids = itertools.count()
    regions: dict[str, dict[str, Any]] = {}

    @app.get("/bench/ping")
    async def ping() -> Response:
        return PlainTextResponse("ok")

    @app.get("/bench/stats")
    async def stats() -> Response:
        return JSONResponse({"pid": os.getpid(), "clients": len(clients), "idle": len(idle), "subscribers": len(subscribers), "gc": gc_pauses.as_json()})

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
                yield ServerSentEvent(data=str(os.getpid()), event="hello")  # which worker holds the stream
                while True:
                    fragment = await queue.get()
                    frame += 1
                    yield ServerSentEvent(data=fragment, id=str(frame))
            finally:
                subscribers.discard(queue)

        return EventSourceResponse(events())

    @app.post("/bench/publish")
    async def publish(request: Request) -> Response:
        if redis_url is None:
            deliver(request.query_params["message"])
        else:
            await redis["client"].publish(REDIS_CHANNEL, request.query_params["message"])
        return Response(status_code=204)

    @app.get("/regions")
    async def regions_page(request: Request) -> Response:
        client_id = secrets.token_urlsafe(18)
        regions[client_id] = regions_state()
        response = templates.TemplateResponse(request, "plain_regions.html", regions[client_id])
        response.set_cookie(COOKIE, client_id, httponly=True, samesite="lax")
        return response

    @app.post("/regions/event")
    async def regions_event(request: Request) -> Response:
        assigns = regions.get(request.cookies.get(COOKIE, ""))
        if assigns is None:
            return PlainTextResponse("no such client", status_code=410)
        params = dict(parse_qsl((await request.body()).decode()))
        key = f"m{int(params.get('i', '3'))}"
        assigns[key] = {**assigns[key], "value": assigns[key]["value"] + 1}
        return templates.TemplateResponse(request, "plain_regions.html", assigns)

    return app
