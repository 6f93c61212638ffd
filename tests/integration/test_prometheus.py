"""Prometheus: the same metrics, read from a scrape of the app's /metrics endpoint."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, make_asgi_app
from prometheus_client.parser import text_string_to_metric_families

from fastapi_live.prometheus import instrument
from fastapi_live.telemetry import telemetry
from fastapi_live.testing import LiveTestClient, live, render_async, render_click
from tests.test_telemetry import make_app


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in text_string_to_metric_families(text) for s in family.samples}


async def test_a_scrape_shows_sessions_streams_events_durations_and_queues() -> None:
    app, router = make_app()
    registry = CollectorRegistry()
    app.mount("/metrics", make_asgi_app(registry))
    metrics = instrument(router, registry)
    try:
        async with LiveTestClient(app) as client:
            view, _ = await live(client, "/measured")
            await render_async(view)
            await render_click(view, "inc")
            with pytest.raises(Exception, match="boom"):
                await render_click(view, "explode")
            for name in ("no-such-event-1", "no-such-event-2"):  # a client's made-up names are no labels
                with pytest.raises(Exception, match="unknown event"):
                    await render_click(view, name)
            scraped = samples((await client.get("/metrics/")).text)
            assert scraped[("fastapi_live_sessions", (("view", "Measured"),))] == 1
            assert scraped[("fastapi_live_streams", (("view", "Measured"),))] == 1
            assert scraped[("fastapi_live_events_total", (("event", "inc"), ("outcome", "ok"), ("view", "Measured")))] == 1
            assert scraped[("fastapi_live_events_total", (("event", "explode"), ("outcome", "error"), ("view", "Measured")))] == 1
            refused = (("event", "(refused)"), ("outcome", "refused"), ("view", "Measured"))
            assert scraped[("fastapi_live_events_total", refused)] == 2
            assert not [labels for name, labels in scraped if "no-such-event-1" in repr(labels)]
            ok = (("outcome", "ok"), ("span", "handle_event"), ("view", "Measured"))
            assert scraped[("fastapi_live_handler_duration_seconds_count", ok)] == 1
            assert scraped[("fastapi_live_handler_duration_seconds_sum", ok)] >= 0.05
            assert scraped[("fastapi_live_handler_duration_seconds_bucket", tuple(sorted((*ok, ("le", "0.025")))))] == 0  # it sleeps 50 ms
            assert {labels for name, labels in scraped if name == "fastapi_live_queue_depth"} == {
                (("queue", q),) for q in ("mailbox", "outbound", "runner", "sync")
            }
        async with LiveTestClient(app, lifespan=False) as scraper:
            scraped = samples((await scraper.get("/metrics/")).text)
        assert scraped.get(("fastapi_live_sessions", (("view", "Measured"),)), 0) == 0  # counted at scrape time: none left
    finally:
        metrics.uninstrument()
    assert telemetry.on is False and registry.get_sample_value("fastapi_live_sessions", {"view": "Measured"}) is None


async def test_sessions_opened_before_instrumenting_are_counted() -> None:
    app, router = make_app()
    registry = CollectorRegistry()
    async with LiveTestClient(app) as client:
        view, _ = await live(client, "/measured")
        await render_async(view)
        metrics = instrument(router, registry)  # late: the page was already open
        try:
            assert registry.get_sample_value("fastapi_live_sessions", {"view": "Measured"}) == 1
            assert registry.get_sample_value("fastapi_live_streams", {"view": "Measured"}) == 1
        finally:
            metrics.uninstrument()
