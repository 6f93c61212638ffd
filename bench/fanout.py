"""6. Fan-out: one publish to "all", N connected sessions (each subscribed to ``user:{n}`` and ``all``).

Latency per stream = publish request sent → that stream received the fragment; p50 / p99 /
max per publish, median over several publishes. fastapi-live with the in-memory backend and
through Redis (one server process), beside a hand-written sse-starlette fan-out of the same
fragment (rendered once) to N streams.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from . import wire
from .load import LivePage, bounded, open_live_page
from .report import Row, median, percentile
from .servers import ServerProcess, Settings

NAME = "fanout"
LIVE_APP = "bench.apps.live_app:create_app"
HAND_APP = "bench.apps.hand_app:create_app"
TARGET_MEMORY = 1.3
TARGET_REDIS = 2.0


class Arrivals:
    """When each stream saw the current round's marker."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.marker = b"\x00"
        self.times = [math.nan] * count
        self.remaining = count
        self.done: asyncio.Future[None] | None = None

    def start_round(self) -> bytes:
        self.marker = f"news-{secrets.token_hex(6)}".encode()
        self.times = [math.nan] * self.count
        self.remaining = self.count
        self.done = asyncio.get_running_loop().create_future()
        return self.marker

    def callback(self, index: int) -> wire.MessageCallback:
        def on_message(message: bytes, now: float) -> None:
            if self.marker in message and math.isnan(self.times[index]):
                self.times[index] = now
                self.remaining -= 1
                if self.remaining == 0 and self.done is not None and not self.done.done():
                    self.done.set_result(None)

        return on_message


async def publish_rounds(server: ServerProcess, arrivals: Arrivals, rounds: int, label: str) -> dict[str, Any]:
    publisher = await wire.connect(server.host, server.port)
    per_round: list[dict[str, float]] = []
    try:
        for _ in range(rounds):
            await asyncio.sleep(0.5)  # idle between publishes
            marker = arrivals.start_round().decode()
            assert arrivals.done is not None
            response = await publisher.request("POST", f"/bench/publish?topic=all&message={marker}")
            if response.status != 204:
                raise wire.HttpError(f"publish answered {response.status}: {response.text[:200]}")
            try:
                await asyncio.wait_for(asyncio.shield(arrivals.done), 20)
            except TimeoutError:
                raise wire.HttpError(f"{label}: only {arrivals.count - arrivals.remaining} of {arrivals.count} streams got the publish in 20 s") from None
            latencies = [(t - response.sent_at) * 1000.0 for t in arrivals.times]
            per_round.append({"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "max_ms": max(latencies)})
    finally:
        publisher.close()
    return {
        "p50_ms": median([r["p50_ms"] for r in per_round]),
        "p99_ms": median([r["p99_ms"] for r in per_round]),
        "max_ms": median([r["max_ms"] for r in per_round]),
        "worst_round_max_ms": max(r["max_ms"] for r in per_round),
        "rounds": per_round,
        "streams": arrivals.count,
    }


async def measure_live(settings: Settings, count: int, rounds: int, pubsub: str) -> dict[str, Any]:
    label = f"live-{'memory' if pubsub == 'memory' else 'redis'}"
    async with ServerProcess(LIVE_APP, settings, label=label, env={"BENCH_PUBSUB": pubsub}) as server:
        arrivals = Arrivals(count)
        pages: list[LivePage] = []

        async def one(index: int) -> None:
            pages.append(await open_live_page(server.host, server.port, f"/fan/{index}", on_message=arrivals.callback(index)))

        try:
            await bounded(range(count), 50, one)
            before = await server.gc_stats()
            async with server.profiled(NAME, rounds * 1.0 + 1):
                result = await publish_rounds(server, arrivals, rounds, label)
            result["server_gc"] = {"before_publishes": before, "after": await server.gc_stats()}
            return result
        finally:
            for page in pages:
                page.close()


async def measure_hand(settings: Settings, count: int, rounds: int) -> dict[str, Any]:
    async with ServerProcess(HAND_APP, settings, label="hand") as server:
        arrivals = Arrivals(count)
        conns: list[wire.Connection] = []

        async def one(index: int) -> None:
            conn = await wire.connect(server.host, server.port)
            conns.append(conn)
            await asyncio.wait_for(conn.open_stream("/fan/stream", None, arrivals.callback(index)), 20)

        try:
            await bounded(range(count), 50, one)
            before = await server.gc_stats()
            async with server.profiled(NAME, rounds * 1.0 + 1):
                result = await publish_rounds(server, arrivals, rounds, "hand")
            result["server_gc"] = {"before_publishes": before, "after": await server.gc_stats()}
            return result
        finally:
            for conn in conns:
                conn.close()


def _rows(kind: str, count: int, live: dict[str, Any], hand: dict[str, Any], target: float) -> list[Row]:
    check: Callable[[float, float], bool] = lambda live_value, base: live_value <= target * base  # noqa: E731
    return [
        Row(
            f"fan-out to {count:,} streams, {kind}: last client, median publish (vs sse-starlette by hand)",
            live["max_ms"],
            hand["max_ms"],
            "ms",
            target=f"≤ {target}×",
            check=check,
            details={"fastapi_live": live, "baseline": hand},
            group=NAME,
        ),
        Row(f"fan-out, {kind}: p50 client", live["p50_ms"], hand["p50_ms"], "ms", group=NAME),
        Row(f"fan-out, {kind}: p99 client", live["p99_ms"], hand["p99_ms"], "ms", group=NAME),
        Row(
            f"fan-out, {kind}: last client, worst of {len(live['rounds'])} publishes", live["worst_round_max_ms"], hand["worst_round_max_ms"], "ms", group=NAME
        ),
    ]


async def _guard(measure: Awaitable[dict[str, Any]], what: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return await measure, None
    except Exception as exc:
        return None, f"{what} failed: {type(exc).__name__}: {exc}"


async def run(settings: Settings) -> list[Row]:
    count = settings.pick(2000, 500)
    rounds = settings.pick(5, 3)
    hand = await measure_hand(settings, count, rounds)
    rows: list[Row] = []
    memory, error = await _guard(measure_live(settings, count, rounds, "memory"), "in-memory fan-out")
    if memory is not None:
        rows.extend(_rows("in-memory", count, memory, hand, TARGET_MEMORY))
    else:
        rows.append(Row(f"fan-out to {count:,} streams, in-memory", None, hand["max_ms"], "ms", error=error, group=NAME))
    if importlib.util.find_spec("fastapi_live.pubsub.redis") is None:
        rows.append(
            Row(
                f"fan-out to {count:,} streams, Redis: last client",
                None,
                hand["max_ms"],
                "ms",
                target=f"≤ {TARGET_REDIS}×",
                error="not run: fastapi_live/pubsub/redis.py does not exist yet",
                group=NAME,
            )
        )
        return rows
    redis, error = await _guard(measure_live(settings, count, rounds, settings.redis_url), "Redis fan-out")
    if redis is not None:
        rows.extend(_rows("Redis", count, redis, hand, TARGET_REDIS))
    else:
        rows.append(Row(f"fan-out to {count:,} streams, Redis", None, hand["max_ms"], "ms", target=f"≤ {TARGET_REDIS}×", error=error, group=NAME))
    return rows
