"""1. Live page first render, requests/s, beside a hand-written Jinja2Templates endpoint and pyview's page.

The same counter page three ways, hammered by 16 keep-alive connections from the bench's
raw HTTP/1.1 client (an equivalent of wrk: the client has its own CPU and records its load).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from . import wire
from .apps import HAND_APP, LIVE_APP, PYVIEW_APP
from .load import CpuWindow, guarded
from .report import Row, percentile
from .servers import ServerProcess, Settings

NAME = "first_render"


async def hammer(server: ServerProcess, path: str, *, connections: int, warmup: float, duration: float, name: str) -> dict[str, Any]:
    """Keep-alive GET loops on ``connections`` connections; counts responses in the window."""
    conns = [await wire.connect(server.host, server.port) for _ in range(connections)]
    start = time.perf_counter()
    measure_from = start + warmup
    measure_to = measure_from + duration
    latencies: list[float] = []
    errors: list[int] = []
    sizes: list[int] = []
    cpu = CpuWindow(server.cpu_seconds, measure_from, measure_to)

    async def worker(conn: wire.Connection) -> None:
        cookie: str | None = None
        for _ in range(1_000_000):  # bounded; the window ends it far sooner
            if time.perf_counter() >= measure_to:
                return
            response = await asyncio.wait_for(conn.request("GET", path, {"Cookie": cookie} if cookie else None), 10)
            if response.status != 200:
                errors.append(response.status)
            elif not sizes:
                sizes.append(len(response.body))
            if cookie is None and response.cookies():
                cookie = wire.cookie_header(response.cookies())  # a browser sends its cookie back
            if response.sent_at >= measure_from and response.done_at <= measure_to:
                latencies.append((response.done_at - response.sent_at) * 1000.0)

    try:
        async with server.profiled(name, warmup + duration):
            await asyncio.gather(cpu.sample(), *(worker(c) for c in conns))
        server_gc = await server.gc_stats()
    finally:
        for conn in conns:
            conn.close()
    if errors:
        raise wire.HttpError(f"GET {path}: {len(errors)} non-200 answers, e.g. {errors[0]}")
    return {
        "requests_per_s": len(latencies) / duration,
        "requests": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        **cpu.percentages(duration),
        "body_bytes": sizes[0] if sizes else 0,
        "connections": connections,
        "server_gc": server_gc,
    }


async def run(settings: Settings) -> list[Row]:
    connections = 16
    warmup = settings.pick(1.5, 0.3)
    duration = settings.pick(6.0, 1.0)
    async with ServerProcess(LIVE_APP, settings, label="live") as server:
        live = await hammer(server, "/counter", connections=connections, warmup=warmup, duration=duration, name=NAME)
    async with ServerProcess(HAND_APP, settings, label="hand") as server:
        hand = await hammer(server, "/page", connections=connections, warmup=warmup, duration=duration, name=NAME)

    async def measure_pyview() -> dict[str, Any]:
        async with ServerProcess(PYVIEW_APP, settings, label="pyview") as server:
            return await hammer(server, "/counter", connections=connections, warmup=warmup, duration=duration, name=NAME)

    pyview, pyview_error = await guarded(measure_pyview(), "pyview first render")
    return [
        Row(
            "first render GET /counter, req/s (vs hand-written Jinja2Templates)",
            live["requests_per_s"],
            hand["requests_per_s"],
            "req/s",
            target="≥ pyview",
            details={"fastapi_live": live, "baseline": hand, "pyview": pyview},
            group=NAME,
            pyview=pyview["requests_per_s"] if pyview else None,
            pyview_check=lambda live_value, pyview_value: live_value >= pyview_value,
            pyview_error=pyview_error,
        )
    ]
