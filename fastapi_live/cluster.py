"""Scale-out: finds the process that owns a session and routes its stream and events there.

With several worker processes (or machines) sharing one Redis, a page request, its stream
and each event may land on different processes. Sessions stay where they were mounted; a
small directory in Redis maps a session id to its owner's node id, and every process listens
on one PubSub topic of its own (``fastapi-live:node:<id>``) for routed work:

* a stream held by process B for a session owned by A: B asks A to ``attach``; A pumps the
  session's frames to B's node topic; B writes them to the browser. When B's stream ends it
  tells A to ``detach``.
* an event posted to C: C sends it to A, which handles it and sends the reply back.
* an upload chunk posted to C: C reads it (at most the chunk size its token allows), sends
  its bytes to A, which writes them and answers.
* a publish to the owner's topic that reaches nobody means the owner died: the stream's
  process remounts the page itself (the reconnect recovery applies).

In one process, or with the in-memory backend, none of this runs: a session is a dict
lookup away and nothing is serialized.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio.cluster import RedisCluster

from .connection import Connection
from .locator import CLOSED, GONE, UPLOAD_GONE, EventAnswer, LocalLocator, UploadAnswer, answer_chunk, answer_event
from .manager import SessionManager
from .session import LiveSession
from .transport import encode_comment
from .uploads import Chunk

log = logging.getLogger("fastapi_live.cluster")

NODE_TOPIC = "fastapi-live:node:"
DIRECTORY_KEY = "fastapi-live:session:"
RELEASE_TIMEOUT = 5.0  # seconds a shutdown waits for the directory entries of its sessions to go


def directory_key(session_id: str) -> str:
    """The session's directory key, hash-tagged by its id: on Redis Cluster each script touches one slot."""
    return f"{DIRECTORY_KEY}{{{session_id}}}"


# -- operations between nodes: each a frozen dataclass the PubSub codec carries by type ------------
@dataclass(frozen=True, slots=True)
class Attach:
    """Holder → owner: pump session ``sid``'s frames to me as connection ``conn`` (``remount``:
    the page was just remounted, its stream starts with the fresh render)."""

    sender: str
    sid: str
    conn: str
    last: int | None
    remount: bool = False


@dataclass(frozen=True, slots=True)
class Attached:
    """Owner → holder: frames for ``conn`` follow."""

    sender: str
    conn: str


@dataclass(frozen=True, slots=True)
class Gone:
    """Owner → holder: the session is not here (any more)."""

    sender: str
    conn: str


@dataclass(frozen=True, slots=True)
class Frame:
    """Owner → holder: one encoded SSE frame for ``conn``."""

    sender: str
    conn: str
    data: str


@dataclass(frozen=True, slots=True)
class Beat:
    """Owner → holder: the pump of ``conn`` is alive (the holder beats its browser itself)."""

    sender: str
    conn: str


@dataclass(frozen=True, slots=True)
class End:
    """Owner → holder: the session closed the stream of ``conn``."""

    sender: str
    conn: str


@dataclass(frozen=True, slots=True)
class Detach:
    """Holder → owner: the browser's stream of ``conn`` ended."""

    sender: str
    sid: str
    conn: str


@dataclass(frozen=True, slots=True)
class ForwardedEvent:
    """Any node → owner: handle this event and answer request ``rid``."""

    sender: str
    sid: str
    rid: str
    name: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Answer:
    """Owner → asker: the answer to request ``rid``."""

    sender: str
    rid: str
    status: int
    body: str = ""
    reply: Any = None
    detail: str = ""
    errors: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ForwardedChunk:
    """Any node → owner: write this upload chunk and answer request ``rid``."""

    sender: str
    sid: str
    rid: str
    chunk: Chunk
    data: bytes


@dataclass(frozen=True, slots=True)
class ChunkAnswer:
    """Owner → asker: the answer to the chunk of request ``rid``."""

    sender: str
    rid: str
    status: int
    offset: int = 0
    done: bool = False
    detail: str = ""


Operation = Attach | Attached | Gone | Frame | Beat | End | Detach | ForwardedEvent | Answer | ForwardedChunk | ChunkAnswer


class Directory(Protocol):
    """Where each session lives: session id → node id."""

    async def claim(self, session_id: str, node_id: str) -> None: ...

    async def owner(self, session_id: str) -> str | None: ...

    async def release(self, session_ids: Collection[str], node_id: str) -> None:
        """Remove the entries of ``session_ids`` that still name ``node_id``."""
        ...


class RedisDirectory:
    """The directory as Redis keys with a TTL (a crashed node's entries expire)."""

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, client: Any, ttl: float) -> None:  # a redis.asyncio client
        self.client = client
        self.ttl = max(int(ttl), 1)
        self._release = client.register_script(self._RELEASE)  # EVALSHA, reloaded on NOSCRIPT

    async def claim(self, session_id: str, node_id: str) -> None:
        await self.client.set(directory_key(session_id), node_id, ex=self.ttl)

    async def owner(self, session_id: str) -> str | None:
        value = await self.client.get(directory_key(session_id))
        return value.decode() if isinstance(value, bytes) else value

    async def release(self, session_ids: Collection[str], node_id: str) -> None:
        # Only entries that still name ``node_id`` go: a remount elsewhere may have claimed one since.
        if isinstance(self.client, RedisCluster):
            # A cluster pipeline refuses scripts (EVALSHA): one call per key, each on its own
            # slot, all in flight at once.
            await asyncio.gather(*(self._release(keys=[directory_key(s)], args=[node_id]) for s in session_ids))
            return
        # One round trip for many (a shutdown releases every session at once).
        pipe = self.client.pipeline(transaction=False)
        for session_id in session_ids:
            await self._release(keys=[directory_key(session_id)], args=[node_id], client=pipe)
        await pipe.execute()


class ClusterLocator:
    """Sessions anywhere in the cluster: this process's first, then the owner named in Redis."""

    def __init__(self, manager: SessionManager, directory: Directory, *, reply_timeout: float = 10.0) -> None:
        self.manager = manager
        self.local = LocalLocator(manager)
        self.pubsub = manager.pubsub
        self.directory = directory
        self.node_id = secrets.token_hex(8)
        self.reply_timeout = reply_timeout
        self._unsubscribe: Callable[[], None] | None = None
        self._replies: dict[str, asyncio.Future[Attached | Gone | Answer | ChunkAnswer]] = {}
        self._held: dict[str, Connection] = {}  # streams this node holds for remote sessions
        self._served: dict[str, asyncio.Task[None]] = {}  # pumps of this node's streams held elsewhere
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen: dict[str, float] = {}  # held connection id -> when its owner last spoke
        self._watchdog: asyncio.Task[None] | None = None
        self._releasing: dict[str, set[str]] = {}  # node id -> session ids whose entries naming it go
        self._releaser: asyncio.Task[None] | None = None
        manager.on_forget = self.release

    @property
    def topic(self) -> str:
        return NODE_TOPIC + self.node_id

    async def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = await self.pubsub.subscribe(self.topic, self._on_message)

    async def stop(self) -> None:
        # The sessions closed just before this (a graceful shutdown) release their entries
        # first: left behind, each would name a dead node until its TTL (token_max_age).
        releaser = self._releaser
        if releaser is not None and not releaser.done():
            await asyncio.wait([releaser], timeout=RELEASE_TIMEOUT)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for pump in list(self._served.values()):
            pump.cancel()
        for task in [*self._tasks, self._watchdog]:
            if task is not None:
                task.cancel()
        for future in self._replies.values():
            future.cancel()

    # -- ownership ---------------------------------------------------------------------------
    async def claim(self, session: LiveSession) -> None:
        # A page remounted here under the session id it had: its earlier session's release,
        # still waiting for its batch, must not take the new entry away.
        self._releasing.get(self.node_id, set()).discard(session.id)
        await self.start()
        await self.directory.claim(session.id, self.node_id)

    def release(self, session: LiveSession) -> None:
        self._release_later(session.id, self.node_id)

    def _release_later(self, session_id: str, node_id: str) -> None:
        """Remove the directory entry of ``session_id`` if it still names ``node_id``, soon, in a batch."""
        self._releasing.setdefault(node_id, set()).add(session_id)
        if self._releaser is None or self._releaser.done():
            self._releaser = asyncio.get_running_loop().create_task(self._release_batches(), name="fastapi-live directory release")

    async def _release_batches(self) -> None:
        while self._releasing:
            batches, self._releasing = self._releasing, {}
            held = self.local.manager.sessions  # claimed here again meanwhile (a remount): kept
            for node_id, session_ids in batches.items():
                session_ids = {s for s in session_ids if node_id != self.node_id or s not in held}
                if not session_ids:
                    continue
                try:
                    await self.directory.release(session_ids, node_id)
                except Exception as exc:  # Redis is down: the entries expire by their TTL
                    log.warning("fastapi-live: could not release %d directory entries (%s); they expire with their TTL", len(session_ids), exc)

    async def _owner(self, session_id: str) -> str | None:
        owner = await self.directory.owner(session_id)
        return None if owner == self.node_id else owner

    async def _send(self, node_id: str, operation: Operation) -> bool:
        """Send to another node; False when nobody listens there (the node is gone)."""
        return await self.pubsub.publish(NODE_TOPIC + node_id, operation) != 0

    async def _ask(self, node_id: str, request_id: str, operation: Operation) -> Attached | Gone | Answer | ChunkAnswer | None:
        """Send ``operation`` and wait for its answer; None when the node is gone or silent."""
        answer: asyncio.Future[Attached | Gone | Answer | ChunkAnswer] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = answer
        try:
            if not await self._send(node_id, operation):
                # Nobody listens on its topic: the node is dead, and its entry for the session is stale.
                if isinstance(operation, (Attach, ForwardedEvent, ForwardedChunk)):
                    self._release_later(operation.sid, node_id)
                return None
            return await asyncio.wait_for(answer, self.reply_timeout)
        except TimeoutError:
            return None
        finally:
            self._replies.pop(request_id, None)

    # -- the router's side (SessionLocator) ---------------------------------------------------
    async def attach(self, session_id: str, last_event_id: int | None) -> Connection | None:
        connection = await self.local.attach(session_id, last_event_id)
        if connection is None and (owner := await self._owner(session_id)) is not None:
            connection = await self._attach_remote(session_id, owner, last_event_id)
        return connection

    async def attach_remounted(self, session_id: str) -> Connection | None:
        connection = await self.local.attach_remounted(session_id)
        if connection is None and (owner := await self._owner(session_id)) is not None:
            connection = await self._attach_remote(session_id, owner, None, remount=True)
        return connection

    def detach(self, connection: Connection) -> None:
        if connection.remote is None:
            self.local.detach(connection)
            return
        owner, session_id, connection_id = connection.remote
        self._held.pop(connection_id, None)
        self._seen.pop(connection_id, None)
        self.manager.connections.discard(connection)
        self._spawn(self._send(owner, Detach(self.node_id, session_id, connection_id)))

    async def event(self, session_id: str, name: str, params: dict[str, Any]) -> EventAnswer:
        if self.manager.get(session_id) is not None:
            return await self.local.event(session_id, name, params)
        owner = await self._owner(session_id)
        if owner is None:
            return GONE
        request_id = secrets.token_hex(8)
        answer = await self._ask(owner, request_id, ForwardedEvent(self.node_id, session_id, request_id, name, params))
        if not isinstance(answer, Answer):
            return GONE
        return EventAnswer(answer.status, answer.body, answer.reply, answer.detail, answer.errors)

    async def upload(self, session_id: str, chunk: Chunk, body: AsyncIterator[bytes]) -> UploadAnswer:
        if self.manager.get(session_id) is not None:
            return await self.local.upload(session_id, chunk, body)
        owner = await self._owner(session_id)
        if owner is None:
            return UPLOAD_GONE
        # The bytes travel to the owner whole: at most the chunk size the token allows (plus
        # one byte, so the owner sees a body past its limit and refuses it as it would its own).
        data = bytearray()
        async for piece in body:
            data += piece
            if len(data) > chunk.token.chunk_size:
                break
        request_id = secrets.token_hex(8)
        answer = await self._ask(owner, request_id, ForwardedChunk(self.node_id, session_id, request_id, chunk, bytes(data)))
        if not isinstance(answer, ChunkAnswer):
            return UPLOAD_GONE
        return UploadAnswer(answer.status, answer.offset, answer.done, answer.detail)

    async def _attach_remote(self, session_id: str, owner: str, last_event_id: int | None, *, remount: bool = False) -> Connection | None:
        """Hold a stream here for a session owned by ``owner``; None when ``owner`` is gone."""
        connection_id = secrets.token_hex(8)
        connection = Connection(self.manager.config.outbound_limit, self.manager.config.outbound_bytes)
        self._held[connection_id] = connection  # frames may come before the answer does
        answer: Attached | Gone | Answer | ChunkAnswer | None = None
        try:
            answer = await self._ask(owner, connection_id, Attach(self.node_id, session_id, connection_id, last_event_id, remount))
        finally:
            if not isinstance(answer, Attached):  # refused, silent, or the request was cancelled
                self._held.pop(connection_id, None)
        if not isinstance(answer, Attached):
            return None
        connection.remote = (owner, session_id, connection_id)
        self._seen[connection_id] = asyncio.get_running_loop().time()
        self.manager.connections.add(connection)
        self._ensure_watchdog()
        return connection

    # -- operations from other nodes ------------------------------------------------------------
    def _on_message(self, topic: str, operation: Any) -> None:
        match operation:
            case Frame(conn=conn, data=data):
                self._on_frame(conn, data)
            case Beat(conn=conn):
                self._on_frame(conn, None)
            case End(conn=conn):
                held = self._held.pop(conn, None)
                if held is not None:
                    held.close()
            case Attached(conn=request) | Gone(conn=request) | Answer(rid=request) | ChunkAnswer(rid=request):
                future = self._replies.get(request)
                if future is not None and not future.done():
                    future.set_result(operation)
            case Attach():
                self._serve_stream(operation)
            case Detach(conn=conn):
                pump = self._served.pop(conn, None)
                if pump is not None:
                    pump.cancel()
            case ForwardedEvent():
                self._spawn(self._serve_event(operation))
            case ForwardedChunk():
                self._spawn(self._serve_chunk(operation))
            case _:
                log.warning("fastapi-live: ignored a message on this node's topic that is no cluster operation: %r", operation)

    def _on_frame(self, connection_id: str, data: str | None) -> None:
        held = self._held.get(connection_id)
        if held is not None:
            self._seen[connection_id] = asyncio.get_running_loop().time()
            if data is not None:
                held.send(data.encode())

    def _serve_stream(self, attach: Attach) -> None:
        session = self.manager.get(attach.sid)
        if session is None or session.closed:
            self._spawn(self._send(attach.sender, Gone(self.node_id, attach.conn)))
            return
        connection = session.attach_remount() if attach.remount else session.attach(attach.last)
        self._served[attach.conn] = asyncio.get_running_loop().create_task(self._pump(session, connection, attach.sender, attach.conn))

    async def _pump(self, session: LiveSession, connection: Connection, holder: str, connection_id: str) -> None:
        heartbeat = encode_comment("hb")
        try:
            if not await self._send(holder, Attached(self.node_id, connection_id)):
                return  # the holder died while asking
            async for data in connection.frames():
                # The holder beats its own browser stream; a beat here only says "alive".
                operation: Operation
                if data == heartbeat:
                    operation = Beat(self.node_id, connection_id)
                else:
                    operation = Frame(self.node_id, connection_id, data.decode())
                if not await self._send(holder, operation):
                    break  # the holder is gone
            else:
                await self._send(holder, End(self.node_id, connection_id))
        except asyncio.CancelledError:
            pass
        finally:
            self._served.pop(connection_id, None)
            session.detach(connection)

    async def _serve_event(self, event: ForwardedEvent) -> None:
        session = self.manager.get(event.sid)
        answer = CLOSED if session is None or session.closed else await answer_event(session, event.name, event.params)
        await self._send(event.sender, Answer(self.node_id, event.rid, answer.status, answer.body, answer.reply, answer.detail, answer.errors))

    async def _serve_chunk(self, forwarded: ForwardedChunk) -> None:
        session = self.manager.get(forwarded.sid)

        async def body() -> AsyncIterator[bytes]:
            yield forwarded.data

        answer = UPLOAD_GONE if session is None or session.closed else await answer_chunk(session, forwarded.chunk, body())
        await self._send(forwarded.sender, ChunkAnswer(self.node_id, forwarded.rid, answer.status, answer.offset, answer.done, answer.detail))

    def _ensure_watchdog(self) -> None:
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """Close held streams whose owner fell silent: their reconnect then remounts elsewhere."""
        interval = self.manager.config.heartbeat
        while self._held:
            await asyncio.sleep(interval)
            deadline = asyncio.get_running_loop().time() - 2.5 * interval
            for connection_id, seen in list(self._seen.items()):
                held = self._held.get(connection_id)
                if held is not None and seen < deadline:
                    log.warning("fastapi-live: the node owning a streamed session fell silent; closing the stream so it reconnects")
                    held.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
