"""One stream for every live page of a browser: pages attach to it and detach as tabs open and close.

Browsers allow six connections per host over HTTP/1.1 and each live page holds a stream, so
the seventh tab of an origin would never load. The client (a SharedWorker, or one leader tab)
holds one *shared stream* per browser and attaches each page to it with the page's own token;
the page's frames then travel on the shared stream, each message labelled with the page's
channel. For the session nothing changes: it gets a ``Connection`` as from a stream of its
own (replay from ``Last-Event-ID``, resync, the outbound bounds: a page whose reader falls
behind is closed alone, and its reconnect resyncs it), and a closed tab detaches its page,
whose session then ends on the normal grace.

An attach request may land on any process of a cluster: the shared stream's id names the
process holding it, and a request landing elsewhere is forwarded there over the PubSub. The
sessions themselves may live anywhere: the holder attaches them through the locator.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from .cluster import ClusterLocator
from .connection import Connection, gzip_send
from .locator import SessionLocator
from .manager import SessionManager
from .session import LiveSession
from .transport import encode_message
from .types import Receive, Send
from .wire import MUX_END_EVENT, MUX_FRAME_EVENT, MUX_OPEN_EVENT, OP_REDIRECT, push_element

log = logging.getLogger("fastapi_live")

MUX_TOPIC = "fastapi-live:mux:"
CHANNEL = re.compile(r"[A-Za-z0-9._-]{1,64}")
_FRAMES_PER_TURN = 32  # a page's frames written in one turn before the next page's (fairness)
_BYTES_PER_WRITE = 256 * 1024  # what one write to the shared stream gathers at most


@dataclass(frozen=True, slots=True)
class Redirect:
    """A remount's hook redirected (e.g. the user signed out): the page goes to ``location``."""

    location: str


@dataclass(frozen=True, slots=True)
class Refused:
    """An attach that failed: its HTTP status and why."""

    status: int
    detail: str


Remount = Callable[[], Awaitable[LiveSession | Redirect | Refused]]
"""Mounts the page afresh from the attach request (its session is gone): the router's."""


# -- operations between processes: frozen dataclasses the PubSub codec carries by type ------------
@dataclass(frozen=True, slots=True)
class MuxAttach:
    """Any node → the shared stream's holder: attach session ``sid`` as ``channel`` of stream ``mux``."""

    sender: str
    rid: str
    mux: str
    channel: str
    sid: str
    browser: str
    last: int | None
    remount: bool = False  # the page was just remounted: its stream starts with the fresh render
    redirect: str | None = None  # the remount redirected: the channel carries only that


@dataclass(frozen=True, slots=True)
class MuxDetach:
    """Any node → the shared stream's holder: the pages of ``channels`` closed."""

    sender: str
    mux: str
    browser: str
    channels: list[str]


@dataclass(frozen=True, slots=True)
class MuxAnswer:
    """Holder → asker: the outcome of the attach request ``rid``."""

    sender: str
    rid: str
    status: int
    detail: str = ""


class Multiplex:
    """One browser's shared stream: its pages' connections, whose frames it writes in turn.

    Each page keeps its own bounded ``Connection``; the shared stream reads them as their
    frames come (``Connection.listener``), a page at a time, and a page whose queue overflows
    is closed alone while the others go on.
    """

    __slots__ = ("_by_connection", "_channels", "_detach", "_queued", "_ready", "_waiter", "browser_id", "id", "outer")

    def __init__(self, mux_id: str, browser_id: str, outer: Connection, detach: Callable[[Connection], None]) -> None:
        self.id = mux_id
        self.browser_id = browser_id
        self.outer = outer  # the shared stream's own queue: heartbeats, and the close on shutdown
        self._detach = detach
        self._channels: dict[str, Connection] = {}
        self._by_connection: dict[Connection, str] = {}
        self._ready: deque[Connection] = deque()
        self._queued: set[Connection] = set()
        self._waiter: asyncio.Future[None] | None = None
        outer.listener = self._on_outer

    @property
    def closed(self) -> bool:
        return self.outer.closed

    @property
    def pages(self) -> int:
        """Pages attached now."""
        return len(self._channels)

    def add(self, channel: str, connection: Connection) -> None:
        """Carry ``connection``'s frames as ``channel`` (replacing an older page of that channel)."""
        self.remove(channel)
        self._channels[channel] = connection
        self._by_connection[connection] = channel
        connection.listener = self._on_ready
        if connection.closed or not connection.drained:
            self._on_ready(connection)

    def remove(self, channel: str) -> None:
        """The page of ``channel`` closed: its session starts its grace."""
        connection = self._channels.pop(channel, None)
        if connection is not None:
            self._forget(connection)

    def _forget(self, connection: Connection) -> None:
        connection.listener = None
        channel = self._by_connection.pop(connection, None)
        if channel is not None and self._channels.get(channel) is connection:
            del self._channels[channel]
        self._queued.discard(connection)
        self._detach(connection)

    def close(self) -> None:
        self.outer.close()

    def _on_ready(self, connection: Connection) -> None:
        if connection not in self._queued:
            self._queued.add(connection)
            self._ready.append(connection)
            self._wake()

    def _on_outer(self, _: Connection) -> None:
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _collect(self) -> bytes:
        """What to write next: heartbeats, then each ready page's frames in turn, bounded."""
        parts = self.outer.take(64)
        size = sum(map(len, parts))
        ready = self._ready
        for _ in range(len(ready)):
            if size > _BYTES_PER_WRITE:
                break
            connection = ready.popleft()
            self._queued.discard(connection)
            channel = self._by_connection.get(connection)
            if channel is None:
                continue  # replaced or detached since it queued
            # Heartbeat comments of the page's own connection stay here: the shared stream beats.
            body = b"".join(data for data in connection.take(_FRAMES_PER_TURN) if not data.startswith(b":"))
            if body:
                part = encode_message(f"{channel}\n{body.decode()}", event=MUX_FRAME_EVENT)
                parts.append(part)
                size += len(part)
            if not connection.drained:
                self._on_ready(connection)
            elif connection.closed:
                parts.append(encode_message(channel, event=MUX_END_EVENT))
                self._forget(connection)
        return b"".join(parts)

    async def pump(self, send: Send) -> None:
        """Write the shared stream until it closes (the browser went away, or the server shuts down)."""
        loop = asyncio.get_running_loop()
        while True:
            body = self._collect()
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
                continue
            if self.closed:
                return
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def end(self) -> None:
        """The shared stream ended: every page on it is detached (each starts its grace)."""
        self.outer.close()
        for connection in list(self._by_connection):
            self._forget(connection)
        self._ready.clear()


class MultiplexResponse:
    """The shared stream's HTTP response: its id first, then the pages' frames as they come."""

    def __init__(self, multiplexer: Multiplexer, mux: Multiplex, headers: list[tuple[bytes, bytes]], *, gzip: bool = False) -> None:
        self.multiplexer = multiplexer
        self.mux = mux
        self.headers = headers
        self.gzip = gzip  # the body gzip-encoded, each write flushed (the headers say so)

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        mux = self.mux
        if self.gzip:
            send = gzip_send(send)
        watcher = asyncio.get_running_loop().create_task(self._watch(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            opening = encode_message(mux.id, event=MUX_OPEN_EVENT, retry=self.multiplexer.manager.config.retry_ms)
            await send({"type": "http.response.body", "body": opening, "more_body": True})
            await mux.pump(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        finally:
            watcher.cancel()
            self.multiplexer.ended(mux)

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.mux.close()


class Multiplexer:
    """The shared streams this process holds, and attach requests routed to the process holding theirs."""

    def __init__(self, manager: SessionManager, locator: SessionLocator, *, reply_timeout: float = 10.0) -> None:
        self.manager = manager
        self.locator = locator
        self.node_id = locator.node_id if isinstance(locator, ClusterLocator) else None
        self.reply_timeout = reply_timeout
        self.streams: dict[str, Multiplex] = {}
        self._replies: dict[str, asyncio.Future[MuxAnswer]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        if self.node_id is not None and self._unsubscribe is None:
            self._unsubscribe = await self.manager.pubsub.subscribe(MUX_TOPIC + self.node_id, self._on_message)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for mux in list(self.streams.values()):
            mux.close()
        for task in list(self._tasks):
            task.cancel()
        for future in self._replies.values():
            future.cancel()

    # -- the shared streams of this process -------------------------------------------------------
    def open(self, browser_id: str) -> Multiplex:
        """A new shared stream for the browser ``browser_id``."""
        random = secrets.token_urlsafe(18)
        mux_id = f"{self.node_id}.{random}" if self.node_id is not None else random
        config = self.manager.config
        outer = Connection(config.outbound_limit, config.outbound_bytes)
        self.manager.connections.add(outer)  # the shared heartbeat beats it; a shutdown closes it
        mux = self.streams[mux_id] = Multiplex(mux_id, browser_id, outer, self.locator.detach)
        return mux

    def ended(self, mux: Multiplex) -> None:
        mux.end()
        self.manager.connections.discard(mux.outer)
        if self.streams.get(mux.id) is mux:
            del self.streams[mux.id]

    def _holder(self, mux_id: str) -> str | None:
        """The node holding shared stream ``mux_id``, when another process does."""
        node, dot, _ = mux_id.partition(".")
        return node if dot and self.node_id is not None and node != self.node_id else None

    # -- attach and detach, wherever the shared stream is ------------------------------------------
    async def attach(self, mux_id: str, channel: str, session_id: str, browser_id: str, last_event_id: int | None, remount: Remount) -> Refused | None:
        """Attach the page of ``session_id`` to shared stream ``mux_id`` as ``channel``.

        None once attached; else the status and reason the page's own stream would have had
        (410 when its session is gone and cannot be remounted; a remount's redirect travels on
        the channel itself), or 404 when the shared stream is gone (the client opens another).
        """
        holder = self._holder(mux_id)
        if holder is None:
            return await self._attach_here(mux_id, channel, session_id, browser_id, last_event_id, remount=remount)
        request = MuxAttach(self.node_id or "", secrets.token_hex(8), mux_id, channel, session_id, browser_id, last_event_id)
        answer = await self._ask(holder, request)
        if answer is None or answer.status != 410:
            return answer
        outcome = await remount()  # gone everywhere: mounted here, then attached over there
        if isinstance(outcome, Refused):
            return outcome
        follow = MuxAttach(
            request.sender, secrets.token_hex(8), mux_id, channel, session_id, browser_id, None,
            remount=isinstance(outcome, LiveSession), redirect=outcome.location if isinstance(outcome, Redirect) else None,
        )  # fmt: skip
        return await self._ask(holder, follow)

    async def _attach_here(
        self,
        mux_id: str,
        channel: str,
        session_id: str,
        browser_id: str,
        last_event_id: int | None,
        *,
        remount: Remount | None = None,
        remounted: bool = False,
        redirect: str | None = None,
    ) -> Refused | None:
        mux = self.streams.get(mux_id)
        if mux is None or mux.closed:
            return Refused(404, "the shared live stream is gone; the client opens a new one")
        if not hmac.compare_digest(mux.browser_id, browser_id):
            return Refused(403, "the shared live stream belongs to another browser")
        connection: Connection | None
        if redirect is not None:
            connection = self._redirect(redirect)
        elif remounted:
            connection = await self.locator.attach_remounted(session_id)
        else:
            connection = await self.locator.attach(session_id, last_event_id)
            if connection is None and remount is not None:
                outcome = await remount()
                if isinstance(outcome, Refused):
                    return outcome
                connection = outcome.attach_remount() if isinstance(outcome, LiveSession) else self._redirect(outcome.location)
        if connection is None:
            return Refused(410, "the live session is gone; reload the page")
        if mux.closed:  # the browser went away while the page attached
            self.locator.detach(connection)
            return Refused(404, "the shared live stream is gone; the client opens a new one")
        mux.add(channel, connection)
        return None

    def _redirect(self, location: str) -> Connection:
        """A channel that carries one redirect frame, then ends (a remount's hook redirected)."""
        config = self.manager.config
        connection = Connection(config.outbound_limit, config.outbound_bytes)
        connection.send(encode_message(push_element(OP_REDIRECT, location, None), event_id="0"))
        connection.close()
        return connection

    async def detach(self, mux_id: str, channels: list[str], browser_id: str) -> None:
        """The pages of ``channels`` closed (their tabs closed, or they navigated away)."""
        holder = self._holder(mux_id)
        if holder is not None:
            await self.manager.pubsub.publish(MUX_TOPIC + holder, MuxDetach(self.node_id or "", mux_id, browser_id, channels))
            return
        self._detach_here(mux_id, channels, browser_id)

    def _detach_here(self, mux_id: str, channels: list[str], browser_id: str) -> None:
        mux = self.streams.get(mux_id)
        if mux is None or not hmac.compare_digest(mux.browser_id, browser_id):
            return
        for channel in channels:
            mux.remove(channel)

    # -- between processes ---------------------------------------------------------------------------
    async def _ask(self, node_id: str, request: MuxAttach) -> Refused | None:
        answer: asyncio.Future[MuxAnswer] = asyncio.get_running_loop().create_future()
        self._replies[request.rid] = answer
        gone = Refused(404, "the shared live stream is gone (its process does not answer); the client opens a new one")
        try:
            if not await self.manager.pubsub.publish(MUX_TOPIC + node_id, request):
                return gone
            reply = await asyncio.wait_for(answer, self.reply_timeout)
        except TimeoutError:
            return gone
        finally:
            self._replies.pop(request.rid, None)
        return None if reply.status == 200 else Refused(reply.status, reply.detail)

    def _on_message(self, topic: str, operation: Any) -> None:
        match operation:
            case MuxAnswer(rid=request):
                future = self._replies.get(request)
                if future is not None and not future.done():
                    future.set_result(operation)
            case MuxAttach():
                self._spawn(self._serve_attach(operation))
            case MuxDetach(mux=mux_id, browser=browser, channels=channels):
                self._detach_here(mux_id, list(channels), browser)
            case _:
                log.warning("fastapi-live: ignored a message on this node's shared-stream topic that is no multiplex operation: %r", operation)

    async def _serve_attach(self, request: MuxAttach) -> None:
        try:
            outcome = await self._attach_here(
                request.mux, request.channel, request.sid, request.browser, request.last, remounted=request.remount, redirect=request.redirect
            )
        except Exception as exc:  # the asker must hear back, whatever went wrong here
            log.error("fastapi-live: attaching a page to a shared stream failed", exc_info=exc)
            outcome = Refused(500, f"attaching the page failed on the server ({type(exc).__name__})")
        status, detail = (200, "") if outcome is None else (outcome.status, outcome.detail)
        await self.manager.pubsub.publish(MUX_TOPIC + request.sender, MuxAnswer(self.node_id or "", request.rid, status, detail))

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
