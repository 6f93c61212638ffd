"""OpenTelemetry: spans and metrics from live pages, read back from the SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from fastapi_live.otel import instrument
from fastapi_live.telemetry import telemetry
from fastapi_live.testing import LiveTestClient, live, render_async, render_click
from tests.test_telemetry import make_app


class Traced:
    def __init__(self, fast_path: bool) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.app, self.live = make_app()
        self.live.fast_path = fast_path
        FastAPIInstrumentor.instrument_app(self.app, tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)
        self.instrumentor = instrument(self.live, tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)

    def close(self) -> None:
        self.instrumentor.uninstrument()
        FastAPIInstrumentor.uninstrument_app(self.app)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert found, f"no span {name!r} in {[s.name for s in self.spans()]}"
        return found[-1]

    def server_span(self, method: str, path: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.kind == SpanKind.SERVER and s.name.startswith(method) and path in s.name]
        assert found, f"no server span for {method} {path} in {[(s.name, s.kind) for s in self.spans()]}"
        return found[-1]

    def metrics(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out


@pytest.fixture(params=[True, False], ids=["fast-path", "behind-middleware"])
def traced(request: pytest.FixtureRequest) -> Iterator[Traced]:
    traced = Traced(fast_path=request.param)
    yield traced
    traced.close()
    assert telemetry.on is False


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_an_events_span_is_a_child_of_its_posts_server_span(traced: Traced) -> None:
    async with LiveTestClient(traced.app) as client:
        view, _ = await live(client, "/measured")
        await render_async(view)
        assert "Count: 1" in await render_click(view, "inc")
    handled = traced.span("Measured.handle_event inc")
    post = traced.server_span("POST", traced.live.event_url)
    assert parent_of(handled) == post.context.span_id and handled.context.trace_id == post.context.trace_id
    assert handled.attributes is not None and handled.attributes["live.event"] == "inc"
    assert (handled.end_time or 0) - (handled.start_time or 0) >= 50_000_000  # the handler sleeps 50 ms
    render = [s for s in traced.spans() if s.name == "Measured.render" and parent_of(s) == handled.context.span_id]
    assert render, "the event's render is a child of its span"
    mount = traced.span("Measured.mount")
    page = traced.server_span("GET", "/measured")
    assert parent_of(mount) == page.context.span_id


async def test_a_failing_event_is_an_error_span_and_the_metrics_count_it(traced: Traced) -> None:
    async with LiveTestClient(traced.app) as client:
        view, _ = await live(client, "/measured")
        await render_async(view)
        await render_click(view, "inc")
        with pytest.raises(Exception, match="boom"):
            await render_click(view, "explode")
        with pytest.raises(Exception, match="unknown event"):
            await render_click(view, "made-up-by-a-client")
        metrics = traced.metrics()
        assert [p.value for p in metrics["fastapi_live.sessions"]] == [1]
        assert sum(p.value for p in metrics["fastapi_live.streams"]) == 1
        depths = {p.attributes["queue"]: p.value for p in metrics["fastapi_live.queue.depth"]}
        assert set(depths) == {"mailbox", "outbound", "runner", "sync"}
    failed = traced.span("Measured.handle_event explode")
    assert failed.status.status_code == StatusCode.ERROR and any(e.name == "exception" for e in failed.events)
    events = {(p.attributes["live.event"], p.attributes["live.outcome"]): p.value for p in traced.metrics()["fastapi_live.events"]}
    assert events == {("inc", "ok"): 1, ("explode", "error"): 1, ("(refused)", "refused"): 1}
    refused = [s for s in traced.spans() if s.name == "Measured.handle_event"]  # a made-up name stays out of span names
    assert len(refused) == 1 and refused[0].status.status_code == StatusCode.ERROR
    durations = {(p.attributes["live.span"], p.attributes["live.outcome"]): p for p in traced.metrics()["fastapi_live.handler.duration"]}
    assert durations[("handle_event", "ok")].count == 1 and durations[("handle_event", "ok")].sum >= 0.05
    assert durations[("mount", "ok")].count == 1
    assert sum(p.value for p in traced.metrics().get("fastapi_live.sessions", [])) == 0  # the page closed with the client


async def test_a_pubsub_message_starts_a_trace_of_its_own(traced: Traced) -> None:
    async with LiveTestClient(traced.app) as client:
        view, _ = await live(client, "/measured")
        await render_async(view)
        await render_click(view, "inc")  # a traced request ran in this process just before
        await traced.live.publish("measured", "hello")
        assert "Count: 11" in await render_async(view)
    info = traced.span("Measured.handle_info")
    assert info.parent is None and info.attributes is not None and info.attributes["live.message"] == "str"
    assert [s for s in traced.spans() if s.name == "Measured.render" and parent_of(s) == info.context.span_id]


async def test_an_event_that_waited_its_turn_is_still_a_child_of_its_own_post(traced: Traced) -> None:
    async with LiveTestClient(traced.app) as client:
        view, _ = await live(client, "/measured")
        await render_async(view)
        await asyncio.gather(render_click(view, "inc"), render_click(view, "inc"))  # the second waits for the first
    posts = {s.context.span_id for s in traced.spans() if s.kind == SpanKind.SERVER and s.name.startswith("POST")}
    handled = [s for s in traced.spans() if s.name == "Measured.handle_event inc"]
    assert len(posts) == 2 and len(handled) == 2
    assert {parent_of(s) for s in handled} == posts  # each under its own request, none under the other's
