"""Sessions without HTTP: a page template from strings and a ``LiveSession`` run in the test's loop.

Mirrors what ``LiveRouter`` does for a page request (mount, first render, open), so unit
tests of the session actor, streams and rendering can drive a session directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from jinja2 import DictLoader, Environment

from fastapi_live.config import SessionConfig
from fastapi_live.connection import Connection
from fastapi_live.helpers import TemplateHelpers
from fastapi_live.manager import SessionManager
from fastapi_live.patches import Patcher, root_open
from fastapi_live.pubsub.memory import MemoryPubSub
from fastapi_live.rendering import LiveExtension, PageTemplate
from fastapi_live.session import LiveSession, Mounted
from fastapi_live.testing._sse import SSEDecoder
from fastapi_live.view import LiveView


def environment(templates: Mapping[str, str]) -> Environment:
    """A Jinja2 environment with the live tags, loading ``templates`` by name."""
    return Environment(loader=DictLoader(dict(templates)), extensions=[LiveExtension], autoescape=True)


def page_template(templates: Mapping[str, str] | str, name: str = "page.html") -> PageTemplate:
    """Analyse a page; a plain string is the page itself, named ``page.html``."""
    if isinstance(templates, str):
        templates = {name: templates}
    return PageTemplate(environment(templates), name)


def parse_frame(frame: bytes) -> dict[str, Any]:
    """One encoded SSE message, read by the toolkit's SSE parser, as {"id", "event", "retry", "data"}
    (each None when absent; ``retry`` as its text, as it is on the wire)."""
    messages = SSEDecoder().feed(frame)
    if not messages:  # a comment (heartbeat): no message
        return {"id": None, "event": None, "retry": None, "data": None}
    if len(messages) > 1:
        raise AssertionError(f"one frame held {len(messages)} SSE messages: {frame!r}")
    (message,) = messages
    retry = None if message.retry is None else str(message.retry)
    return {"id": message.id, "event": message.event or None, "retry": retry, "data": message.data}


class FrameReader:
    """Pumps a connection's frames into a queue so a test can wait for them with a timeout."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []
        self._pump = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            async for frame in self.connection.frames():
                await self.queue.put(frame)
        finally:
            await self.queue.put(None)

    async def next(self, timeout: float = 2.0) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.queue.get(), timeout)
        if frame is None:
            raise EOFError("the connection closed")
        message = parse_frame(frame)
        self.seen.append(message)
        return message

    async def next_with(self, needle: str, timeout: float = 2.0) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                message = await self.next(timeout)
                if needle in (message["data"] or ""):
                    return message

        return await asyncio.wait_for(find(), timeout)

    async def close(self) -> None:
        self._pump.cancel()
        try:
            await self._pump
        except asyncio.CancelledError:
            pass


class Harness:
    """One session on ``page`` for ``view``, opened as a page request would open it."""

    def __init__(self, view: LiveView, page: PageTemplate, config: SessionConfig | None = None) -> None:
        self.manager = SessionManager(config or SessionConfig(), MemoryPubSub())
        self.helpers = TemplateHelpers("/_live/event", "/_live/static")
        root = root_open(page, "/_live/stream", "/_live/event", type(view).__name__, "page-token")
        self.session = LiveSession(
            self.manager,
            session_id="session-1",
            view=view,
            patcher=Patcher(page, self.helpers, root),
            token="page-token",
            browser_id="browser-1",
            url="/page",
        )
        self.readers: list[FrameReader] = []
        self.html = ""

    @property
    def socket(self) -> Any:
        return self.session.socket

    async def start(self, **mount_kwargs: Any) -> str:
        """Mount, render the page and open the mailbox; returns the page's HTML."""
        view = self.session.view
        outcome = await self.session.mount([], lambda socket: view.mount(socket, **mount_kwargs))
        assert isinstance(outcome, Mounted), outcome
        self.html = outcome.html
        return self.html

    def attach(self, last_event_id: int | None = None) -> FrameReader:
        reader = FrameReader(self.session.attach(last_event_id))
        self.readers.append(reader)
        return reader

    async def stop(self) -> None:
        await self.manager.close_all()
        for reader in self.readers:
            await reader.close()

    async def __aenter__(self) -> Harness:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
