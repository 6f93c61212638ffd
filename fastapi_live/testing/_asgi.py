"""The toolkit's HTTP layer: an httpx transport serving requests with an ASGI app in-process, streaming, lifespan included."""

# httpx's own ASGITransport collects a whole response before returning it, so it never
# returns from an event stream. Here each request is a task of the running loop; the
# response returns as soon as the app starts it, its body yields each chunk as the app
# sends it, and closing it disconnects the request, as a browser closing the tab does.

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import LiveTestError
from ._httpx import httpx

Message = MutableMapping[str, Any]
ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

_CLOSE_TIMEOUT = 2.0  # seconds an app gets to notice a disconnect before its task is cancelled


@dataclass(slots=True)
class _Exchange:
    """One request in flight: what the app sent so far and how to end it."""

    body: bytes
    started: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]]
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
            headers = [(bytes(name), bytes(value)) for name, value in message.get("headers", [])]
            if not self.started.done():
                self.started.set_result((int(message["status"]), headers))
        elif kind == "http.response.body":
            body = bytes(message.get("body", b""))
            if body:
                self.chunks.put_nowait(body)
            if not message.get("more_body", False):
                self.finish()

    def finish(self) -> None:
        if not self.complete.is_set():
            self.chunks.put_nowait(None)
            self.complete.set()
        # A server closes the request once the response is complete.
        self.disconnect.set()


class _ResponseBody(httpx.AsyncByteStream):
    """A response body still being sent: yields each chunk as the app sends it."""

    def __init__(self, exchange: _Exchange, task: asyncio.Task[None], opened: set[_ResponseBody]) -> None:
        self._exchange = exchange
        self._task = task
        self._opened = opened
        opened.add(self)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._exchange.chunks.get()
            if chunk is None:
                break
            yield chunk
        # What the app raised after its response is the test's news too, as on a server's log.
        await asyncio.wait({self._task})
        if not self._task.cancelled() and (error := self._task.exception()) is not None:
            raise error

    async def aclose(self) -> None:
        """Disconnect, wait for the app to notice, and cancel it if it does not."""
        self._opened.discard(self)
        self._exchange.disconnect.set()
        task = self._task
        if not task.done():
            done, _ = await asyncio.wait({task}, timeout=_CLOSE_TIMEOUT)
            if not done:
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Serves an ``httpx.AsyncClient``'s requests with an ASGI app in the running loop.

    Responses return as soon as the app starts them and stream as it sends; closing one
    disconnects its request. Only ``origin`` is served. ``startup()`` and ``shutdown()``
    run the app's lifespan; its state reaches every request, as under a server.
    """

    def __init__(self, app: Any, origin: str = "http://testserver") -> None:
        self.app: ASGIApp = app
        self.origin = httpx.URL(origin)
        self.state: dict[str, Any] = {}
        self._opened: set[_ResponseBody] = set()
        self._lifespan: asyncio.Task[None] | None = None
        self._lifespan_in: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan_out: asyncio.Queue[Message] = asyncio.Queue()

    def _scope(self, request: httpx.Request) -> dict[str, Any]:
        url = request.url
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},  # what uvicorn announces
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "root_path": "",
            "query_string": url.query,
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "client": ("testclient", 50000),
            "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
            "state": dict(self.state),
        }

    def _check_origin(self, url: httpx.URL) -> None:
        expected = self.origin
        if (url.scheme, url.host, url.port) != (expected.scheme, expected.host, expected.port):
            where = str(expected).rstrip("/")
            raise LiveTestError(
                f"cannot request {str(url)!r}: the test client serves only its app\nExpected: a path, or a URL under {where}\nGot: {str(url)!r}"
            )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._check_origin(request.url)
        body = await request.aread()
        loop = asyncio.get_running_loop()
        exchange = _Exchange(body=body, started=loop.create_future())
        scope = self._scope(request)

        async def run() -> None:
            try:
                await self.app(scope, exchange.receive, exchange.send)
            finally:
                exchange.finish()

        task = loop.create_task(run(), name=f"fastapi-live test {request.method} {request.url.path}")
        started: asyncio.Future[Any] = exchange.started
        try:
            await asyncio.wait({started, task}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the request was abandoned (a timeout): so is the app's work on it
            exchange.disconnect.set()
            task.cancel()
            raise
        if not started.done():
            # The app returned or raised before it started a response.
            exception = None if task.cancelled() else task.exception()
            if exception is not None:
                raise exception
            raise LiveTestError(
                f"{request.method} {request.url.path}: the app returned without sending a response\n"
                "Expected: an http.response.start message\nGot: none"
            )
        status, headers = started.result()
        return httpx.Response(status, headers=headers, stream=_ResponseBody(exchange, task, self._opened), request=request)

    async def aclose(self) -> None:
        """Disconnect every response still open (a stream the test never closed)."""
        for body in list(self._opened):
            await body.aclose()

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
