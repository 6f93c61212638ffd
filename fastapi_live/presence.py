"""Presence: who is on a topic right now, across processes (LiveView's ``Phoenix.Presence``).

A session tracks itself on a topic under a key (one key per user) with a meta (one per tab
or session): ``await socket.track("room:1", user.id, {"name": user.name})``. Every session
subscribed to the topic gets a ``PresenceDiff(joins, leaves)`` in ``handle_info``; anyone
can read the whole picture with ``await live.presence.list("room:1")`` →
``{key: [meta, ...]}``. Each meta carries a ``live_ref`` naming that one presence.

* **Cost.** A join or a leave is one store write and one publish of a diff to the topic
  (the PubSub fans it out locally in each process), never a broadcast of the list.
* **Lifetime.** An entry lives while its session does and has a stream: when the stream
  ends (the tab closed) and no new one attaches within ``grace`` seconds, its entries
  leave; a stream that attaches again joins them back under fresh refs. ``close()`` of the
  session removes them for good.
* **In one process** (the in-memory PubSub) the store is a dict. **With Redis** every
  process sees the same list: entries are Redis hashes, one per topic, and each process
  heartbeats its node id into one sorted set scored with the Redis server's own clock, so
  no two machines' clocks are compared. A process that dies without a word (SIGKILL) stops
  heartbeating: after ``ttl`` seconds its entries drop out of every ``list`` and within one
  more ``heartbeat`` a surviving process claims the dead node (atomically: exactly one
  does), deletes its entries and publishes their leaves. With the defaults (heartbeat 0.5 s,
  ttl 3 s) a SIGKILLed process's users are gone from lists within 3 s and their leaves are
  sent within 3.5 s.
* **Blips are debounced.** A process that loses Redis keeps its entries where they are and
  retries its heartbeat every ``retry`` seconds; an outage shorter than
  ``ttl - heartbeat - retry`` (about 2.3 s with the defaults) sends no leave and no join at
  all. After a longer one, the process finds its node was claimed, takes a fresh node id,
  writes its entries again and publishes one join each — one leave and one join per entry,
  never a storm. While Redis is unreachable, ``list`` answers with this process's own
  entries.

Keys (each Lua script touches exactly one key, so one Redis Cluster slot):
``fastapi-live:presence:{<topic>}`` a hash ``<node>:<ref>`` → ``[node, key, meta, tracked at]`` JSON;
``fastapi-live:presence:node:{<node>}`` the set of topics a node has entries in (for the
reaper); ``fastapi-live:presence:{nodes}`` the sorted set of live nodes by deadline.
"""

from __future__ import annotations

import asyncio
import builtins
import gc
import json
import logging
import secrets
import time
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .exceptions import LiveError
from .pubsub import PubSub

log = logging.getLogger("fastapi_live.presence")

REF = "live_ref"
"""The key every meta carries: the id of that one presence (Phoenix's ``phx_ref``)."""
REF_PREV = "live_ref_prev"
"""In a join sent by ``update_presence``: the ref of the meta it replaces."""

Presences = dict[str, list[dict[str, Any]]]
"""``{key: [meta, ...]}``: one key per user, one meta per tab or session, oldest first."""

KEY_PREFIX = "fastapi-live:presence:"
_GC_PAUSE_BYTES = 100_000  # lists longer than this (about 700 users) decode with the collector paused


@dataclass(frozen=True, slots=True)
class PresenceDiff:
    """Who joined and who left ``topic``, delivered to ``handle_info`` of its subscribers.

    >>> async def handle_info(self, message, socket):
    ...     if isinstance(message, PresenceDiff):
    ...         socket.update("presences", message.apply)
    """

    topic: str
    joins: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    leaves: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def apply(self, presences: Mapping[str, list[dict[str, Any]]]) -> Presences:
        """A new ``{key: [meta, ...]}``: ``presences`` with the joins added and the leaves removed.

        Metas are matched by their ``live_ref``, so applying a join twice keeps one meta and a
        leave of a meta that is not there does nothing; a key whose last meta left is gone.

        >>> diff.apply({"ann": [{"live_ref": "a1"}]})
        """
        result: Presences = {key: list(metas) for key, metas in presences.items()}
        for key, metas in self.joins.items():
            current = result.setdefault(key, [])
            for meta in metas:
                ref = meta.get(REF)
                current[:] = [m for m in current if m.get(REF) != ref]
                current.append(meta)
        for key, metas in self.leaves.items():
            leaving = result.get(key)
            if leaving is None:
                continue
            refs = {meta.get(REF) for meta in metas}
            leaving[:] = [m for m in leaving if m.get(REF) not in refs]
            if not leaving:
                del result[key]
        return result


def _check(topic: Any, key: Any, meta: Any) -> dict[str, Any]:
    """The meta as stored (a copy), after checking the arguments a user passed."""
    if not isinstance(topic, str) or not topic:
        raise LiveError(f"invalid topic for socket.track(): expected a non-empty str, got {topic!r}")
    if not isinstance(key, str) or not key:
        raise LiveError(f"invalid key for socket.track({topic!r}, ...): expected a non-empty str (one per user), got {key!r}")
    if not isinstance(meta, Mapping) or not all(isinstance(name, str) for name in meta):
        raise LiveError(f"invalid meta for socket.track({topic!r}, {key!r}, ...): expected a mapping with str keys, got {meta!r}")
    copied = dict(meta)
    try:
        json.dumps(copied)
    except (TypeError, ValueError) as exc:
        raise LiveError(
            f"invalid meta for socket.track({topic!r}, {key!r}, ...): it must be JSON (str, int, float, bool, None, lists and "
            f"dicts of them), as every process reads it: {exc}. Got: {meta!r}"
        ) from None
    return copied


class PresenceStore(Protocol):
    """Where entries live: this process (``MemoryPresenceStore``) or Redis (``RedisPresenceStore``)."""

    async def start(self, presence: Presence) -> None: ...

    async def stop(self) -> None: ...

    async def put(self, topic: str, key: str, meta: dict[str, Any]) -> None:
        """Add or replace the entry ``meta[REF]`` of ``key`` on ``topic``."""
        ...

    async def delete(self, topic: str, ref: str) -> None: ...

    async def list(self, topic: str) -> Presences:
        """``{key: [meta, ...]}`` on ``topic``, metas oldest first."""
        ...


@dataclass(slots=True)
class _Entry:
    """One presence of this process: a session tracked on a topic under a key."""

    owner: str
    topic: str
    key: str
    meta: dict[str, Any]
    ref: str = ""
    joined: bool = False  # in the store (and announced) now


class Presence:
    """Who is on each topic: ``live.presence`` of a ``LiveRouter``; sessions track through their socket.

    >>> await socket.subscribe("room:1")                       # diffs arrive in handle_info
    >>> await socket.track("room:1", user.id, {"name": user.name})
    >>> await live.presence.list("room:1")
    {'ann': [{'name': 'Ann', 'live_ref': 'k3x...'}]}
    """

    def __init__(self, pubsub: PubSub, store: PresenceStore | None = None, *, grace: float = 0.5) -> None:
        if not grace >= 0:
            raise LiveError(f"invalid grace for Presence: expected a number of seconds >= 0, got {grace!r}")
        self.pubsub = pubsub
        self.store: PresenceStore = store if store is not None else MemoryPresenceStore()
        self.grace = grace
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        self._owners: dict[str, set[tuple[str, str, str]]] = {}
        self._paused: dict[str, asyncio.TimerHandle | None] = {}  # owner -> its leave timer (None: left)
        self._lock = asyncio.Lock()  # one change at a time: the store sees them in order
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        # topic -> metas (by key) whose leave other processes may have missed: a diff went
        # to this process's subscribers only while Redis was away (see ``redeliver``)
        self._stale: dict[str, Presences] = {}

    # -- the public side -----------------------------------------------------------------------
    async def list(self, topic: str) -> Presences:
        """``{key: [meta, ...]}`` for ``topic`` across every process (one key per user)."""
        return await self.store.list(topic)

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self.store.start(self)

    async def stop(self) -> None:
        """Remove this process's entries (announcing their leaves) and stop the store."""
        for owner in list(self._owners):
            self.forget(owner)
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._started:
            self._started = False
            await self.store.stop()

    # -- what sessions call (through their socket) ---------------------------------------------
    async def track(self, owner: str, topic: str, key: str, meta: Mapping[str, Any]) -> str:
        """Track ``owner`` (a session id) on ``topic`` as ``key``; returns the meta's ref."""
        stored = _check(topic, key, meta)
        ident = (owner, topic, key)
        if ident in self._entries:
            raise LiveError(
                f"already tracked: socket.track({topic!r}, {key!r}, ...) was called before by this session; "
                "call socket.update_presence(topic, key, meta) to change its meta, or socket.untrack(topic, key) first"
            )
        entry = self._entries[ident] = _Entry(owner, topic, key, stored)
        self._owners.setdefault(owner, set()).add(ident)
        if owner not in self._paused:
            async with self._lock:
                await self._join([entry])
        return entry.ref

    async def untrack(self, owner: str, topic: str, key: str) -> None:
        entry = self._entries.pop((owner, topic, key), None)
        if entry is None:
            return
        idents = self._owners.get(owner)
        if idents is not None:
            idents.discard((owner, topic, key))
            if not idents:
                del self._owners[owner]
                if owner in self._paused:  # nothing left to leave; still without a stream
                    self._cancel_pause(owner)
                    self._paused[owner] = None
        async with self._lock:
            await self._leave([entry])

    async def update(self, owner: str, topic: str, key: str, meta: Mapping[str, Any]) -> str:
        """Replace the meta of a tracked entry; subscribers get its leave and its new join."""
        stored = _check(topic, key, meta)
        entry = self._entries.get((owner, topic, key))
        if entry is None:
            raise LiveError(
                f"not tracked: socket.update_presence({topic!r}, {key!r}, ...) needs socket.track({topic!r}, {key!r}, meta) first"
            )
        async with self._lock:
            old_ref, old_meta = entry.ref, self._meta_of(entry)
            entry.meta = stored
            if not entry.joined:
                return entry.ref
            entry.ref = _new_ref()
            new_meta = {**self._meta_of(entry), REF_PREV: old_ref}
            await self.store.put(topic, key, self._meta_of(entry))
            await self.store.delete(topic, old_ref)
            await self._publish(topic, joins={key: [new_meta]}, leaves={key: [old_meta]})
        return entry.ref

    def pause(self, owner: str) -> None:
        """``owner``'s stream ended: its entries leave unless a stream attaches within ``grace`` s.

        Entries it tracks meanwhile wait for its next stream to join.
        """
        if owner in self._paused:
            return
        has_entries = owner in self._owners
        self._paused[owner] = asyncio.get_running_loop().call_later(self.grace, self._spawn_leave, owner) if has_entries else None

    def resume(self, owner: str) -> None:
        """A stream attached to ``owner``: its entries stay, or join again under fresh refs."""
        if owner not in self._paused:
            return
        timer = self._paused.pop(owner)
        if timer is not None:
            timer.cancel()  # back within the grace: nobody saw it leave
            return
        self._spawn(self._join_owner(owner))

    def forget(self, owner: str) -> None:
        """The session closed: its entries leave now."""
        idents = self._owners.pop(owner, None)
        self._cancel_pause(owner)
        if not idents:
            return
        entries = [entry for ident in idents if (entry := self._entries.pop(ident, None)) is not None]
        self._spawn(self._leave_locked(entries))

    # -- what stores call ------------------------------------------------------------------------
    async def announce(self, topic: str, joins: Presences | None = None, leaves: Presences | None = None) -> None:
        """Publish a diff the store found (a dead node's leaves, this node's joins after a long outage)."""
        await self._publish(topic, joins=joins or {}, leaves=leaves or {})

    async def redeliver(self) -> None:
        """Redis is back: tell other processes what they missed of this process's entries.

        For each topic whose diff reached this process only, one diff with this process's
        entries there now (joins) and the ones that left meanwhile (leaves). Subscribers match
        metas by ref, so a join they saw already changes nothing: never a storm, one diff per topic.
        """
        if not self._stale:
            return
        async with self._lock:
            for topic in list(self._stale):
                leaves = self._stale.pop(topic)
                joins: Presences = {}
                for entry in self._entries.values():
                    if entry.joined and entry.topic == topic:
                        joins.setdefault(entry.key, []).append(self._meta_of(entry))
                await self._publish(topic, joins=joins, leaves=leaves)

    def mark_stale(self, topics: Iterable[str]) -> None:
        """Other processes lost sight of this process's entries on ``topics``: ``redeliver`` them."""
        for topic in topics:
            self._stale.setdefault(topic, {})

    def joined_entries(self) -> builtins.list[tuple[str, str, dict[str, Any]]]:
        """(topic, key, meta) of every entry of this process in the store now."""
        return [(entry.topic, entry.key, self._meta_of(entry)) for entry in self._entries.values() if entry.joined]

    def local_list(self, topic: str) -> Presences:
        """This process's own entries on ``topic``: the answer while the store is unreachable."""
        return _grouped((entry.key, self._meta_of(entry)) for entry in self._entries.values() if entry.joined and entry.topic == topic)

    # -- internals -------------------------------------------------------------------------------
    @staticmethod
    def _meta_of(entry: _Entry) -> dict[str, Any]:
        return {**entry.meta, REF: entry.ref}

    async def _join(self, entries: builtins.list[_Entry]) -> None:
        joins: dict[str, Presences] = {}
        for entry in entries:
            if entry.joined:
                continue
            entry.ref = _new_ref()
            entry.joined = True
            meta = self._meta_of(entry)
            await self.store.put(entry.topic, entry.key, meta)
            joins.setdefault(entry.topic, {}).setdefault(entry.key, []).append(meta)
        for topic, diff in joins.items():
            await self._publish(topic, joins=diff, leaves={})

    async def _leave(self, entries: builtins.list[_Entry]) -> None:
        leaves: dict[str, Presences] = {}
        for entry in entries:
            if not entry.joined:
                continue
            entry.joined = False
            await self.store.delete(entry.topic, entry.ref)
            leaves.setdefault(entry.topic, {}).setdefault(entry.key, []).append(self._meta_of(entry))
        for topic, diff in leaves.items():
            await self._publish(topic, joins={}, leaves=diff)

    async def _leave_locked(self, entries: builtins.list[_Entry]) -> None:
        async with self._lock:
            await self._leave(entries)

    def _spawn_leave(self, owner: str) -> None:
        if owner in self._paused:
            self._paused[owner] = None
            entries = [self._entries[ident] for ident in self._owners.get(owner, ()) if ident in self._entries]
            self._spawn(self._leave_locked(entries))

    async def _join_owner(self, owner: str) -> None:
        async with self._lock:
            if owner in self._paused:
                return  # paused again meanwhile
            await self._join([self._entries[ident] for ident in self._owners.get(owner, ()) if ident in self._entries])

    def _cancel_pause(self, owner: str) -> None:
        timer = self._paused.pop(owner, None)
        if timer is not None:
            timer.cancel()

    async def _publish(self, topic: str, *, joins: Presences, leaves: Presences) -> None:
        try:
            receivers = await self.pubsub.publish(topic, PresenceDiff(topic, joins, leaves))
        except Exception:  # a broken backend must not fail the session that tracked
            log.exception("fastapi-live: publishing a presence diff to %r failed", topic)
            receivers = None
        if receivers is None:  # Redis could not be asked: only this process heard it
            stale = self._stale.setdefault(topic, {})
            for key, metas in leaves.items():
                stale.setdefault(key, []).extend(metas)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("fastapi-live: a presence change failed", exc_info=task.exception())


def _new_ref() -> str:
    return secrets.token_urlsafe(9)


class MemoryPresenceStore:
    """Entries of this process only, for the in-memory PubSub: a dict per topic."""

    def __init__(self) -> None:
        self._topics: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}

    async def start(self, presence: Presence) -> None:
        return None

    async def stop(self) -> None:
        self._topics.clear()

    async def put(self, topic: str, key: str, meta: dict[str, Any]) -> None:
        self._topics.setdefault(topic, {})[meta[REF]] = (key, meta)

    async def delete(self, topic: str, ref: str) -> None:
        entries = self._topics.get(topic)
        if entries is not None and entries.pop(ref, None) is not None and not entries:
            del self._topics[topic]

    async def list(self, topic: str) -> Presences:
        return _grouped(self._topics.get(topic, {}).values())


# -- Redis -------------------------------------------------------------------------------------
# Scripts read the time from the Redis server holding the nodes' set (TIME): deadlines are
# written and compared by the same clock, whatever the processes' clocks say.
_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
_HEARTBEAT = _NOW + "return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])"
_LIVE = _NOW + "return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')"
_CLAIM_DEAD = _NOW + (
    "local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1])) "
    "for _, node in ipairs(dead) do redis.call('ZREM', KEYS[1], node) end "
    "return dead"
)
# Fields are "<node>:<ref>" (a node id never holds ':'), values '["<node>", key, meta, at]' JSON: the
# list is one HVALS joined into one JSON array in Lua, filtered by live node in Python.
_LIST = "return '[' .. table.concat(redis.call('HVALS', KEYS[1]), ',') .. ']'"
_REAP = (
    "local p = ARGV[1] local n = #p local all = redis.call('HGETALL', KEYS[1]) local out, gone = {}, {} "
    "for i = 1, #all, 2 do if string.sub(all[i], 1, n) == p then gone[#gone + 1] = all[i] out[#out + 1] = all[i + 1] end end "
    "for i = 1, #gone, 1000 do redis.call('HDEL', KEYS[1], unpack(gone, i, math.min(i + 999, #gone))) end "
    "return '[' .. table.concat(out, ',') .. ']'"
)


def entries_key(topic: str, prefix: str = KEY_PREFIX) -> str:
    return f"{prefix}{{{topic}}}"


def node_topics_key(node: str, prefix: str = KEY_PREFIX) -> str:
    return f"{prefix}node:{{{node}}}"


def nodes_key(prefix: str = KEY_PREFIX) -> str:
    return prefix + "{nodes}"


class RedisPresenceStore:
    """Entries in Redis, shared by every process; see the module docstring for the protocol.

    ``client`` is a ``redis.asyncio`` client (``Redis`` or ``RedisCluster``) — the PubSub's.
    """

    def __init__(
        self,
        client: Any,
        *,
        heartbeat: float = 0.5,
        ttl: float = 3.0,
        retry: float = 0.2,
        timeout: float = 1.0,
        reap_batch: int = 16,
        prefix: str = KEY_PREFIX,
    ) -> None:
        for name, value in (("heartbeat", heartbeat), ("ttl", ttl), ("retry", retry), ("timeout", timeout)):
            if not value > 0:
                raise LiveError(f"invalid {name} for RedisPresenceStore: expected a number of seconds > 0, got {value!r}")
        if not ttl > heartbeat:
            raise LiveError(f"invalid ttl for RedisPresenceStore: expected more than the heartbeat ({heartbeat!r} s), got {ttl!r}")
        self.client = client
        self.heartbeat = heartbeat
        self.ttl = ttl
        self.retry = retry
        self.timeout = timeout
        self.reap_batch = reap_batch
        self.prefix = prefix
        self.node_id = secrets.token_hex(8)
        self.beats = 0  # successful heartbeats: tests wait on these instead of sleeping
        self.ticks = 0  # finished rounds of heartbeat and reaping
        self._scripts = {name: client.register_script(source) for name, source in (
            ("heartbeat", _HEARTBEAT), ("live", _LIVE), ("claim", _CLAIM_DEAD), ("list", _LIST), ("reap", _REAP),
        )}  # fmt: skip
        self._presence: Presence | None = None
        self._task: asyncio.Task[None] | None = None
        self._registered = False
        self._dirty = False  # a write failed: the next good heartbeat writes this node's entries again
        self._deletes: set[tuple[str, str]] = set()  # (topic, ref) deletes that failed, retried with the resync
        self._topics: dict[str, int] = {}  # topic -> this node's entries there (the reaper's index)
        self._outage_since: float | None = None
        self._stopping = False
        self._lock = asyncio.Lock()  # writes and resyncs in order: a resync never revives a deleted entry

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self, presence: Presence) -> None:
        self._presence = presence
        self._stopping = False
        await self._beat_once()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="fastapi-live presence heartbeat")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._stopping = True
        while task is not None and not task.done():
            # again until it ends: a cancel that meets an expiring asyncio.timeout can turn
            # into a TimeoutError, which the loop survives (Python 3.11)
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        try:
            async with asyncio.timeout(self.timeout):
                for topic in list(self._topics):
                    await self._scripts["reap"](keys=[entries_key(topic, self.prefix)], args=[self.node_id + ":"])
                await self.client.zrem(nodes_key(self.prefix), self.node_id)
                await self.client.delete(node_topics_key(self.node_id, self.prefix))
        except Exception as exc:  # Redis is away: the others reap this node after the ttl
            log.warning("fastapi-live: could not remove this process's presence entries from Redis (%s); others remove them within %g s", exc, self.ttl)
        self._topics.clear()
        self._registered = False

    # -- entries ---------------------------------------------------------------------------------
    async def put(self, topic: str, key: str, meta: dict[str, Any]) -> None:
        ref = meta[REF]
        self._topics[topic] = self._topics.get(topic, 0) + 1
        self._deletes.discard((topic, ref))
        try:
            async with self._lock, asyncio.timeout(self.timeout):
                pipe = self.client.pipeline(transaction=False)
                pipe.sadd(node_topics_key(self.node_id, self.prefix), topic)
                pipe.hset(entries_key(topic, self.prefix), f"{self.node_id}:{ref}", _dump(self.node_id, key, meta))
                await pipe.execute()
        except Exception as exc:
            self._failed(exc)

    async def delete(self, topic: str, ref: str) -> None:
        count = self._topics.get(topic, 0) - 1
        try:
            async with self._lock, asyncio.timeout(self.timeout):
                await self.client.hdel(entries_key(topic, self.prefix), f"{self.node_id}:{ref}")
                if count <= 0:
                    await self.client.srem(node_topics_key(self.node_id, self.prefix), topic)
        except Exception as exc:
            self._deletes.add((topic, ref))
            self._failed(exc)
        finally:
            if count <= 0:
                self._topics.pop(topic, None)
            else:
                self._topics[topic] = count

    async def list(self, topic: str) -> Presences:
        try:
            async with asyncio.timeout(self.timeout):
                live = {_text(node) for node in await self._scripts["live"](keys=[nodes_key(self.prefix)])}
                raw = await self._scripts["list"](keys=[entries_key(topic, self.prefix)])
        except Exception as exc:
            self._failed(exc)
            return self._presence.local_list(topic) if self._presence is not None else {}
        # Decoding a big list is a burst of short-lived, acyclic containers: a garbage collection
        # in its middle would walk the whole heap for nothing (~30 ms of a 10,000-user list).
        pause = len(raw) > _GC_PAUSE_BYTES and gc.isenabled()
        if pause:
            gc.disable()
        try:
            # a node past its deadline and not reaped yet is left out: it is gone after the ttl, whoever reaps it
            entries = [entry for entry in json.loads(raw) if entry[0] in live]
            entries.sort(key=_joined_at)  # a hash keeps no order: oldest first, by the time each was tracked
            return _grouped((key, meta) for _node, key, meta, _at in entries)
        finally:
            if pause:
                gc.enable()

    # -- heartbeat and reaper --------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            healthy = await self._beat_once()
            self.ticks += 1
            await asyncio.sleep(self.heartbeat if healthy else self.retry)

    async def _beat_once(self) -> bool:
        try:
            async with asyncio.timeout(self.timeout):
                added = await self._scripts["heartbeat"](keys=[nodes_key(self.prefix)], args=[self.node_id, int(self.ttl * 1000)])
            async with self._lock:
                if added and self._registered:
                    await self._rejoin()
                self._registered = True
                self.beats += 1
                if self._dirty or self._deletes:
                    await self._resync()
            self._recovered()
            await self._reap()
            if self._presence is not None:
                await self._presence.redeliver()
            return True
        except Exception as exc:
            self._failed(exc)
            return False

    async def _rejoin(self) -> None:
        """This node was claimed as dead (an outage past the ttl): come back under a new id."""
        old = self.node_id
        self.node_id = secrets.token_hex(8)
        log.warning("fastapi-live: this process's presence entries were removed after a Redis outage past the %g s ttl; writing them again", self.ttl)
        async with asyncio.timeout(self.timeout):
            await self._scripts["heartbeat"](keys=[nodes_key(self.prefix)], args=[self.node_id, int(self.ttl * 1000)])
            for topic in self._topics:  # what the reaper did not get to (it ran before our last writes)
                await self._scripts["reap"](keys=[entries_key(topic, self.prefix)], args=[old + ":"])
            await self.client.delete(node_topics_key(old, self.prefix))
        self._deletes.clear()  # their fields went with the old id
        await self._resync()
        if self._presence is not None:
            self._presence.mark_stale(self._topics)  # one join per entry, sent by the redelivery that follows

    async def _resync(self) -> None:
        """Write this node's entries again and retry failed deletes (writes are idempotent)."""
        presence = self._presence
        async with asyncio.timeout(max(self.timeout, 5.0)):
            pipe = self.client.pipeline(transaction=False)
            for topic, ref in self._deletes:
                pipe.hdel(entries_key(topic, self.prefix), f"{self.node_id}:{ref}")
            if presence is not None:
                for topic, key, meta in presence.joined_entries():
                    pipe.sadd(node_topics_key(self.node_id, self.prefix), topic)
                    pipe.hset(entries_key(topic, self.prefix), f"{self.node_id}:{meta[REF]}", _dump(self.node_id, key, meta))
            await pipe.execute()
        self._dirty = False
        self._deletes.clear()

    async def _reap(self) -> None:
        """Claim nodes whose deadline passed, remove their entries and announce the leaves."""
        async with asyncio.timeout(self.timeout):
            dead = [_text(node) for node in await self._scripts["claim"](keys=[nodes_key(self.prefix)], args=[self.reap_batch])]
        for node in dead:
            async with asyncio.timeout(max(self.timeout, 5.0)):
                topics = [_text(topic) for topic in await self.client.smembers(node_topics_key(node, self.prefix))]
                for topic in topics:
                    raw = await self._scripts["reap"](keys=[entries_key(topic, self.prefix)], args=[node + ":"])
                    leaves: Presences = {}
                    for _node, key, meta, _at in json.loads(raw):
                        leaves.setdefault(key, []).append(meta)
                    if leaves and self._presence is not None:
                        await self._presence.announce(topic, leaves=leaves)
                await self.client.delete(node_topics_key(node, self.prefix))
            log.info("fastapi-live: removed the presence entries of a process that stopped heartbeating (%d topic(s))", len(topics))

    def _failed(self, exc: BaseException) -> None:
        self._dirty = True
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(
                "fastapi-live: presence cannot reach Redis (%s): this process's entries stay as they were and are written "
                "again when it is back; lists show this process's entries only meanwhile",
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            )

    def _recovered(self) -> None:
        if self._outage_since is not None:
            log.info("fastapi-live: presence reaches Redis again after %.1f s", time.monotonic() - self._outage_since)
            self._outage_since = None


def _dump(node: str, key: str, meta: dict[str, Any]) -> str:
    return json.dumps([node, key, meta, round(time.time(), 6)], separators=(",", ":"))


def _grouped(entries: Iterable[tuple[str, dict[str, Any]]]) -> Presences:
    result: Presences = {}
    for key, meta in entries:
        metas = result.get(key)
        if metas is None:
            result[key] = [meta]
        else:
            metas.append(meta)
    return result


def _joined_at(entry: builtins.list[Any]) -> float:
    return float(entry[3])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["REF", "REF_PREV", "MemoryPresenceStore", "Presence", "PresenceDiff", "PresenceStore", "Presences", "RedisPresenceStore"]

