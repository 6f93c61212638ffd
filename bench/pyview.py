"""Driving pyview as its JavaScript client does: page GET, then a Phoenix channel over WebSocket.

The page carries what the join needs: the view's DOM id (``phx-<uuid>``, the channel topic
is ``lv:phx-<uuid>``), a CSRF token bound to that topic (``<meta name="csrf-token">``) and the
signed session (``data-phx-session``). The join (``phx_join``) mounts the view again and
answers with the rendered tree; each ``event`` is answered by a ``phx_reply`` carrying the
diff; infos arrive as ``diff`` pushes. Messages are Phoenix's v2 JSON arrays
``[join_ref, ref, topic, event, payload]``.

By default no WebSocket extension is negotiated, so pyview is measured at its leanest; a
browser asks for permessage-deflate, which costs the server a zlib context per connection and
CPU per message (``deflate=True`` does the same; the memory benchmark reports both).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from . import wire, ws

SOCKET_PATH = "/live/websocket?vsn=2.0.0"
_ID = re.compile(r'id="(phx-[^"]+)"')
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_SESSION = re.compile(r'data-phx-session="([^"]*)"')


@dataclass
class Reply:
    payload: dict[str, Any]
    raw: bytes
    sent_at: float
    received_at: float


@dataclass
class PyviewPage:
    """A joined pyview view: its WebSocket, pending replies by ref, and the size of the join's reply."""

    host: str
    port: int
    topic: str
    socket: ws.WebSocket
    html: str = ""
    join_bytes: int = 0
    _refs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _waiting: dict[str, tuple[asyncio.Future[Reply], float]] = field(default_factory=dict)

    def on_reply(self, payload: bytes, now: float) -> bool:
        """A ``phx_reply`` for a ref this page waits on: resolve it (True); anything else: False."""
        if not self._waiting or b'"phx_reply"' not in payload:
            return False
        message = json.loads(payload)
        waiting = self._waiting.pop(str(message[1]), None)
        if waiting is None:
            return False
        future, sent_at = waiting
        if not future.done():
            future.set_result(Reply(message[4], payload, sent_at, now))
        return True

    def push(self, event: str, payload: dict[str, Any], *, topic: str | None = None) -> asyncio.Future[Reply]:
        """Send one channel message; the future resolves with its ``phx_reply``."""
        ref = str(next(self._refs))
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        text = json.dumps(["1", ref, topic or self.topic, event, payload], separators=(",", ":"))
        # The reply cannot arrive before this returns to the event loop: register after sending.
        self._waiting[ref] = (future, self.socket.send_text(text))
        return future

    def click(self, event: str, value: dict[str, Any]) -> asyncio.Future[Reply]:
        """What ``phx-click`` sends: the event name and the element's ``phx-value-*`` attributes."""
        return self.push("event", {"type": "click", "event": event, "value": value})

    async def heartbeat(self, timeout: float = 10.0) -> Reply:
        return await asyncio.wait_for(self.push("heartbeat", {}, topic="phoenix"), timeout)

    def close(self) -> None:
        self.socket.close()


async def open_pyview_page(
    host: str,
    port: int,
    path: str,
    *,
    on_message: ws.MessageCallback | None = None,
    timeout: float = 20.0,
    deflate: bool = False,
) -> PyviewPage:
    """GET ``path`` (connection closed after), open the WebSocket and join the view.

    Messages other than replies this page waits for go to ``on_message`` (diff pushes).
    """
    conn = await wire.connect(host, port)
    try:
        response = await asyncio.wait_for(conn.request("GET", path), timeout)
    finally:
        conn.close()
    if response.status != 200:
        raise wire.HttpError(f"GET {path} answered {response.status}: {response.text[:200]}")
    html = response.text
    found = [pattern.search(html) for pattern in (_ID, _CSRF, _SESSION)]
    if not all(found):
        raise wire.HttpError(f"GET {path}: no phx id / csrf token / session in the page")
    dom_id, csrf, session = (m.group(1) for m in found if m is not None)
    page: PyviewPage | None = None

    def dispatch(payload: bytes, now: float) -> None:
        if page is not None and page.on_reply(payload, now):
            return
        if on_message is not None:
            on_message(payload, now)

    socket = await ws.connect(host, port, SOCKET_PATH, dispatch, timeout=timeout, deflate=deflate)
    page = PyviewPage(host, port, f"lv:{dom_id}", socket, html=html)
    try:
        join = {"url": f"http://{host}:{port}{path}", "params": {"_csrf_token": csrf, "_mounts": 0}, "session": session, "static": ""}
        reply = await asyncio.wait_for(page.push("phx_join", join), timeout)
    except BaseException:
        socket.close()
        raise
    if reply.payload.get("status") != "ok":
        socket.close()
        raise wire.HttpError(f"pyview join of {path} answered {reply.payload!r:.200}")
    page.join_bytes = len(reply.raw)
    return page
