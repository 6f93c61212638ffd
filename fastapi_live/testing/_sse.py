"""The one Server-Sent Events parser of the repository: bytes in, messages out, as EventSource reads them.

The toolkit reads its live streams with it; so do the integration tests (over real HTTP) and
the benchmarks, so all three read a stream exactly as the WHATWG "event stream
interpretation" says a browser does.
"""

# The spec, in short: UTF-8 with one optional leading BOM; lines end in CRLF, LF or CR; a
# line starting with ":" is a comment; "name: value" drops one space after the colon; a
# blank line dispatches the message if any data line came, and otherwise only resets the
# message. The last event id outlives its message; an "id" holding NUL is ignored, and so
# is a "retry" that is not all ASCII digits.

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """One dispatched message.

    ``event`` is ``""`` for an unnamed message (EventSource dispatches it as ``message``);
    ``id`` is the stream's last event id when it was dispatched (``None`` before any);
    ``retry`` is the retry field that came with it; ``fields`` names its fields in order.
    """

    data: str = ""
    event: str = ""
    id: str | None = None
    retry: int | None = None
    fields: tuple[str, ...] = ()


class SSEDecoder:
    """Splits a byte stream fed in arbitrary chunks into messages."""

    __slots__ = ("_after_cr", "_data", "_decoder", "_event", "_fields", "_partial", "_retry", "last_event_id", "retry")

    def __init__(self) -> None:
        # Characters split across chunks wait for their other bytes; a leading BOM is dropped.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._partial = ""
        self._after_cr = False
        self._data: list[str] = []
        self._event = ""
        self._retry: int | None = None
        self._fields: list[str] = []
        self.last_event_id: str | None = None
        """The last event id the stream set (what a reconnect sends as ``Last-Event-ID``)."""
        self.retry: int | None = None
        """The reconnection time the stream set, in milliseconds."""

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        """The messages that ``chunk`` completes."""
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if self._after_cr and text[0] == "\n":
            text = text[1:]  # the LF of a CRLF split between two chunks
        self._after_cr = text.endswith("\r")
        lines = _LINE_BREAK.split(text)
        if len(lines) == 1:
            self._partial += text
            return []
        lines[0] = self._partial + lines[0]
        self._partial = lines.pop()  # the text after the last line break: not a line yet
        messages: list[SSEMessage] = []
        for line in lines:
            if not line:
                if self._data:
                    messages.append(SSEMessage("\n".join(self._data), self._event, self.last_event_id, self._retry, tuple(self._fields)))
                self._data, self._event, self._retry, self._fields = [], "", None, []
                continue
            if line[0] == ":":
                continue
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            self._fields.append(name)
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\0" not in value:
                    self.last_event_id = value
            elif name == "retry" and value.isascii() and value.isdigit():
                self._retry = self.retry = int(value)
        return messages


async def read_messages(chunks: AsyncIterable[bytes]) -> AsyncIterator[SSEMessage]:
    """Every message of a byte stream, e.g. ``read_messages(response.aiter_bytes())``."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for message in decoder.feed(chunk):
            yield message
