"""The session actor: one per open page, with a serial mailbox, its tasks and its stream."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from types import CoroutineType
from typing import Any

from markupsafe import Markup, escape

from .async_ops import Exit, Ok, Outcome, StreamBatch, TaskRecord, apply_assign_outcome, call_user_function, is_async_generator
from .async_result import AsyncResult
from .exceptions import CallbackReturnError, ConfigurationError, EventError, LiveError
from .lifecycle import callable_name, run_hooks
from .pubsub import PubSub
from .rendering import ATTR_ROOT, ATTR_TOKEN, ROOT_ID, PageTemplate, markup_attrs, partial, push_element
from .runner import Resume, Runner
from .socket import ClientOp
from .streams import StreamOp
from .tokens import PageToken
from .transport import encode_comment, encode_message
from .view import LiveSocket, LiveView, dispatch_event

log = logging.getLogger("fastapi_live")
_INLINE: Any = object()  # marks the mailbox busy with an event handled in its request's task
_QUEUED: Any = object()  # marks the mailbox waiting for its turn in the manager's runner


@dataclass(slots=True)
class SessionConfig:
    """Timing and size limits of sessions; every value has a serious default."""

    connect_timeout: float = 30.0
    """Seconds a rendered page may take to open its stream before its session is dropped."""
    disconnect_grace: float = 60.0
    """Seconds a session outlives its stream, so that a reconnect finds it."""
    replay_size: int = 256
    """Frames kept for replay to a reconnecting stream (``Last-Event-ID``)."""
    outbound_limit: int = 512
    """Frames queued for a slow stream before it is closed (its reconnect then resyncs)."""
    outbound_bytes: int = 4_000_000
    """Bytes queued for a slow stream before it is closed, whatever the frame count."""
    replay_bytes: int = 1_000_000
    """Bytes of frames kept for replay; older frames are dropped (a reconnect then resyncs)."""
    retry_ms: int = 500
    """The SSE ``retry:`` the client starts its reconnect backoff from."""
    heartbeat: float = 15.0
    """Seconds between heartbeat comments on idle streams (one shared timer)."""
    mount_warning_ms: float | None = 50.0
    """Warn when ``mount`` blocks longer than this; None turns the warning off."""

    def __post_init__(self) -> None:
        for name in ("replay_size", "outbound_limit"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ConfigurationError(f"SessionConfig.{name} must be a whole number of at least 1\nGot: {value!r}")


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
        "overflowed",
        "remote",
    )

    def __init__(self, limit: int, byte_limit: int = 4_000_000) -> None:
        self._frames: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None  # made only while the writer waits
        self._limit = limit
        self._byte_limit = byte_limit
        self._bytes = 0
        self._writer: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self._writing = False  # a direct write is under way (its end is the stream task's)
        self._inflight: tuple[Coroutine[Any, Any, None], contextvars.Context, Any] | None = None
        self.closed = False
        self.overflowed = False
        self.remote: tuple[str, str, str] | None = None  # (owner node, session id, connection id)

    def attach_writer(self, send: Callable[[dict[str, Any]], Awaitable[None]] | None) -> None:
        """Let senders write frames with the ASGI ``send`` themselves while the stream's task is idle."""
        self._writer = send

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        waiter = self._waiter
        if self._writer is not None and waiter is not None and not waiter.done() and not self._frames and not self._writing:
            self._write_now(data)
            return
        if len(self._frames) >= self._limit or self._bytes + len(data) > self._byte_limit:
            # A reader this far behind gets closed; its reconnect resyncs the page.
            self.overflowed = True
            self.close()
            return
        self._frames.append(data)
        self._bytes += len(data)
        self._wake()

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
            self._frames.clear()
            self._bytes = 0
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def frames(self) -> AsyncIterator[bytes]:
        """The frames to write, for the stream's task; it ends when the stream closes."""
        while True:
            inflight = self._inflight
            if inflight is not None:
                self._inflight = None
                try:
                    await Resume(*inflight)
                except Exception as exc:
                    log.debug("fastapi-live: a stream write failed: %r", exc)
                    self.close()
                    return
                finally:
                    self._writing = False
            while self._frames:
                data = self._frames.popleft()
                self._bytes -= len(data)
                yield data
            if self.closed:
                return
            if self._inflight is not None:
                continue
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


def _refuse(message: tuple[Any, ...]) -> None:
    """A message for a closed session: an event or call waiting on it hears so."""
    future = message[-1] if message[0] in ("event", "call") else None
    if isinstance(future, asyncio.Future) and not future.done():
        future.set_exception(LiveError("the live session is closed"))


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable


@functools.lru_cache(maxsize=1024)
def _root_tag(page: PageTemplate, stream_url: str, event_url: str, view_name: str) -> tuple[str, str]:
    """The live container's opening tag, around where each page's token goes."""
    spec = page.regions[ROOT_ID].spec
    head: list[tuple[str, str | None]] = [
        ("id", ROOT_ID),
        ("data-live-region", "root"),
        (ATTR_ROOT, None),
        ("hx-sse:connect", stream_url),
        ("hx-swap", "none"),
    ]
    tail: list[tuple[str, str | None]] = [("data-live-event-url", event_url), ("data-live-view", view_name)]
    classes = ["live-loading"]
    for name, value in spec.attrs:
        if name == "class":
            classes.insert(0, value)
        else:
            tail.append((name, value))
    tail.append(("class", " ".join(classes)))
    return f"<{spec.tag} {markup_attrs(head)} ", f" {markup_attrs(tail)}>"


class PageContext:
    """``__live__`` in templates: the root's opening tag and a stream's initial items."""

    __slots__ = ("initial", "session")

    def __init__(self, session: LiveSession, initial: bool) -> None:
        self.session = session
        self.initial = initial

    def root_open(self) -> Markup:
        session = self.session
        before, after = _root_tag(session.page, session.manager.stream_url, session.helpers.event_url, session.view_name)
        return Markup(f'{before}{ATTR_TOKEN}="{escape(session.token)}"{after}')

    def version_attr(self) -> Markup:
        return Markup(f' data-live-v="{self.session.version}"')

    def stream_items(self, name: str) -> list[tuple[str, Any]]:
        if not self.initial:
            return []
        return self.session.take_initial_stream_items(name)


class LiveSession:
    """One open page: owns its socket, runs one message at a time, emits frames."""

    def __init__(
        self,
        manager: SessionManager,
        *,
        session_id: str,
        view: LiveView,
        page: PageTemplate,
        token: str,
        browser_id: str,
        url: str,
        helpers: Any,
    ) -> None:
        self.manager = manager
        self.id = session_id
        self.view = view
        self.view_name = type(view).__name__
        self.page = page
        self.token = token
        self.browser_id = browser_id
        self.url = url
        self.helpers = helpers
        self.created = time.monotonic()
        self.config = manager.config
        self.socket = LiveSocket(view_name=self.view_name, runtime=self, connected=True)
        self.closed = False
        self._inbox: list[tuple[Any, ...]] = []  # short: a list is lighter than a deque
        self._drainer: asyncio.Task[None] | Any = None
        self._ready = False  # mailbox opens once mount and the first render are done
        self._tasks: dict[tuple[str, Any], tuple[asyncio.Task[None], TaskRecord]] = {}
        self._frame_id = 0
        self._version = 0
        self._buffer: deque[tuple[int, bytes]] | None = None  # made with the first frame
        self._buffer_bytes = 0
        self._conn: Connection | None = None
        self._ever_attached = False
        self._timer: asyncio.TimerHandle | None = None
        self._unsubscribes: dict[str, Callable[[], None]] = {}
        self._stream_started: set[tuple[str, Any]] = set()
        self._initial_streams: dict[str, list[StreamOp]] = {}
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._staged: list[tuple[str, Any, Any]] | None = None

    @property
    def page_token(self) -> PageToken:
        """What this session's page token says."""
        return PageToken(self.id, self.view_name, self.browser_id, self.url)

    @property
    def last_frame_id(self) -> int:
        """The id of the newest frame this session emitted on its stream."""
        return self._frame_id

    @property
    def version(self) -> int:
        """The version of the latest render; fragments carry it so stale ones are dropped."""
        return self._version

    # -- Runtime protocol (used by the socket) ---------------------------------------------
    # While a message is handled, task starts and cancels are staged: they take effect only
    # if the handler succeeds, so a rolled-back handler leaves no task behind.
    def start_task(self, name: object, runner: Any) -> None:
        if self._staged is not None:
            self._staged.append(("start", name, runner))
            return
        self._start_task(name, runner)

    def _start_task(self, name: object, runner: Any) -> None:
        key: tuple[str, Any] = name  # type: ignore[assignment]
        record: TaskRecord = runner
        previous = self._tasks.pop(key, None)
        if previous is not None:
            previous[0].cancel()  # the newer call wins; the older never delivers
        self._stream_started.discard(key)
        task = asyncio.get_running_loop().create_task(self._run_task(key, record), name=f"fastapi-live {self.view_name} {record.label}")
        self._tasks[key] = (task, record)

    def cancel_task(self, name: object, reason: object) -> bool:
        if self._staged is not None:
            exists = self.has_task(name)
            if exists:
                self._staged.append(("cancel", name, reason))
            return exists
        return self._cancel_task(name, reason)

    def _cancel_task(self, name: object, reason: object) -> bool:
        key: tuple[str, Any] = name  # type: ignore[assignment]
        entry = self._tasks.pop(key, None)
        if entry is None:
            return False
        task, record = entry
        task.cancel()
        self.post(("task", key, None, record, Exit(reason)))
        return True

    def has_task(self, name: object) -> bool:
        return name in self.task_keys()

    def task_keys(self) -> list[tuple[str, Any]]:
        keys = list(self._tasks)
        for op, name, _ in self._staged or ():
            if op == "start" and name not in keys:
                keys.append(name)
            elif op == "cancel" and name in keys:
                keys.remove(name)
        return keys

    def _commit_staged(self, succeeded: bool) -> None:
        staged, self._staged = self._staged or [], None
        if not succeeded:
            return
        for op, name, argument in staged:
            if op == "start":
                self._start_task(name, argument)
            else:
                self._cancel_task(name, argument)

    async def subscribe(self, topic: str) -> None:
        if topic in self._unsubscribes or self.closed:
            return
        self._unsubscribes[topic] = await self.manager.pubsub.subscribe(topic, self._on_pubsub)

    async def unsubscribe(self, topic: str) -> None:
        remove = self._unsubscribes.pop(topic, None)
        if remove is not None:
            remove()

    def _on_pubsub(self, topic: str, message: Any) -> None:
        self.post(("info", message))

    # -- tasks ---------------------------------------------------------------------------
    async def _run_task(self, key: tuple[str, Any], record: TaskRecord) -> None:
        task = asyncio.current_task()
        try:
            if record.kind == "stream" and is_async_generator(record.fn):
                async for batch in record.fn(*record.args, **record.kwargs):
                    self.post(("batch", key, task, record, list(batch)))
                outcome: Outcome = Ok(None)
            else:
                outcome = Ok(await call_user_function(record.fn, *record.args, **record.kwargs))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("%s: %s failed", self.view_name, record.label, exc_info=exc)
            outcome = Exit(exc)
        self.post(("task", key, task, record, outcome))

    def pending_tasks(self) -> list[str]:
        return [record.label for _, record in self._tasks.values()]

    async def wait_idle(self) -> None:
        """Wait until no task is running and the mailbox is empty."""
        while self._tasks or self._inbox or self._drainer is not None or not self._ready:
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter

    def _notify_idle(self) -> None:
        if self._tasks or self._inbox or self._drainer is not None:
            return
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- mailbox -------------------------------------------------------------------------
    def post(self, message: tuple[Any, ...]) -> None:
        """Queue a message; the session handles messages one at a time, in order."""
        if self.closed:
            _refuse(message)
            return
        self._inbox.append(message)
        if self._ready and self._drainer is None:
            self._schedule_drain()

    def send_info(self, message: Any) -> None:
        """Deliver ``message`` to ``handle_info`` (hooks first)."""
        self.post(("info", message))

    async def handle_event(self, name: str, params: dict[str, Any]) -> tuple[str, Any]:
        """Handle a client event; returns (patch HTML, reply) for the event's response."""
        future: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        message = ("event", name, params, future)
        if self._ready and self._drainer is None and not self._inbox and not self.closed:
            # The mailbox is idle: handle the event right here, in its place, instead of
            # paying for a drain task and two loop turns. Messages arriving meanwhile queue.
            self._drainer = _INLINE
            try:
                await self._handle(message)
            finally:
                self._drainer = None
                if self._inbox and not self.closed:
                    self._schedule_drain()
                else:
                    self._notify_idle()
        else:
            self.post(message)
        return await future

    async def call(self, fn: Callable[[LiveSocket], Any]) -> Any:
        """Run ``fn(socket)`` inside the session, between messages; its changes are rendered."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.post(("call", fn, future))
        return await future

    def _schedule_drain(self) -> None:
        # The manager's runner drains idle sessions back to back in one task: a broadcast
        # to thousands of sessions costs no task each (see ``runner.py``).
        self._drainer = _QUEUED
        self.manager.runner.submit(self._drain)

    async def _drain(self) -> None:
        self._drainer = asyncio.current_task()  # the task this drain keeps if it has to wait
        try:
            while self._inbox and not self.closed:
                message = self._inbox.pop(0)
                try:
                    await self._handle(message)
                except Exception:  # a bug in the library itself: log, keep the session alive
                    log.exception("%s: internal error while handling %s", self.view_name, message[0])
        finally:
            self._drainer = None
            self._notify_idle()

    async def _handle(self, message: tuple[Any, ...]) -> None:
        self._staged = []
        succeeded = False
        try:
            succeeded = await self._dispatch(message)
        finally:
            self._commit_staged(succeeded)

    async def _dispatch(self, message: tuple[Any, ...]) -> bool:
        """Handle one message; False when its handler failed and its changes were rolled back."""
        kind = message[0]
        socket = self.socket
        snapshot = socket._snapshot()
        if kind == "event":
            _, name, params, future = message
            try:
                reply = None
                if not await run_hooks(socket, "handle_event", name, params):
                    reply = await dispatch_event(self.view, name, params, socket)
                body = self._render_patch()
                await run_hooks(socket, "after_render")
            except EventError as exc:
                socket._restore(snapshot)
                log.warning("%s: refused event %r: %s", self.view_name, name, exc)
                if not future.done():
                    future.set_exception(exc)
                return False
            except Exception as exc:
                socket._restore(snapshot)
                log.error("%s: event %r raised", self.view_name, name, exc_info=exc)
                if not future.done():
                    future.set_exception(exc)
                return False
            if not future.done():
                future.set_result((body, reply))
            return True
        if kind == "call":
            _, fn, future = message
            try:
                result = fn(socket)
                if asyncio.iscoroutine(result):
                    result = await result
                self._emit(self._render_patch())
            except Exception as exc:
                socket._restore(snapshot)
                if not future.done():
                    future.set_exception(exc)
                return False
            if not future.done():
                future.set_result(result)
            return True
        try:
            if kind == "info":
                if not await run_hooks(socket, "handle_info", message[1]):
                    await self.view.handle_info(message[1], socket)
            elif kind == "task":
                await self._handle_outcome(*message[1:])
            elif kind == "batch":
                _, key, task, record, items = message
                if not self._is_current(key, task):
                    return True
                self._stream_items(key, record, items)
            self._emit(self._render_patch())
            await run_hooks(socket, "after_render")
        except Exception as exc:
            socket._restore(snapshot)
            log.error("%s: %s handler raised", self.view_name, kind, exc_info=exc)
            # The page hears that something failed, never what: the traceback stays in the log.
            self._emit(push_element("error", "server", {"message": "Something went wrong on the server.", "during": kind}))
            return False
        return True

    def _is_current(self, key: tuple[str, Any], task: asyncio.Task[None] | None) -> bool:
        entry = self._tasks.get(key)
        return task is None or (entry is not None and entry[0] is task)

    def _stream_items(self, key: tuple[str, Any], record: TaskRecord, items: Iterable[Any]) -> None:
        reset = bool(record.reset) and key not in self._stream_started
        self._stream_started.add(key)
        self.socket.stream(record.name, items, reset=reset)

    async def _handle_outcome(self, key: tuple[str, Any], task: asyncio.Task[None] | None, record: TaskRecord, outcome: Outcome) -> None:
        if task is not None:
            if not self._is_current(key, task):
                return  # replaced by a newer call: the older result is dropped
            self._tasks.pop(key, None)
        socket = self.socket
        if record.kind == "assign":
            apply_assign_outcome(socket, record, outcome)
        elif record.kind == "stream":
            current = socket._data.get(record.name)
            base = current if isinstance(current, AsyncResult) else AsyncResult.loading()
            if isinstance(outcome, Ok):
                if outcome.value is not None and not is_async_generator(record.fn):
                    value = outcome.value
                    if isinstance(value, StreamBatch):
                        value = value.items
                    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                        failure = CallbackReturnError(
                            f"invalid return from {record.label} function {callable_name(record.fn)}: "
                            f"expected an iterable of items\nGot: {value!r}"
                        )
                        socket.assign({record.name: base.failed_with(failure)})
                        return
                    self._stream_items(key, record, value)
                elif key not in self._stream_started and record.reset:
                    self._stream_items(key, record, [])
                socket.assign({record.name: base.ok_with(True)})
            else:
                socket.assign({record.name: base.failed_with(outcome.reason)})
            self._stream_started.discard(key)
        else:
            if not await run_hooks(socket, "handle_async", record.name, outcome):
                await self.view.handle_async(record.name, outcome, socket)

    # -- rendering -----------------------------------------------------------------------
    def context(self, initial: bool = False) -> dict[str, Any]:
        ctx = dict(self.socket._data)
        ctx["live"] = self.helpers
        ctx["__live__"] = PageContext(self, initial)
        return ctx

    def render_page(self) -> str:
        """The first render: the whole page, with every pending stream item inline."""
        self._initial_streams = self.socket._take_stream_ops()
        self.socket._take_changes()
        html = self.page.render_page(self.context(initial=True))
        self._initial_streams = {}
        return html

    def take_initial_stream_items(self, name: str) -> list[tuple[str, Any]]:
        items: dict[str, Any] = {}
        for op in self._initial_streams.pop(name, []):
            if op.kind == "reset":
                items.clear()
            elif op.kind == "delete":
                items.pop(op.dom_id, None)
            elif not op.update_only or op.dom_id in items:
                if op.dom_id in items:
                    items[op.dom_id] = op.item
                elif op.at == 0:
                    items = {op.dom_id: op.item, **items}
                else:
                    items[op.dom_id] = op.item
                if op.limit is not None:
                    keys = list(items)
                    keep = keys[: op.limit] if op.limit >= 0 else keys[op.limit :]
                    items = {k: items[k] for k in keep}
        return list(items.items())

    def _render_patch(self) -> str:
        socket = self.socket
        changed, ops = socket._take_changes()
        stream_ops = socket._take_stream_ops()
        parts: list[str] = []
        if changed or stream_ops:
            ctx = self.context()
            self._version += 1
            for region in self.page.regions_for(changed):
                if region.spec.dom_id == ROOT_ID:
                    parts.append(partial(ROOT_ID, self.page.render_root_inner(ctx), "innerMorph"))
                else:
                    parts.append(partial(region.spec.dom_id, self.page.render_region(region.spec.dom_id, ctx, self._version)))
            for name, pending in stream_ops.items():
                parts.extend(self._render_stream_ops(name, pending, ctx))
        parts.extend(self._render_client_op(op) for op in ops)
        return "".join(parts)

    def _render_stream_ops(self, name: str, pending: list[StreamOp], ctx: dict[str, Any]) -> list[str]:
        slot = self.page.streams.get(name)
        if slot is None:
            raise LiveError(
                f"{self.view_name} inserted into stream {name!r}, but template {self.page.name!r} has no "
                f"{{% live_stream {name} as item %}} container; streams on this page: {sorted(self.page.streams) or 'none'}"
            )
        out = []
        container = slot.spec.dom_id
        for op in pending:
            if op.kind == "reset":
                out.append(partial(container, "", "innerHTML"))
            elif op.kind == "delete":
                out.append(partial(op.dom_id, "", "delete"))
            else:
                html = self.page.render_stream_item(name, ctx, op.dom_id, op.item)
                spec = f"liveStream at:{op.at}"
                if op.limit is not None:
                    spec += f" limit:{op.limit}"
                if op.update_only:
                    spec += " updateOnly:true"
                out.append(partial(container, html, spec))
        return out

    @staticmethod
    def _render_client_op(op: ClientOp) -> str:
        return push_element(op.kind, op.name, op.payload)

    def render_resync(self) -> str:
        return partial(ROOT_ID, self.page.render_root_inner(self.context()), "innerMorph")

    # -- frames and the stream ---------------------------------------------------------------
    def _emit(self, body: str) -> None:
        if not body:
            return
        self._frame_id += 1
        if self._buffer is None:
            self._buffer = deque(maxlen=self.config.replay_size)
        if len(self._buffer) == self._buffer.maxlen:
            self._buffer_bytes -= len(self._buffer[0][1])
        data = encode_message(body, event_id=str(self._frame_id))
        self._buffer.append((self._frame_id, data))
        self._buffer_bytes += len(data)
        while self._buffer_bytes > self.config.replay_bytes and len(self._buffer) > 1:
            self._buffer_bytes -= len(self._buffer.popleft()[1])
        if self._conn is not None:
            self._conn.send(data)
            if self._conn.closed:
                self._conn = None
                self._arm_timer(self.config.disconnect_grace)

    def attach(self, last_event_id: int | None) -> Connection:
        """Attach a stream, replacing any older one; replays what it missed, or resyncs."""
        if self.closed:
            raise LiveError("the live session is closed")
        self._cancel_timer()
        if self._conn is not None:
            self._conn.close()
        conn = Connection(self.config.outbound_limit, self.config.outbound_bytes)
        first = not self._ever_attached
        self._ever_attached = True
        start = 0 if (last_event_id is None and first) else last_event_id
        buffer = self._buffer or ()
        oldest = buffer[0][0] if buffer else self._frame_id + 1
        # The buffer holds the newest frames, in order: a stream can resume from one before the
        # oldest kept; an older one (or a first stream after frames were dropped) resyncs.
        missed: list[bytes] = []
        replayable = start is not None and oldest - 1 <= start <= self._frame_id
        if replayable:
            missed = [data for frame_id, data in buffer if frame_id > (start or 0)]
            # A replay that would not fit the stream's queue resyncs instead of overflowing it.
            if len(missed) + 1 > self.config.outbound_limit or sum(map(len, missed)) > self.config.outbound_bytes:
                replayable = False
        if replayable:
            conn.send(encode_message("", event_id=str(start), retry=self.config.retry_ms))
            for data in missed:
                conn.send(data)
        else:
            conn.send(encode_message(self.render_resync(), event_id=str(self._frame_id), retry=self.config.retry_ms))
        self._conn = conn
        self.manager.connections.add(conn)
        return conn

    def attach_remount(self) -> Connection:
        """Attach the stream of a page whose old session was gone: it recovers, then resyncs.

        The one ``live:remount`` message carries the container's fresh HTML; the client first
        sends its recovery events (form auto-recover, JS hooks' ``reconnected``), then applies it.
        """
        self._ever_attached = True
        conn = Connection(self.config.outbound_limit, self.config.outbound_bytes)
        # Frames already buffered are older than this render: the resync supersedes them.
        conn.send(encode_message(self.render_resync(), event="live:remount", event_id=str(self._frame_id), retry=self.config.retry_ms))
        self._cancel_timer()
        self._conn = conn
        self.manager.connections.add(conn)
        return conn

    def detach(self, conn: Connection) -> None:
        self.manager.connections.discard(conn)
        if self._conn is conn:
            self._conn = None
            if not self.closed:
                self._arm_timer(self.config.disconnect_grace)

    @property
    def attached(self) -> bool:
        return self._conn is not None

    def _arm_timer(self, delay: float) -> None:
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._conn is None and not self.closed:
            log.debug("%s: session %s expired without a stream", self.view_name, self.id)
            asyncio.get_running_loop().create_task(self.close())

    def open(self) -> None:
        """Open the mailbox after mount; the session waits ``connect_timeout`` for its stream."""
        self._ready = True
        self._arm_timer(self.config.connect_timeout)
        if self._inbox and self._drainer is None:
            self._schedule_drain()
        self._notify_idle()

    async def close(self) -> None:
        """End the session: cancel its tasks, drop its subscriptions, close its stream."""
        if self.closed:
            return
        self.closed = True
        self._cancel_timer()
        drainer = self._drainer
        if isinstance(drainer, asyncio.Task) and drainer is not asyncio.current_task():
            drainer.cancel()  # a handler still running belongs to the session too
        for task, _ in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        for remove in self._unsubscribes.values():
            remove()
        self._unsubscribes.clear()
        if self._conn is not None:
            self._conn.close()
            self.manager.connections.discard(self._conn)
            self._conn = None
        for message in self._inbox:
            _refuse(message)
        self._inbox.clear()
        self.manager.forget(self)
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class SessionManager:
    """The sessions this process holds, the shared heartbeat and the PubSub backend."""

    def __init__(self, config: SessionConfig, pubsub: PubSub, stream_url: str) -> None:
        self.config = config
        self.pubsub = pubsub
        self.stream_url = stream_url
        self.sessions: dict[str, LiveSession] = {}
        self.by_token: dict[str, LiveSession] = {}
        self.connections: set[Connection] = set()
        self.on_forget: Callable[[LiveSession], None] | None = None
        self.runner = Runner("fastapi-live sessions")
        self._heartbeat: asyncio.Task[None] | None = None
        self._shutdown_watch: asyncio.Task[None] | None = None

    def watch_shutdown(self, shutting_down: Callable[[], Awaitable[None]]) -> None:
        """Close every stream as soon as ``shutting_down()`` returns (the server got SIGTERM).

        One watcher per process, so clients reconnect to the next process at once instead
        of waiting for this one to be killed.
        """
        if self._shutdown_watch is None or self._shutdown_watch.done():
            self._shutdown_watch = asyncio.get_running_loop().create_task(self._close_streams_on_shutdown(shutting_down))

    async def _close_streams_on_shutdown(self, shutting_down: Callable[[], Awaitable[None]]) -> None:
        await shutting_down()
        for conn in list(self.connections):
            conn.close()

    def add(self, session: LiveSession) -> None:
        self.sessions[session.id] = session
        self.by_token[session.token] = session
        self._ensure_heartbeat()

    def get(self, session_id: str) -> LiveSession | None:
        return self.sessions.get(session_id)

    def forget(self, session: LiveSession) -> None:
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
            if self.by_token.get(session.token) is session:
                del self.by_token[session.token]
            if self.on_forget is not None:
                self.on_forget(session)

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat(), name="fastapi-live heartbeat")

    async def _beat(self) -> None:
        comment = encode_comment("hb")
        while True:
            await asyncio.sleep(self.config.heartbeat)
            for conn in list(self.connections):
                conn.send(comment)

    async def close_all(self) -> None:
        for session in list(self.sessions.values()):
            await session.close()
        for task in (self._heartbeat, self._shutdown_watch):
            if task is not None:
                task.cancel()
        self._heartbeat = self._shutdown_watch = None
