"""7. Presence: ``live.presence.list`` of a topic with 10,000 users, and a join's delivery to 1,000 subscribers.

* list: the bench app tracks 10,000 users on one topic (one meta each), then lists it 21 times;
  each ``await live.presence.list(topic)`` is timed inside the server (two Redis round trips: the
  live nodes, then one Lua script over the topic's hash), median and worst.
* join: 1,000 live pages subscribed to a room, spread over 2 workers (``uvicorn --workers 2``);
  a bench endpoint tracks a new user on the room (one hash write and one publish of the diff);
  latency per page = that request sent → the page's stream received the re-rendered region;
  p50 / p99 per join, median over the joins.

Both against one Redis and against a local 3-master Redis Cluster (sharded pub/sub), same run.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from typing import Any

from . import wire
from .apps import LIVE_APP
from .fanout import Arrivals
from .load import LivePage, bounded, guarded, open_live_page
from .report import Row, median, percentile
from .servers import ServerProcess, Settings, redis_cluster

NAME = "presence"
TARGET_LIST_MS = 50.0
WORKERS = 2
_WORKER = re.compile(r'data-worker="(\d+)"')


async def measure_list(settings: Settings, url: str, users: int, lists: int, label: str) -> dict[str, Any]:
    async with ServerProcess(LIVE_APP, settings, label=f"presence-list-{label}", env={"BENCH_PUBSUB": url}) as server:
        client = await wire.connect(server.host, server.port)
        try:
            topic = f"crowd-{label}"
            filled = await client.request("POST", f"/bench/presence/fill?topic={topic}&count={users}")
            if filled.status != 204:
                raise wire.HttpError(f"fill answered {filled.status}: {filled.text[:200]}")
            timings: list[float] = []
            for _ in range(1 + lists):  # the first is a warm-up
                response = await client.request("GET", f"/bench/presence/list?topic={topic}")
                answer = json.loads(response.text)
                if answer["keys"] != users:
                    raise wire.HttpError(f"the list held {answer['keys']} of {users} users")
                timings.append(float(answer["ms"]))
        finally:
            client.close()
    measured = timings[1:]
    return {"median_ms": median(measured), "max_ms": max(measured), "lists": measured, "users": users}


async def measure_join(settings: Settings, url: str, watchers: int, joins: int, label: str) -> dict[str, Any]:
    async with ServerProcess(LIVE_APP, settings, label=f"presence-join-{label}", env={"BENCH_PUBSUB": url}, workers=WORKERS) as server:
        arrivals = Arrivals(watchers)
        pages: list[LivePage] = []
        pids: list[int] = []

        async def one(index: int) -> None:
            page = await open_live_page(server.host, server.port, f"/presence/{index}", on_message=arrivals.callback(index))
            pages.append(page)
            worker = _WORKER.search(page.html)
            pids.append(int(worker.group(1)) if worker else server.pid)

        publisher = await wire.connect(server.host, server.port)
        per_join: list[dict[str, float]] = []
        try:
            await bounded(range(watchers), 50, one)
            split = Counter(pids)
            if len(split) < WORKERS:
                raise wire.HttpError(f"pages landed on {len(split)} of {WORKERS} workers: {dict(split)}")
            for round_number in range(1 + joins):
                marker = arrivals.start_round()
                assert arrivals.done is not None
                response = await publisher.request("POST", f"/bench/presence/join?topic=room&key={marker}")
                if response.status != 204:
                    raise wire.HttpError(f"join answered {response.status}: {response.text[:200]}")
                try:
                    await asyncio.wait_for(asyncio.shield(arrivals.done), 20)
                except TimeoutError:
                    raise wire.HttpError(f"{label}: only {arrivals.count - arrivals.remaining} of {watchers} pages saw the join in 20 s") from None
                if round_number == 0:
                    continue  # warm-up
                latencies = [(t - response.sent_at) * 1000.0 for t in arrivals.times]
                per_join.append({"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "max_ms": max(latencies)})
        finally:
            publisher.close()
            for page in pages:
                page.close()
    return {
        "p50_ms": median([j["p50_ms"] for j in per_join]),
        "p99_ms": median([j["p99_ms"] for j in per_join]),
        "max_ms": median([j["max_ms"] for j in per_join]),
        "joins": per_join,
        "pages_per_worker": sorted(split.values(), reverse=True),
    }


async def _measure(settings: Settings, url: str, label: str) -> tuple[dict[str, Any] | None, str | None, dict[str, Any] | None, str | None]:
    users, lists = settings.pick(10_000, 1_000), settings.pick(21, 3)
    watchers, joins = settings.pick(1000, 100), settings.pick(11, 2)
    listed, list_error = await guarded(measure_list(settings, url, users, lists, label), f"presence list ({label})")
    joined, join_error = await guarded(measure_join(settings, url, watchers, joins, label), f"presence join ({label})")
    return listed, list_error, joined, join_error


def _rows(kind: str, settings: Settings, listed: Any, list_error: str | None, joined: Any, join_error: str | None) -> list[Row]:
    users, watchers = settings.pick(10_000, 1_000), settings.pick(1000, 100)
    rows = [
        Row(
            f"presence list of {users:,} users, {kind}: median of {len(listed['lists']) if listed else 0} lists, in the server (vs the target)",
            None if listed is None else listed["median_ms"],
            TARGET_LIST_MS,
            "ms",
            target=f"≤ {TARGET_LIST_MS:g} ms",
            check=lambda live, target: live <= target,
            details={"fastapi_live": listed},
            error=list_error,
            group=NAME,
        ),
        Row(f"presence list, {kind}: worst list", None if listed is None else listed["max_ms"], None, "ms", error=list_error, group=NAME),
        Row(
            f"presence join delivered to {watchers:,} subscribers on {WORKERS} workers, {kind}: p50 page",
            None if joined is None else joined["p50_ms"],
            None,
            "ms",
            details={"fastapi_live": joined},
            error=join_error,
            group=NAME,
        ),
        Row(f"presence join, {kind}: p99 page", None if joined is None else joined["p99_ms"], None, "ms", error=join_error, group=NAME),
    ]
    return rows


async def run(settings: Settings) -> list[Row]:
    rows: list[Row] = []
    listed, list_error, joined, join_error = await _measure(settings, settings.redis_url, "redis")
    rows.extend(_rows("one Redis", settings, listed, list_error, joined, join_error))

    async def over_cluster() -> tuple[Any, Any, Any, Any]:
        async with redis_cluster(settings) as url:
            return await _measure(settings, url, "cluster")

    result, error = await guarded(over_cluster(), "presence over Redis Cluster")
    if result is None:
        rows.append(Row("presence, Redis Cluster (3 masters)", None, None, "ms", error=error, group=NAME))
    else:
        rows.extend(_rows("Redis Cluster (3 masters)", settings, *result))
    return rows
