"""A live page opened over real HTTP: its first HTML, its SSE stream and its events."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from fastapi_live.testing._sse import SSEMessage
from tests.support.sse import SSEReader, headers, open_page

# A region whole names its target; a text patch is its region's id (its content: one text node's text).
_PARTIAL = re.compile(r'<hx-partial (?:hx-target="#([^"]+)"|id="([^"]+)") hx-swap="([^"]*)">(.*?)</hx-partial>', re.S)


def partials(data: str) -> list[tuple[str, str, str]]:
    """The (target id, swap, content) of every ``<hx-partial>`` in a message or reply."""
    return [(target or own_id, swap, content) for target, own_id, swap, content in _PARTIAL.findall(data)]


@dataclass
class LivePage:
    client: httpx.AsyncClient
    html: str
    token: str
    reader: SSEReader
    messages: list[SSEMessage]

    async def event(self, name: str, **params: Any) -> httpx.Response:
        """POST an event as htmx does (form-encoded); returns the response (its body is the patch)."""
        data = {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in params.items()}
        return await self.client.post("/_live/event", data=data, headers=headers(self.token, name))

    async def until(self, needle: str, timeout: float = 5.0) -> list[SSEMessage]:
        """Every message up to and including the first whose data holds ``needle``."""
        seen: list[SSEMessage] = []
        while True:
            message = await self.reader.next(timeout)
            self.messages.append(message)
            seen.append(message)
            if needle in message.data:
                return seen

    async def next_with(self, needle: str, timeout: float = 5.0) -> SSEMessage:
        return (await self.until(needle, timeout))[-1]


@asynccontextmanager
async def live_page(url: str, path: str) -> AsyncIterator[LivePage]:
    """Load ``path``, attach its stream (past the first, empty message) and yield the page."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        html, token = await open_page(client, path)
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as response:
            assert response.status_code == 200, response.status_code
            reader = SSEReader(response)
            hello = await reader.next()
            assert hello.data == "" and hello.retry is not None
            yield LivePage(client, html, token, reader, [])
