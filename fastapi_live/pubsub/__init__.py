"""PubSub: the ``PubSub`` protocol shared by the in-memory and Redis backends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Listener = Callable[[str, Any], None]
"""Called with (topic, message) for each message; must not block."""


class PubSub(Protocol):
    """Topic-based publish/subscribe. ``subscribe`` returns an unsubscribe callable."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, message: Any) -> int | None:
        """Deliver ``message``; returns how many processes received it, or None when unknown."""
        ...

    async def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]: ...


def create_pubsub(url: str | None = None) -> PubSub:
    """The backend for ``url``: Redis for ``redis://`` / ``rediss://`` URLs, else in-memory.

    A URL with ``cluster=true`` in its query (``redis://node:7000/0?cluster=true``) selects Redis
    Cluster: sharded pub/sub through ``redis.asyncio.RedisCluster`` (``RedisClusterPubSub``).
    """
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        from .redis_cluster import RedisClusterPubSub, is_cluster_url

        if is_cluster_url(url):
            return RedisClusterPubSub(url)
        from .redis import RedisPubSub

        return RedisPubSub(url)
    from .memory import MemoryPubSub

    return MemoryPubSub()
