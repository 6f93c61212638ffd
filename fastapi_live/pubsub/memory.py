"""The in-process PubSub backend: a dict of topics to listeners, no serialization."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..telemetry import telemetry
from . import Listener

log = logging.getLogger("fastapi_live.pubsub")


class LocalFanout:
    """Topic → listeners, delivered synchronously. Shared by both backends."""

    def __init__(self, on_empty: Callable[[str], None] | None = None) -> None:
        self._topics: dict[str, dict[int, Listener]] = {}
        self._next = 0
        self._on_empty = on_empty  # called when a topic loses its last listener (Redis unsubscribes)

    def add(self, topic: str, listener: Listener) -> tuple[Callable[[], None], bool]:
        """Add a listener; returns (remove, first) where ``first`` says the topic is new."""
        listeners = self._topics.get(topic)
        first = listeners is None
        if listeners is None:
            listeners = self._topics[topic] = {}
        self._next += 1
        key = self._next
        listeners[key] = listener

        def remove() -> None:
            current = self._topics.get(topic)
            if current is not None and current.pop(key, None) is not None and not current:
                del self._topics[topic]
                if self._on_empty is not None:
                    self._on_empty(topic)

        return remove, first

    def deliver(self, topic: str, message: Any) -> int:
        """Call every listener of ``topic`` with ``message``; returns how many were called."""
        listeners = self._topics.get(topic)
        if telemetry.on:
            telemetry.point("pubsub", "deliver", topic=topic, listeners=len(listeners or ()))
        if not listeners:
            return 0
        called = 0
        for key, listener in list(listeners.items()):
            if key not in listeners:
                continue  # removed by an earlier listener during this delivery
            called += 1
            try:
                listener(topic, message)
            except Exception:  # one broken listener must not starve the others
                log.exception("pubsub listener failed for topic %r", topic)
        return called

    def topics(self) -> list[str]:
        return list(self._topics)

    def listener_count(self, topic: str | None = None) -> int:
        if topic is not None:
            return len(self._topics.get(topic, ()))
        return sum(len(v) for v in self._topics.values())


class MemoryPubSub:
    """In-process PubSub (the default): messages are delivered as the same objects."""

    def __init__(self) -> None:
        self.fanout = LocalFanout()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, topic: str, message: Any) -> int | None:
        """Deliver to this process's listeners; returns 1 when any listened, else 0."""
        if telemetry.on:
            telemetry.point("pubsub", "publish", topic=topic, backend="memory")
        return 1 if self.fanout.deliver(topic, message) else 0

    async def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]:
        remove, _ = self.fanout.add(topic, listener)
        return remove
