"""SSE framing and request-header parsing: a pure codec with no I/O."""

from __future__ import annotations

import re

from .exceptions import LiveError

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FIELD_FORBIDDEN = re.compile(r"[\r\n\0]")

TOKEN_HEADER = "x-live-token"
EVENT_HEADER = "x-live-event"
REPLY_HEADER = "x-live-reply"


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
