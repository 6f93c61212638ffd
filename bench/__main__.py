"""``python -m bench [--only NAME[,NAME]] [--quick]``: run the benchmarks, print one table.

Results also go to ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.metadata
import importlib.util
import os
import shlex
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from .quiet import ForeignLoad, wait_for_quiet
from .report import Row, machine, table, write_json
from .serve import raise_fd_limit
from .servers import RESULTS, ROOT, Settings, finish_stopping

BENCHMARKS: dict[str, str] = {
    "first_render": "bench.first_render",
    "events": "bench.events",
    "memory": "bench.memory",
    "ttfb": "bench.ttfb",
    "browser": "bench.browser",
    "fanout": "bench.fanout",
    "bytes": "bench.region_bytes",
    "uploads": "bench.uploads",
    "navigation": "bench.navigation",
    "fairness": "bench.fairness",
    "presence": "bench.presence",
    "components": "bench.components",
    "tabs": "bench.tabs",
    "scale": "bench.scale",
}


def _resolved(choice: str, preferred: str, fallback: str) -> str:
    if choice != "auto":
        return choice
    return preferred if importlib.util.find_spec(preferred) is not None else fallback


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default="", help=f"comma-separated benchmarks to run, from: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller counts and shorter windows: a smoke run")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server and this client to different CPUs")
    parser.add_argument("--loop", default="auto", help="uvicorn --loop for the servers (auto: uvloop when installed)")
    parser.add_argument("--http", default="auto", help="uvicorn --http for the servers (auto: httptools when installed)")
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"), help="Redis for the Redis fan-out (loopback only)"
    )
    parser.add_argument(
        "--redis-cluster-url",
        default=os.environ.get("BENCH_REDIS_CLUSTER_URL"),
        help="Redis Cluster (…?cluster=true) for the cluster rows; default: three local masters the bench starts",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the servers with py-spy while measuring: bench/results/profile-*.txt (see python -m bench.profiles)",
    )
    parser.add_argument("--gc-stats", action="store_true", help="record the servers' garbage-collector pauses in the JSON")
    parser.add_argument("--json", default=str(RESULTS / "latest.json"), help="where to write the JSON results")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; expected one of: {', '.join(BENCHMARKS)}")
    args.names = [name for name in BENCHMARKS if name in names]  # always in the table's order
    return args


def make_settings(args: argparse.Namespace) -> Settings:
    settings = Settings(
        quick=args.quick, redis_url=args.redis_url, redis_cluster_url=args.redis_cluster_url, profile=args.profile, gc_stats=args.gc_stats
    )
    settings.loop = _resolved(args.loop, "uvloop", "asyncio")
    settings.http = _resolved(args.http, "httptools", "h11")
    cpus = sorted(os.sched_getaffinity(0))
    if not args.no_pin and len(cpus) >= 2:
        settings.server_cpus = {cpus[0]}
        settings.client_cpus = set(cpus[1:])
        os.sched_setaffinity(0, settings.client_cpus)
    return settings


def settings_text(settings: Settings) -> str:
    pin = (
        f"server pinned to CPU {sorted(settings.server_cpus)}, client to CPU {sorted(settings.client_cpus or [])}" if settings.server_cpus else "no CPU pinning"
    )
    client = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    return (
        f"servers: uvicorn 1 worker (2 for the Redis and Redis Cluster 2-worker rows) loop={settings.loop} http={settings.http}; "
        f"client: raw HTTP/1.1 and WebSocket on {client}; {pin}; "
        f"{'quick' if settings.quick else 'full'} counts; fastapi-live @ {revision()}; {_version('pyview-web')} (uvicorn ws=auto, no permessage-deflate)"
    )


def _version(distribution: str) -> str:
    try:
        return f"{distribution} {importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{distribution} not installed"


def revision() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "fastapi_live"], cwd=ROOT, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown revision"
    return (head or "unknown revision") + (" + uncommitted changes in fastapi_live/" if dirty.strip() else "")


async def run_all(names: list[str], settings: Settings) -> list[Row]:
    async with contextlib.AsyncExitStack() as resources:
        settings.resources = resources
        return await _run_each(names, settings)


async def _run_each(names: list[str], settings: Settings) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        runner: Callable[[Settings], Awaitable[list[Row]]] = module.run
        before = await wait_for_quiet(max_wait=settings.pick(30.0, 1.0), sample=settings.pick(1.0, 0.25))
        if before >= 0.10:
            settings.warnings.append(f"machine busy before {name}: other processes used {before:.0%} of the CPU")
        started = time.perf_counter()
        print(f"[bench] {name} …", file=sys.stderr, flush=True)
        foreign = ForeignLoad().start()
        try:
            result = await runner(settings)
        except Exception as exc:
            traceback.print_exc()
            message = " ".join(f"{type(exc).__name__}: {exc}".split())
            result = [Row(f"{name}: failed", None, None, "", error=message[:400], group=name)]
        await finish_stopping()
        others = foreign.stop()
        if others >= 0.05:
            settings.warnings.append(f"other processes used {others:.0%} of the CPU during {name}: its figures may be skewed")
        for row in result:
            row.details.setdefault("foreign_cpu_share", round(others, 3))
        settings.timings[name] = round(time.perf_counter() - started, 1)
        print(f"[bench] {name} done in {settings.timings[name]:.1f} s (others used {others:.0%} of the CPU)", file=sys.stderr, flush=True)
        rows.extend(result)
    return rows


def _client_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if importlib.util.find_spec("uvloop") is None:
        return None
    import uvloop

    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    settings = make_settings(args)
    started = time.perf_counter()
    factory = _client_loop()
    if factory is not None:
        with asyncio.Runner(loop_factory=factory) as runner:
            rows = runner.run(run_all(args.names, settings))
    else:
        rows = asyncio.run(run_all(args.names, settings))
    info = machine(settings_text(settings))
    command = "python -m bench" + ("" if argv is None and len(sys.argv) <= 1 else " " + shlex.join(argv if argv is not None else sys.argv[1:]))
    info["command"] = command
    info["elapsed_s"] = round(time.perf_counter() - started, 1)
    info["benchmark_s"] = settings.timings  # wall time of each benchmark, quiet wait before it not included
    header = (
        f"fastapi-live benchmarks — {info['cores']} cores ({info['cpu']}), {info['implementation']} {info['python']}; "
        f"{info['setup']}\ncommand: {command}   (took {info['elapsed_s']} s)"
    )
    print(table(rows, header))
    notes = list(settings.warnings)
    for row in rows:
        if row.error:
            notes.append(f"{row.benchmark}: {row.error}")
        if row.pyview_error:
            notes.append(f"{row.benchmark} (pyview): {row.pyview_error}")
    print("seconds per benchmark: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in settings.timings.items()))
    for note in notes:
        print(f"note: {note}")
    write_json(Path(args.json), info, rows, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
