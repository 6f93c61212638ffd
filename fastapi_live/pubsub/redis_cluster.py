"""The Redis Cluster PubSub backend: sharded pub/sub, one pub/sub connection per shard.

Selected by ``cluster=true`` in the URL (``redis://node:7000/0?cluster=true``; any node will do,
the others are discovered). Everything ``RedisPubSub`` promises holds, over Redis Cluster's
sharded pub/sub (Redis 7): a topic's channel lives on the shard that owns its hash slot.

* **Connections.** A process opens one subscribed-mode connection per shard it listens on
  (``SSUBSCRIBE``, grouped by slot, pipelined), never one per topic; publishing is ``SPUBLISH``
  through a pooled ``redis.asyncio.RedisCluster``, which also serves the session directory and
  presence (their keys are hash-tagged: each Lua script touches one slot).
* **Topology.** The slot map comes from ``CLUSTER SLOTS``, asked of any known node. It is asked
  again when a shard connection fails or the server drops a channel (its slot moved, or a
  failover demoted its master); channels whose slot changed owner move to that owner's
  connection, and connections left without channels close.
* **Failover.** When a master dies its connection fails at once; the outage is logged once
  (WARNING), publishes keep reaching this process's subscribers, and the slot map is asked
  again with backoff until the replica promoted by the cluster owns the slots; the channels are
  then subscribed there and an INFO says so. Redis pub/sub is at-most-once: what was published
  to that shard meanwhile is lost for other processes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..exceptions import ConfigurationError, MissingDependencyError
from .redis import RedisPubSub, _describe, _describe_error, _Link, _text

try:
    from redis.asyncio.cluster import ClusterNode, RedisCluster
    from redis.asyncio.connection import AbstractConnection
    from redis.crc import key_slot
    from redis.exceptions import ClusterDownError, RedisClusterException, RedisError
except ImportError as exc:  # pragma: no cover - redis is a dependency; this guards trimmed installs
    raise MissingDependencyError("redis must be installed to use RedisClusterPubSub: pip install 'fastapi-live[redis]'") from exc

__all__ = ["CLUSTER_FLAG", "RedisClusterPubSub", "is_cluster_url"]

log = logging.getLogger("fastapi_live.pubsub")

CLUSTER_FLAG = "cluster"
"""The URL query flag that selects Redis Cluster: ``redis://host:7000/0?cluster=true``."""
_TRUE = {"1", "true", "yes", "on"}
_REFRESH_MIN_INTERVAL = 0.2  # seconds between two CLUSTER SLOTS rounds while a shard is down
_BATCH = 500


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` asks for Redis Cluster (``?cluster=true``)."""
    query = urlsplit(url).query
    return any(name == CLUSTER_FLAG and value.lower() in _TRUE for name, value in parse_qsl(query))


def _without_flag(url: str) -> str:
    parts = urlsplit(url)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != CLUSTER_FLAG]
    return parts._replace(query=urlencode(query)).geturl()


class RedisClusterPubSub(RedisPubSub):
    """PubSub across processes through a Redis Cluster: sharded pub/sub, one connection per shard.

    >>> pubsub = create_pubsub("redis://127.0.0.1:7000/0?cluster=true")  # or RedisClusterPubSub(url)
    >>> await pubsub.start()
    >>> unsubscribe = await pubsub.subscribe("user:42", lambda topic, message: print(message))
    >>> await pubsub.publish("user:42", {"hello": "world"})

    Takes the options of ``RedisPubSub``.
    """

    _kind = "RedisClusterPubSub"
    # redis-py's "cannot be connected" / "slot not covered" during a failover are no RedisError
    _publish_errors = (*RedisPubSub._publish_errors, RedisClusterException)
    _unreachable_errors = (*RedisPubSub._unreachable_errors, RedisClusterException, ClusterDownError)

    def __init__(self, url: str, **options: Any) -> None:
        self.cluster_url = url
        plain = _without_flag(url)
        super().__init__(plain, **options)
        self.url = url
        self._where = "the Redis Cluster at " + _describe(plain)
        if self._connection_options.get("db") not in (None, 0):
            raise ConfigurationError(
                f"invalid Redis URL for RedisClusterPubSub: a Redis Cluster has database 0 only. Expected: redis://host:port/0?cluster=true. Got: {url!r}"
            )
        self._plain_url = plain
        host, port = self._connection_options.get("host", "127.0.0.1"), int(self._connection_options.get("port", 6379))
        self._known: dict[str, tuple[str, int]] = {f"{host}:{port}": (host, port)}  # nodes to ask for the slot map
        self._slots: list[tuple[int, int, str]] = []  # (first slot, last slot, owner "host:port"), sorted
        self._shards: dict[str, _Link] = {}
        self._homes: dict[str, str] = {}  # channel -> the shard it is subscribed on
        self._paused: dict[str, float] = {}  # shard -> until when publishes to it skip Redis
        self._failing: set[str | None] = set()  # shards whose last publish failed (None: before any slot map)
        self._refresh_task: asyncio.Task[None] | None = None
        self._refresh_due = False
        self._last_refresh = 0.0
        self._slot_cache: dict[str, int] = {}
        self._closing: set[asyncio.Task[None]] = set()  # connections of shards that lost their channels

    # -- public API ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while every shard connection is up with its channels subscribed."""
        return bool(self._slots) and all(link.state == "up" for link in self._shards.values())

    async def start(self) -> None:
        """Read the slot map now (connections to shards open as their channels are wanted)."""
        self._stopped = False
        self._ensure_publisher()
        await self._ensure_slots()
        for link in self._shards.values():
            link.ensure_running()  # after a stop(): the channels still wanted are subscribed again

    async def stop(self) -> None:
        task, self._refresh_task = self._refresh_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        await super().stop()
        if self._closing:
            await asyncio.wait(set(self._closing))

    async def connection_counts(self) -> dict[str, int]:
        """Connections named after this backend on every master: ``{"pubsub": n, "publish": m, "shards": s}``.

        ``shards`` is how many masters hold at least one pub/sub connection of this name.
        """
        await self._refresh_slots()
        pubsub = publish = shards = 0
        for owner in sorted({owner for _, _, owner in self._slots}):
            host, port = self._address(owner)
            listing = _text(await self._ask(host, port, "CLIENT", "LIST"))
            names = [field[5:] for line in listing.splitlines() for field in line.split() if field.startswith("name=")]
            here = names.count(self.pubsub_client_name)
            pubsub += here
            publish += names.count(self.publish_client_name)
            shards += 1 if here else 0
        return {"pubsub": pubsub, "publish": publish, "shards": shards}

    def shard_of(self, topic: str) -> str | None:
        """The ``host:port`` of the master whose shard holds ``topic``'s channel (from the last slot map)."""
        return self._owner(self.channel_prefix + topic)

    # -- the cluster side of RedisPubSub ---------------------------------------------------------
    def _make_publisher(self) -> RedisCluster:
        # every node known so far, so a dead first node of the URL does not make the cluster unreachable
        startup = [ClusterNode(host, port) for host, port in self._known.values()]
        return RedisCluster.from_url(self._plain_url, client_name=self.publish_client_name, startup_nodes=startup)

    async def _send_publish(self, channel: str, payload: bytes) -> int:
        cluster: RedisCluster = self._publisher
        return int(await cluster.spublish(channel, payload))

    async def _link_for(self, channel: str) -> _Link:
        await self._ensure_slots()
        shard = self._homes.get(channel)
        if shard is None:
            shard = self._owner(channel) or next(iter(self._known))
            self._homes[channel] = shard
        return self._shard(shard)

    def _link_of(self, channel: str) -> _Link | None:
        shard = self._homes.get(channel)
        return None if shard is None else self._shards.get(shard)

    def _links(self) -> list[_Link]:
        return list(self._shards.values())

    def _single_link(self) -> _Link:  # pragma: no cover - a cluster has no single connection
        raise ConfigurationError("RedisClusterPubSub has one connection per shard, not a single one")

    def _topic_emptied(self, topic: str) -> None:
        channel = self.channel_prefix + topic
        link = self._link_of(channel)
        self._homes.pop(channel, None)
        if link is not None:
            link.unwant(channel)
            if not link.desired:
                self._close_shard(link)  # no channel left there: its connection goes (and its subscriptions with it)

    def _link_down(self, link: _Link, exc: BaseException) -> None:
        super()._link_down(link, exc)
        self._schedule_refresh()

    def _link_lost_channel(self, link: _Link, channel: str) -> None:
        log.debug("%s dropped sharded channel %r (its slot moved); asking for the slot map", link.where, channel)
        self._schedule_refresh()

    # -- publishes pause per shard, not for the whole cluster -------------------------------------
    async def publish(self, topic: str, message: Any) -> int | None:
        """As ``RedisPubSub.publish``, through ``SPUBLISH`` to the shard owning the topic's slot."""
        if not self._slots and not self._stopped:
            await self._ensure_slots()  # so failures and pauses are counted per shard from the first publish
        return await super().publish(topic, message)

    def _publish_paused(self, channel: str, now: float) -> bool:
        shard = self._owner(channel)
        return shard is not None and now < self._paused.get(shard, 0.0)

    def _pause_publishes(self, channel: str, until: float) -> None:
        shard = self._owner(channel)
        self._failing.add(shard)
        if shard is not None:
            self._paused[shard] = until
        self._schedule_refresh()

    def _publish_succeeded(self, channel: str) -> None:
        if self._failing:
            self._failing.discard(self._owner(channel))
            self._failing.discard(None)
        if self._outage_since is not None and not self._failing and (self.connected or not self._shards):
            self._mark_up()

    def _link_up(self, link: _Link) -> None:
        self._paused.pop(link.where, None)
        if self.connected and not self._failing:
            self._paused.clear()
            self._mark_up()

    # -- shards ----------------------------------------------------------------------------------
    def _shard(self, address: str) -> _Link:
        link = self._shards.get(address)
        if link is None:
            host, port = self._address(address)
            options = {**self._connection_options, "host": host, "port": port}
            link = self._shards[address] = _Link(self, options, address, sharded=True, group=self._group_by_slot)
        return link

    def _address(self, address: str) -> tuple[str, int]:
        known = self._known.get(address)
        if known is not None:
            return known
        host, _, port = address.rpartition(":")
        return host, int(port)

    def _slot(self, channel: str) -> int:
        slot = self._slot_cache.get(channel)
        if slot is None:
            if len(self._slot_cache) > 100_000:
                self._slot_cache.clear()
            slot = self._slot_cache[channel] = key_slot(channel.encode())
        return slot

    def _owner(self, channel: str) -> str | None:
        slot = self._slot(channel)
        for first, last, owner in self._slots:
            if first <= slot <= last:
                return owner
        return None

    def _group_by_slot(self, channels: list[str]) -> list[list[str]]:
        """SSUBSCRIBE takes channels of one slot per command: one command per slot (and per 500)."""
        by_slot: dict[int, list[str]] = {}
        for channel in channels:
            by_slot.setdefault(self._slot(channel), []).append(channel)
        return [group[start : start + _BATCH] for group in by_slot.values() for start in range(0, len(group), _BATCH)]

    def _close_shard(self, link: _Link) -> None:
        if self._shards.get(link.where) is link:
            del self._shards[link.where]
        task = asyncio.get_running_loop().create_task(link.stop())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # -- topology --------------------------------------------------------------------------------
    async def _ensure_slots(self) -> None:
        if self._slots:
            return
        try:
            await self._refresh_slots()
            cluster: RedisCluster = self._ensure_publisher()
            await cluster.initialize()  # now, while the nodes it was given answer
        except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
            self._mark_down(exc)
            self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        self._refresh_due = True
        if self._stopped:
            return
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = asyncio.get_running_loop().create_task(self._refresh_loop(), name="fastapi-live redis cluster topology")

    async def _refresh_loop(self) -> None:
        attempt = 0
        while self._refresh_due:
            wait = self._last_refresh + max(_REFRESH_MIN_INTERVAL, min(self._backoff_max, self._backoff_initial * 2.0**attempt)) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._refresh_due = False
            try:
                changed = await self._refresh_slots()
            except (RedisError, OSError, TimeoutError) as exc:
                log.debug("%s: no node answered CLUSTER SLOTS: %s", self._where, _describe_error(exc))
                self._refresh_due = True
                attempt += 1
                continue
            if changed:
                owners = {owner for _, _, owner in self._slots}
                self._failing &= owners  # a shard that lost its slots fails no more: its successor is asked anew
                self._paused = {shard: until for shard, until in self._paused.items() if shard in owners}
            self._rehome()
            if not changed and (self._failing or any(link.state == "down" for link in self._shards.values())):
                self._refresh_due = True  # a shard is still down and still owns its slots: ask again
                attempt += 1
            else:
                attempt = 0

    async def _refresh_slots(self) -> bool:
        """Read the slot map from the first node that answers; True when it changed."""
        self._last_refresh = time.monotonic()
        errors: list[BaseException] = []
        for host, port in list(self._known.values()):
            try:
                reply = await self._ask(host, port, "CLUSTER", "SLOTS")
            except (RedisError, OSError, TimeoutError) as exc:
                errors.append(exc)
                continue
            slots = self._parse_slots(reply, host)
            if not slots:
                continue  # a node that lost its view of the cluster (e.g. just restarted)
            changed = slots != self._slots
            self._slots = slots
            return changed
        raise errors[-1] if errors else RedisError(f"{self._where}: no node knows the slot map")

    async def _ask(self, host: str, port: int, *command: str) -> Any:
        """One command to one node over a short-lived connection of its own (topology and diagnostics)."""
        options = {**self._connection_options, "host": host, "port": port, "client_name": f"{self.client_name}-topology"}
        connection: AbstractConnection = self._connection_class(**options)
        connect: Callable[[], Awaitable[None]] = connection.connect  # untyped in redis-py
        try:
            async with asyncio.timeout(self._connect_timeout):
                await connect()
                await connection.send_command(*command, check_health=False)
                return await connection.read_response()
        finally:
            await connection.disconnect(nowait=True)

    def _parse_slots(self, reply: Any, asked_host: str) -> list[tuple[int, int, str]]:
        slots: list[tuple[int, int, str]] = []
        for entry in reply or ():
            first, last, *nodes = entry
            for index, node in enumerate(nodes):
                host = _text(node[0]) or asked_host
                if host == "?":
                    continue
                address = f"{host}:{int(node[1])}"
                self._known.setdefault(address, (host, int(node[1])))
                if index == 0:
                    slots.append((int(first), int(last), address))
        slots.sort()
        return slots

    def _rehome(self) -> None:
        """Move every channel to the connection of the shard that owns its slot now."""
        moved = 0
        for channel, shard in list(self._homes.items()):
            owner = self._owner(channel)
            if owner is None or owner == shard:
                link = self._shards.get(shard)
                if link is not None:
                    link.refresh(channel)  # resubscribed if the server had dropped it
                continue
            old = self._shards.get(shard)
            if old is not None:
                old.unwant(channel)
            self._homes[channel] = owner
            self._shard(owner).want(channel)
            moved += 1
        for link in list(self._shards.values()):
            if not link.desired:
                self._close_shard(link)
        if moved:
            log.info("%s: %d channel(s) moved to the shard now owning their slot", self._where, moved)

