"""A self-contained notification widget: its own state, events and PubSub subscription.

The seed's attach_hook pattern: an on_mount hook subscribes to the user's topic and
attaches a ``handle_info`` hook for new notifications and a ``handle_event`` hook for
dismissals. A page gets the widget from its hook list and one include
(``{% include "notifications.html" %}``); the page's view has no code for it.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Depends
from pydantic import BaseModel

from fastapi_live import CONT, HALT, LiveHook, LiveSocket

from .auth import User, current_user


class NewNotification(BaseModel):
    id: str
    message: str


def new_notification(message: str) -> NewNotification:
    # A random id, not a counter: with several workers (``make run-cluster``), machines or
    # restarts, a per-process counter hands out the same id twice and one Dismiss removes
    # both. The id is used in a DOM id (``notification-<id>``) and an event param, so it
    # keeps to letters and digits.
    return NewNotification(id=f"n{uuid.uuid4().hex}", message=message)


def topic_for(user_id: str) -> str:
    return f"notifications:{user_id}"


class NotificationWidget(LiveHook):
    async def on_mount(self, socket: LiveSocket, user: User | None = Depends(current_user)) -> Any:
        if user is not None and socket.connected:
            await socket.subscribe(topic_for(user.id))
        socket.assign(notifications=[], notification_count=0)
        socket.attach_hook("notification_handler", "handle_info", self.on_info)
        socket.attach_hook("notification_events", "handle_event", self.on_event)
        return CONT

    async def on_info(self, message: Any, socket: LiveSocket) -> Any:
        if not isinstance(message, NewNotification):
            return CONT
        socket.update("notifications", lambda notifications: [message, *notifications])
        socket.update("notification_count", lambda n: n + 1)
        return HALT

    async def on_event(self, event: str, params: dict[str, Any], socket: LiveSocket) -> Any:
        if event != "dismiss-notification":
            return CONT
        dismissed = str(params.get("id", ""))
        before = socket.assigns.notifications
        after = [n for n in before if n.id != dismissed]
        socket.assign(notifications=after)
        socket.update("notification_count", lambda n: max(n - (len(before) - len(after)), 0))
        return HALT
