"""Soak: 1,000 sessions opening and closing for 10 minutes — no leaks, RSS flat within 10 %.

Run: ``.venv/bin/python -m bench.soak`` (``--minutes 1 --sessions 200`` for a smoke run).

A server process (uvicorn, one worker) serves a counter page whose sessions subscribe to a
per-user topic. The load keeps ``--sessions`` virtual users busy: each opens the page, its
stream, sends a few events, receives a publish, then goes away; a new one takes its place.
The server's RSS and its live counts (sessions, streams, asyncio tasks, PubSub listeners)
are sampled over time. At the end the load stops, the disconnect grace passes, and every
count must be back to its idle value.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs installed

from .serve import raise_fd_limit
from .servers import ROOT, free_port
from .wire import TOKEN


async def virtual_user(url: str, n: int, stop: asyncio.Event, stats: dict[str, int]) -> None:
    # One client per user: its own cookie jar, like its own browser.
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await _user_loop(client, n, stop, stats)


async def _user_loop(client: httpx.AsyncClient, n: int, stop: asyncio.Event, stats: dict[str, int]) -> None:
    while not stop.is_set():
        try:
            page = await client.get(f"/soak?user=u{n}")
            token = TOKEN.search(page.text)
            if token is None:
                stats["errors"] += 1
                continue
            headers = {"X-Live-Token": token.group(1), "HX-Request": "true"}
            async with client.stream("GET", "/_live/stream", headers=headers) as stream:
                lines = stream.aiter_lines()
                await anext(lines)
                for _ in range(3):
                    response = await client.post("/_live/event", headers={**headers, "X-Live-Event": "inc"})
                    stats["events"] += response.status_code == 200
                    stats["errors"] += response.status_code != 200
                await client.post("/soak/publish", json={"user": f"u{n}"})
                async for line in lines:
                    if "published" in line:
                        stats["published"] += 1
                        break
            stats["cycles"] += 1
        except (httpx.HTTPError, StopAsyncIteration) as exc:
            stats["errors"] += 1
            kind = f"error:{type(exc).__name__}"
            stats[kind] = stats.get(kind, 0) + 1


async def sample(url: str, proc: psutil.Process) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        counts = (await client.get("/soak/stats")).json()
    return {"rss_mb": proc.memory_info().rss / 1e6, **counts}


async def run(minutes: float, sessions: int, grace: float) -> int:
    raise_fd_limit()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOAK_GRACE": str(grace)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.apps.soak_app:app", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        proc = psutil.Process(server.pid)
        # Warm up (imports, templates, the shared heartbeat), let those sessions end, then
        # take the idle counts every later count must return to.
        warmup_stop = asyncio.Event()
        counts = dict.fromkeys(("cycles", "events", "published", "errors"), 0)
        warmers = [asyncio.create_task(virtual_user(url, -1 - n, warmup_stop, counts)) for n in range(10)]
        await asyncio.sleep(3)  # why: a fixed warm-up period
        warmup_stop.set()
        await asyncio.gather(*warmers, return_exceptions=True)
        await asyncio.sleep(grace + 3)  # why: the disconnect grace must pass for sessions to end
        idle = await sample(url, proc)
        stop = asyncio.Event()
        stats = {"cycles": 0, "events": 0, "published": 0, "errors": 0}
        samples: list[dict[str, Any]] = []
        started = time.monotonic()
        users = [asyncio.create_task(virtual_user(url, n, stop, stats)) for n in range(sessions)]
        interval = max(minutes * 60 / 10, 5)
        while time.monotonic() - started < minutes * 60:
            await asyncio.sleep(interval)  # why: the sampling period
            point = await sample(url, proc)
            point["t"] = round(time.monotonic() - started)
            samples.append(point)
            print(json.dumps({**point, **stats}), flush=True)
        stop.set()
        await asyncio.gather(*users, return_exceptions=True)
        await asyncio.sleep(grace + 3)  # why: the disconnect grace must pass for sessions to end
        final = await sample(url, proc)
    finally:
        server.terminate()
        server.wait(timeout=10)

    # The baseline is taken once the load has run a fifth of the time (allocator warm-up).
    warm = samples[min(1, len(samples) - 1)]["rss_mb"] if samples else idle["rss_mb"]
    peak = max(p["rss_mb"] for p in samples) if samples else warm
    growth = (final["rss_mb"] - warm) / warm
    leaks = {k: final[k] - idle[k] for k in ("sessions", "streams", "tasks", "listeners")}
    print()
    print(f"soak: {sessions} sessions opening and closing for {minutes:g} min on {os.cpu_count()} cores")
    print(f"{'figure':<44}{'value':>14}")
    rows = [
        ("session cycles (open, stream, 3 events, publish, close)", stats["cycles"]),
        ("events answered", stats["events"]),
        ("publishes received", stats["published"]),
        ("errors", stats["errors"]),
        ("RSS idle / at 20 % / peak / end (MB)", f"{idle['rss_mb']:.0f}/{warm:.0f}/{peak:.0f}/{final['rss_mb']:.0f}"),
        ("RSS end vs at 20 % of the run", f"{growth:+.1%}"),
        ("leaked sessions / streams / tasks / listeners", "/".join(str(leaks[k]) for k in ("sessions", "streams", "tasks", "listeners"))),
    ]
    for name, value in rows:
        print(f"{name:<44}{value!s:>14}")
    ok = all(v == 0 for v in leaks.values()) and abs(growth) <= 0.10 and stats["errors"] == 0
    print(f"\nno leaks, RSS flat within 10 %, no errors: {'met' if ok else 'NOT MET'}")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--grace", type=float, default=2.0, help="the server's disconnect grace, seconds")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.minutes, args.sessions, args.grace)))


if __name__ == "__main__":
    main()
