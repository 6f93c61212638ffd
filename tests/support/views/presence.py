"""A room page that tracks its visitor and keeps the room's presence list from the diffs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, LiveView, PresenceDiff, event
from fastapi_live.pubsub import PubSub
from fastapi_live.pubsub.memory import MemoryPubSub

HERE = Path(__file__).resolve().parent


def room_topic(name: str) -> str:
    return f"room:{name}"


class Room(LiveView):
    diffs: list[PresenceDiff]

    async def mount(self, socket: LiveSocket, name: str, user: str = "", mood: str = "calm") -> None:
        self.diffs = []
        topic = room_topic(name)
        socket.assign(topic=topic, user=user, presences={})
        await socket.subscribe(topic)
        if user:
            await socket.track(topic, user, {"name": user.title(), "mood": mood})
        socket.assign(presences=await self.list_presence(topic))

    @event("mood")
    async def mood(self, socket: LiveSocket, mood: str) -> None:
        await socket.update_presence(socket.assigns.topic, socket.assigns.user, {"name": socket.assigns.user.title(), "mood": mood})

    @event("leave")
    async def leave(self, socket: LiveSocket) -> None:
        await socket.untrack(socket.assigns.topic, socket.assigns.user)

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        if isinstance(message, PresenceDiff):
            self.diffs.append(message)
            socket.update("presences", message.apply)

    async def list_presence(self, topic: str) -> dict[str, list[dict[str, Any]]]:
        raise NotImplementedError  # the page made by make_app asks its router


def make_app(pubsub: PubSub | None = None, *, grace: float | None = None) -> tuple[FastAPI, LiveRouter]:
    templates = Jinja2Templates(directory=HERE.parent / "templates")
    live = LiveRouter(templates=templates, secret_key="test-secret", pubsub=pubsub or MemoryPubSub())
    if grace is not None:
        live.presence.grace = grace

    @live.page("/room/{name}", template="room.html")
    class RoomPage(Room):
        async def list_presence(self, topic: str) -> dict[str, list[dict[str, Any]]]:
            return await live.presence.list(topic)

    app = FastAPI()
    app.include_router(live)
    return app, live
