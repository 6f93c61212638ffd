"""A session's topics: the PubSub topics it hears, the identity it joined, the presence it shows.

Everything here ends with the session (``close``): subscriptions dropped, presence left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from .exceptions import LiveError
from .identity import DISCONNECT, IDENTITY_TOPIC, identity_topic
from .logs import oneline
from .presence import Presence
from .pubsub import PubSub

log = logging.getLogger("fastapi_live")


class SessionTopics:
    """One session's subscriptions and presence entries (``types.Topics``, as the socket sees them).

    ``on_message`` hears every message of a subscribed topic; ``on_disconnect`` runs when the
    identity the session joined is disconnected (``LiveRouter.disconnect``).
    """

    __slots__ = ("_label", "_on_disconnect", "_on_message", "_presence", "_pubsub", "_removers", "closed", "owner")

    def __init__(
        self,
        pubsub: PubSub,
        presence: Presence,
        owner: str,
        *,
        label: str,
        on_message: Callable[[Any], None],
        on_disconnect: Callable[[], None],
    ) -> None:
        self._pubsub = pubsub
        self._presence = presence
        self.owner = owner  # the session's id: its presence entries' owner
        self._label = label
        self._on_message = on_message
        self._on_disconnect = on_disconnect
        self._removers: dict[str, Callable[[], None]] = {}
        self.closed = False

    async def subscribe(self, topic: str) -> None:
        if topic not in self._removers and not self.closed:
            self._removers[topic] = await self._pubsub.subscribe(topic, self._heard)

    async def unsubscribe(self, topic: str) -> None:
        remove = self._removers.pop(topic, None)
        if remove is not None:
            remove()

    def _heard(self, topic: str, message: Any) -> None:
        self._on_message(message)

    async def identify(self, identity: str) -> None:
        topic = identity_topic(identity)
        if topic not in self._removers and not self.closed:
            self._removers[topic] = await self._pubsub.subscribe(topic, self._identity_heard)

    def _identity_heard(self, topic: str, message: Any) -> None:
        if message != DISCONNECT or self.closed:
            return
        log.info("%s: session %s disconnected with its identity %s", self._label, self.owner, oneline(topic[len(IDENTITY_TOPIC) :]))
        self._on_disconnect()

    async def track(self, topic: str, key: str, meta: Mapping[str, Any]) -> str:
        if self.closed:
            raise LiveError(f"cannot track {topic!r}: the live session is closed")
        return await self._presence.track(self.owner, topic, key, meta)

    async def untrack(self, topic: str, key: str) -> None:
        await self._presence.untrack(self.owner, topic, key)

    async def update_presence(self, topic: str, key: str, meta: Mapping[str, Any]) -> str:
        return await self._presence.update(self.owner, topic, key, meta)

    def watched(self, watched: bool) -> None:
        """A stream attached (the page is seen) or detached: presence shows or hides at once."""
        if watched:
            self._presence.resume(self.owner)
        else:
            self._presence.pause(self.owner)  # a closed tab leaves at once, not after the grace

    def close(self) -> None:
        self.closed = True
        for remove in self._removers.values():
            remove()
        self._removers.clear()
        self._presence.forget(self.owner)
