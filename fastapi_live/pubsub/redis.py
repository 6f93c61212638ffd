"""The Redis PubSub backend: one pub/sub connection per process, fanned out locally.

Every ``RedisPubSub`` holds exactly one Redis connection in subscribed mode (a ``_Link``),
however many sessions listen; ``RedisClusterPubSub`` (``redis_cluster.py``) holds one per
shard. A topic's Redis channel (``channel_prefix + topic``) is SUBSCRIBEd when the
topic gets its first local listener and UNSUBSCRIBEd when its last one leaves; incoming
messages are decoded once and handed to the topic's listeners through a ``LocalFanout``.
Publishing goes through a separate pooled client. The pub/sub connection is named
``<client_name>-pubsub`` and publishing connections ``<client_name>-publish`` (CLIENT
SETNAME), so ``CLIENT LIST`` shows them; ``connection_counts()`` counts them.

Messages are JSON envelopes (see ``_codec``): JSON-safe values, tuples, sets, bytes, dates,
UUIDs, Decimals, Enums, dataclasses and pydantic models arrive as what was sent. Classes are
found among the modules the receiving process has imported; nothing is unpickled and no
module is imported on decode. An undecodable message is logged once per kind (then at DEBUG)
and dropped.

Delivery. A publish reaches every subscriber in every process once, local subscribers
included: normally through Redis (the process's own message comes back on its pub/sub
connection). Each payload carries the publisher's id and a sequence number, so a message the
process already delivered locally is recognised and dropped when Redis echoes it.

Faults (the choice made here: deliver locally, never raise, never buffer).

* When Redis cannot be reached, ``publish`` does not raise: it hands the message straight to
  this process's subscribers, marks it delivered (so a late echo is dropped) and the message
  is lost for other processes. Redis pub/sub keeps nothing for absent subscribers either, so
  buffering would only reorder an at-most-once channel. After a failed publish, publishes
  skip Redis for a second (or until the pub/sub connection is back), so a blackholed host
  does not stall every handler for a connect timeout.
* While the pub/sub connection is down, or a channel's SUBSCRIBE is not yet confirmed, local
  publishes to that topic are delivered directly for the same reason. Messages whose echo
  was still due when the connection dropped are delivered locally at that moment.
* The pub/sub connection reconnects with jittered exponential backoff (``backoff_initial``
  doubling up to ``backoff_max``) and resubscribes every channel that has listeners. An
  outage is logged once: a WARNING when it starts, an INFO when the subscriptions are back.
* A PING every ``health_check_interval`` seconds of silence detects a dead peer; no reply
  within another interval counts as a lost connection.
* Errors in user input still raise: a message the codec cannot carry raises
  ``MessageEncodeError`` (a ``LiveError`` and ``TypeError``) from ``publish``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from ..exceptions import ConfigurationError, LiveError, MissingDependencyError
from ..telemetry import telemetry
from . import Listener
from ._codec import MessageDecodeError, decode, encode
from .memory import LocalFanout

try:
    from redis.asyncio import Redis
    from redis.asyncio.connection import AbstractConnection, Connection, parse_url
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - redis is a dependency; this guards trimmed installs
    raise MissingDependencyError("redis must be installed to use RedisPubSub: pip install 'fastapi-live[redis]'") from exc

__all__ = ["RedisPubSub"]

log = logging.getLogger("fastapi_live.pubsub")

_SUBSCRIBE_BATCH = 500  # channels per SUBSCRIBE / UNSUBSCRIBE command when many change at once
_OWN_TTL = 30.0  # seconds an own publish is remembered while its echo is due
_OWN_MAX = 10_000
_PUBLISH_PAUSE = 1.0  # seconds publishes skip Redis after a failed publish
_RESET_BACKOFF_AFTER = 10.0  # a connection that lived this long starts the next backoff from the beginning
_LOG_ONCE_MAX = 256  # distinct "logged once" keys kept; past that, everything goes to DEBUG

_State = Literal["idle", "connecting", "up", "down"]


@dataclass(slots=True)
class _OwnPublish:
    """A message this process published to a topic it listens to, until Redis echoes it."""

    topic: str
    payload: bytes
    at: float
    delivered: bool = False


class _Link:
    """One connection in subscribed mode to one Redis server, and the channels it should hold.

    It reconnects with jittered backoff, restores its channels, keeps them in step with what
    its owner wants and PINGs after a silence. ``sharded`` links speak SSUBSCRIBE / SUNSUBSCRIBE
    and read ``smessage``s (Redis Cluster's sharded pub/sub); plain ones SUBSCRIBE.
    """

    def __init__(
        self,
        owner: RedisPubSub,
        options: dict[str, Any],
        where: str,
        *,
        sharded: bool = False,
        group: Callable[[list[str]], list[list[str]]] | None = None,
    ) -> None:
        self.owner = owner
        self.where = where
        self.sharded = sharded
        self._options = options
        self._group = group or _batches
        self._subscribe_command, self._unsubscribe_command = ("SSUBSCRIBE", "SUNSUBSCRIBE") if sharded else ("SUBSCRIBE", "UNSUBSCRIBE")
        self._message_kind = b"smessage" if sharded else b"message"
        self._acks = {b"ssubscribe": True, b"sunsubscribe": False} if sharded else {b"subscribe": True, b"unsubscribe": False}
        self.task: asyncio.Task[None] | None = None
        self.state: _State = "idle"
        self._wake = asyncio.Event()
        # channels: wanted (have local listeners), changed since the last reconcile, sent to the
        # current connection, confirmed subscribed there, and commands awaiting their reply
        self.desired: set[str] = set()
        self._changed: set[str] = set()
        self._requested: set[str] = set()
        self._subscribed: set[str] = set()
        self._inflight: dict[str, int] = {}
        self._restoring: set[str] | None = None
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._connected = False
        self._stopping = False
        self._attempt = 0
        self._up_at = 0.0
        self._last_read = 0.0
        self._ping_sent_at: float | None = None

    # -- what the owner asks -----------------------------------------------------------------------
    def want(self, channel: str) -> None:
        if channel not in self.desired:
            self.desired.add(channel)
            self._changed.add(channel)
            self._wake.set()
        self.ensure_running()

    def unwant(self, channel: str) -> None:
        if channel in self.desired:
            self.desired.discard(channel)
            self._changed.add(channel)
            self._wake.set()
        self._release_waiters(channel)

    def refresh(self, channel: str) -> None:
        """Subscribe ``channel`` again if it is wanted and the server dropped it."""
        if channel in self.desired and channel not in self._requested:
            self._changed.add(channel)
            self._wake.set()

    def is_live(self, channel: str) -> bool:
        """Whether a message published now on ``channel`` will come back on this connection."""
        return self._connected and channel in self._subscribed and channel not in self._inflight

    def ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self._stopping = False
            self.state = "connecting"
            self._wake = asyncio.Event()  # a fresh one: an Event binds to the first loop that waits on it
            self.task = asyncio.get_running_loop().create_task(self._run(), name=f"fastapi-live redis pubsub {self.where}")

    async def stop(self) -> None:
        task, self.task = self.task, None
        self._stopping = True
        self._wake.set()
        while task is not None and not task.done():
            # again until it ends: on Python 3.11 a cancel that meets an expiring
            # asyncio.timeout() can come out as a TimeoutError, which the loop survives
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if task is not None and not task.cancelled() and task.exception() is not None:  # pragma: no cover - _run never raises
            log.error("Redis pubsub reader ended with an error", exc_info=task.exception())
        self.state = "idle"
        self._connected = False
        self._release_all_waiters()

    async def wait_live(self, channel: str, timeout: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(future)
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            self.owner._log_once(
                f"subscribe-timeout:{channel}",
                "Redis at %s did not confirm %s %r within %g s; it stays requested",
                self.where,
                self._subscribe_command,
                channel,
                timeout,
            )
        finally:
            waiters = self._waiters.get(channel)
            if waiters is not None and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiters[channel]

    # -- the connection ----------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            connection: AbstractConnection | None = None
            try:
                connection = await self._open()
                await self._serve(connection)
            except (RedisError, OSError, TimeoutError) as exc:
                self._connection_lost(exc)
            except Exception as exc:  # a bug here must not end the reader: log it and reconnect
                key = f"reader:{type(exc).__name__}"
                log.log(logging.DEBUG if key in self.owner._logged else logging.ERROR, "Redis pubsub reader failed; reconnecting", exc_info=True)
                self.owner._logged.add(key)
                self._connection_lost(exc)
            finally:
                self._connected = False
                if connection is not None:
                    await connection.disconnect(nowait=True)
            if not self._stopping:
                await asyncio.sleep(self._next_delay())

    def _next_delay(self) -> float:
        owner = self.owner
        delay = min(owner._backoff_max, owner._backoff_initial * 2.0**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        return delay * random.uniform(0.5, 1.0)  # jitter: processes that lost Redis together don't return together

    async def _open(self) -> AbstractConnection:
        connection = self.owner._connection_class(**self._options)
        connect: Callable[[], Awaitable[None]] = connection.connect  # untyped in redis-py
        try:
            async with asyncio.timeout(self.owner._connect_timeout):
                await connect()
        except BaseException:
            await connection.disconnect(nowait=True)
            raise
        return connection

    async def _serve(self, connection: AbstractConnection) -> None:
        """Own one connection: restore subscriptions, then keep them in step until it fails."""
        loop = asyncio.get_running_loop()
        self._requested.clear()
        self._subscribed.clear()
        self._inflight.clear()
        self._connected = True
        self._last_read = loop.time()
        self._ping_sent_at = None
        reader = loop.create_task(self._read(connection), name="fastapi-live redis pubsub reader")
        reader.add_done_callback(lambda _: self._wake.set())
        try:
            restore = sorted(self.desired)
            self._changed.clear()
            self._restoring = set(restore)
            if restore:
                await self._send(connection, self._subscribe_command, restore)
            else:
                self._restored()
            while not reader.done() and not self._stopping:
                self._wake.clear()
                await self._reconcile(connection)
                timeout = await self._check_health(connection, loop.time())
                if reader.done():
                    break
                try:
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                except TimeoutError:
                    pass  # time for the health check at the top of the loop
            if self._stopping:
                return
            error = reader.exception()
            raise error if error is not None else RedisConnectionError("the Redis pubsub reader stopped")
        finally:
            if not reader.done():
                reader.cancel()
            await asyncio.wait({reader})
            if not reader.cancelled():
                reader.exception()  # retrieved, so asyncio does not log it again

    def _connection_lost(self, exc: BaseException) -> None:
        was_up = self.state == "up"
        self.state = "down"
        self._restoring = None
        self._requested.clear()
        self._subscribed.clear()
        self._inflight.clear()
        if was_up and time.monotonic() - self._up_at >= _RESET_BACKOFF_AFTER:
            self._attempt = 0
        log.debug("Redis pubsub connection to %s lost: %s", self.where, _describe_error(exc))
        self._release_all_waiters()
        self.owner._link_down(self, exc)

    def _restored(self) -> None:
        self._restoring = None
        self.state = "up"
        self._up_at = time.monotonic()
        self.owner._link_up(self)

    # -- the connection: writing -----------------------------------------------------------------
    async def _reconcile(self, connection: AbstractConnection) -> None:
        if not self._changed:
            return
        changed, self._changed = self._changed, set()
        subscribe = sorted(channel for channel in changed if channel in self.desired and channel not in self._requested)
        unsubscribe = sorted(channel for channel in changed if channel not in self.desired and channel in self._requested)
        if subscribe:
            await self._send(connection, self._subscribe_command, subscribe)
        if unsubscribe:
            await self._send(connection, self._unsubscribe_command, unsubscribe)

    async def _send(self, connection: AbstractConnection, command: str, channels: list[str]) -> None:
        subscribing = command == self._subscribe_command
        for batch in self._group(channels):
            # bookkeeping first: the reply can be read before send_command returns
            for channel in batch:
                self._inflight[channel] = self._inflight.get(channel, 0) + 1
            if subscribing:
                self._requested.update(batch)
            else:
                self._requested.difference_update(batch)
            await self._write(connection, command, *batch)

    async def _write(self, connection: AbstractConnection, *args: str) -> None:
        # redis-py reconnects a closed connection on send; that one is ours to replace instead
        if not connection.is_connected:
            raise RedisConnectionError("the Redis pubsub connection is closed")
        await connection.send_command(*args, check_health=False)

    async def _check_health(self, connection: AbstractConnection, now: float) -> float:
        """PING after a silence, fail after an unanswered PING; returns seconds until the next check."""
        interval = self.owner._health_check_interval
        if self._ping_sent_at is not None:
            if now - self._ping_sent_at >= interval:
                raise RedisTimeoutError(f"no reply to PING within {interval:g} s")
            return self._ping_sent_at + interval - now
        if now - self._last_read >= interval:
            self._ping_sent_at = now
            await self._write(connection, "PING")
            return interval
        return self._last_read + interval - now

    # -- the connection: reading -----------------------------------------------------------------
    async def _read(self, connection: AbstractConnection) -> None:
        loop = asyncio.get_running_loop()
        message_kind, acks, owner = self._message_kind, self._acks, self.owner
        while True:
            reply = await connection.read_response(timeout=math.inf)
            self._last_read = loop.time()
            self._ping_sent_at = None
            if not isinstance(reply, list) or len(reply) < 3:
                continue  # PONG, or ["pong", ""] in subscribed mode
            kind = reply[0]
            if kind == message_kind:
                owner._on_message(reply[1], reply[2])
            elif kind in acks:
                self._on_ack(acks[kind], _text(reply[1]))

    def _on_ack(self, subscribed: bool, channel: str) -> None:
        pending = self._inflight.get(channel, 0) - 1
        if pending > 0:
            self._inflight[channel] = pending
        else:
            self._inflight.pop(channel, None)
        if subscribed:
            self._subscribed.add(channel)
        else:
            self._subscribed.discard(channel)
            if pending < 0 and channel in self.desired:
                # unasked: the server dropped it (its slot moved to another shard)
                self._requested.discard(channel)
                self.owner._link_lost_channel(self, channel)
        if pending <= 0:
            self._release_waiters(channel)
        if self._restoring is not None:
            self._restoring.discard(channel)
            if not self._restoring:
                self._restored()

    def _release_waiters(self, channel: str) -> None:
        for future in self._waiters.pop(channel, ()):
            if not future.done():
                future.set_result(None)

    def _release_all_waiters(self) -> None:
        for channel in list(self._waiters):
            self._release_waiters(channel)


def _batches(channels: list[str]) -> list[list[str]]:
    return [channels[start : start + _SUBSCRIBE_BATCH] for start in range(0, len(channels), _SUBSCRIBE_BATCH)]


class RedisPubSub:
    """PubSub across processes and machines through Redis, one pub/sub connection per process.

    >>> pubsub = RedisPubSub("redis://127.0.0.1:6379/0")
    >>> await pubsub.start()
    >>> unsubscribe = await pubsub.subscribe("user:42", lambda topic, message: print(message))
    >>> await pubsub.publish("user:42", Notification(id=1, text="hi"))  # any process
    >>> unsubscribe()
    >>> await pubsub.stop()

    ``subscribe`` returns once Redis has confirmed the channel (or at once while Redis is
    unreachable: the subscription is made when it is back). Listeners run on the event loop
    and must not block. Give each process its own ``client_name`` to tell processes apart
    in ``CLIENT LIST``.
    """

    _kind = "RedisPubSub"
    _publish_errors: tuple[type[BaseException], ...] = (RedisError, OSError)
    _unreachable_errors: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "fastapi-live:",
        client_name: str = "fastapi-live",
        subscribe_timeout: float = 5.0,
        health_check_interval: float = 15.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 2.0,
    ) -> None:
        try:
            options: dict[str, Any] = dict(parse_url(url))
        except ValueError as exc:
            raise ConfigurationError(
                f"invalid Redis URL for {self._kind}: {exc}. Expected one of: redis://host:port/db, rediss://..., unix:///path. Got: {url!r}"
            ) from None
        if not client_name or any(char.isspace() for char in client_name):
            raise ConfigurationError(f"invalid client_name for {self._kind}: expected a non-empty name without spaces, got {client_name!r}")
        for name, value in (
            ("subscribe_timeout", subscribe_timeout),
            ("health_check_interval", health_check_interval),
            ("backoff_initial", backoff_initial),
            ("backoff_max", backoff_max),
        ):
            if not value > 0:
                raise ConfigurationError(f"invalid {name} for {self._kind}: expected a number of seconds > 0, got {value!r}")
        self.url = url
        self.channel_prefix = channel_prefix
        self.client_name = client_name
        self.pubsub_client_name = f"{client_name}-pubsub"
        self.publish_client_name = f"{client_name}-publish"
        self.fanout = LocalFanout(on_empty=self._topic_emptied)
        self._where = _describe(url)
        self._subscribe_timeout = subscribe_timeout
        self._health_check_interval = health_check_interval
        self._backoff_initial = backoff_initial
        self._backoff_max = max(backoff_max, backoff_initial)
        self._connection_class: type[AbstractConnection] = options.pop("connection_class", Connection)
        self._connect_timeout = float(options.get("socket_connect_timeout") or options.get("socket_timeout") or 5.0)
        options.setdefault("socket_keepalive", True)
        options.update(
            client_name=self.pubsub_client_name,
            protocol=2,  # subscribed-mode replies are plain arrays in RESP2, whatever the URL asks for
            decode_responses=False,
            health_check_interval=0,  # health checks are ours (a redis-py PING would steal a reply from the reader)
            retry=Retry(NoBackoff(), 0),  # reconnecting is ours too
        )
        # the URL may carry pool options (max_connections, timeout): keep what one connection takes
        accepted = _init_parameters(self._connection_class)
        self._connection_options = {key: value for key, value in options.items() if key in accepted}
        self._origin = uuid.uuid4().hex
        self._seq = 0
        self._stopped = False
        self._publisher: Any = None
        self._outage_since: float | None = None
        self._publish_paused_until = 0.0
        self._own: OrderedDict[int, _OwnPublish] = OrderedDict()
        self._logged: set[str] = set()
        self._link: _Link | None = None

    # -- public API ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while the pub/sub connection is up and every wanted channel was resubscribed."""
        links = self._links()
        return bool(links) and all(link.state == "up" for link in links)

    async def start(self) -> None:
        """Open the pub/sub connection now (``subscribe`` and ``publish`` also start lazily)."""
        self._stopped = False
        self._ensure_publisher()
        self._single_link().ensure_running()

    async def stop(self) -> None:
        """Close every connection; listeners stay registered for a later ``start()``."""
        self._stopped = True
        for link in self._links():
            await link.stop()
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            await publisher.aclose()

    async def publish(self, topic: str, message: Any) -> int | None:
        """Send ``message`` to ``topic``'s subscribers in every process (local ones exactly once).

        Returns how many processes Redis handed it to (0: nobody listens), or None when Redis
        could not be asked. Never raises because Redis is unreachable (see the module
        docstring); raises ``MessageEncodeError`` when ``message`` cannot be carried.
        """
        self._require_running("publish", topic)
        if telemetry.on:
            telemetry.point("pubsub", "publish", topic=topic, backend=type(self).__name__)
        self._ensure_publisher()
        self._seq += 1
        seq = self._seq
        payload = encode(message, origin=self._origin, seq=seq)
        channel = self.channel_prefix + topic
        now = time.monotonic()
        self._forget_old_publishes(now)
        if self.fanout.listener_count(topic):
            own = self._own[seq] = _OwnPublish(topic, payload, now)
            if not self._is_live(channel):
                self._deliver_own(own)  # Redis would not echo it back to us in time, or at all
        if self._publish_paused(channel, now):
            self._deliver_own_if_due(seq)
            return None
        try:
            receivers = await self._send_publish(channel, payload)
        except self._publish_errors as exc:
            self._deliver_own_if_due(seq)
            if isinstance(exc, self._unreachable_errors):
                self._pause_publishes(channel, time.monotonic() + _PUBLISH_PAUSE)
                self._mark_down(exc)
            else:
                self._log_once(f"publish:{type(exc).__name__}", "publishing to Redis at %s failed: %s", self._where, _describe_error(exc))
            return None
        self._publish_succeeded(channel)
        return receivers

    def client(self) -> Any:
        """The pooled Redis client used for publishing (also for small keyed lookups)."""
        return self._ensure_publisher()

    async def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(topic, message)`` for each message on ``topic``; returns the unsubscribe callable."""
        self._require_running("subscribe", topic)
        channel = self.channel_prefix + topic
        remove, first = self.fanout.add(topic, listener)
        link = await self._link_for(channel)
        if first:
            link.want(channel)
        link.ensure_running()
        if not link.is_live(channel) and link.state != "down":
            await link.wait_live(channel, self._subscribe_timeout)
        return remove

    async def connection_counts(self) -> dict[str, int]:
        """Connections on the Redis server named after this backend: ``{"pubsub": n, "publish": m}``.

        Counts every process that uses the same ``client_name`` (one pub/sub connection each).
        Runs ``CLIENT LIST``, so keep it for diagnostics and tests.
        """
        clients = await self._ensure_publisher().client_list()
        names = [client.get("name") for client in clients]
        return {"pubsub": names.count(self.pubsub_client_name), "publish": names.count(self.publish_client_name)}

    # -- what a cluster backend changes ----------------------------------------------------------
    def _make_publisher(self) -> Any:
        return Redis.from_url(
            self.url,
            client_name=self.publish_client_name,
            retry=Retry(NoBackoff(), 1),  # one retry replaces a pooled connection Redis closed meanwhile
        )

    async def _send_publish(self, channel: str, payload: bytes) -> int:
        return int(await self._publisher.publish(channel, payload))

    def _publish_succeeded(self, channel: str) -> None:
        if self._outage_since is not None and (self.connected or not any(link.task for link in self._links())):
            self._mark_up()

    def _publish_paused(self, channel: str, now: float) -> bool:
        return now < self._publish_paused_until

    def _pause_publishes(self, channel: str, until: float) -> None:
        self._publish_paused_until = until

    async def _link_for(self, channel: str) -> _Link:
        """The link that holds ``channel``: the one connection of this backend."""
        return self._single_link()

    def _link_of(self, channel: str) -> _Link | None:
        """The link holding ``channel`` now, without waiting (None: none yet)."""
        return self._link

    def _links(self) -> list[_Link]:
        return [self._link] if self._link is not None else []

    def _single_link(self) -> _Link:
        if self._link is None:
            self._link = _Link(self, self._connection_options, self._where)
        return self._link

    def _link_up(self, link: _Link) -> None:
        if self.connected:
            self._publish_paused_until = 0.0
            self._mark_up()

    def _link_down(self, link: _Link, exc: BaseException) -> None:
        self._mark_down(exc)
        for own in list(self._own.values()):
            if not own.delivered and self._link_of(self.channel_prefix + own.topic) in (link, None):
                self._deliver_own(own)  # its echo can no longer arrive on this connection

    def _link_lost_channel(self, link: _Link, channel: str) -> None:
        """The server dropped ``channel`` without being asked (only sharded links see this)."""
        link.want(channel)  # pragma: no cover - a plain Redis never unsubscribes a client by itself

    # -- lifecycle -------------------------------------------------------------------------------
    def _require_running(self, action: str, topic: str) -> None:
        if self._stopped:
            raise LiveError(
                f"cannot {action} on a stopped {self._kind}: expected start() before {action}(), got {action}({topic!r}) after stop()"
            )

    def _ensure_publisher(self) -> Any:
        if self._publisher is None:
            self._publisher = self._make_publisher()
        return self._publisher

    def _mark_down(self, exc: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(
                "Redis at %s is unreachable (%s): publishes reach this process's subscribers only, "
                "messages from other processes are lost until it is back; reconnecting with backoff",
                self._where,
                _describe_error(exc),
            )

    def _mark_up(self) -> None:
        if self._outage_since is not None:
            took = time.monotonic() - self._outage_since
            self._outage_since = None
            subscribed = sum(len(link._subscribed) for link in self._links())
            log.info("Redis at %s is reachable again after %.1f s; %d channel(s) subscribed", self._where, took, subscribed)

    # -- incoming --------------------------------------------------------------------------------
    def _on_message(self, raw_channel: bytes, data: bytes) -> None:
        channel = _text(raw_channel)
        if not channel.startswith(self.channel_prefix):
            return
        topic = channel[len(self.channel_prefix) :]
        if not self.fanout.listener_count(topic):
            return
        try:
            envelope = decode(data)
        except MessageDecodeError as exc:
            self._log_once(f"decode:{exc.kind}:{exc.detail}", "dropped an undecodable message on channel %r: %s", channel, exc)
            return
        except Exception as exc:  # a codec bug must not end the reader
            self._log_once(f"decode:bug:{type(exc).__name__}", "dropped a message on channel %r: decoding failed: %r", channel, exc)
            return
        if envelope.origin == self._origin:
            own = self._own.pop(envelope.seq, None)
            if own is not None and own.delivered:
                return  # delivered locally when it was published
        self.fanout.deliver(topic, envelope.message)

    # -- subscriptions ---------------------------------------------------------------------------
    def _topic_emptied(self, topic: str) -> None:
        channel = self.channel_prefix + topic
        link = self._link_of(channel)
        if link is not None:
            link.unwant(channel)

    def _is_live(self, channel: str) -> bool:
        """Whether a message published now on ``channel`` will come back to this process."""
        link = self._link_of(channel)
        return link is not None and link.is_live(channel)

    # -- own publishes ---------------------------------------------------------------------------
    def _deliver_own(self, own: _OwnPublish) -> None:
        own.delivered = True
        try:
            # a decoded copy, as other processes get: no listener shares the publisher's object
            message = decode(own.payload).message
        except MessageDecodeError as exc:  # e.g. __post_init__ rejects its own fields
            self._log_once(f"decode:{exc.kind}:{exc.detail}", "dropped a message published on topic %r: %s", own.topic, exc)
            return
        self.fanout.deliver(own.topic, message)

    def _deliver_own_if_due(self, seq: int) -> None:
        own = self._own.get(seq)
        if own is not None and not own.delivered:
            self._deliver_own(own)

    def _forget_old_publishes(self, now: float) -> None:
        own = self._own
        while own and (len(own) >= _OWN_MAX or now - next(iter(own.values())).at > _OWN_TTL):
            own.popitem(last=False)  # an echo arriving after this is delivered: better late than never

    # -- logging ---------------------------------------------------------------------------------
    def _log_once(self, key: str, message: str, *args: Any) -> None:
        if key in self._logged or len(self._logged) >= _LOG_ONCE_MAX:
            log.debug(message, *args)
            return
        self._logged.add(key)
        log.warning(message + " (further ones are logged at DEBUG)", *args)


def _init_parameters(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            parameters = inspect.signature(init).parameters.values()
            names.update(p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
    return names


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _describe(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else "***@"
    return parts._replace(netloc=user + netloc).geturl()


def _describe_error(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

