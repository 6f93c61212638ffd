"""A cheap WebSocket client (RFC 6455) over an asyncio protocol, for driving pyview.

Like ``wire``, it parses frames as bytes arrive and timestamps them in ``data_received``, so
the bench process spends little CPU per message. By default no extension is offered and the
server sends uncompressed frames; ``deflate=True`` offers permessage-deflate (RFC 7692) as
browsers do, inflates what the server compresses and sends its own frames uncompressed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

from .wire import HttpError

MessageCallback = Callable[[bytes, float], None]
"""Called with (one text or binary message's payload, perf_counter when its last bytes arrived)."""

_TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def _mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (clients must mask; RFC 6455 §5.3)."""
    key = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return head + key + _mask(payload, key)


class WebSocket(asyncio.Protocol):
    """One client WebSocket: ``handshake``, then ``send_text``; every message goes to ``on_message``."""

    def __init__(self, host: str, port: int, on_message: MessageCallback | None = None, *, deflate: bool = False) -> None:
        self.host, self.port = host, port
        self.on_message = on_message
        self.deflate = deflate
        self._inflate: Any = None  # a zlib decompressor once the server accepted permessage-deflate
        self._compressed = False
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._upgraded: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._fragments = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.bytes_received = 0

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._upgraded.done():
            self._upgraded.set_exception(HttpError(f"connection closed during the WebSocket handshake ({exc!r})"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.bytes_received += len(data)
        self._buffer += data
        if not self._upgraded.done():
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            status = head.split(b" ", 2)[1] if head.count(b" ") >= 1 else b"?"
            if status != b"101":
                self._upgraded.set_exception(HttpError(f"WebSocket handshake answered {status.decode(errors='replace')}: {head[:200]!r}"))
                return
            if self.deflate and b"permessage-deflate" in head.lower():
                self._inflate = zlib.decompressobj(wbits=-15)
            self._upgraded.set_result(now)
        self._frames(now)

    # -- frames ----------------------------------------------------------------------------
    def _frames(self, now: float) -> None:
        buffer = self._buffer
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            size = second & 0x7F
            offset = 2
            if size == 126:
                if len(buffer) < 4:
                    return
                size = struct.unpack_from("!H", buffer, 2)[0]
                offset = 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                size = struct.unpack_from("!Q", buffer, 2)[0]
                offset = 10
            if second & 0x80:  # servers never mask; a masked frame is a broken peer
                raise HttpError("the server sent a masked WebSocket frame")
            if len(buffer) < offset + size:
                return
            payload = bytes(buffer[offset : offset + size])
            del buffer[: offset + size]
            opcode, final = first & 0x0F, bool(first & 0x80)
            if opcode == _PING:
                self._send(_PONG, payload)
            elif opcode == _CLOSE:
                self._send(_CLOSE, payload[:2])
                if self.transport is not None:
                    self.transport.close()
                return
            elif opcode in (_TEXT, _BINARY, 0x0):
                if opcode != 0x0:
                    self._compressed = bool(first & 0x40)  # RSV1 on a message's first frame
                if not final:
                    self._fragments += payload
                    continue
                if self._fragments:
                    payload = bytes(self._fragments) + payload
                    self._fragments.clear()
                if self._compressed:
                    if self._inflate is None:
                        raise HttpError("a compressed frame without permessage-deflate")
                    payload = self._inflate.decompress(payload + b"\x00\x00\xff\xff")
                if self.on_message is not None:
                    self.on_message(payload, now)

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise HttpError("the WebSocket is closed")
        self.transport.write(encode_frame(opcode, payload))

    # -- API -------------------------------------------------------------------------------
    async def handshake(self, path: str, timeout: float) -> float:
        if self.transport is None:
            raise HttpError("not connected")
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{self.host}:{self.port}\r\n"
            + ("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.deflate else "")
            + "\r\n"
        )
        self.transport.write(request.encode())
        return await asyncio.wait_for(asyncio.shield(self._upgraded), timeout)

    def send_text(self, text: str) -> float:
        """Send one text message; returns perf_counter just before it was written."""
        sent_at = time.perf_counter()
        self._send(_TEXT, text.encode())
        return sent_at

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(_CLOSE, struct.pack("!H", 1000)))
            self.transport.close()


async def connect(host: str, port: int, path: str, on_message: MessageCallback | None = None, *, timeout: float = 20.0, deflate: bool = False) -> WebSocket:
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(loop.create_connection(lambda: WebSocket(host, port, on_message, deflate=deflate), host, port), timeout)
    try:
        await protocol.handshake(path, timeout)
    except BaseException:
        protocol.close()
        raise
    return protocol
