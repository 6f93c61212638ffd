"""Incremental Server-Sent Events parsing: bytes in, messages out, as EventSource reads them."""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(slots=True)
class SSEMessage:
    """One dispatched message: its ``data``, ``event`` name (``""`` when unnamed) and ``id``."""

    data: str = ""
    event: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Splits a byte stream into messages (all three line endings, a leading BOM, comments)."""

    def __init__(self) -> None:
        self._buffer = ""
        # Characters split across chunks wait for their other bytes; a leading BOM is dropped.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._has_fields = False

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        self._buffer += self._decoder.decode(chunk)
        messages: list[SSEMessage] = []
        while True:
            index = self._line_end()
            if index is None:
                break
            end, width = index
            line = self._buffer[:end]
            self._buffer = self._buffer[end + width :]
            message = self._line(line)
            if message is not None:
                messages.append(message)
        return messages

    def _line_end(self) -> tuple[int, int] | None:
        newline = self._buffer.find("\n")
        carriage = self._buffer.find("\r")
        if carriage == -1 or (newline != -1 and newline < carriage):
            return None if newline == -1 else (newline, 1)
        if carriage + 1 == len(self._buffer):
            return None  # a "\r\n" may be split across chunks: wait for the next one
        return carriage, 2 if self._buffer[carriage + 1] == "\n" else 1

    def _line(self, line: str) -> SSEMessage | None:
        if line == "":
            if not self._has_fields:
                return None
            message = SSEMessage("\n".join(self._data), self._event, self._id, self._retry)
            self._data, self._event, self._retry, self._has_fields = [], "", None, False
            return message
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        else:
            return None
        self._has_fields = True
        return None
