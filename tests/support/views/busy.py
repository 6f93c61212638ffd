"""A counter whose ``handle_info`` does 2 ms of work that never waits, and endpoints to flood it.

Served in a process of its own (``uvicorn tests.support.views.busy:app``), so the work it does
competes with nothing in the test process. ``BUSY_MAILBOX_LIMIT`` sets the mailbox limit.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, SessionConfig
from fastapi_live.pubsub.memory import MemoryPubSub

from .counter import TEMPLATES, Counter


class Busy(Counter):
    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        until = time.perf_counter() + 0.002
        while time.perf_counter() < until:
            pass
        socket.update("count", lambda n: n + 1)


def create_app(config: SessionConfig | None = None) -> FastAPI:
    limit = int(os.environ.get("BUSY_MAILBOX_LIMIT", "10000"))
    live = LiveRouter(
        templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub(), config=config or SessionConfig(mailbox_limit=limit)
    )
    live.page("/counter", template="counter.html")(Busy)
    app = FastAPI()
    app.include_router(live)

    @app.post("/flood")
    async def flood(n: int) -> dict[str, int]:
        # Posted on the server's own loop, all at once: as a broadcast or a burst of publishes does.
        for session in list(live.manager.sessions.values()):
            for i in range(n):
                session.send_info(i)
        return {"queued": n}

    @app.get("/ping")
    async def ping() -> dict[str, int]:
        sessions = list(live.manager.sessions.values())
        return {"sessions": len(sessions), "still_queued": sum(len(session.mailbox) for session in sessions)}

    return app


app = create_app()
