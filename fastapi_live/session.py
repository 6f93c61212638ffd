"""The session actor: one per open page, a serial mailbox and the orchestrator of its rooms.

It owns the socket and handles one message at a time; its tasks (``tasks``), its replay buffer
(``replay``), its outbound stream (``connection``), its render-to-patch step (``patches``), its
URL (``navigation``) and its flash (``flash``) live in rooms of their own. After each message it
asks for a patch and hands it to the wire.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from . import flash
from .config import SessionConfig
from .connection import Connection, Outbound
from .exceptions import LiveError
from .executor import Lane, SyncExecutor
from .flash import FlashCarrier
from .lifecycle import OnMountCall, mount_view, run_event_hooks, run_hooks
from .mailbox import Mailbox
from .messages import Batch, Call, Event, Info, Message, Patch, TaskDone, UploadChanged, fail, refuse, telemetry_span, unknown_builtin
from .navigation import Navigator, RouteResolver, patch_url
from .patches import Patcher
from .presence import Presence
from .pubsub import PubSub
from .runner import Runner
from .tasks import TaskSupervisor
from .telemetry import telemetry
from .tokens import PageToken
from .topics import SessionTopics, set_watched
from .uploads import Chunk, SessionUploads, UploadRefused, UploadSigner
from .view import LiveSocket, LiveView, dispatch_event
from .wire import (
    CLEAR_FLASH_EVENT,
    LEAVE_EVENT,
    OP_REDIRECT,
    PARAM_COMPONENT,
    PATCH_EVENT,
    REFRESH_EVENT,
    REMOUNT_EVENT,
    RESERVED_EVENT_PREFIX,
    UPLOAD_EVENT,
    UPLOAD_PROGRESS_EVENT,
    push_element,
)

log = logging.getLogger("fastapi_live")
P = ParamSpec("P")
R = TypeVar("R")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop, or None outside one (a unit test building a session)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def on_own_loop(method: Callable[Concatenate[LiveSession, P], Coroutine[Any, Any, R]]) -> Callable[Concatenate[LiveSession, P], Coroutine[Any, Any, R]]:
    """Run the session's coroutine ``method`` on the session's own loop, when called from
    another (a test's, a worker thread's): the session is only ever touched from there."""

    @functools.wraps(method)
    async def wrapper(session: LiveSession, /, *args: P.args, **kwargs: P.kwargs) -> R:
        loop = session._loop
        if loop is not None and _running_loop() is not loop:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(method(session, *args, **kwargs), loop))
        return await method(session, *args, **kwargs)

    return wrapper


class SessionHost(Protocol):
    """What a session needs from the process that holds it (``manager.SessionManager``)."""

    config: SessionConfig
    pubsub: PubSub
    presence: Presence
    runner: Runner
    executor: SyncExecutor
    connections: set[Connection]
    upload_signer: UploadSigner

    def add(self, session: LiveSession) -> None: ...

    def connected(self, session: LiveSession) -> None:
        """The session's stream attached for the first time."""
        ...

    def forget(self, session: LiveSession) -> None: ...


@dataclass(frozen=True, slots=True)
class Mounted:
    """The page mounted; ``html`` is its first render (empty for a remount)."""

    html: str


@dataclass(frozen=True, slots=True)
class Redirected:
    """A hook, ``mount`` or ``handle_params`` sent the browser elsewhere; the session is closed.

    ``flash`` is the signed flash for the page it lands on, if one was put.
    """

    location: str
    flash: str | None = None


class _Rooms:
    """The rooms a session makes on first use: most idle pages never need them (its tasks, its
    PubSub subscriptions, its turn on the process's threads, its uploads)."""

    __slots__ = ("_lane", "_seen", "_tasks", "_topics", "_uploads")
    host: SessionHost
    id: str
    view_name: str
    closed: bool
    # What the rooms call back on the session:
    post: Callable[[Message], None]
    send_info: Callable[[Any], None]
    identity_disconnected: Callable[[], None]

    def __init__(self) -> None:
        self._lane: Lane | None = None  # its turn on the process's threads, made with its first sync function
        self._seen = False  # a stream has attached (someone looked at the page)
        self._tasks: TaskSupervisor | None = None  # made with the first task (or message)
        self._topics: SessionTopics | None = None  # made with its first subscription or presence entry
        self._uploads: SessionUploads | None = None

    @property
    def config(self) -> SessionConfig:
        """The process's session settings."""
        return self.host.config

    @property
    def topics(self) -> SessionTopics:
        """The page's PubSub subscriptions and presence entries."""
        topics = self._topics
        if topics is None:
            topics = self._topics = SessionTopics(self.host.pubsub, self.host.presence, self)
            topics.closed = self.closed  # a closed session subscribes to nothing more
        return topics

    def _watched(self, watched: bool) -> None:
        topics = self._topics
        if topics is None:
            set_watched(self.host.presence, self.id, watched)
        else:
            topics.watched(watched)

    @property
    def tasks(self) -> TaskSupervisor:
        """The page's running tasks."""
        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = TaskSupervisor(self.view_name, self)
        return tasks

    def run_sync(self, call: Callable[[], Any]) -> Awaitable[Any]:
        """Run ``call()`` on the session's turn of the process's threads (connected pages' first)."""
        lane = self._lane
        if lane is None:
            lane = self._lane = self.host.executor.lane()
            if self._seen:
                lane.connect()
        return lane.run(call)

    @property
    def uploads(self) -> SessionUploads:
        """The page's uploads, made at its first (most pages have none)."""
        uploads = self._uploads
        if uploads is None:
            config = self.config
            notify = lambda upload, ref: self.post(UploadChanged(upload, ref))  # noqa: E731
            uploads = self._uploads = SessionUploads(
                self.id, self.host.upload_signer, directory=config.upload_dir, interval=config.upload_progress_interval, notify=notify
            )
        return uploads


class LiveSession(_Rooms):
    """One open page: owns its socket, runs one message at a time, emits frames."""

    # Slots: thousands of sessions idle at once (the rooms made on first use are ``_Rooms``').
    __slots__ = (
        *("_loop", "browser_id", "closed", "created", "host", "id", "mailbox", "navigator", "outbound", "patcher", "socket", "token"),
        *("token_issued_at", "view", "view_name"),
    )

    def __init__(
        self,
        host: SessionHost,
        *,
        session_id: str,
        view: LiveView,
        patcher: Patcher,
        token: str,
        browser_id: str,
        url: str,
        resolve: RouteResolver | None = None,
        flash_carrier: FlashCarrier | None = None,
        token_issued_at: float = 0.0,
    ) -> None:
        self.host = host
        self.id = session_id
        self.view = view
        self.view_name = type(view).__name__
        self.token = token
        self.browser_id = browser_id
        self.navigator = Navigator(view, url, resolve, flash=flash_carrier, browser_id=browser_id)
        self.token_issued_at = token_issued_at  # wall clock: a remount keeps its page token's age
        self.created = time.monotonic()
        config = host.config
        self.patcher = patcher
        self.socket = LiveSocket(view_name=self.view_name, runtime=self, connected=True)
        self.closed = False
        self._loop = _running_loop()  # the loop that owns the session (None outside one: unit tests)
        self.mailbox = Mailbox(config.mailbox_limit, self, host.runner)  # opened once mount and the first render are done
        self.outbound = Outbound(self, config, host.connections)
        _Rooms.__init__(self)

    @property
    def url(self) -> str:
        """The page's current URL (path and query): where it was mounted, then patched to."""
        return self.navigator.url

    @property
    def page_token(self) -> PageToken:
        """What this session's page token says."""
        return PageToken(self.id, self.view_name, self.browser_id, self.url, self.token_issued_at)

    @property
    def last_frame_id(self) -> int:
        """The id of the newest frame this session emitted on its stream."""
        return self.outbound.last_id

    @property
    def busy(self) -> bool:
        """A task is running: the session is not idle, whatever its mailbox holds."""
        tasks = self._tasks
        return tasks is not None and bool(tasks)

    def identity_disconnected(self) -> None:
        """The identity it joined was disconnected: a full reload of the page, as whoever the
        browser is now (signed out: the login page)."""
        self.outbound.emit(push_element(OP_REDIRECT, self.url, None))
        self.shut()

    # -- mount -------------------------------------------------------------------------------
    async def mount(
        self,
        hooks: Sequence[OnMountCall],
        mount: Callable[[LiveSocket], Awaitable[None]],
        *,
        render: bool = True,
        carried_flash: dict[str, str] | None = None,
    ) -> Mounted | Redirected:
        """Run the on_mount hooks, then ``mount`` and ``handle_params``, then the first render;
        open the mailbox. ``carried_flash`` is the flash a navigation brought here.

        A redirect (or a patch or navigation) from a hook, ``mount`` or ``handle_params``
        closes the session instead. Anything raised closes it too, and propagates.
        """
        socket = self.socket
        flash.start(socket, carried_flash)
        try:
            location = await mount_view(
                socket,
                hooks,
                mount,
                self.navigator.enter,
                view_name=self.view_name,
                session_id=self.id,
                url=self.url,
                warn_after_ms=self.config.mount_warning_ms,
            )
            if location is not None:
                carried = self.navigator.carried_flash(socket)
                await self.close()
                return Redirected(location, carried)
            html = self.patcher.render_page(socket) if render else ""
        except BaseException:
            await self.close()
            raise
        socket.mounted = True
        self.host.add(self)
        self.outbound.wait(self.config.connect_timeout)  # for its stream
        self.mailbox.open()
        return Mounted(html)

    # -- mailbox -------------------------------------------------------------------------------
    def post(self, message: Message) -> None:
        """Queue a message; the session handles messages one at a time, in order.

        From another thread or event loop (a test's, a worker thread's), the message is handed
        to the session's own loop: the session, its stream and the server's transport are
        only ever touched from there.
        """
        loop = self._loop
        if loop is not None and _running_loop() is not loop:
            loop.call_soon_threadsafe(self.post, message)
            return
        if self.closed:
            refuse(message)
        elif not self.mailbox.deliver(message):  # full: the page's stream reconnects and remounts it afresh
            refuse(message)
            self.shut()

    def send_info(self, message: Any) -> None:
        """Deliver ``message`` to ``handle_info`` (hooks first)."""
        self.post(Info(message))

    async def handle_event(self, name: str, params: dict[str, Any]) -> tuple[str, Any]:
        """Handle a client event; returns (patch HTML, reply) for the event's response.

        The library's own events (``live:patch``, ``live:leave``, ``live:clear-flash``) go
        to their rooms, never to the view or its hooks.
        """
        if name == LEAVE_EVENT:  # the browser left for another live page: end at once
            await self.close()
            return "", None
        future: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        message = Patch(patch_url(params), future) if name == PATCH_EVENT else Event(name, params, future)
        if not await self.mailbox.handle_inline(message):  # idle: handled right here, in its request's task
            if telemetry.on and isinstance(message, Event):  # its span belongs to its request, not to the drain's task
                message = Event(name, params, future, telemetry.context())
            self.post(message)
        return await message.answer

    @on_own_loop
    async def call(self, fn: Callable[[LiveSocket], Any]) -> Any:
        """Run ``fn(socket)`` inside the session, between messages; its changes are rendered."""
        message = Call(fn, asyncio.get_running_loop().create_future())
        self.post(message)
        return await message.answer

    async def handle(self, message: Message) -> None:
        """Handle one message; a failed handler's changes and task starts are rolled back."""
        socket = self.socket
        snapshot = socket._snapshot()
        url = self.navigator.url
        self.tasks.stage()
        succeeded = False
        span = telemetry.start(what[0], self.view_name, self.id, **what[1]) if telemetry.on and (what := telemetry_span(message)) else None
        try:
            match message:
                case Event():
                    await self._on_event(message)
                case Patch():
                    await self._on_patch(message)
                case Call():
                    await self._on_call(message)
                case _:
                    await self._on_server_message(message)
            succeeded = True
        except Exception as exc:
            socket._restore(snapshot)
            self.navigator.url = url
            if span is not None:
                span.fail(exc)
            self.outbound.emit(fail(message, exc, self.view_name))
        finally:
            self.tasks.commit(succeeded)
            if span is not None:
                span.stop()

    async def _on_event(self, message: Event) -> None:
        socket = self.socket
        name, params = message.name, message.params
        reply: Any = None
        component = params.pop(PARAM_COMPONENT, None)  # set when the event came from inside a LiveComponent
        if name in (UPLOAD_EVENT, UPLOAD_PROGRESS_EVENT):
            reply = await self.uploads.event(socket, name, params)
        elif name == CLEAR_FLASH_EVENT:
            flash.clear_event(socket, params)
        elif name == REFRESH_EVENT:  # a text patch the page could not apply: its region goes whole
            self.patcher.refresh(params)
        elif name.startswith(RESERVED_EVENT_PREFIX):
            raise unknown_builtin(name)
        elif component is not None:
            reply = await self.patcher.components.dispatch(component, name, params)
        else:
            halted, reply = await run_event_hooks(socket, name, params) if socket._has_hooks("handle_event") else (False, None)
            if not halted:
                reply = await dispatch_event(self.view, name, params, socket)
        body = await self._render()
        if not message.answer.done():
            message.answer.set_result((body, reply))

    async def _on_patch(self, message: Patch) -> None:
        await self.navigator.patch(self.socket, message.url)
        body = await self._render()
        if not message.answer.done():
            message.answer.set_result((body, None))

    async def _on_call(self, message: Call) -> None:
        result = message.fn(self.socket)
        if asyncio.iscoroutine(result):
            result = await result
        await self.navigator.settle(self.socket)
        self.outbound.emit(self.patcher.patch(self.socket))
        if not message.answer.done():
            message.answer.set_result(result)

    async def _on_server_message(self, message: Info | TaskDone | Batch | UploadChanged) -> None:
        socket = self.socket
        match message:
            case Info(info):
                if not await run_hooks(socket, "handle_info", info):
                    await self.view.handle_info(info, socket)
            case TaskDone(key, task, record, outcome):
                if not self.tasks.finish(key, task):
                    return  # replaced by a newer call: the older result is dropped
                if record.owner is not None:  # a LiveComponent's task: its handle_async or its assigns
                    await self.patcher.components.task_done(record, outcome)
                elif record.kind == "start":
                    if not await run_hooks(socket, "handle_async", record.name, outcome):
                        await self.view.handle_async(record.name, outcome, socket)
                else:
                    self.tasks.apply(socket, record, outcome)
            case Batch(key, task, record, batch):
                if not self.tasks.is_current(key, task):
                    return
                self.tasks.stream_items(socket, record, batch)
            case UploadChanged(upload, ref):
                await self.uploads.changed(socket, upload, ref)
        self.outbound.emit(await self._render())

    async def _render(self) -> str:
        """The patch for this message's changes, once the navigations it asked for are settled."""
        await self.navigator.settle(self.socket)
        return await self.patcher.patch_with_hooks(self.socket)

    @on_own_loop
    async def wait_idle(self) -> None:
        """Wait until no task is running and the mailbox is empty."""
        await self.mailbox.wait_idle()

    async def receive_chunk(self, chunk: Chunk, body: AsyncIterator[bytes]) -> dict[str, Any]:
        """Write one chunk of an upload entry as it arrives (outside the mailbox: a slow body
        holds no other message up); progress reaches the page through the mailbox, throttled."""
        if self.closed:
            raise UploadRefused(410, "the live session is gone; reload the page and choose the file again")
        return await self.uploads.receive(self.socket, chunk, body)

    # -- the stream (``connection.Outbound``) ------------------------------------------------------
    def attach(self, last_event_id: int | None) -> Connection:
        """Attach a stream, replacing any older one; replays what it missed, or resyncs."""
        if self.closed:
            raise LiveError("the live session is closed")
        self._on_attach()
        return self.outbound.attach(last_event_id, lambda: self.patcher.resync(self.socket))

    def attach_remount(self) -> Connection:
        """Attach the stream of a page whose old session was gone: one ``live:remount`` message with
        the fresh container, which the client applies after its recovery events (forms, hooks)."""
        self._on_attach()
        return self.outbound.attach_remount(self.patcher.resync(self.socket), REMOUNT_EVENT)

    def _on_attach(self) -> None:
        self._watched(True)
        if not self._seen:  # the first stream: someone is looking at this page
            self._seen = True
            if self._lane is not None:
                self._lane.connect()
            self.host.connected(self)

    def detach(self, conn: Connection) -> None:
        if self.outbound.detach(conn) and not self.closed:
            self._watched(False)

    @property
    def attached(self) -> bool:
        return self.outbound.current is not None

    def stream_expired(self) -> None:
        log.debug("%s: session %s expired without a stream", self.view_name, self.id)
        self.shut()

    # -- the end -----------------------------------------------------------------------------------
    @on_own_loop
    async def close(self) -> None:
        """End the session: cancel its tasks, drop its subscriptions, close its stream."""
        self.shut()

    def shut(self) -> None:
        """``close``, from code that cannot wait (a PubSub listener, a full mailbox, an expiry)."""
        if self.closed:
            return
        self.closed = True
        if self._tasks is not None:
            self._tasks.cancel_all()
        self.socket._discard_uploads()
        if self._topics is not None:
            self._topics.close()
        else:
            self.host.presence.forget(self.id)  # no entries (only topics track them), but its mark of a detach
        self.outbound.close()
        self.mailbox.close()  # the handler still running is cancelled, the queued refused
        self.host.forget(self)
