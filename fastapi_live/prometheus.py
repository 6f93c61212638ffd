"""Prometheus metrics for live pages, through ``prometheus-client`` (``pip install 'fastapi-live[prometheus]'``).

>>> from prometheus_client import make_asgi_app
>>> from fastapi_live.prometheus import instrument
>>> instrument(live)                       # into prometheus_client's default registry
>>> app.mount("/metrics", make_asgi_app())

The same metrics as ``fastapi_live.otel``: ``fastapi_live_sessions`` and ``fastapi_live_streams``
(gauges by view), ``fastapi_live_events_total`` (by view, event and outcome: ``rate()`` is
events/s), ``fastapi_live_handler_duration_seconds`` (a histogram by span, view and outcome),
``fastapi_live_queue_depth`` (by queue: mailbox, outbound, runner, sync).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .exceptions import MissingDependencyError
from .introspection import outcome_of, queue_depths, view_counts
from .router import LiveRouter
from .telemetry import TelemetryEvent, telemetry

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - reason: the test extra installs prometheus-client
    raise MissingDependencyError("prometheus-client must be installed to use fastapi_live.prometheus: pip install 'fastapi-live[prometheus]'") from exc

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Now(Collector):
    """What is counted at scrape time: sessions and streams per view, queue depths."""

    def __init__(self, live: LiveRouter) -> None:
        self.live = live

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sessions = GaugeMetricFamily("fastapi_live_sessions", "Live sessions open in this process", labels=["view"])
        streams = GaugeMetricFamily("fastapi_live_streams", "Attached live streams", labels=["view"])
        for view, (open_sessions, attached) in view_counts(self.live.manager).items():
            sessions.add_metric([view], open_sessions)
            streams.add_metric([view], attached)
        queues = GaugeMetricFamily("fastapi_live_queue_depth", "Messages and frames waiting in this process", labels=["queue"])
        for name, depth in queue_depths(self.live.manager).items():
            queues.add_metric([name], depth)
        yield from (sessions, streams, queues)


class PrometheusMetrics:
    """Telemetry as Prometheus metrics in ``registry``; ``uninstrument()`` removes them."""

    def __init__(self, live: LiveRouter, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.events = Counter("fastapi_live_events", "Client events handled", ["view", "event", "outcome"], registry=registry)
        self.duration = Histogram(
            "fastapi_live_handler_duration_seconds", "Time spent in live callbacks and renders", ["span", "view", "outcome"], buckets=BUCKETS, registry=registry
        )
        self.now = _Now(live)
        registry.register(self.now)
        self._collectors: list[Any] = [self.events, self.duration, self.now]
        self._detach = telemetry.attach(self.handle)

    def uninstrument(self) -> None:
        self._detach()
        for collector in self._collectors:
            self.registry.unregister(collector)

    def handle(self, event: TelemetryEvent) -> None:
        view = event.view or "?"
        if event.span is not None and event.phase != "start" and event.duration is not None:
            label, outcome = outcome_of(event)
            self.duration.labels(event.name, view, outcome).observe(event.duration)
            if event.name == "handle_event":
                self.events.labels(view, label, outcome).inc()


def instrument(live: LiveRouter, registry: CollectorRegistry = REGISTRY) -> PrometheusMetrics:
    """Report ``live``'s pages as Prometheus metrics; see the module docs."""
    return PrometheusMetrics(live, registry)
