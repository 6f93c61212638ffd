"""Network faults for browser tests: cut live streams, refuse reconnects for a while."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi_live import LiveRouter


class OutageSwitch:
    """ASGI middleware: ``cut()`` ends every open stream; while ``down``, streams get 503."""

    def __init__(self, app: Any, live: LiveRouter) -> None:
        self.app = app
        self.live = live
        self.down = False
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.loop = asyncio.get_running_loop()
            if self.down and scope["path"] == self.live.stream_url:
                await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"down for a test"})
                return
        await self.app(scope, receive, send)

    def cut(self) -> None:
        """End every open stream, as a network blip would (the session stays)."""
        assert self.loop is not None, "no request reached the app yet"
        done = asyncio.run_coroutine_threadsafe(self._cut(), self.loop)
        done.result(timeout=5)

    async def _cut(self) -> None:
        for connection in list(self.live.manager.connections):
            connection.close()

    def attached_sessions(self) -> int:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(self._attached(), self.loop).result(timeout=5)

    async def _attached(self) -> int:
        return sum(1 for session in self.live.manager.sessions.values() if session.attached)
