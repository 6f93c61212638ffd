"""The soak's server: a counter page whose sessions subscribe to a per-user topic."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastapi import FastAPI
from jinja2 import DictLoader, Environment
from pydantic import BaseModel

from fastapi_live import LiveRouter, LiveSocket, LiveView, SessionConfig, event

PAGE = """{% extends "live/base.html" %}{% block content %}
{% region "count" %}Count: {{ count }}{% endregion %}{% region "note" %}{{ note }}{% endregion %}
<button {{ live.click("inc") }}>+1</button>{% endblock %}"""

grace = float(os.environ.get("SOAK_GRACE", "2"))
live = LiveRouter(
    templates=Environment(loader=DictLoader({"soak.html": PAGE}), autoescape=True),
    secret_key="soak",
    config=SessionConfig(disconnect_grace=grace, connect_timeout=grace + 3, mount_warning_ms=None),
)


@live.page("/soak", template="soak.html")
class Soak(LiveView):
    async def mount(self, socket: LiveSocket, user: str = "anon") -> None:
        await socket.subscribe(f"user:{user}")
        socket.assign(count=0, note="")

    @event("inc")
    async def inc(self, socket: LiveSocket) -> None:
        socket.update("count", lambda n: n + 1)

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        socket.assign(note=f"published {message}")


class Publish(BaseModel):
    user: str


app = FastAPI()
app.include_router(live)


@app.post("/soak/publish")
async def publish(body: Publish) -> dict[str, bool]:
    await live.publish(f"user:{body.user}", "hello")
    return {"ok": True}


@app.get("/soak/stats")
async def stats() -> dict[str, int]:
    return {
        "sessions": len(live.manager.sessions),
        "streams": len(live.manager.connections),
        "tasks": len(asyncio.all_tasks()),
        "listeners": live.pubsub.fanout.listener_count(),  # type: ignore[attr-defined]
    }
