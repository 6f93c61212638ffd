"""A session's topics: the PubSub topics it hears, the identity it joined, the presence it shows.

Everything here ends with the session (``close``): subscriptions dropped, presence left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .exceptions import LiveError
from .identity import DISCONNECT, IDENTITY_TOPIC, identity_topic
from .logs import oneline
from .presence import Presence
from .pubsub import PubSub

log = logging.getLogger("fastapi_live")


class Owner(Protocol):
    """The session whose topics these are."""

    id: str  # its presence entries' owner
    view_name: str

    def send_info(self, message: Any) -> None:
        """A message of a subscribed topic, for ``handle_info``."""
        ...

    def identity_disconnected(self) -> None:
        """The identity it joined was disconnected (``LiveRouter.disconnect``)."""
        ...


class SessionTopics:
    """One session's subscriptions and presence entries (``types.Topics``, as the socket sees them)."""

    __slots__ = ("_owner", "_presence", "_pubsub", "_removers", "closed")

    def __init__(self, pubsub: PubSub, presence: Presence, owner: Owner) -> None:
        self._pubsub = pubsub
        self._presence = presence
        self._owner = owner
        self._removers: dict[str, Callable[[], None]] | None = None  # made with the first subscription
        self.closed = False

    def _subscriptions(self) -> dict[str, Callable[[], None]]:
        removers = self._removers
        if removers is None:
            removers = self._removers = {}
        return removers

    async def subscribe(self, topic: str) -> None:
        if topic not in (self._removers or ()) and not self.closed:
            remove = await self._pubsub.subscribe(topic, self._heard)
            self._subscriptions()[topic] = remove

    def subscribed(self) -> list[str]:
        """The topics this session listens on (its identities' too), for the live dashboard."""
        return list(self._removers or ())

    async def unsubscribe(self, topic: str) -> None:
        remove = (self._removers or {}).pop(topic, None)
        if remove is not None:
            remove()

    def _heard(self, topic: str, message: Any) -> None:
        self._owner.send_info(message)

    async def identify(self, identity: str) -> None:
        topic = identity_topic(identity)
        if topic not in (self._removers or ()) and not self.closed:
            remove = await self._pubsub.subscribe(topic, self._identity_heard)
            self._subscriptions()[topic] = remove

    def _identity_heard(self, topic: str, message: Any) -> None:
        if message != DISCONNECT or self.closed:
            return
        owner = self._owner
        log.info("%s: session %s disconnected with its identity %s", owner.view_name, owner.id, oneline(topic[len(IDENTITY_TOPIC) :]))
        owner.identity_disconnected()

    async def track(self, topic: str, key: str, meta: Mapping[str, Any]) -> str:
        if self.closed:
            raise LiveError(f"cannot track {topic!r}: the live session is closed")
        return await self._presence.track(self._owner.id, topic, key, meta)

    async def untrack(self, topic: str, key: str) -> None:
        await self._presence.untrack(self._owner.id, topic, key)

    async def update_presence(self, topic: str, key: str, meta: Mapping[str, Any]) -> str:
        return await self._presence.update(self._owner.id, topic, key, meta)

    def watched(self, watched: bool) -> None:
        """A stream attached (the page is seen) or detached: presence shows or hides at once."""
        set_watched(self._presence, self._owner.id, watched)

    def close(self) -> None:
        self.closed = True
        removers, self._removers = self._removers, None
        for remove in (removers or {}).values():
            remove()
        self._presence.forget(self._owner.id)


def set_watched(presence: Presence, owner: str, watched: bool) -> None:
    """``SessionTopics.watched``, for a session that has no topics object (yet): its presence
    entries show (a stream attached) or hide (detached); ones it tracks later follow suit."""
    if watched:
        presence.resume(owner)
    else:
        presence.pause(owner)  # a closed tab leaves at once, not after the grace
