"""Scale-out: finds the process that owns a session and routes its stream and events there.

With several worker processes (or machines) sharing one Redis, a page request, its stream
and each event may land on different processes. Sessions stay where they were mounted; a
small directory in Redis maps a session id to its owner's node id, and every process listens
on one PubSub topic of its own (``fastapi-live:node:<id>``) for routed work:

* a stream held by process B for a session owned by A: B asks A to ``attach``; A pumps the
  session's frames to B's node topic; B writes them to the browser. When B's stream ends it
  tells A to ``detach``.
* an event posted to C: C sends it to A, which handles it and sends the reply back.
* a publish to the owner's topic that reaches nobody means the owner died: the stream's
  process remounts the page itself (the reconnect recovery applies).

In one process, or with the in-memory backend, none of this runs: a session is a dict
lookup away and nothing is serialized.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any, Protocol

from .exceptions import EventError
from .session import Connection, LiveSession, SessionManager
from .transport import encode_comment

log = logging.getLogger("fastapi_live.cluster")

NODE_TOPIC = "fastapi-live:node:"
DIRECTORY_KEY = "fastapi-live:session:"


class Directory(Protocol):
    """Where each session lives: session id → node id."""

    async def claim(self, session_id: str, node_id: str) -> None: ...

    async def owner(self, session_id: str) -> str | None: ...

    async def release(self, session_id: str, node_id: str) -> None: ...


class RedisDirectory:
    """The directory as Redis keys with a TTL (a crashed node's entries expire)."""

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, client: Any, ttl: float) -> None:
        self.client = client
        self.ttl = max(int(ttl), 1)
        self._release = client.register_script(self._RELEASE)  # EVALSHA, reloaded on NOSCRIPT

    async def claim(self, session_id: str, node_id: str) -> None:
        await self.client.set(DIRECTORY_KEY + session_id, node_id, ex=self.ttl)

    async def owner(self, session_id: str) -> str | None:
        value = await self.client.get(DIRECTORY_KEY + session_id)
        return value.decode() if isinstance(value, bytes) else value

    async def release(self, session_id: str, node_id: str) -> None:
        # Only the owner removes its entry: a remount elsewhere may have claimed it since.
        await self._release(keys=[DIRECTORY_KEY + session_id], args=[node_id])


class Cluster:
    """Routes streams and events between the processes that share one PubSub backend."""

    def __init__(self, manager: SessionManager, directory: Directory, *, reply_timeout: float = 10.0) -> None:
        self.manager = manager
        self.pubsub = manager.pubsub
        self.directory = directory
        self.node_id = secrets.token_hex(8)
        self.reply_timeout = reply_timeout
        self._unsubscribe: Callable[[], None] | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._held: dict[str, Connection] = {}  # streams this node holds for remote sessions
        self._served: dict[str, asyncio.Task[None]] = {}  # pumps of this node's streams held elsewhere
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen: dict[str, float] = {}  # held connection id -> when its owner last spoke
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def topic(self) -> str:
        return NODE_TOPIC + self.node_id

    async def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = await self.pubsub.subscribe(self.topic, self._on_message)

    async def stop(self) -> None:
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
        await self.directory.claim(session.id, self.node_id)

    def release(self, session: LiveSession) -> None:
        self._spawn(self.directory.release(session.id, self.node_id))

    async def owner(self, session_id: str) -> str | None:
        owner = await self.directory.owner(session_id)
        return None if owner == self.node_id else owner

    async def _send(self, node_id: str, message: dict[str, Any]) -> bool:
        """Send to another node; False when nobody listens there (the node is gone)."""
        receivers = await self.pubsub.publish(NODE_TOPIC + node_id, {**message, "from": self.node_id})
        return receivers != 0

    # -- the stream holder's side ----------------------------------------------------------------
    async def attach_remote(self, session_id: str, owner: str, last_event_id: int | None) -> Connection | None:
        """Hold a stream here for a session owned by ``owner``; None when ``owner`` is gone."""
        connection_id = secrets.token_hex(8)
        connection = Connection(self.manager.config.outbound_limit, self.manager.config.outbound_bytes)
        self._held[connection_id] = connection
        ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[connection_id] = ready
        try:
            if not await self._send(owner, {"op": "attach", "sid": session_id, "conn": connection_id, "last": last_event_id}):
                return None
            answer = await asyncio.wait_for(ready, self.reply_timeout)
        except TimeoutError:
            answer = {"op": "gone"}
        finally:
            self._replies.pop(connection_id, None)
        if answer.get("op") != "attached":
            self._held.pop(connection_id, None)
            return None
        connection.remote = (owner, session_id, connection_id)
        self._seen[connection_id] = asyncio.get_running_loop().time()
        self.manager.connections.add(connection)
        self._ensure_watchdog()
        return connection

    def detach_remote(self, connection: Connection) -> None:
        if connection.remote is None:
            return
        owner, session_id, connection_id = connection.remote
        self._held.pop(connection_id, None)
        self._seen.pop(connection_id, None)
        self.manager.connections.discard(connection)
        self._spawn(self._send(owner, {"op": "detach", "sid": session_id, "conn": connection_id}))

    async def forward_event(self, session_id: str, owner: str, name: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """Have ``owner`` handle an event; its answer, or None when ``owner`` is gone."""
        request_id = secrets.token_hex(8)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = answer
        try:
            if not await self._send(owner, {"op": "event", "sid": session_id, "rid": request_id, "name": name, "params": params}):
                return None
            return await asyncio.wait_for(answer, self.reply_timeout)
        except TimeoutError:
            return None
        finally:
            self._replies.pop(request_id, None)

    # -- messages --------------------------------------------------------------------------------
    def _on_message(self, topic: str, message: Any) -> None:
        if not isinstance(message, dict):
            return
        op = message.get("op")
        if op in ("frame", "beat"):
            connection_id = message.get("conn", "")
            held = self._held.get(connection_id)
            if held is not None:
                self._seen[connection_id] = asyncio.get_running_loop().time()
                if op == "frame":
                    held.send(message["data"].encode())
        elif op == "end":
            held = self._held.pop(message.get("conn", ""), None)
            if held is not None:
                held.close()
        elif op in ("attached", "gone", "reply"):
            future = self._replies.get(message.get("conn") or message.get("rid") or "")
            if future is not None and not future.done():
                future.set_result(message)
        elif op == "attach":
            self._serve_stream(message)
        elif op == "detach":
            pump = self._served.pop(message.get("conn", ""), None)
            if pump is not None:
                pump.cancel()
        elif op == "event":
            self._spawn(self._serve_event(message))

    def _serve_stream(self, message: dict[str, Any]) -> None:
        session = self.manager.get(str(message.get("sid")))
        reply_to, connection_id = str(message.get("from")), str(message.get("conn"))
        if session is None or session.closed:
            self._spawn(self._send(reply_to, {"op": "gone", "conn": connection_id}))
            return
        last = message.get("last")
        connection = session.attach(last if isinstance(last, int) else None)
        self._served[connection_id] = asyncio.get_running_loop().create_task(self._pump(session, connection, reply_to, connection_id))

    async def _pump(self, session: LiveSession, connection: Connection, reply_to: str, connection_id: str) -> None:
        heartbeat = encode_comment("hb")
        try:
            await self._send(reply_to, {"op": "attached", "conn": connection_id})
            async for data in connection.frames():
                # The holder beats its own browser stream; a beat here only says "alive".
                if data == heartbeat:
                    message: dict[str, Any] = {"op": "beat", "conn": connection_id}
                else:
                    message = {"op": "frame", "conn": connection_id, "data": data.decode()}
                if not await self._send(reply_to, message):
                    break  # the holder is gone
            else:
                await self._send(reply_to, {"op": "end", "conn": connection_id})
        except asyncio.CancelledError:
            pass
        finally:
            self._served.pop(connection_id, None)
            session.detach(connection)

    async def _serve_event(self, message: dict[str, Any]) -> None:
        reply_to, request_id = str(message.get("from")), str(message.get("rid"))
        session = self.manager.get(str(message.get("sid")))
        answer: dict[str, Any]
        if session is None or session.closed:
            answer = {"status": 410, "detail": "the live session is gone; reload the page"}
        else:
            try:
                body, reply = await session.handle_event(str(message.get("name")), dict(message.get("params") or {}))
                answer = {"status": 200, "body": body, "reply": reply}
            except EventError as exc:
                answer = {"status": exc.status_code, "detail": str(exc), "errors": exc.errors}
            except Exception as exc:
                answer = {"status": 500, "detail": f"event failed on the server ({type(exc).__name__}); see the server log"}
        await self._send(reply_to, {"op": "reply", "rid": request_id, **answer})

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

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
