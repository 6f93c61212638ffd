"""7. Bytes on the wire for a one-assign change on a page with 10 regions.

The page (``regions.html``) has ten ``{% region %}`` cards, each reading its own assign. One
event (``bump``, i=3) changes one assign; one publish (``3:<note>`` to the page's topic)
changes it from ``handle_info``. Measured: fastapi-live's event response body and its SSE
message (the whole ``id:``/``data:`` message with its blank line), against the changed
region's own HTML (the target: at most that + 300 bytes), beside the floor's answer to the
same event: the whole page re-rendered by hand. pyview's ``phx_reply`` and ``diff`` push
(uncompressed WebSocket payloads; with permessage-deflate in the details) are the reference.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, TypeVar

from fastapi_live.testing._sse import SSEMessage

from . import wire
from .apps import HAND_APP, LIVE_APP, PYVIEW_APP
from .load import EVENT_URL, guarded, open_live_page
from .pyview import open_pyview_page
from .report import Row
from .servers import ServerProcess, Settings

NAME = "bytes"
SLACK = 300
REGION = "m3"
_REGION = re.compile(rf'<section id="{REGION}"[^>]*>.*?</section>', re.S)
_PARTIAL = re.compile(rb"<hx-partial ")

T = TypeVar("T")


async def _next(messages: asyncio.Queue[T], timeout: float = 10.0) -> T:
    return await asyncio.wait_for(messages.get(), timeout)


async def measure_live(settings: Settings) -> dict[str, Any]:
    async with ServerProcess(LIVE_APP, settings, label="live") as server:
        messages: asyncio.Queue[SSEMessage] = asyncio.Queue()
        page = await open_live_page(server.host, server.port, "/regions", stream="separate", on_message=lambda message, _: messages.put_nowait(message))
        publisher = await wire.connect(server.host, server.port)
        try:
            region = _REGION.search(page.html)
            if region is None:
                raise wire.HttpError(f"no #{REGION} region in the page")
            response = await page.page.request("POST", EVENT_URL, page.headers("bump"), b"i=3")
            if response.status != 200 or len(_PARTIAL.findall(response.body)) != 1 or f'hx-target="#{REGION}"'.encode() not in response.body:
                raise wire.HttpError(f"the event should answer with one fragment for #{REGION}, got {response.status}: {response.text[:300]}")
            stream = page.stream
            if stream is None:
                raise wire.HttpError("the page opened no stream")
            before = stream.stream_bytes
            published = await publisher.request("POST", "/bench/publish?topic=regions&message=3:cloudy")
            if published.status != 204:
                raise wire.HttpError(f"publish answered {published.status}")
            message = await _next(messages)
            sse_bytes = stream.stream_bytes - before  # the whole message as sent: its fields and the blank line ending it
            if len(_PARTIAL.findall(message.data.encode())) != 1 or "cloudy" not in message.data:
                raise wire.HttpError(f"the info should stream one fragment for #{REGION}, got {message.data[:300]!r}")
        finally:
            publisher.close()
            page.close()
    return {
        "page_bytes": len(page.html.encode()),
        "region_bytes": len(region.group(0).encode()),
        "event_body_bytes": len(response.body),
        "event_head_bytes": len(response.raw_head),
        "sse_message_bytes": sse_bytes,
        "event_body": response.text,
    }


async def measure_hand(settings: Settings) -> dict[str, Any]:
    async with ServerProcess(HAND_APP, settings, label="hand") as server:
        conn = await wire.connect(server.host, server.port)
        try:
            page = await conn.request("GET", "/regions")
            headers = {"Cookie": wire.cookie_header(page.cookies()), "Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"}
            response = await conn.request("POST", "/regions/event", headers, b"i=3")
        finally:
            conn.close()
    if response.status != 200 or '<p class="value">1</p>' not in response.text:
        raise wire.HttpError(f"the hand-written event answered {response.status}: {response.text[:200]}")
    return {"page_bytes": len(page.body), "event_body_bytes": len(response.body), "event_head_bytes": len(response.raw_head)}


async def measure_pyview(settings: Settings) -> dict[str, Any]:
    result: dict[str, Any] = {}
    async with ServerProcess(PYVIEW_APP, settings, label="pyview") as server:
        for deflate in (False, True):
            pushes: asyncio.Queue[bytes] = asyncio.Queue()
            collect = pushes.put_nowait
            page = await open_pyview_page(server.host, server.port, "/regions", on_message=lambda message, _, put=collect: put(message), deflate=deflate)
            publisher = await wire.connect(server.host, server.port)
            try:
                before = page.socket.bytes_received
                reply = await asyncio.wait_for(page.click("bump", {"i": "3"}), 10)
                reply_wire = page.socket.bytes_received - before
                before = page.socket.bytes_received
                await publisher.request("POST", "/bench/publish?topic=regions&message=3:cloudy")
                push = await _next(pushes)
                push_wire = page.socket.bytes_received - before
            finally:
                publisher.close()
                page.close()
            if reply.payload.get("status") != "ok" or b"cloudy" not in push:
                raise wire.HttpError(f"pyview answered {reply.raw[:200]!r} / {push[:200]!r}")
            if deflate:
                result["deflate_reply_wire_bytes"], result["deflate_push_wire_bytes"] = reply_wire, push_wire
            else:
                result.update(
                    page_bytes=len(page.html.encode()),
                    join_reply_bytes=page.join_bytes,
                    reply_bytes=len(reply.raw),
                    push_bytes=len(push),
                    reply_wire_bytes=reply_wire,
                    push_wire_bytes=push_wire,
                    reply=reply.raw.decode(),
                )
    return result


async def run(settings: Settings) -> list[Row]:
    live = await measure_live(settings)
    hand = await measure_hand(settings)
    pyview, pyview_error = await guarded(measure_pyview(settings), "pyview diff size")
    region = live["region_bytes"]
    details = {"fastapi_live": live, "baseline": hand, "pyview": pyview}
    target = f"≤ region ({region} B) + {SLACK} B"

    def check(live_value: float, _base: float) -> bool:
        return live_value <= region + SLACK

    return [
        Row(
            "bytes for a one-assign change on a 10-region page: event response body (vs whole page re-rendered by hand)",
            live["event_body_bytes"],
            hand["event_body_bytes"],
            "B",
            target=target,
            check=check,
            details=details,
            group=NAME,
            pyview=None if pyview is None else pyview["reply_bytes"],
            pyview_error=pyview_error,
        ),
        Row(
            "bytes for the same change from handle_info: SSE message (vs whole page re-rendered by hand)",
            live["sse_message_bytes"],
            hand["event_body_bytes"],
            "B",
            target=target,
            check=check,
            group=NAME,
            pyview=None if pyview is None else pyview["push_bytes"],
            pyview_error=pyview_error,
        ),
    ]
