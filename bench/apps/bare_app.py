"""A bare ASGI app, no framework: the limit reference of the event row.

It answers the counter's event POST with the bytes fastapi-live answers it with (the same
status, headers and fragment, with this client's count), so the row shows what the server and
the protocol cost with nothing above them. ``BENCH_BARE_REPLY`` holds the fragment fastapi-live
sent, its count replaced by ``{count}``; ``BENCH_BARE_HEADERS`` its response headers as JSON.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qsl

from . import GcPauses

EVENT_URL = "/_live/event"
TOKEN_HEADER = b"x-live-token"

Scope = dict[str, Any]


def create_app() -> Any:
    reply = os.environ.get("BENCH_BARE_REPLY", '<hx-partial hx-target="#count">Count: {count}</hx-partial>')
    extra = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in json.loads(os.environ.get("BENCH_BARE_HEADERS", "[]"))]
    extra = [(name, value) for name, value in extra if name not in (b"content-length", b"content-type")]
    counts: dict[bytes, int] = {}
    gc_pauses = GcPauses.install()

    async def body_of(receive: Any) -> bytes:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                return b"".join(chunks)

    async def answer(send: Any, status: int, body: bytes, content_type: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(headers or [])]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        if path == "/bench/ping":
            await answer(send, 200, b"ok", b"text/plain; charset=utf-8")
        elif path == "/bench/stats":
            stats = {"pid": os.getpid(), "clients": len(counts), "gc": gc_pauses.as_json()}
            await answer(send, 200, json.dumps(stats).encode(), b"application/json")
        elif path == EVENT_URL and scope["method"] == "POST":
            token = next((value for name, value in scope["headers"] if name == TOKEN_HEADER), b"")
            params = dict(parse_qsl((await body_of(receive)).decode()))
            count = counts[token] = counts.get(token, 0) + int(params.get("by", "1"))
            await answer(send, 200, reply.replace("{count}", str(count)).encode(), b"text/html; charset=utf-8", extra)
        else:
            await answer(send, 404, b"not found", b"text/plain; charset=utf-8")

    return app
