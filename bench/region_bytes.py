"""7. Bytes on the wire for a one-assign change on a page with 10 regions.

The page (``regions.html``) has ten ``{% region %}`` cards, each reading its own assign. An
event (``bump``) changes one card's value; a publish (``3:<note>`` to the page's topic)
changes one card's note from ``handle_info``. Measured, as the wire carries them: the event's
reply body (identity or gzip, as the server chose; its HTTP head in the details) and the
bytes one SSE message added to the stream (chunk framing included; gzip-compressed when the
client accepts it), for a browser-like client (``Accept-Encoding: gzip, deflate, br, zstd``)
and a plain one (no ``Accept-Encoding``).

A card's first change goes whole (the page keeps nothing of a region it has not re-rendered,
and a card is a dict: the card it was shown may have changed in place, so it cannot be rendered
again as it was; a region reading only immutable values, e.g. a count, goes as a text patch):
target at most its HTML + 300 bytes, beside the floor's answer (the whole page re-rendered by
hand). Its later changes, one text node each, go as text patches: target at most pyview's
figure for the same change, its ``phx_reply`` and ``diff`` push as WebSocket frames
(uncompressed, header included; with permessage-deflate in the details).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, TypeVar

from fastapi_live.testing._sse import SSEMessage

from . import wire
from .apps import HAND_APP, LIVE_APP, PYVIEW_APP
from .load import EVENT_URL, LivePage, guarded, open_live_page
from .pyview import open_pyview_page
from .report import Row
from .servers import ServerProcess, Settings

NAME = "bytes"
SLACK = 300
REGION = "m3"
FIRST_REGION = "m5"  # the card whose first change the event's first-change figure is
BROWSER_ENCODING = "gzip, deflate, br, zstd"  # what Chromium sends
_REGION = re.compile(rf'<section id="{REGION}"[^>]*>.*?</section>', re.S)
_PARTIAL = re.compile(rb"<hx-partial ")

T = TypeVar("T")


async def _next(messages: asyncio.Queue[T], timeout: float = 10.0) -> T:
    return await asyncio.wait_for(messages.get(), timeout)


def _targets(body: bytes, region: str) -> bool:
    """The fragment is for ``region``: a whole region names it in ``hx-target``, a text patch in its id."""
    return f'hx-target="#{region}"'.encode() in body or f'<hx-partial id="{region}"'.encode() in body


async def _event(page: LivePage, index: int) -> wire.Response:
    region = f"m{index}"
    response = await page.page.request("POST", EVENT_URL, page.headers("bump"), f"i={index}".encode())
    if response.status != 200 or len(_PARTIAL.findall(response.body)) != 1 or not _targets(response.body, region):
        raise wire.HttpError(f"the event should answer with one fragment for #{region}, got {response.status}: {response.text[:300]}")
    return response


async def _publish(page: LivePage, publisher: wire.Connection, messages: asyncio.Queue[SSEMessage], note: str) -> tuple[int, int, SSEMessage]:
    """Publish a note for card 3; (stream bytes on the wire, SSE bytes, the message) it added."""
    stream = page.stream
    if stream is None:
        raise wire.HttpError("the page opened no stream")
    wire_before, sse_before = stream.stream_wire_bytes, stream.stream_bytes
    published = await publisher.request("POST", f"/bench/publish?topic=regions&message=3:{note}")
    if published.status != 204:
        raise wire.HttpError(f"publish answered {published.status}")
    message = await _next(messages)
    if len(_PARTIAL.findall(message.data.encode())) != 1 or note not in message.data or not _targets(message.data.encode(), REGION):
        raise wire.HttpError(f"the info should stream one fragment for #{REGION}, got {message.data[:300]!r}")
    return stream.stream_wire_bytes - wire_before, stream.stream_bytes - sse_before, message


async def measure_live(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """(a browser-like client's figures, a plain client's), one server for both."""
    async with ServerProcess(LIVE_APP, settings, label="live") as server:
        return await _measure_page(server, BROWSER_ENCODING), await _measure_page(server, None)


async def _measure_page(server: ServerProcess, accept_encoding: str | None) -> dict[str, Any]:
    messages: asyncio.Queue[SSEMessage] = asyncio.Queue()
    page = await open_live_page(
        server.host, server.port, "/regions", stream="separate", on_message=lambda message, _: messages.put_nowait(message), accept_encoding=accept_encoding
    )
    publisher = await wire.connect(server.host, server.port)
    try:
        region = _REGION.search(page.html)
        if region is None:
            raise wire.HttpError(f"no #{REGION} region in the page")
        first_reply = await _event(page, int(FIRST_REGION[1:]))  # card 5's first change: whole
        first_sse_wire, first_sse, _ = await _publish(page, publisher, messages, "cloudy")  # card 3's first change: whole
        reply = await _event(page, int(REGION[1:]))  # card 3 again: its value, one text node
        sse_wire, sse, message = await _publish(page, publisher, messages, "sunny")  # and its note
        steady_wire, _, _ = await _publish(page, publisher, messages, "rainy")  # a text patch after a text patch
    finally:
        publisher.close()
        page.close()
    return {
        "accept_encoding": accept_encoding,
        "stream_encoding": page.stream.stream_encoding if page.stream is not None else None,
        "page_bytes": len(page.html.encode()),
        "region_bytes": len(region.group(0).encode()),
        "first_event_wire_bytes": len(first_reply.wire_body),
        "first_event_body_bytes": len(first_reply.body),
        "first_sse_wire_bytes": first_sse_wire,
        "first_sse_message_bytes": first_sse,
        "event_wire_bytes": len(reply.wire_body),
        "event_body_bytes": len(reply.body),
        "event_encoding": reply.headers.get("content-encoding", "identity"),
        "event_head_bytes": len(reply.raw_head),
        "sse_wire_bytes": sse_wire,
        "sse_message_bytes": sse,
        "next_sse_wire_bytes": steady_wire,
        "first_event_body": first_reply.text,
        "event_body": reply.text,
        "sse_data": message.data,
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
    browser, plain = await measure_live(settings)
    hand = await measure_hand(settings)
    pyview, pyview_error = await guarded(measure_pyview(settings), "pyview diff size")
    region = browser["region_bytes"]
    details = {"fastapi_live": {"browser": browser, "plain": plain}, "baseline": hand, "pyview": pyview}
    whole = f"≤ region ({region} B) + {SLACK} B"

    def within_region(live_value: float, _base: float) -> bool:
        return live_value <= region + SLACK

    def at_most_pyview(live_value: float, pyview_value: float) -> bool:
        return live_value <= pyview_value

    reply = None if pyview is None else pyview["reply_wire_bytes"]
    push = None if pyview is None else pyview["push_wire_bytes"]
    rows = [
        Row(
            "bytes on the wire for a region's first change on a 10-region page (whole): event reply body, gzip client (vs whole page re-rendered by hand)",
            browser["first_event_wire_bytes"],
            hand["event_body_bytes"],
            "B",
            target=whole,
            check=within_region,
            details=details,
            group=NAME,
        ),
        Row(
            "bytes on the wire for a region's first change from handle_info (whole): SSE message, gzip stream (vs whole page by hand)",
            browser["first_sse_wire_bytes"],
            hand["event_body_bytes"],
            "B",
            target=whole,
            check=within_region,
            group=NAME,
        ),
    ]
    for label, live, gzip in (("gzip client", browser, True), ("plain client", plain, False)):
        # A browser always sends Accept-Encoding: its figures have the target; a plain client's are for reference.
        target = "≤ pyview" if gzip else "— (reference)"
        check = at_most_pyview if gzip else None
        rows.append(
            Row(
                f"bytes on the wire for a region's later one-assign change (a text patch): event reply body, {label} (vs whole page by hand)",
                live["event_wire_bytes"],
                hand["event_body_bytes"],
                "B",
                target=target,
                group=NAME,
                pyview=reply,
                pyview_check=check,
                pyview_error=pyview_error,
            )
        )
        rows.append(
            Row(
                f"bytes on the wire for the same from handle_info: SSE message, {label} (vs whole page by hand)",
                live["sse_wire_bytes"],
                hand["event_body_bytes"],
                "B",
                target=target,
                group=NAME,
                pyview=push,
                pyview_check=check,
                pyview_error=pyview_error,
            )
        )
    return rows
