"""4. Time to first byte of a dashboard page whose mount has slow loads (~300 ms and ~600 ms).

Three versions of one page on one server: loads started with ``assign_async`` (the page
renders at once, results follow on the stream), the same loads awaited inside mount, and
the page with no loads at all. Requests are sequential and interleaved, on one keep-alive
connection. pyview beside it: the same three pages, its async one written the pyview way (the
page GET skips the loads; once the view joins, tasks load and send infos).
"""

from __future__ import annotations

from typing import Any

from . import wire
from .apps import LIVE_APP, ORG_LATENCY, PROFILE_LATENCY, PYVIEW_APP
from .load import guarded
from .report import Row, median, percentile
from .servers import ServerProcess, Settings

NAME = "ttfb"
TARGET_RATIO = 1.2
KINDS = ("none", "async", "awaited")


async def measure(settings: Settings, app: str, label: str) -> dict[str, Any]:
    rounds = settings.pick(60, 10)
    awaited_every = settings.pick(10, 10)  # the awaited page costs ~0.9 s a request
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    async with ServerProcess(app, settings, label=label) as server:
        conn = await wire.connect(server.host, server.port)
        try:
            response = await conn.request("GET", "/dash/none/acme")
            cookie = wire.cookie_header(response.cookies())
            headers = {"Cookie": cookie} if cookie else None
            for kind in KINDS:  # warm-up: first compile of templates and routes
                await conn.request("GET", f"/dash/{kind}/acme", headers)
            for i in range(rounds):
                for kind in KINDS:
                    if kind == "awaited" and i % awaited_every:
                        continue
                    response = await conn.request("GET", f"/dash/{kind}/acme", headers)
                    if response.status != 200:
                        raise wire.HttpError(f"{label} /dash/{kind}/acme answered {response.status}")
                    if kind == "async" and "Loading organization..." not in response.text:
                        raise wire.HttpError(f"{label}: the async dashboard's first render does not show its loading state")
                    samples[kind].append((response.first_byte_at - response.sent_at) * 1000.0)
        finally:
            conn.close()
    figures: dict[str, Any] = {
        kind: {"p50_ms": median(values), "p99_ms": percentile(values, 99), "min_ms": min(values), "samples": len(values)} for kind, values in samples.items()
    }
    figures["loads_ms"] = [ORG_LATENCY * 1000, PROFILE_LATENCY * 1000]
    return figures


async def run(settings: Settings) -> list[Row]:
    figures = await measure(settings, LIVE_APP, "live")
    pyview, pyview_error = await guarded(measure(settings, PYVIEW_APP, "pyview"), "pyview TTFB")
    figures["pyview"] = pyview
    none = figures["none"]["p50_ms"]

    def of_pyview(kind: str) -> float | None:
        return None if pyview is None else float(pyview[kind]["p50_ms"])

    return [
        Row(
            "dashboard TTFB p50, loads via assign_async (vs same page, no loads)",
            figures["async"]["p50_ms"],
            none,
            "ms",
            target=f"≤ {TARGET_RATIO}×",
            check=lambda live_value, base: live_value <= TARGET_RATIO * base,
            details=figures,
            group=NAME,
            pyview=of_pyview("async"),
            pyview_error=pyview_error,
        ),
        Row(
            "dashboard TTFB p50, loads awaited in mount (vs same page, no loads)",
            figures["awaited"]["p50_ms"],
            none,
            "ms",
            group=NAME,
            pyview=of_pyview("awaited"),
            pyview_error=pyview_error,
        ),
        Row("dashboard TTFB p50, no loads", none, None, "ms", group=NAME, pyview=of_pyview("none"), pyview_error=pyview_error),
    ]
