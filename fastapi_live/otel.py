"""OpenTelemetry for live pages: telemetry events as spans and metrics (``pip install 'fastapi-live[otel]'``).

>>> from fastapi_live.otel import instrument
>>> FastAPIInstrumentor.instrument_app(app)      # the app's own requests (optional)
>>> instrument(live)                             # mount, events, infos, renders as spans; the metrics

Spans: ``<View>.mount``, ``<View>.handle_params``, ``<View>.handle_event <event>``,
``<View>.handle_info``, ``<View>.handle_async <name>``, ``<View>.render``. A render is a child of
the handler it renders for; a mount is a child of its page request's span and an event a
child of its POST's server span, when that request is traced. The event endpoint skips the
app's middleware (``LiveRouter(fast_path=True)``, the default), so ``instrument`` puts
OpenTelemetry's ASGI middleware in front of it when ``opentelemetry-instrumentation-asgi``
is installed (it comes with ``opentelemetry-instrumentation-fastapi``).

Metrics (meter ``fastapi_live``): ``fastapi_live.sessions`` and ``fastapi_live.streams``
(observable up-down counters by view, counted when read), ``fastapi_live.events`` (a counter by view and event: its rate
is events/s), ``fastapi_live.handler.duration`` (a histogram in seconds by span and view),
``fastapi_live.queue.depth`` (an observable gauge by queue: mailbox, outbound, runner, sync).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from typing import Any

from .exceptions import MissingDependencyError
from .introspection import REFUSED, outcome_of, queue_depths, view_counts
from .router import LiveRouter
from .telemetry import Span, TelemetryEvent, telemetry

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.trace import Status, StatusCode
except ImportError as exc:  # pragma: no cover - reason: the test extra installs opentelemetry
    raise MissingDependencyError("opentelemetry-api must be installed to use fastapi_live.otel: pip install 'fastapi-live[otel]'") from exc

SCOPE = "fastapi_live"
_ROOT = otel_context.Context()  # handlers a message started in no request: a trace of their own


def _version() -> str | None:
    try:
        return importlib.metadata.version("fastapi-live")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - reason: a checkout run without installing
        return None


class LiveInstrumentor:
    """Turns telemetry events into OpenTelemetry spans and metrics; ``uninstrument()`` stops it."""

    def __init__(self, live: LiveRouter, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.live = live
        version = _version()
        self.tracer = trace.get_tracer(SCOPE, version, tracer_provider)
        meter = metrics.get_meter(SCOPE, version or "", meter_provider)
        self.sessions = meter.create_observable_up_down_counter(
            "fastapi_live.sessions", callbacks=[self._observe_sessions], unit="{session}", description="Live sessions open in this process"
        )
        self.streams = meter.create_observable_up_down_counter(
            "fastapi_live.streams", callbacks=[self._observe_streams], unit="{stream}", description="Attached live streams"
        )
        self.events = meter.create_counter("fastapi_live.events", unit="{event}", description="Client events handled")
        self.duration = meter.create_histogram("fastapi_live.handler.duration", unit="s", description="Time spent in live callbacks and renders")
        self.queues = meter.create_observable_gauge(
            "fastapi_live.queue.depth", callbacks=[self._observe_queues], unit="{item}", description="Messages and frames waiting"
        )
        self._open: dict[Span, trace.Span] = {}
        self._stacks: dict[str, list[trace.Span]] = {}  # per session: its open spans, innermost last
        self._detach = telemetry.attach(self.handle)

    def uninstrument(self) -> None:
        self._detach()
        for span in self._open.values():
            span.end()
        self._open.clear()
        self._stacks.clear()

    def _observe_sessions(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(sessions, {"live.view": view}) for view, (sessions, _) in view_counts(self.live.manager).items()]

    def _observe_streams(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(streams, {"live.view": view}) for view, (_, streams) in view_counts(self.live.manager).items()]

    def _observe_queues(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(depth, {"queue": name}) for name, depth in queue_depths(self.live.manager).items()]

    def handle(self, event: TelemetryEvent) -> None:
        view = event.view or "?"
        if event.span is not None:
            if event.phase == "start":
                self._start(event, view)
            else:
                self._end(event, view)

    def _start(self, event: TelemetryEvent, view: str) -> None:
        assert event.span is not None
        session = event.session_id or ""
        stack = self._stacks.get(session)
        if stack:
            parent = trace.set_span_in_context(stack[-1])
        elif (context := event.metadata.get("context")) is not None:
            parent = context.run(otel_context.get_current)  # a queued event's: the request it came with
        elif event.name in ("mount", "handle_params", "render", "handle_event"):
            parent = otel_context.get_current()  # in its request's own task (a page request, an event handled at once)
        else:
            parent = _ROOT
        # An event's name joins the span's only once it is known to the view (clients choose names).
        label = event.metadata.get("name") if event.name == "handle_async" else None
        name = f"{view}.{event.name}" + (f" {label}" if label else "")
        attributes: dict[str, Any] = {"live.view": view, "live.session_id": session}
        for key in ("event", "url", "name", "kind", "message"):
            value = event.metadata.get(key)
            if isinstance(value, str):
                attributes[f"live.{key}"] = value
        span = self.tracer.start_span(name, context=parent, kind=trace.SpanKind.INTERNAL, attributes=attributes)
        self._open[event.span] = span
        self._stacks.setdefault(session, []).append(span)

    def _end(self, event: TelemetryEvent, view: str) -> None:
        assert event.span is not None
        span = self._open.pop(event.span, None)
        if span is None:
            return
        session = event.session_id or ""
        stack = self._stacks.get(session)
        if stack is not None:
            if span in stack:
                stack.remove(span)
            if not stack:
                del self._stacks[session]
        if event.name == "handle_event" and outcome_of(event)[0] != REFUSED:
            span.update_name(f"{view}.handle_event {event.metadata.get('event')}")
        if event.phase == "exception" and event.error is not None:
            span.record_exception(event.error)
            span.set_status(Status(StatusCode.ERROR, type(event.error).__name__))
        span.end()
        label, outcome = outcome_of(event)
        attributes = {"live.span": event.name, "live.view": view, "live.outcome": outcome}
        if event.duration is not None:
            self.duration.record(event.duration, attributes)
        if event.name == "handle_event":
            self.events.add(1, {"live.view": view, "live.event": label, "live.outcome": outcome})


def instrument(live: LiveRouter, *, tracer_provider: Any = None, meter_provider: Any = None) -> LiveInstrumentor:
    """Report ``live``'s pages to OpenTelemetry (the global providers unless given); see the module docs."""
    instrumentor = LiveInstrumentor(live, tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError:
        return instrumentor  # no server spans for the fast path's requests: events start traces of their own
    # Streams are long-lived: their requests get no span (a span per frame would cost more than the frame).
    options = {"tracer_provider": tracer_provider, "meter_provider": meter_provider, "excluded_urls": live.stream_url, "exclude_spans": ["receive", "send"]}
    if not any(cls is OpenTelemetryMiddleware for cls, _ in live.fast_path_middleware):  # instrumented twice: one server span
        live.fast_path_middleware.append((OpenTelemetryMiddleware, options))
    return instrumentor
