"""The HTTP side of the wire as a pure codec: SSE framing, and parsing of event requests.

No I/O and no web framework: the router hands in header values, the body's chunks and the
scope's headers, and gets back frames, params and reasons.
"""

from __future__ import annotations

import functools
import json
import re
import struct
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import ClientDisconnect

from .exceptions import EventError, LiveError

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FIELD_FORBIDDEN = re.compile(r"[\r\n\0]")

MAX_EVENT_BODY = 1_000_000
MAX_EVENT_NAME = 200
MAX_PARAMS = 1_000
MAX_JSON_DEPTH = 64


def encode_message(data: str, *, event_id: str | None = None, event: str | None = None, retry: int | None = None) -> bytes:
    """One SSE message. ``event`` and ``event_id`` may not contain line breaks or NUL."""
    lines: list[str] = []
    if event is not None:
        _check_field("event", event)
        lines.append(f"event: {event}")
    if event_id is not None:
        _check_field("id", event_id)
        lines.append(f"id: {event_id}")
    if retry is not None:
        if not isinstance(retry, int) or retry < 0:
            raise LiveError(f"SSE retry must be a non-negative int of milliseconds, got {retry!r}")
        lines.append(f"retry: {retry}")
    # One "data:" line per line of ``data``; SSE ends a line at CR, LF or CRLF.
    body = "data: " + (data.replace("\r\n", "\n").replace("\r", "\n") if "\r" in data else data).replace("\n", "\ndata: ")
    if lines:
        return ("\n".join(lines) + "\n" + body + "\n\n").encode()
    return (body + "\n\n").encode()


def encode_comment(text: str = "") -> bytes:
    """An SSE comment line: ignored by clients, keeps proxies from closing idle streams."""
    return (": " + _LINE_BREAK.sub(" ", text) + "\n\n").encode()


# -- compression of a stream ----------------------------------------------------------------------
GZIP_HISTORY = 1024
"""Bytes of a stream's latest text each message is compressed against: what a change repeats
of the messages before it (its tags, its region) costs a few bytes."""
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, no mtime, OS unknown
_GZIP_LAST_BLOCK = b"\x03\x00"  # an empty final block (fixed Huffman codes: its end code only)


@functools.lru_cache(maxsize=64)  # browsers send one of a few Accept-Encoding values
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value takes ``gzip`` (named, or ``*``, with a q above 0)."""
    if not accept_encoding:
        return False
    star = False
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding == "*":
            star = quality > 0
        else:
            return quality > 0
    return star


class GzipStream:
    """One response body as a gzip stream written a piece at a time, each piece flushed.

    A stream's messages are small and alike, so each is compressed against the stream's latest
    ``GZIP_HISTORY`` bytes: a repeated fragment costs a few bytes. Between messages only those
    bytes and the checksum are kept — no compressor: each message gets a short-lived one, primed
    with the history (raw deflate blocks, each ended by a sync flush, chain into one valid
    deflate stream, and the decoder's window holds what the history held). An idle stream
    holds no zlib state.
    """

    __slots__ = ("_crc", "_history", "_size", "_started")

    def __init__(self) -> None:
        self._history = b""
        self._crc = 0
        self._size = 0
        self._started = False

    def encode(self, data: bytes) -> bytes:
        """``data`` compressed, flushed to a byte boundary: the reader can inflate all of it now."""
        head = b""
        if not self._started:
            self._started = True
            head = _GZIP_HEADER
        if not data:
            return head
        if self._history:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -10, 2, zlib.Z_DEFAULT_STRATEGY, self._history)
        else:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -10, 2)
        body = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        self._history = (self._history + data)[-GZIP_HISTORY:]
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        return head + body

    def finish(self) -> bytes:
        """The end of the stream: its last block and the gzip trailer (checksum and length)."""
        head = b"" if self._started else _GZIP_HEADER
        self._started = True
        self._history = b""
        return head + _GZIP_LAST_BLOCK + struct.pack("<II", self._crc, self._size & 0xFFFFFFFF)


def _check_field(name: str, value: str) -> None:
    if _FIELD_FORBIDDEN.search(value):
        raise LiveError(f"SSE {name} may not contain a line break or NUL, got {value!r}")


def parse_last_event_id(raw: str | None) -> int | None:
    """The frame number in a ``Last-Event-ID`` header, or None when absent or malformed."""
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        return None
    return int(raw)


def header_dict(raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers as a plain dict of lower-case names; the first value of a name wins."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(list(raw_headers))}


@functools.lru_cache(maxsize=256)  # a browser sends the same Origin with every event
def normal_origin(value: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) origin, lower case and without its default port;
    None when ``value`` is no such origin (a path, a query or a fragment make it none)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host or parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    default = 80 if scheme == "http" else 443
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def cross_site(headers: dict[str, str], scheme: str, allowed_origins: frozenset[str] | None = None) -> str | None:
    """Why a request comes from another site, or None.

    With ``allowed_origins``, an ``Origin`` header must be one of them. Without, it must be the
    request's own origin (its ``scheme`` and ``Host``). A request without ``Origin`` is judged
    by ``Sec-Fetch-Site``; one with neither is no browser's (the page token still guards it).
    """
    origin = headers.get("origin")
    if origin is not None and allowed_origins is not None:
        if normal_origin(origin) in allowed_origins:
            return None
        return f"Origin {origin!r} is not one of the allowed origins"
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return f"Sec-Fetch-Site is {fetch_site!r}"
    if origin is None:
        return None
    if origin == "null":
        return "Origin is 'null'"
    own = normal_origin(f"{scheme}://{headers.get('host', '')}")
    if own is None or normal_origin(origin) != own:
        return f"Origin {origin!r} does not match this request's origin {own!r}"
    return None


def event_name(raw: str | None, header: str) -> str:
    """The event name an event request carries in ``header``; ``EventError`` when unusable."""
    if not raw or len(raw) > MAX_EVENT_NAME:
        raise EventError(f"missing or invalid {header} header: expected an event name of 1 to {MAX_EVENT_NAME} characters")
    return raw


async def read_body(receive: Callable[[], Awaitable[Mapping[str, Any]]], declared_length: str | None) -> bytes:
    """An event's body, read from its request's ASGI ``receive``; refused (413) past
    ``MAX_EVENT_BODY`` before or while it is read, and ``ClientDisconnect`` if the client left."""
    if declared_length is not None and (not declared_length.isdigit() or int(declared_length) > MAX_EVENT_BODY):
        raise _too_large()
    raw = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise ClientDisconnect()
        raw += bytes(message.get("body", b""))
        if len(raw) > MAX_EVENT_BODY:
            raise _too_large()
        if not message.get("more_body", False):
            return raw


def _too_large() -> EventError:
    return EventError(f"event body too large: at most {MAX_EVENT_BODY} bytes", status_code=413)


def parse_params(raw: bytes, content_type: str) -> dict[str, Any]:
    """An event's params from its body: a form (repeated names become lists) or a JSON object."""
    if not raw:
        return {}
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        params = _json_params(raw)
    elif kind in ("application/x-www-form-urlencoded", ""):
        params = _form_params(raw)
    else:
        raise EventError(
            f"unsupported event body type {kind!r}\nExpected one of: application/x-www-form-urlencoded, application/json",
            status_code=415,
        )
    if len(params) > MAX_PARAMS:
        raise EventError(f"too many event params: at most {MAX_PARAMS}", status_code=413)
    return params


def _json_params(raw: bytes) -> dict[str, Any]:
    too_deep = EventError(f"malformed JSON event body: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(raw)
    except RecursionError:  # the decoder recurses once per level: thousands of them exhaust the stack
        raise too_deep from None
    except ValueError as exc:
        raise EventError(f"malformed JSON event body: {exc}") from None
    if not isinstance(data, dict):
        raise EventError(f"event params must be a JSON object, got {type(data).__name__}")
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        # What parsed may still be too deep for what reads it next (validation, repr in logs).
        raise too_deep
    return data


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` levels deep (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _form_params(raw: bytes) -> dict[str, Any]:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_PARAMS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EventError(f"malformed form event body: {exc}") from None
    params: dict[str, Any] = {}
    for key, value in pairs:
        if key in params:
            existing = params[key]
            params[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            params[key] = value
    return params
