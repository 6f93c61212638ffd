"""SSE over real HTTP for integration tests (read by the toolkit's parser), and page-token extraction."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from fastapi_live.testing._sse import SSEMessage, read_messages

TOKEN_RE = re.compile(r'data-live-token="([^"]+)"')


def token_of(html: str) -> str:
    match = TOKEN_RE.search(html)
    if match is None:
        raise AssertionError("no data-live-token in the page")
    return match.group(1)


class SSEReader:
    """Reads SSE messages from a streaming httpx response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._messages = read_messages(response.aiter_bytes())

    async def next(self, timeout: float = 5.0) -> SSEMessage:
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> SSEMessage:
        try:
            return await anext(self._messages)
        except StopAsyncIteration:
            raise EOFError("stream ended") from None

    async def next_with(self, needle: str, timeout: float = 5.0) -> SSEMessage:
        """The next message whose data contains ``needle``."""

        async def find() -> SSEMessage:
            while True:
                message = await self._next()
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
