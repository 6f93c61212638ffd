"""An in-process ASGI driver that reads responses while they stream, lifespan included."""

# httpx's ASGITransport collects a whole response before returning it, so it never returns
# from an event stream. Here each request is a task of the running loop whose body chunks
# are handed over as they are sent, and a disconnect is one call away.

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from ._errors import LiveTestError

Message = MutableMapping[str, Any]
ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

_CLOSE_TIMEOUT = 2.0  # seconds an app gets to notice a disconnect before its task is cancelled


@dataclass(slots=True)
class ClientResponse:
    """A complete HTTP response from the app: status, headers (lower-case names) and body.

    >>> response = await client.get("/login?user=alice")
    >>> response.status_code, response.header("location")
    (303, '/dashboard/acme')
    """

    status_code: int
    headers: list[tuple[str, str]]
    content: bytes = b""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header called ``name`` (any case), or ``default``: ``response.header("Location")``."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), default)

    def header_list(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass(slots=True)
class _Exchange:
    """One request in flight: what the app sent so far and how to end it."""

    body: bytes
    started: asyncio.Future[tuple[int, list[tuple[str, str]]]]
    chunks: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    disconnect: asyncio.Event = field(default_factory=asyncio.Event)
    complete: asyncio.Event = field(default_factory=asyncio.Event)
    body_sent: bool = False

    async def receive(self) -> Message:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.disconnect.is_set() and not self.complete.is_set():
            return  # the client has gone: as uvicorn does, what is sent now goes nowhere
        kind = message["type"]
        if kind == "http.response.start":
            headers = [(bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1")) for k, v in message.get("headers", [])]
            if not self.started.done():
                self.started.set_result((int(message["status"]), headers))
        elif kind == "http.response.body":
            body = bytes(message.get("body", b""))
            if body:
                self.chunks.put_nowait(body)
            if not message.get("more_body", False):
                self.chunks.put_nowait(None)
                self.complete.set()
                # A server closes the request once the response is complete.
                self.disconnect.set()


class ResponseStream:
    """A response still being sent: read ``chunks()`` as they come, ``aclose()`` to disconnect."""

    def __init__(self, status_code: int, headers: list[tuple[str, str]], exchange: _Exchange, task: asyncio.Task[None]) -> None:
        self.status_code = status_code
        self.headers = headers
        self._exchange = exchange
        self._task = task

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._exchange.chunks.get()
            if chunk is None:
                return
            yield chunk

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def aclose(self) -> None:
        """Disconnect like a browser closing the tab, and wait for the app to notice."""
        self._exchange.disconnect.set()
        if not self._task.done():
            done, _ = await asyncio.wait({self._task}, timeout=_CLOSE_TIMEOUT)
            if not done:
                self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


class ASGIDriver:
    """Sends requests to an ASGI app in the running loop; runs its lifespan on request."""

    def __init__(self, app: Any, base_url: str = "http://testserver") -> None:
        parts = urlsplit(base_url)
        self.app: ASGIApp = app
        self.base_url = base_url.rstrip("/")
        self.scheme = parts.scheme or "http"
        self.host = parts.hostname or "testserver"
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.state: dict[str, Any] = {}
        self._lifespan: asyncio.Task[None] | None = None
        self._lifespan_in: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan_out: asyncio.Queue[Message] = asyncio.Queue()

    def _scope(self, method: str, target: str, headers: list[tuple[str, str]]) -> dict[str, Any]:
        parts = urlsplit(target)
        path = parts.path or "/"
        host = self.host if self.port in (80, 443) else f"{self.host}:{self.port}"
        raw_headers = [(b"host", host.encode("latin-1"))]
        raw_headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers if name.lower() != "host"]
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},  # what uvicorn announces
            "http_version": "1.1",
            "method": method.upper(),
            "scheme": self.scheme,
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "root_path": "",
            "query_string": parts.query.encode("latin-1"),
            "headers": raw_headers,
            "client": ("testclient", 50000),
            "server": (self.host, self.port),
            "state": dict(self.state),
        }

    async def _start(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[_Exchange, asyncio.Task[None]]:
        loop = asyncio.get_running_loop()
        exchange = _Exchange(body=body, started=loop.create_future())
        scope = self._scope(method, target, headers)

        async def run() -> None:
            try:
                await self.app(scope, exchange.receive, exchange.send)
            finally:
                exchange.chunks.put_nowait(None)
                exchange.complete.set()

        task = loop.create_task(run(), name=f"fastapi-live test {method} {target}")
        started: asyncio.Future[Any] = exchange.started
        await asyncio.wait({started, task}, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            # The app returned or raised before it started a response.
            exception = task.exception()
            if exception is not None:
                raise exception
            raise LiveTestError(f"{method} {target}: the app returned without sending a response\nExpected: an http.response.start message\nGot: none")
        return exchange, task

    async def request(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> ClientResponse:
        """Send one request and read its whole response; exceptions in the app propagate."""
        stream = await self.stream(method, target, headers, body)
        content = await stream.read()
        await stream._task  # re-raises what the app raised after responding, as a server error would show
        return ClientResponse(stream.status_code, stream.headers, content)

    async def stream(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> ResponseStream:
        """Send one request and return as soon as its response starts."""
        exchange, task = await self._start(method, target, headers, body)
        status, response_headers = exchange.started.result()
        return ResponseStream(status, response_headers, exchange, task)

    # -- lifespan ------------------------------------------------------------------------------
    async def startup(self) -> None:
        """Run the app's lifespan startup, as a server does before the first request."""
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}

        async def run() -> None:
            await self.app(scope, self._lifespan_in.get, self._lifespan_out.put)

        self._lifespan = asyncio.get_running_loop().create_task(run(), name="fastapi-live test lifespan")
        await self._lifespan_in.put({"type": "lifespan.startup"})
        message = await self._lifespan_message(self._lifespan)
        if message is not None and message["type"] == "lifespan.startup.failed":
            raise LiveTestError(f"the app's lifespan startup failed\nExpected: lifespan.startup.complete\nGot: {message.get('message', '')!r}")

    async def shutdown(self) -> None:
        """Run the app's lifespan shutdown."""
        if self._lifespan is None:
            return
        task, self._lifespan = self._lifespan, None
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        message = await self._lifespan_message(task)
        if message is not None and message["type"] == "lifespan.shutdown.failed":
            raise LiveTestError(f"the app's lifespan shutdown failed\nExpected: lifespan.shutdown.complete\nGot: {message.get('message', '')!r}")

    async def _lifespan_message(self, task: asyncio.Task[None]) -> Message | None:
        getter = asyncio.ensure_future(self._lifespan_out.get())
        await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        exception = task.exception()
        if exception is not None:
            raise exception
        return None  # the app does not support the lifespan protocol
