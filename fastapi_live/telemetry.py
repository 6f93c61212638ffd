"""Telemetry: events at a live page's points, for handlers that listen (LiveView's ``:telemetry``).

The library calls in at each point only behind one branch, ``if telemetry.on:``: with no
handler attached, a point costs that attribute check and nothing else.

Spans (``start`` → ``stop`` or ``exception``, with the duration in seconds):

========================  ==========================================================================
``mount``                 the on_mount hooks and ``mount`` of a page request (or a remount)
``handle_params``         ``handle_params`` (and its hooks), after mount and on every patch
``handle_event``          one client event: hooks, the handler, the render of its changes
``handle_info``           one ``handle_info`` message (PubSub, ``send_info``): hooks, callback, render
``handle_async``          a ``start_async`` outcome in ``handle_async``; an ``assign_async`` or
                          ``stream_async`` result applied (``metadata["kind"]``: start, assign, stream)
``render``                rendering the changed regions (or the first page) to fragments
========================  ==========================================================================

Single events (``phase`` names what happened): ``session`` (``start``, ``stop`` with the
session's age as ``duration``), ``stream`` (``attach``, ``detach``, ``overflow``), ``pubsub``
(``publish``, ``deliver`` with ``metadata["listeners"]``).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")
_NO_METADATA: Mapping[str, Any] = MappingProxyType({})
_event = tuple.__new__  # a TelemetryEvent made without NamedTuple's Python-level __new__ (the points are hot)

log = logging.getLogger("fastapi_live.telemetry")

SPANS = ("mount", "handle_params", "handle_event", "handle_info", "handle_async", "render")
"""The names of the spans the library emits (each with start, stop and exception phases)."""
POINTS = {"session": ("start", "stop"), "stream": ("attach", "detach", "overflow"), "pubsub": ("publish", "deliver")}
"""The single events, by name, with their phases."""


class Span:
    """One measured call: its ``start`` event went out; ``stop`` or ``fail`` sends the end.

    Handlers may pair a ``start`` with its end by the span (``event.span``, hashable by identity).
    """

    __slots__ = ("_telemetry", "ended", "metadata", "name", "session_id", "started", "view")

    def __init__(self, telemetry: Telemetry, name: str, view: str | None, session_id: str | None, metadata: dict[str, Any]) -> None:
        self._telemetry = telemetry
        self.name = name
        self.view = view
        self.session_id = session_id
        self.metadata = metadata
        self.started = time.perf_counter()
        self.ended = False

    def stop(self, **metadata: Any) -> None:
        """The call returned: a ``stop`` event with its duration (nothing once the span ended)."""
        if self.ended:
            return
        self.ended = True
        self.metadata.update(metadata)
        duration = time.perf_counter() - self.started
        self._telemetry.emit(_event(TelemetryEvent, (self.name, "stop", self.view, self.session_id, self.metadata, duration, None, self)))

    def fail(self, error: BaseException) -> None:
        """The call raised ``error``: an ``exception`` event with its duration (nothing once the span ended)."""
        if self.ended:
            return
        self.ended = True
        self._telemetry.emit(
            _event(TelemetryEvent, (self.name, "exception", self.view, self.session_id, self.metadata, time.perf_counter() - self.started, error, self))
        )


class TelemetryEvent(NamedTuple):
    """What a telemetry handler receives (a named tuple: cheap to make at every point, read-only).

    ``name`` is a span's (``"handle_event"``) or a single event's (``"stream"``); ``phase`` is
    ``"start"``, ``"stop"`` or ``"exception"`` for spans, what happened for single events.
    ``duration`` (seconds) is set on ends, ``error`` on exceptions. ``metadata`` holds the
    rest: ``event`` and ``params`` for ``handle_event``, ``topic`` for PubSub, ``url`` for
    ``handle_params``, and ``context`` (the ``contextvars.Context`` of the request an event
    came with) when the event waited its turn in another task; one handled at once runs in
    its request's own task.
    """

    name: str
    phase: str
    view: str | None
    session_id: str | None
    metadata: Mapping[str, Any] = _NO_METADATA
    duration: float | None = None
    error: BaseException | None = None
    span: Span | None = None


Handler = Callable[[TelemetryEvent], Any]


class Telemetry:
    """The handlers that listen; ``on`` is True while any is attached.

    >>> from fastapi_live import telemetry
    >>> def slow_events(event: telemetry.TelemetryEvent) -> None:
    ...     if event.name == "handle_event" and event.phase == "stop" and event.duration > 0.1:
    ...         log.warning("%s %s took %.0f ms", event.view, event.metadata["event"], event.duration * 1000)
    >>> detach = telemetry.attach(slow_events)     # or live.telemetry.attach(slow_events)
    >>> detach()
    """

    __slots__ = ("_handlers", "on")

    def __init__(self) -> None:
        self._handlers: tuple[Handler, ...] = ()
        self.on = False

    def attach(self, handler: Handler) -> Callable[[], None]:
        """Call ``handler(event)`` for every telemetry event; returns a function that detaches it.

        Handlers run inline, on the event loop, at the point measured: keep them quick (count,
        record, hand off). One that raises is logged and detached, so it never breaks a page.
        """
        if not callable(handler):
            raise TypeError(f"telemetry.attach() takes a callable handler(event), got {handler!r}")
        if handler not in self._handlers:
            self._handlers = (*self._handlers, handler)
        self.on = True
        return lambda: self.detach(handler)

    def detach(self, handler: Handler) -> None:
        """Stop calling ``handler``; one not attached is ignored."""
        self._handlers = tuple(h for h in self._handlers if h != handler)
        self.on = bool(self._handlers)

    @property
    def handlers(self) -> tuple[Handler, ...]:
        return self._handlers

    def emit(self, event: TelemetryEvent) -> None:
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:
                log.exception("fastapi-live: telemetry handler %r raised on %s %s; it is detached", handler, event.name, event.phase)
                self.detach(handler)

    def start(self, name: str, view: str | None, session_id: str | None, /, **metadata: Any) -> Span:
        """Begin a span: its ``start`` event goes out now."""
        span = Span(self, name, view, session_id, metadata)
        self.emit(_event(TelemetryEvent, (name, "start", view, session_id, metadata, None, None, span)))
        return span

    async def measure(self, awaitable: Awaitable[T], name: str, view: str | None, session_id: str | None, /, **metadata: Any) -> T:
        """Await ``awaitable`` inside a span."""
        span = self.start(name, view, session_id, **metadata)
        try:
            result = await awaitable
        except BaseException as exc:
            span.fail(exc)
            raise
        span.stop()
        return result

    def call(self, fn: Callable[[], T], name: str, view: str | None, session_id: str | None, /, **metadata: Any) -> T:
        """Call ``fn()`` inside a span."""
        span = self.start(name, view, session_id, **metadata)
        try:
            result = fn()
        except BaseException as exc:
            span.fail(exc)
            raise
        span.stop()
        return result

    def point(
        self, name: str, phase: str, view: str | None = None, session_id: str | None = None, duration: float | None = None, /, **metadata: Any
    ) -> None:
        """A single event (a stream attached, a message published)."""
        self.emit(_event(TelemetryEvent, (name, phase, view, session_id, metadata, duration, None, None)))

    @staticmethod
    def context() -> contextvars.Context:
        """The caller's context, for a span that starts later in another task (a queued event)."""
        return contextvars.copy_context()


telemetry = Telemetry()
"""The process's telemetry: every router's sessions report here (like Python's ``logging``)."""

attach = telemetry.attach
"""``fastapi_live.telemetry.attach(handler)``: the same as ``live.telemetry.attach(handler)``."""
detach = telemetry.detach


def owner_of(owner: object) -> tuple[str | None, str | None]:
    """(view name, session id) of a session-like object, for the rooms that hold one untyped."""
    return getattr(owner, "view_name", None), getattr(owner, "id", None)
