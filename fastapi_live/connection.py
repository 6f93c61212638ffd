"""The outbound side of one attached stream: a bounded queue of encoded SSE frames."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Sequence
from types import CoroutineType
from typing import Any, Protocol, TypeVar

from .config import SessionConfig
from .replay import ReplayBuffer
from .runner import Resume
from .telemetry import owner_of, telemetry
from .transport import GzipStream, encode_message
from .types import Message, Receive, Send

log = logging.getLogger("fastapi_live")
R = TypeVar("R")


class Connection:
    """The outbound side of one attached stream: a bounded queue of encoded frames.

    Frames are written by the stream's own task — or, when that task sits idle with nothing
    queued and the stream has a direct writer (``attach_writer``), on the sender's turn at
    once: a broadcast to thousands of streams then wakes no task per stream. A direct write
    the server cannot take at once (the client reads slowly) is finished by the stream's
    task, and frames sent meanwhile queue behind it, bounded as always.
    """

    __slots__ = (
        "_byte_limit",
        "_bytes",
        "_frames",
        "_inflight",
        "_limit",
        "_waiter",
        "_writer",
        "_writing",
        "closed",
        "listener",
        "overflowed",
        "owner",
        "remote",
    )

    def __init__(self, limit: int, byte_limit: int = 4_000_000) -> None:
        self._frames: deque[bytes] | None = None  # made with the first frame queued: an idle stream has none
        self._waiter: asyncio.Future[None] | None = None  # made only while the writer waits
        self._limit = limit
        self._byte_limit = byte_limit
        self._bytes = 0
        self._writer: Send | None = None
        self._writing = False  # a direct write is under way (its end is the stream task's)
        self._inflight: tuple[Coroutine[Any, Any, None], contextvars.Context, Any] | None = None
        self.closed = False
        self.overflowed = False
        self.owner: object = None  # the session whose frames this carries, when it is in this process
        self.remote: tuple[str, str, str] | None = None  # (owner node, session id, connection id)
        # Told of every frame and of the close, when a shared stream reads this one (``take``)
        # instead of a task of its own (``frames``).
        self.listener: Callable[[Connection], None] | None = None

    @property
    def queued(self) -> int:
        """Frames waiting for the stream's task to write them."""
        frames = self._frames
        return len(frames) if frames else 0

    def attach_writer(self, send: Send | None) -> None:
        """Let senders write frames with the ASGI ``send`` themselves while the stream's task is idle."""
        self._writer = send

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        waiter = self._waiter
        frames = self._frames
        if self._writer is not None and waiter is not None and not waiter.done() and not frames and not self._writing:
            self._write_now(data)
            return
        if frames and (len(frames) >= self._limit or self._bytes + len(data) > self._byte_limit):
            # A reader this far behind gets closed; its reconnect resyncs the page. One frame
            # alone is always taken, however large: a resync bigger than the limit must still
            # reach the page, or its every reconnect would render it again for nothing.
            self._overflow(len(data))
            return
        if frames is None:
            frames = self._frames = deque()
        frames.append(data)
        self._bytes += len(data)
        self._wake()

    def _overflow(self, incoming: int) -> None:
        log.warning(
            "fastapi-live: closed the stream of %s: its reader fell behind by %d frames, %d bytes "
            "(SessionConfig.outbound_limit=%d, outbound_bytes=%d); its reconnect resyncs the page",
            self._describe(),
            self.queued + 1,
            self._bytes + incoming,
            self._limit,
            self._byte_limit,
        )
        self.overflowed = True
        if telemetry.on:
            telemetry.point("stream", "overflow", *owner_of(self.owner), frames=self.queued + 1, bytes=self._bytes + incoming, remote=self.remote)
        self.close()

    def _describe(self) -> str:
        owner = self.owner
        if owner is not None:
            return f"{getattr(owner, 'view_name', type(owner).__name__)} session {getattr(owner, 'id', '?')}"
        if self.remote is not None:
            return f"session {self.remote[1]} (owned by node {self.remote[0]})"
        return "a live session"

    def _write_now(self, data: bytes) -> None:
        assert self._writer is not None
        self._writing = True
        try:
            coroutine = self._writer({"type": "http.response.body", "body": data, "more_body": True})
            if type(coroutine) is not CoroutineType:  # servers' send is an async def; be safe
                coroutine = _await(coroutine)
            waiting_on = coroutine.send(None)
        except StopIteration:
            self._writing = False
            return
        except Exception as exc:  # the server refused the write: the client is gone
            self._writing = False
            log.debug("fastapi-live: a direct stream write failed: %r", exc)
            self.close()
            return
        # The server makes the write wait: the stream's task finishes it, in order.
        self._inflight = (coroutine, contextvars.copy_context(), waiting_on)
        self._wake()

    def close(self) -> None:
        self.closed = True
        if self.overflowed:
            self._frames = None
            self._bytes = 0
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        listener = self.listener
        if listener is not None:
            listener(self)

    def take(self, limit: int) -> list[bytes]:
        """Up to ``limit`` queued frames, oldest first, for a reader with no task of its own."""
        taken: list[bytes] = []
        while len(taken) < limit and (data := self._pop()) is not None:
            taken.append(data)
        return taken

    @property
    def drained(self) -> bool:
        """No frame is queued."""
        return not self._frames

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """The frames to write, for a reader with a task of its own; it ends when the stream closes."""
        while True:
            if self._inflight is not None and not await self._finish_inflight():
                return
            while (data := self._pop()) is not None:
                yield data
            if self.closed:
                return
            if self._inflight is not None:
                continue
            try:
                await self._wait()
            finally:
                self._waiter = None

    async def serve(
        self,
        send: Send,
        receive: Receive,
        headers: Sequence[tuple[bytes, bytes]],
        end: StreamEnd,
        *,
        gzip: bool,
        direct: bool,
        release: list[Any] | None = None,
    ) -> None:
        """Write this stream's HTTP response: its head, then each frame as it comes, until the
        stream closes (the client hung up, or the session replaced or ended it); then ``end.detach``.

        ``direct``: nothing stands between this and the server (no middleware), so senders may
        write on their own turn while the stream is idle. An idle stream is this one coroutine
        waiting on one future: the client's hang-up is read by a ``DisconnectWatch``, no task.
        ``release``: the request's header list, emptied once the head is sent (the server reads
        it up to then; nothing does after), so an open stream does not keep it.
        """
        if gzip:
            send = gzip_send(send)
        watch = DisconnectWatch(receive, self)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            if release is not None:
                release.clear()
            watch.start()
            if direct:
                self._writer = send
            while True:
                if self._inflight is not None and not await self._finish_inflight():
                    break
                while (data := self._pop()) is not None:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                if self.closed:
                    self._writer = None
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    break
                if self._inflight is not None:
                    continue
                try:
                    await self._wait()
                finally:
                    self._waiter = None
        except OSError:
            pass  # the client went away mid-write
        finally:
            self._writer = None
            watch.stop()
            end.detach(self)

    def _pop(self) -> bytes | None:
        """The oldest queued frame, removed; None once drained (and the queue dropped: an idle
        stream holds none, and a close for overflow may have dropped it meanwhile)."""
        frames = self._frames
        if frames:
            data = frames.popleft()
            self._bytes -= len(data)
            return data
        self._frames = None
        return None

    def _wait(self) -> asyncio.Future[None]:
        """A future for the stream's task to wait on: set by the next frame, write or close."""
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter

    async def _finish_inflight(self) -> bool:
        """Finish the direct write the server made wait; False (and the stream closed) when it failed."""
        inflight, self._inflight = self._inflight, None
        assert inflight is not None
        try:
            await Resume(*inflight)
        except Exception as exc:
            log.debug("fastapi-live: a stream write failed: %r", exc)
            self.close()
            return False
        finally:
            self._writing = False
        return True


class StreamEnd(Protocol):
    """Who is told when a stream's response ends (``locator.SessionLocator``)."""

    def detach(self, connection: Connection) -> None: ...


# The context every watch's receive() resumes in: one for all, not a copy per wait. The server's
# receive sets no context variable, and the loop runs callbacks one at a time, never nested.
_WATCH_CONTEXT = contextvars.Context()


class DisconnectWatch:
    """Closes a connection when its client hangs up, reading the ASGI ``receive`` with no task
    of its own: each ``receive()`` runs until it waits, and is resumed by the future it waits on.

    A task per stream (its coroutine, its context, the loop's weak reference to it) would
    cost an idle stream more than the rest of its response.
    """

    __slots__ = ("_connection", "_pending", "_receive", "_waiting_on")

    def __init__(self, receive: Receive, connection: Connection) -> None:
        self._receive = receive
        self._connection = connection
        self._pending: Coroutine[Any, Any, Message] | None = None  # the receive() under way
        self._waiting_on: Any = None

    def start(self) -> None:
        self._step(None)

    def __call__(self, _future: Any = None) -> None:
        """What it waited on is done (a future's callback: the watch itself, no bound method)."""
        pending = self._pending
        if pending is not None:
            self._step(pending)

    def _step(self, pending: Coroutine[Any, Any, Message] | None) -> None:
        """Run ``receive()`` calls until one waits (resumed by what it waits on) or says the client left."""
        while True:
            coroutine = pending
            if coroutine is None:
                received = self._receive()
                coroutine = received if type(received) is CoroutineType else _await(received)  # servers' receive is an async def
            pending = None
            try:
                waiting_on = coroutine.send(None)
            except StopIteration as done:
                if done.value["type"] == "http.disconnect":
                    break
                continue  # a request body message: read on
            except Exception as exc:  # the server's receive failed: the client is as good as gone
                log.debug("fastapi-live: a stream's receive failed: %r", exc)
                break
            self._pending, self._waiting_on = coroutine, waiting_on
            if asyncio.isfuture(waiting_on):
                waiting_on.add_done_callback(self, context=_WATCH_CONTEXT)
            else:  # a bare yield (``asyncio.sleep(0)``): resumed on the loop's next turn, as a task would be
                asyncio.get_running_loop().call_soon(self, context=_WATCH_CONTEXT)
            return
        self._pending = self._waiting_on = None
        self._connection.close()

    def stop(self) -> None:
        """Stop reading: the ``receive()`` under way is closed (its server-side wait undone)."""
        pending, waiting_on = self._pending, self._waiting_on
        self._pending = self._waiting_on = None
        if asyncio.isfuture(waiting_on):
            waiting_on.remove_done_callback(self)
        if pending is not None:
            pending.close()


async def _await(awaitable: Awaitable[R]) -> R:
    return await awaitable


STREAM_GZIP_HEADERS = ((b"content-encoding", b"gzip"), (b"vary", b"accept-encoding"))
STREAM_PLAIN_HEADERS = ((b"vary", b"accept-encoding"),)


def gzip_send(send: Send) -> Send:
    """``send`` for a stream whose body goes gzip-encoded, each body message flushed at once.

    The encoding runs when a write starts, so the writes' order is the compressed stream's:
    a stream starts no write before the one before it is done (``Connection``).
    """
    stream = GzipStream()

    async def send_gzip(message: Message) -> None:
        if message["type"] == "http.response.body":
            body = stream.encode(message.get("body", b""))
            more = message.get("more_body", False)
            if not more:
                body += stream.finish()
            message = {"type": "http.response.body", "body": body, "more_body": more}
        await send(message)

    return send_gzip


class StreamOwner(Protocol):
    """What an ``Outbound`` needs of the session it serves (``session.LiveSession``)."""

    id: str
    view_name: str

    def stream_expired(self) -> None:
        """No stream attached within the wait (``wait``, a detach's grace): end the session."""
        ...


class Outbound:
    """A session's side of its stream: every frame numbered and kept for replay, sent to the
    connection attached now, if any; a new connection gets what it missed, or a resync.

    Without a connection it waits: ``grace`` seconds after a stream ended (or closed for falling
    behind), or what ``wait`` says before the first; then it tells its owner the stream expired.
    """

    __slots__ = ("_config", "_connections", "_ever_attached", "_owner", "_replay", "_timer", "current")

    def __init__(self, owner: StreamOwner, config: SessionConfig, connections: set[Connection]) -> None:
        self._owner = owner
        self._config = config  # the process's: its limits are read when used, not copied per session
        self._replay: ReplayBuffer | None = None  # made with the first frame: an idle page may never send one
        self._connections = connections  # every open stream of the process (heartbeats, shutdown)
        self._ever_attached = False
        self._timer: asyncio.TimerHandle | None = None
        self.current: Connection | None = None

    @property
    def replay(self) -> ReplayBuffer:
        """The frames kept for a reconnect's replay."""
        replay = self._replay
        if replay is None:
            replay = self._replay = ReplayBuffer(self._config.replay_size, self._config.replay_bytes)
        return replay

    @property
    def last_id(self) -> int:
        """The id of the newest frame sent (0 before the first)."""
        replay = self._replay
        return 0 if replay is None else replay.last_id

    @property
    def limit(self) -> int:
        return self._config.outbound_limit

    @property
    def byte_limit(self) -> int:
        return self._config.outbound_bytes

    def emit(self, body: str) -> None:
        """Send one frame (nothing for an empty body); a connection it closes for falling too far
        behind is gone, and the grace for its reconnect (which resyncs) begins."""
        if not body:
            return
        data = self.replay.add(body)
        conn = self.current
        if conn is not None:
            conn.send(data)
            if conn.closed:
                self.current = None
                self.wait(self._config.disconnect_grace)

    def _missed(self, start: int) -> list[bytes] | None:
        """The frames after ``start``, or None when some are no longer kept (see ``ReplayBuffer.since``)."""
        replay = self._replay
        if replay is None:  # nothing sent yet: only a stream that has seen nothing is up to date
            return [] if start == 0 else None
        return replay.since(start)

    def attach(self, last_event_id: int | None, resync: Callable[[], str]) -> Connection:
        """A connection replacing any older one: it replays what it missed, or gets ``resync()``."""
        start = 0 if (last_event_id is None and not self._ever_attached) else last_event_id
        missed = None if start is None else self._missed(start)
        # A replay that would not fit the stream's queue resyncs instead of overflowing it.
        if missed is not None and (len(missed) + 1 > self.limit or sum(map(len, missed)) > self.byte_limit):
            missed = None
        conn = self._replace()
        retry_ms = self._config.retry_ms
        if missed is not None:
            conn.send(encode_message("", event_id=str(start), retry=retry_ms))
            for data in missed:
                conn.send(data)
        else:
            conn.send(encode_message(resync(), event_id=str(self.last_id), retry=retry_ms))
        return conn

    def attach_remount(self, resync: str, event: str) -> Connection:
        """The connection of a remounted page: one named message with the fresh container."""
        conn = self._replace()
        # Frames already buffered are older than this render: the resync supersedes them.
        conn.send(encode_message(resync, event=event, event_id=str(self.last_id), retry=self._config.retry_ms))
        return conn

    def _replace(self) -> Connection:
        self._stop_waiting()
        if self.current is not None:
            self.current.close()
        self._ever_attached = True
        conn = self.current = Connection(self._config.outbound_limit, self._config.outbound_bytes)
        conn.owner = self._owner
        self._connections.add(conn)
        if telemetry.on:
            telemetry.point("stream", "attach", *owner_of(self._owner))
        return conn

    def detach(self, conn: Connection) -> bool:
        """The stream of ``conn`` ended; True when it was the attached one (the grace begins)."""
        if telemetry.on and conn in self._connections:  # once per connection: a close detaches it before its stream ends
            telemetry.point("stream", "detach", *owner_of(self._owner))
        self._connections.discard(conn)
        if self.current is conn:
            self.current = None
            self.wait(self._config.disconnect_grace)
            return True
        return False

    @property
    def waiting(self) -> bool:
        """No stream attached, and the session ends unless one attaches in time."""
        return self._timer is not None

    def wait(self, delay: float) -> None:
        """Expire in ``delay`` seconds unless a stream attaches meanwhile."""
        self._stop_waiting()
        self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _stop_waiting(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self.current is None:
            self._owner.stream_expired()

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.detach(self.current)
        self._stop_waiting()
