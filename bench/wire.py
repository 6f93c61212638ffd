"""A cheap HTTP/1.1 keep-alive client over asyncio protocols, with an SSE stream reader.

The bench process shares two cores with the server, so the client avoids httpx and
StreamReader layers: one ``asyncio.Protocol`` per connection parses responses as bytes
arrive and timestamps them in ``data_received``. Streams are read by the toolkit's SSE
parser, the one the tests use.
"""

from __future__ import annotations

import asyncio
import re
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi_live.testing._sse import SSEDecoder, SSEMessage

_COOKIE = re.compile(rb"(?im)^set-cookie:\s*([^=;\s]+)=([^;\r\n]*)")
TOKEN = re.compile(r'data-live-token="([^"]+)"')

MessageCallback = Callable[[SSEMessage, float], None]
"""Called with (one SSE message, perf_counter when its bytes arrived)."""


class HttpError(Exception):
    """The server answered something the benchmark did not expect, or hung up."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    sent_at: float
    first_byte_at: float
    done_at: float
    raw_head: bytes = b""
    wire_body: bytes = b""
    """The body as it came (gzip-encoded when the server encoded it); ``body`` is it decoded."""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def cookies(self) -> dict[str, str]:
        return {m.group(1).decode(): m.group(2).decode() for m in _COOKIE.finditer(self.raw_head)}


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[Response]
    sent_at: float
    first_byte_at: float = 0.0
    head: bytes | None = None
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None
    chunked: bool = False
    body: bytearray = field(default_factory=bytearray)


class Connection(asyncio.Protocol):
    """One keep-alive connection: ``request`` one at a time, or turn it into an SSE stream."""

    def __init__(self, host: str, port: int) -> None:
        self.host_header = f"Host: {host}:{port}\r\n".encode()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._pending: _Pending | None = None
        self._stream: MessageCallback | None = None
        self._stream_head: asyncio.Future[Response] | None = None
        self._chunk_left = -1  # stream mode: bytes left in the current chunk; -1 = expect a size line
        self._sse = SSEDecoder()
        self._inflate: zlib._Decompress | None = None  # a gzip-encoded stream's decoder
        self.stream_bytes = 0
        """Bytes of SSE received on this connection's stream so far (decoded; the HTTP chunk framing not counted)."""
        self.stream_encoding = "identity"
        """The stream's ``Content-Encoding``."""
        self.stream_wire_bytes = 0
        """Bytes received on this connection's stream after its head: what the wire carried, chunk framing and all."""
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        error = HttpError(f"connection closed by the server ({exc!r})")
        for future in (self._pending.future if self._pending else None, self._stream_head):
            if future is not None and not future.done():
                future.set_exception(error)
        self._pending = None
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if self._stream is not None and self._stream_head is None:
            self._feed_stream(data, now)
            return
        self._buffer += data
        pending = self._pending
        if pending is None:
            return
        if pending.first_byte_at == 0.0:
            pending.first_byte_at = now
        if pending.head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self._parse_head(pending, bytes(self._buffer[: end + 4]))
            del self._buffer[: end + 4]
            if self._stream is not None and pending.status != 200:
                self._stream = None  # an error answer: read it whole, then resolve the stream's head with it
            if self._stream is not None:
                response = Response(pending.status, pending.headers, b"", pending.sent_at, pending.first_byte_at, now, pending.head or b"")
                self.stream_encoding = pending.headers.get("content-encoding", "identity")
                if "gzip" in self.stream_encoding:
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._pending = None
                head, self._stream_head = self._stream_head, None
                if head is not None and not head.done():
                    head.set_result(response)
                if self._buffer:
                    rest = bytes(self._buffer)
                    self._buffer.clear()
                    self._feed_stream(rest, now)
                return
        if self._body_complete(pending):
            self._pending = None
            wire_body = bytes(pending.body)
            body = zlib.decompress(wire_body, 16 + zlib.MAX_WBITS) if "gzip" in pending.headers.get("content-encoding", "") else wire_body
            response = Response(pending.status, pending.headers, body, pending.sent_at, pending.first_byte_at, now, pending.head or b"", wire_body)
            head, self._stream_head = self._stream_head, None
            for future in (pending.future, head):
                if future is not None and not future.done():
                    future.set_result(response)

    # -- parsing ---------------------------------------------------------------------------
    @staticmethod
    def _parse_head(pending: _Pending, head: bytes) -> None:
        pending.head = head
        lines = head.decode("latin-1").split("\r\n")
        pending.status = int(lines[0].split(" ", 2)[1])
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            pending.headers[name.strip().lower()] = value.strip()
        if "content-length" in pending.headers:
            pending.length = int(pending.headers["content-length"])
        pending.chunked = "chunked" in pending.headers.get("transfer-encoding", "").lower()

    def _body_complete(self, pending: _Pending) -> bool:
        if pending.length is not None:
            if len(self._buffer) < pending.length:
                return False
            pending.body += self._buffer[: pending.length]
            del self._buffer[: pending.length]
            return True
        if not pending.chunked:
            return True  # no body (204, 304) — bodies until close are not used here
        while True:
            line_end = self._buffer.find(b"\r\n")
            if line_end < 0:
                return False
            size = int(bytes(self._buffer[:line_end]).split(b";")[0], 16)
            if len(self._buffer) < line_end + 2 + size + 2:
                return False
            pending.body += self._buffer[line_end + 2 : line_end + 2 + size]
            del self._buffer[: line_end + 2 + size + 2]
            if size == 0:
                return True

    def _feed_stream(self, data: bytes, now: float) -> None:
        self.stream_wire_bytes += len(data)
        self._buffer += data
        buffer = self._buffer
        payload = bytearray()
        while buffer:
            if self._chunk_left < 0:
                line_end = buffer.find(b"\r\n")
                if line_end < 0:
                    break
                self._chunk_left = int(bytes(buffer[:line_end]).split(b";")[0], 16) + 2  # with its CRLF
                del buffer[: line_end + 2]
                continue
            take = min(self._chunk_left, len(buffer))
            payload += buffer[:take]
            del buffer[:take]
            self._chunk_left -= take
            if self._chunk_left == 0:
                del payload[-2:]  # the chunk's trailing CRLF
                self._chunk_left = -1
            elif self._chunk_left == 1 and payload.endswith(b"\r"):
                del payload[-1:]  # split CRLF: drop the CR now, the LF is the last byte left
        if not payload:
            return
        if self._inflate is not None:
            payload = bytearray(self._inflate.decompress(bytes(payload)))
        self.stream_bytes += len(payload)
        callback = self._stream
        for message in self._sse.feed(bytes(payload)):
            if callback is not None:
                callback(message, now)

    # -- requests --------------------------------------------------------------------------
    def _encode(self, method: str, path: str, headers: Mapping[str, str] | None, body: bytes) -> bytes:
        lines = [f"{method} {path} HTTP/1.1\r\n".encode(), self.host_header]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}\r\n".encode())
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}\r\n".encode())
        lines.append(b"\r\n")
        lines.append(body)
        return b"".join(lines)

    def send(self, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> asyncio.Future[Response]:
        """Send a request; the future resolves with the whole response."""
        if self._pending is not None or self._stream is not None:
            raise HttpError("one request at a time on a bench connection")
        if self.transport is None or self.transport.is_closing():
            raise HttpError("the connection is closed")
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        data = self._encode(method, path, headers, body)
        self._pending = _Pending(future, time.perf_counter())
        self.transport.write(data)
        return future

    async def request(self, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> Response:
        return await self.send(method, path, headers, body)

    async def open_stream(self, path: str, headers: Mapping[str, str] | None, on_message: MessageCallback | None) -> Response:
        """GET an SSE stream; returns its response head, then feeds ``on_message`` until closed."""
        self._stream_head = asyncio.get_running_loop().create_future()
        head = self._stream_head
        future = self.send("GET", path, {"Accept": "text/event-stream", **(headers or {})})
        self._stream = on_message or (lambda message, now: None)
        future.add_done_callback(_ignore)  # the head resolves ``head`` instead
        response = await head
        if response.status != 200:
            raise HttpError(f"stream {path} answered {response.status}")
        return response

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _ignore(future: asyncio.Future[Response]) -> None:
    if not future.cancelled():
        future.exception()


async def connect(host: str, port: int) -> Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: Connection(host, port), host, port)
    return protocol


def token_of(html: str) -> str:
    match = TOKEN.search(html)
    if match is None:
        raise HttpError("no data-live-token in the page")
    return match.group(1)


def cookie_header(cookies: Mapping[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())
