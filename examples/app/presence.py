"""Who is viewing this page: a self-contained presence widget, like the notification widget.

The on_mount hook tracks the signed-in user on the page's topic (``presence:<path>``, so
``/dashboard/acme`` and ``/dashboard/globex`` are two rooms), subscribes to it, lists who is
there and keeps the list up to date from the ``PresenceDiff`` messages in a ``handle_info``
hook. A page gets the widget from its hook list and one include
(``{% include "presence.html" %}``: ``#presence``, one ``<li>`` per user); the page's view has
no code for it. The list is the same in every worker process: with ``REDIS_URL`` set the
entries live in Redis.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from fastapi_live import CONT, HALT, LiveHook, LiveSocket, Presence, PresenceDiff

from .auth import User, current_user


def topic_for_page(path: str) -> str:
    return f"presence:{path}"


def page_topic(request: Request) -> str:
    """The page's presence topic: a FastAPI dependency (the path, never the query: tabs share a room)."""
    return topic_for_page(request.url.path)


class PresenceWidget(LiveHook):
    """``PresenceWidget(live.presence)`` in a page's (or a ``live.session``'s) on_mount hooks."""

    def __init__(self, presence: Presence) -> None:
        self.presence = presence

    async def on_mount(self, socket: LiveSocket, topic: str = Depends(page_topic), user: User | None = Depends(current_user)) -> Any:
        socket.assign(presence_topic=topic, presences={})
        if socket.connected:
            await socket.subscribe(topic)
            if user is not None:
                await socket.track(topic, user.id, {"name": user.name})
            socket.assign(presences=await self.presence.list(topic))
        socket.attach_hook("presence_diffs", "handle_info", self.on_info)
        return CONT

    async def on_info(self, message: Any, socket: LiveSocket) -> Any:
        if not isinstance(message, PresenceDiff) or message.topic != socket.assigns.presence_topic:
            return CONT
        socket.update("presences", message.apply)
        return HALT
