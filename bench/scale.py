"""Scale curve: N idle live pages in one uvicorn worker, N = 1,000 / 5,000 / 10,000 / 20,000
(``--quick``: 250 / 500 / 1,000 / 2,000, labelled so in the rows).

An idle page is what a browser tab left open holds: the ``/fan/{n}`` page GET, then its stream on
the same keep-alive connection, attached (hello frame received), subscribed to ``user:{n}`` and
``all``. The pages are opened in steps, each step adding to the last (so 20,000 sockets in all, not
36,000). Two servers are grown side by side (see ``measure``); at every N:

* memory per page, on the first server, whose pages never get anything after their hello: (RSS at
  N − RSS before the first page) / N, RSS settled; flatness is the largest of these over the
  smallest (target ≤ 1.10×). It idles (heartbeat off) while the second one is timed:
* fan-out, on the second server: one publish to ``all`` (every page re-renders its ``news`` region and gets it on its
  stream), publish POST sent → the last page's bytes arrived, median of several publishes; the
  fitted exponent of last-client time against N (least squares on log–log; target ≤ 1.0, i.e. at
  most linear), and beside it that of the server's CPU per publish, which waiting for a CPU held
  by other processes does not inflate;
* event round trip, on the second server: 10 more counter pages (opened first, their events on a
  connection of their own) loop ``inc`` events for a window, p50; the figure at the largest N over
  the one at the smallest (target ≤ 1.3×).

The load generator's limits, raised as the issue asks:

* open files: a page is one socket on each side. The server (``bench/serve.py``) and every client
  process raise RLIMIT_NOFILE's soft limit to the hard one (``resource.setrlimit``). The hard limit
  cannot be raised without CAP_SYS_RESOURCE; where it is below what a point needs (the server holds
  N + 20 sockets and a few files of its own), that point is capped to what fits and its row says so.
* client processes: ``bench/crowd.py`` processes, one per ``PER_CROWD`` pages of the largest N and
  server, each holding its share of the pages, pinned with this process to the client CPU (the
  servers have the other one); their arrival times are ``perf_counter`` (CLOCK_MONOTONIC), comparable across
  processes.
* ephemeral ports: each crowd connects from a loopback address of its own (127.0.0.2, 127.0.0.3, …),
  so no source address needs more than ``PER_CROWD`` ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import resource
import secrets
import sys
import time
from typing import Any

from . import wire
from .apps import LIVE_APP
from .events import _live_trip, drive
from .load import LivePage, bounded, open_live_page, settle_rss
from .memory import WARM, warm_pages
from .report import Row, median, percentile
from .servers import ROOT, ServerProcess, Settings

NAME = "scale"
FULL_POINTS = (1_000, 5_000, 10_000, 20_000)
QUICK_POINTS = (250, 500, 1_000, 2_000)
PER_CROWD = 5_000
EVENT_PAGES = 10
WARM_PAGES = WARM
"""Pages the memory server opens (and keeps) before its "before" reading, as the memory benchmark does
(``memory.WARM``, 100 in a quick run): with 20, the first 1,000 pages filled memory the server had freed
at startup and read cheaper than the later ones (12.4 vs ~14 KB), flattering the smallest point."""
SERVER_FILES = 64
"""Open files a worker needs besides the pages' sockets (std streams, epoll, the listening socket,
the event pages' second connections, the bench's stats requests), with room to spare."""
TARGET_FLAT = 1.10
TARGET_EXPONENT = 1.0
TARGET_EVENTS = 1.3
WARMUP = 1  # publishes before the measured ones at each N: the first pays one-time costs


class CrowdProcess:
    """One ``python -m bench.crowd`` child: send a command, read its JSON answers in order."""

    def __init__(self, server: ServerProcess, index: int) -> None:
        self.server = server
        self.source = f"127.0.0.{2 + index}"
        self.first = index * 1_000_000  # page numbers: every page its own user:{n} topic
        self.proc: asyncio.subprocess.Process | None = None
        self.held = 0

    async def start(self) -> CrowdProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.crowd",
            self.server.host,
            str(self.server.port),
            self.source,
            str(self.first),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**24,  # one answer lists every page's arrival time
        )
        return self

    def send(self, command: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())

    async def answer(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise wire.HttpError(f"client process {self.source} exited (status {await self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise wire.HttpError(str(answer["error"]))
        return answer

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            with contextlib.suppress(OSError, RuntimeError):
                self.send({"op": "close"})
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None


def server_capacity() -> int:
    """Idle pages one worker can hold here: its open-file hard limit (inherited from this process) less its other files."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return sys.maxsize
    return (int(hard) - SERVER_FILES - max(2 * EVENT_PAGES, WARM_PAGES)) // 100 * 100


def points(settings: Settings) -> tuple[list[int], list[int]]:
    """(the points asked for, the points measured: capped to ``server_capacity``)."""
    asked = list(settings.pick(FULL_POINTS, QUICK_POINTS))
    capacity = server_capacity()
    return asked, sorted({min(n, capacity) for n in asked})


async def grow(crowds: list[CrowdProcess], total: int) -> float:
    """Open pages across the crowds until they hold ``total`` together; seconds taken."""
    started = time.perf_counter()
    share, extra = divmod(total, len(crowds))
    waiting = []
    for index, crowd in enumerate(crowds):
        want = share + (1 if index < extra else 0)
        if want > crowd.held:
            crowd.send({"op": "open", "count": want - crowd.held})
            waiting.append(crowd)
            crowd.held = want
    for crowd in waiting:
        await crowd.answer(timeout=600)
    return time.perf_counter() - started


async def fan_out(server: ServerProcess, crowds: list[CrowdProcess], rounds: int, total: int) -> dict[str, Any]:
    """``WARMUP + rounds`` publishes to every page; last-client, p50 and p99 latency per publish."""
    publisher = await wire.connect(server.host, server.port)
    per_round: list[dict[str, float]] = []
    try:
        for round_number in range(WARMUP + rounds):
            await asyncio.sleep(server.settings.pick(0.5, 0.2))  # why: idle between publishes, as the fan-out benchmark does
            marker = f"news-{secrets.token_hex(6)}"
            for crowd in crowds:
                crowd.send({"op": "arm", "marker": marker})
            for crowd in crowds:
                await crowd.answer(timeout=30)
            server_cpu = server.cpu_seconds()
            response = await publisher.request("POST", f"/bench/publish?topic=all&message={marker}")
            if response.status != 204:
                raise wire.HttpError(f"publish answered {response.status}: {response.text[:200]}")
            arrived = [await crowd.answer(timeout=90) for crowd in crowds]
            server_cpu = server.cpu_seconds() - server_cpu
            if round_number < WARMUP:
                continue
            latencies = [(t - response.sent_at) * 1000.0 for answer in arrived for t in answer["arrived"]]
            if len(latencies) != total:
                raise wire.HttpError(f"{len(latencies)} arrival times for {total} pages")
            per_round.append(
                {
                    "max_ms": max(latencies),
                    "p50_ms": percentile(latencies, 50),
                    "p99_ms": percentile(latencies, 99),
                    "server_cpu_ms": server_cpu * 1000.0,
                    "client_cpu_ms": sum(float(answer["cpu_ms"]) for answer in arrived),
                }
            )
    finally:
        publisher.close()
    return {key: median([r[key] for r in per_round]) for key in per_round[0]} | {"rounds": per_round}


def exponent(ns: list[int], times: list[float]) -> float:
    """Least-squares slope of log(time) against log(N): 1.0 is linear growth.

    A time of 0 (a CPU reading below the clock's 10 ms tick, as a quick run's smallest point can
    be) says nothing of the slope: such points are left out; with fewer than two left, NaN.
    """
    points = [(n, t) for n, t in zip(ns, times, strict=True) if t > 0]
    if len(points) < 2:
        return math.nan
    xs, ys = [math.log(n) for n, _ in points], [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


async def _crowds(server: ServerProcess, ns: list[int], first_index: int) -> list[CrowdProcess]:
    count = math.ceil(max(ns) / PER_CROWD)
    return [await CrowdProcess(server, index).start() for index in range(first_index, first_index + count)]


async def _memory_at(server: ServerProcess, settings: Settings, n: int, before: int, seconds: float, opened_before: int) -> dict[str, Any]:
    rss = await settle_rss(server.rss, minimum=settings.pick(3.0, 1.0), maximum=20.0)
    stats = await server.stats(timeout=30)
    if stats.get("attached") != n + warm_pages(settings):
        raise wire.HttpError(f"expected {n + warm_pages(settings)} attached streams at N={n} on the memory server, it holds {stats}")
    return {
        "pages": n,
        "open_s": seconds,
        "pages_opened_per_s": (n - opened_before) / seconds,
        "rss_mb": rss / 2**20,
        "kb_per_page": (rss - before) / n / 1024,
        "server": {k: stats[k] for k in ("sessions", "attached", "unconnected")},
    }


async def _latency_at(server: ServerProcess, settings: Settings, n: int, crowds: list[CrowdProcess], pages: list[LivePage], trips: list[Any]) -> dict[str, Any]:
    stats = await server.stats(timeout=30)
    if stats.get("attached") != n + EVENT_PAGES:
        raise wire.HttpError(f"expected {n + EVENT_PAGES} attached streams at N={n}, the server holds {stats}")
    for page in pages:  # uvicorn closes a keep-alive connection idle for 5 s: the events get a fresh one
        page.page.close()
        page.page = await wire.connect(server.host, server.port)
    events = await drive(server, [trip for trip, _ in trips], warmup=settings.pick(0.5, 0.2), duration=settings.pick(4.0, 0.6))
    for _, next_window in trips:
        next_window()
    gc_before = await server.gc_stats()
    fan = await fan_out(server, crowds, settings.pick(5, 2), n)
    fan["server_gc"] = {"before_publishes": gc_before, "after": await server.gc_stats()}
    return {"fanout": fan, "events": {k: events[k] for k in ("p50_ms", "p99_ms", "events_per_s", "server_cpu_pct", "client_cpu_pct")}}


async def measure(settings: Settings, ns: list[int]) -> dict[str, Any]:
    """Two servers grown side by side through every N; at each N the memory server idles (settles, is read)
    while the other is timed.

    The memory server's pages never get anything after their hello, and its heartbeat is off
    (``BENCH_HEARTBEAT``): an idle process beside the timed one. It is a server of its own because
    every publish leaves each page a little larger (its frames are kept for replay), so pages
    opened at an earlier N would weigh more than idle ones.
    """
    async with (
        ServerProcess(LIVE_APP, settings, label="live-scale-memory", env={"BENCH_HEARTBEAT": "3600"}) as idle,
        ServerProcess(LIVE_APP, settings, label="live-scale") as timed,
    ):
        idle_crowds: list[CrowdProcess] = []
        timed_crowds: list[CrowdProcess] = []
        warm: list[LivePage] = []
        pages: list[LivePage] = []
        try:
            idle_crowds = await _crowds(idle, ns, 0)
            timed_crowds = await _crowds(timed, ns, len(idle_crowds))
            # imports, template compilation, pools: paid before the "before" reading (the memory benchmark's WARM)
            warm = await bounded(range(warm_pages(settings)), 10, lambda n: open_live_page(idle.host, idle.port, f"/fan/{900_000_000 + n}"))
            pages = await bounded(range(EVENT_PAGES), 10, lambda _: open_live_page(timed.host, timed.port, "/counter", stream="separate"))
            trips = [_live_trip(page) for page in pages]
            await drive(timed, [trip for trip, _ in trips], warmup=0.2, duration=0.5)  # imports, the first renders
            for _, next_window in trips:
                next_window()
            before = await settle_rss(idle.rss, minimum=1.0, maximum=5.0)
            curve: list[dict[str, Any]] = []
            opened = 0
            for n in ns:
                seconds, _ = await asyncio.gather(grow(idle_crowds, n), grow(timed_crowds, n))
                memory = asyncio.get_running_loop().create_task(_memory_at(idle, settings, n, before, seconds, opened))
                try:
                    latency = await _latency_at(timed, settings, n, timed_crowds, pages, trips)
                finally:
                    point = await memory
                opened = n
                curve.append(point | latency)
                fan = latency["fanout"]
                _progress(
                    f"N={n:,}: {point['kb_per_page']:.1f} KB/page, fan-out last {fan['max_ms']:.0f} ms "
                    f"(server CPU {fan['server_cpu_ms']:.0f} ms), event p50 {latency['events']['p50_ms']:.2f} ms"
                )
        finally:
            for crowd in idle_crowds + timed_crowds:
                await crowd.stop()
            for page in warm + pages:
                page.close()
    return {
        "rss_before_mb": before / 2**20,
        "crowds_per_server": len(idle_crowds),
        "warm_pages": warm_pages(settings),
        "event_pages": EVENT_PAGES,
        "curve": curve,
    }


def _progress(text: str) -> None:
    print(f"[bench]   scale {text}", file=sys.stderr, flush=True)


def _label(n: int, asked: int) -> str:
    return f"{n:,}" if n == asked else f"{n:,} (asked {asked:,}: open-file limit)"


async def run(settings: Settings) -> list[Row]:
    asked, ns = points(settings)
    if ns != asked:
        settings.warnings.append(
            f"scale: the open-file hard limit ({resource.getrlimit(resource.RLIMIT_NOFILE)[1]:,}) fits {server_capacity():,} pages in one worker; "
            f"points {asked} measured as {ns} (raise it with `ulimit -Hn` as root or CAP_SYS_RESOURCE)"
        )
    labels = {n: _label(n, a) for n, a in zip(ns, asked, strict=True)} if len(ns) == len(asked) else {n: f"{n:,}" for n in ns}
    result = await measure(settings, ns)
    curve = {point["pages"]: point for point in result["curve"]}
    mode = "" if not settings.quick else " (quick points)"
    first, last = ns[0], ns[-1]
    kb = [curve[n]["kb_per_page"] for n in ns]
    last_ms = [curve[n]["fanout"]["max_ms"] for n in ns]
    fitted = exponent(ns, last_ms)
    cpu_fitted = exponent(ns, [curve[n]["fanout"]["server_cpu_ms"] for n in ns])
    result["memory_flatness"] = max(kb) / min(kb)
    result["fanout_exponent"] = fitted
    result["fanout_server_cpu_exponent"] = cpu_fitted
    common: dict[str, Any] = {"group": NAME}
    rows = [
        Row(
            f"scale{mode}: memory per idle page, {labels[n]} open in one worker" + (f" (vs {labels[first]} open)" if n != first else ""),
            curve[n]["kb_per_page"],
            None if n == first else curve[first]["kb_per_page"],
            "KB",
            details={"point": curve[n]} if n != first else {**result},
            **common,
        )
        for n in ns
    ]
    rows.append(
        Row(
            f"scale{mode}: memory per idle page, flatness: largest of {len(ns)} points (vs smallest)",
            max(kb),
            min(kb),
            "KB",
            target=f"≤ {TARGET_FLAT:.2f}×",
            check=lambda high, low: high <= TARGET_FLAT * low,
            **common,
        )
    )
    rows.extend(
        Row(
            f"scale{mode}: fan-out to all {labels[n]} pages: last client, median publish" + (f" (vs {labels[first]})" if n != first else ""),
            curve[n]["fanout"]["max_ms"],
            None if n == first else curve[first]["fanout"]["max_ms"],
            "ms",
            **common,
        )
        for n in ns
    )
    rows.append(
        Row(
            f"scale{mode}: fan-out last client vs N, fitted exponent (log-log least squares; vs linear)",
            fitted,
            1.0,
            "",
            target=f"≤ {TARGET_EXPONENT:.1f}",
            check=lambda value, linear: value <= linear,
            **common,
        )
    )
    rows.append(
        Row(
            f"scale{mode}: fan-out server CPU per publish vs N, fitted exponent (beside the wall-time one: no waiting for a CPU in it)",
            cpu_fitted,
            1.0,
            "",
            **common,
        )
    )
    rows.append(
        Row(
            f"scale{mode}: event round trip p50, {EVENT_PAGES} clients, {labels[last]} idle pages open (vs {labels[first]})",
            curve[last]["events"]["p50_ms"],
            curve[first]["events"]["p50_ms"],
            "ms",
            target=f"≤ {TARGET_EVENTS}×",
            check=lambda high, low: high <= TARGET_EVENTS * low,
            **common,
        )
    )
    return rows
