"""A small SSE reader over httpx for integration tests, and page-token extraction."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

TOKEN_RE = re.compile(r'data-live-token="([^"]+)"')


def token_of(html: str) -> str:
    match = TOKEN_RE.search(html)
    if match is None:
        raise AssertionError("no data-live-token in the page")
    return match.group(1)


@dataclass
class Message:
    data: str = ""
    event: str = ""
    id: str | None = None
    retry: int | None = None
    comment: bool = False
    fields: list[str] = field(default_factory=list)


class SSEReader:
    """Reads SSE messages from a streaming httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, timeout: float = 5.0, *, skip_comments: bool = True) -> Message:
        return await asyncio.wait_for(self._next(skip_comments), timeout)

    async def _next(self, skip_comments: bool) -> Message:
        message = Message()
        data_lines: list[str] = []
        async for line in self._lines:
            if line == "":
                if data_lines or message.id is not None or message.event:
                    message.data = "\n".join(data_lines)
                    return message
                if message.comment and not skip_comments:
                    return message
                message = Message()
                continue
            if line.startswith(":"):
                message.comment = True
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            message.fields.append(name)
            if name == "data":
                data_lines.append(value)
            elif name == "id":
                message.id = value
            elif name == "event":
                message.event = value
            elif name == "retry":
                message.retry = int(value)
        raise EOFError("stream ended")

    async def next_with(self, needle: str, timeout: float = 5.0) -> Message:
        """The next message whose data contains ``needle``."""

        async def find() -> Message:
            while True:
                message = await self._next(True)
                if needle in message.data:
                    return message

        return await asyncio.wait_for(find(), timeout)


async def open_page(client: httpx.AsyncClient, path: str) -> tuple[str, str]:
    response = await client.get(path)
    response.raise_for_status()
    return response.text, token_of(response.text)


def headers(token: str, event: str | None = None, **extra: Any) -> dict[str, str]:
    result = {"X-Live-Token": token, "HX-Request": "true", **{k: str(v) for k, v in extra.items()}}
    if event is not None:
        result["X-Live-Event"] = event
    return result
