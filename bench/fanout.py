"""6. Fan-out: one publish to "all", N connected sessions (each subscribed to ``user:{n}`` and ``all``).

Latency per session = publish request sent → that session's socket received its update; p50 /
p99 / max per publish, median over several publishes.

* in-memory: fastapi-live (one process, in-memory PubSub) beside a hand-written sse-starlette
  fan-out of the same fragment (rendered once) to N streams, and beside pyview (N joined views
  subscribed through pyview's PubSub hub; each gets a ``diff`` push on its WebSocket).
* Redis, one process: fastapi-live through Redis beside the in-memory floor.
* Redis, 2 workers: ``uvicorn --workers 2`` sharing one Redis, the sessions spread over both
  workers (the kernel hands each new connection to one of them), the publish landing on one;
  beside the floor doing the same (one Redis subscription per worker, local fan-out). pyview
  has no cross-process PubSub, so it has no figure here. Both workers are pinned to the
  server CPU, like every other server in the suite.
* Redis Cluster, 2 workers: the same through a local 3-master Redis Cluster (sharded pub/sub,
  one connection per shard per worker), beside the one-Redis 2-worker figure of this run.

With ``--gc-stats`` every publish in the JSON also lists each worker's garbage collections during
it (read between publishes, outside the timed window): the slowest publishes are the ones a
generation-2 pass stalled.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi_live.testing._sse import SSEMessage

from . import wire, ws
from .apps import HAND_APP, LIVE_APP, PYVIEW_APP
from .load import LivePage, bounded, guarded, open_live_page
from .pyview import PyviewPage, open_pyview_page
from .report import Row, median, percentile
from .servers import ServerProcess, Settings, redis_cluster

NAME = "fanout"
TARGET_MEMORY = 1.3
TARGET_PYVIEW = 0.6
TARGET_REDIS = 2.0
TARGET_CLUSTER = 1.3
TARGET_SHARDED = 1.3  # Redis Cluster beside one Redis, both fastapi-live on 2 workers
WARMUP = 1  # publishes before the measured ones, for every contender alike
WORKERS = 2
_WORKER = re.compile(r'data-worker="(\d+)"')


class Arrivals:
    """When each stream saw the current round's marker."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.marker = "\x00"
        self.times = [math.nan] * count
        self.remaining = count
        self.done: asyncio.Future[None] | None = None

    def start_round(self) -> str:
        self.marker = f"news-{secrets.token_hex(6)}"
        self.times = [math.nan] * self.count
        self.remaining = self.count
        self.done = asyncio.get_running_loop().create_future()
        return self.marker

    def _arrived(self, index: int, now: float) -> None:
        if math.isnan(self.times[index]):
            self.times[index] = now
            self.remaining -= 1
            if self.remaining == 0 and self.done is not None and not self.done.done():
                self.done.set_result(None)

    def callback(self, index: int) -> wire.MessageCallback:
        """For an SSE stream: the marker in a message's data."""

        def on_message(message: SSEMessage, now: float) -> None:
            if self.marker in message.data:
                self._arrived(index, now)

        return on_message

    def ws_callback(self, index: int) -> ws.MessageCallback:
        """For a WebSocket: the marker in a message's payload."""

        def on_message(payload: bytes, now: float) -> None:
            if self.marker.encode() in payload:
                self._arrived(index, now)

        return on_message


async def publish_rounds(server: ServerProcess, arrivals: Arrivals, rounds: int, label: str) -> dict[str, Any]:
    publisher = await wire.connect(server.host, server.port)
    per_round: list[dict[str, float]] = []
    try:
        for round_number in range(WARMUP + rounds):
            await asyncio.sleep(server.settings.pick(0.5, 0.2))  # idle between publishes (a 500-page publish takes ~20 ms)
            gc_before = await server.gc_stats_by_worker()
            marker = arrivals.start_round()
            assert arrivals.done is not None
            server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
            response = await publisher.request("POST", f"/bench/publish?topic=all&message={marker}")
            if response.status != 204:
                raise wire.HttpError(f"publish answered {response.status}: {response.text[:200]}")
            try:
                await asyncio.wait_for(asyncio.shield(arrivals.done), 20)
            except TimeoutError:
                raise wire.HttpError(f"{label}: only {arrivals.count - arrivals.remaining} of {arrivals.count} streams got the publish in 20 s") from None
            client_cpu = time.process_time() - client_cpu
            await asyncio.sleep(0.05)  # a late write or a stray callback still counts toward this publish's server CPU
            server_cpu = server.cpu_seconds() - server_cpu
            if round_number < WARMUP:
                continue  # every contender's first publish pays one-time costs: not measured
            latencies = [(t - response.sent_at) * 1000.0 for t in arrivals.times]
            per_round.append(
                {
                    "p50_ms": percentile(latencies, 50),
                    "p99_ms": percentile(latencies, 99),
                    "max_ms": max(latencies),
                    "server_cpu_ms": server_cpu * 1000.0,
                    "client_cpu_ms": client_cpu * 1000.0,
                    "reply_ms": (response.done_at - response.sent_at) * 1000.0,
                }
            )
            if gc_before is not None:
                per_round[-1]["server_gc"] = _gc_during(gc_before, await server.gc_stats_by_worker() or {})
    finally:
        publisher.close()
    return {
        "p50_ms": median([r["p50_ms"] for r in per_round]),
        "p99_ms": median([r["p99_ms"] for r in per_round]),
        "max_ms": median([r["max_ms"] for r in per_round]),
        "worst_round_max_ms": max(r["max_ms"] for r in per_round),
        "server_cpu_ms": median([r["server_cpu_ms"] for r in per_round]),
        "client_cpu_ms": median([r["client_cpu_ms"] for r in per_round]),
        "rounds": per_round,
        "streams": arrivals.count,
    }


def _gc_during(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Per worker: collections by generation and their milliseconds during one publish (``--gc-stats``)."""
    during: dict[str, Any] = {}
    for pid, end in after.items():
        start = before.get(pid)
        if not start or not end:
            continue
        during[str(pid)] = {
            "collections": [b - a for a, b in zip(start["count"], end["count"], strict=True)],
            "ms": [round(b - a, 2) for a, b in zip(start["total_ms"], end["total_ms"], strict=True)],
        }
    return during


def _spread(pids: list[int], server: ServerProcess) -> dict[str, Any]:
    """Sessions per worker process; with several workers, both must hold some."""
    split = Counter(pids)
    if server.workers > 1 and len(split) < server.workers:
        raise wire.HttpError(f"sessions landed on {len(split)} of {server.workers} workers: {dict(split)}")
    return {"workers": server.workers, "sessions_per_worker": sorted(split.values(), reverse=True)}


async def measure_live(settings: Settings, count: int, rounds: int, pubsub: str, workers: int = 1) -> dict[str, Any]:
    kind = "memory" if pubsub == "memory" else "redis-cluster" if "cluster=true" in pubsub else "redis"
    label = f"live-{kind}" + (f"-{workers}w" if workers > 1 else "")
    async with ServerProcess(LIVE_APP, settings, label=label, env={"BENCH_PUBSUB": pubsub}, workers=workers) as server:
        arrivals = Arrivals(count)
        pages: list[LivePage] = []
        pids: list[int] = []

        async def one(index: int) -> None:
            page = await open_live_page(server.host, server.port, f"/fan/{index}", on_message=arrivals.callback(index))
            pages.append(page)
            worker = _WORKER.search(page.html)
            pids.append(int(worker.group(1)) if worker else server.pid)

        try:
            await bounded(range(count), 50, one)
            return await _publish_profiled(server, arrivals, rounds, label, pids)
        finally:
            for page in pages:
                page.close()


async def _publish_profiled(server: Any, arrivals: Arrivals, rounds: int, label: str, pids: list[int] | None) -> dict[str, Any]:
    """Publish ``rounds`` times under the server's profiler; GC stats and (given ``pids``) the worker spread attached."""
    spread = None if pids is None else _spread(pids, server)
    before = await server.gc_stats()
    async with server.profiled(NAME, (WARMUP + rounds) * 0.6 + 1):
        result = await publish_rounds(server, arrivals, rounds, label)
    result["server_gc"] = {"before_publishes": before, "after": await server.gc_stats()}
    if spread is not None:
        result.update(spread)
    return result


async def measure_hand(settings: Settings, count: int, rounds: int, pubsub: str = "memory", workers: int = 1) -> dict[str, Any]:
    label = "hand" + ("" if pubsub == "memory" else "-redis") + (f"-{workers}w" if workers > 1 else "")
    async with ServerProcess(HAND_APP, settings, label=label, env={"BENCH_PUBSUB": pubsub}, workers=workers) as server:
        arrivals = Arrivals(count)
        conns: list[wire.Connection] = []
        pids: list[int] = []

        async def one(index: int) -> None:
            conn = await wire.connect(server.host, server.port)
            conns.append(conn)
            hello: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            deliver = arrivals.callback(index)

            def on_message(message: SSEMessage, now: float) -> None:
                if not hello.done() and message.event == "hello":
                    hello.set_result(int(message.data))
                    return
                deliver(message, now)

            await asyncio.wait_for(conn.open_stream("/fan/stream", None, on_message), 20)
            pids.append(await asyncio.wait_for(hello, 20))

        try:
            await bounded(range(count), 50, one)
            return await _publish_profiled(server, arrivals, rounds, label, pids)
        finally:
            for conn in conns:
                conn.close()


async def measure_pyview(settings: Settings, count: int, rounds: int) -> dict[str, Any]:
    async with ServerProcess(PYVIEW_APP, settings, label="pyview") as server:
        arrivals = Arrivals(count)
        pages: list[PyviewPage] = []

        async def one(index: int) -> None:
            pages.append(await open_pyview_page(server.host, server.port, f"/fan/{index}", on_message=arrivals.ws_callback(index)))

        try:
            await bounded(range(count), 50, one)
            return await _publish_profiled(server, arrivals, rounds, "pyview", None)  # one process: no worker spread
        finally:
            for page in pages:
                page.close()


def _rows(
    kind: str,
    count: int,
    live: dict[str, Any],
    hand: dict[str, Any],
    target: float,
    *,
    floor: str = "sse-starlette by hand",
    pyview: dict[str, Any] | None = None,
    pyview_error: str | None = None,
) -> list[Row]:
    check: Callable[[float, float], bool] = lambda live_value, base: live_value <= target * base  # noqa: E731
    with_pyview = pyview is not None or pyview_error is not None

    def of_pyview(key: str) -> float | None:
        return None if pyview is None else float(pyview[key])

    common: dict[str, Any] = {"group": NAME, "pyview_error": pyview_error}
    return [
        Row(
            f"fan-out to {count:,} sessions, {kind}: last client, median publish (vs {floor})",
            live["max_ms"],
            hand["max_ms"],
            "ms",
            target=f"≤ {target}× floor" + (f", ≤ {TARGET_PYVIEW}× pyview" if with_pyview else ""),
            check=check,
            details={"fastapi_live": live, "baseline": hand, "pyview": pyview},
            pyview=of_pyview("max_ms"),
            pyview_check=(lambda live_value, pyview_value: live_value <= TARGET_PYVIEW * pyview_value) if with_pyview else None,
            **common,
        ),
        Row(f"fan-out, {kind}: p50 client", live["p50_ms"], hand["p50_ms"], "ms", pyview=of_pyview("p50_ms"), **common),
        Row(f"fan-out, {kind}: p99 client", live["p99_ms"], hand["p99_ms"], "ms", pyview=of_pyview("p99_ms"), **common),
        Row(
            f"fan-out, {kind}: last client, worst of {len(live['rounds'])} publishes",
            live["worst_round_max_ms"],
            hand["worst_round_max_ms"],
            "ms",
            pyview=of_pyview("worst_round_max_ms"),
            **common,
        ),
    ]


async def run(settings: Settings) -> list[Row]:
    count = settings.pick(2000, 200)
    rounds = settings.pick(21, 1)  # the median of many publishes: one GC pause or noisy neighbour moves it little
    hand = await measure_hand(settings, count, rounds)
    pyview, pyview_error = await guarded(measure_pyview(settings, count, rounds), "pyview fan-out")
    rows: list[Row] = []
    memory, error = await guarded(measure_live(settings, count, rounds, "memory"), "in-memory fan-out")
    if memory is not None:
        rows.extend(_rows("in-memory", count, memory, hand, TARGET_MEMORY, pyview=pyview, pyview_error=pyview_error))
    else:
        rows.append(Row(f"fan-out to {count:,} sessions, in-memory", None, hand["max_ms"], "ms", error=error, group=NAME))
    if importlib.util.find_spec("fastapi_live.pubsub.redis") is None:
        rows.append(
            Row(
                f"fan-out to {count:,} sessions, Redis: last client",
                None,
                hand["max_ms"],
                "ms",
                target=f"≤ {TARGET_REDIS}×",
                error="not run: fastapi_live/pubsub/redis.py does not exist yet",
                group=NAME,
            )
        )
        return rows
    redis, error = await guarded(measure_live(settings, count, rounds, settings.redis_url), "Redis fan-out")
    if redis is not None:
        rows.extend(_rows("Redis, 1 process", count, redis, hand, TARGET_REDIS, floor="in-memory sse-starlette by hand"))
    else:
        rows.append(Row(f"fan-out to {count:,} sessions, Redis", None, hand["max_ms"], "ms", target=f"≤ {TARGET_REDIS}×", error=error, group=NAME))
    kind = f"Redis, {WORKERS} workers"
    cluster_hand, error = await guarded(measure_hand(settings, count, rounds, settings.redis_url, WORKERS), f"{kind} floor")
    if cluster_hand is None:
        rows.append(Row(f"fan-out to {count:,} sessions, {kind}", None, None, "ms", target=f"≤ {TARGET_CLUSTER}× floor", error=error, group=NAME))
        return rows
    cluster, error = await guarded(measure_live(settings, count, rounds, settings.redis_url, WORKERS), f"{kind} fan-out")
    if cluster is not None:
        rows.extend(_rows(kind, count, cluster, cluster_hand, TARGET_CLUSTER, floor=f"sse-starlette + Redis by hand, {WORKERS} workers"))
    else:
        rows.append(
            Row(f"fan-out to {count:,} sessions, {kind}", None, cluster_hand["max_ms"], "ms", target=f"≤ {TARGET_CLUSTER}× floor", error=error, group=NAME)
        )
        return rows
    sharded_kind = f"Redis Cluster (3 masters), {WORKERS} workers"

    async def over_redis_cluster() -> dict[str, Any]:
        async with redis_cluster(settings) as url:
            return await measure_live(settings, count, rounds, url, WORKERS)

    sharded, error = await guarded(over_redis_cluster(), f"{sharded_kind} fan-out")
    if sharded is not None:
        rows.extend(_rows(sharded_kind, count, sharded, cluster, TARGET_SHARDED, floor=f"fastapi-live over one Redis, {WORKERS} workers, this run"))
    else:
        name = f"fan-out to {count:,} sessions, {sharded_kind}"
        rows.append(Row(name, None, cluster["max_ms"], "ms", target=f"≤ {TARGET_SHARDED}×", error=error, group=NAME))
    return rows
