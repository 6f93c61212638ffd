"""Servers under test as separate processes: start on a free port, pin, measure RSS, profile, stop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs installed

from . import wire

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Settings:
    """Run-wide choices: counts (quick or full), CPU pinning, uvicorn's loop and parser."""

    quick: bool = False
    server_cpus: set[int] | None = None
    client_cpus: set[int] | None = None
    loop: str = "auto"
    http: str = "auto"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_cluster_url: str | None = None
    profile: bool = False
    gc_stats: bool = False
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds each benchmark took (the JSON's ``benchmark_s``)."""
    resources: contextlib.AsyncExitStack | None = None
    """Run-wide things kept between benchmarks (the local Redis Cluster), closed when the run ends."""

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m bench.serve APP`` on a free loopback port, pinned to the server CPUs.

    With ``workers`` > 1, uvicorn's supervisor starts that many worker processes sharing the
    listening socket, pinned like it; ``worker_pids`` lists them once all answer.
    """

    def __init__(self, app: str, settings: Settings, *, label: str, env: dict[str, str] | None = None, workers: int = 1) -> None:
        self.app = app
        self.settings = settings
        self.label = label
        self.workers = workers
        self.worker_pids: list[int] = []
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self.env = {**os.environ, "PYTHONPATH": path, **(env or {})}
        self.env.pop("REDIS_URL", None)  # the bench apps choose their PubSub backend explicitly
        if settings.gc_stats:
            self.env["BENCH_GC_STATS"] = "1"
        self.host = "127.0.0.1"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix=f"bench-{label}-", suffix=".log", delete=False)

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("server not started")
        return self.proc.pid

    async def start(self) -> ServerProcess:
        command = [
            sys.executable,
            "-m",
            "bench.serve",
            self.app,
            "--port",
            str(self.port),
            "--loop",
            self.settings.loop,
            "--http",
            self.settings.http,
            "--workers",
            str(self.workers),
        ]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        if self.settings.server_cpus:
            os.sched_setaffinity(self.proc.pid, self.settings.server_cpus)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server {self.label} exited at start:\n{self.log_tail()}")
            with contextlib.suppress(OSError, wire.HttpError):
                conn = await wire.connect(self.host, self.port)
                try:
                    response = await asyncio.wait_for(conn.request("GET", "/bench/ping"), 5)
                finally:
                    conn.close()
                if response.status == 200 and await self._all_workers_up(deadline):
                    await finish_stopping()  # a server still exiting would share the server CPU with what is measured next
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"server {self.label} did not answer within 30 s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    async def _all_workers_up(self, deadline: float) -> bool:
        """Every worker answers ``/bench/stats`` (each fresh connection lands on one of them)."""
        if self.workers <= 1:
            return True
        seen: set[int] = set()
        while len(seen) < self.workers and time.monotonic() < deadline:
            seen.add(int((await self.stats(timeout=5))["pid"]))
            if len(seen) < self.workers:
                await asyncio.sleep(0.02)
        self.worker_pids = sorted(seen)
        if self.settings.server_cpus:
            for pid in self.worker_pids:  # inherited already unless a worker started before the supervisor was pinned
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(pid, self.settings.server_cpus)
        return len(seen) == self.workers

    async def stats(self, timeout: float | None = None) -> dict[str, Any]:
        """The app's ``/bench/stats`` on a fresh connection (with several workers: whichever one takes it)."""
        conn = await wire.connect(self.host, self.port)
        try:
            response = await asyncio.wait_for(conn.request("GET", "/bench/stats"), timeout)  # no limit when None
        finally:
            conn.close()
        return dict(json.loads(response.body))

    async def gc_stats(self) -> dict[str, Any] | None:
        """With ``--gc-stats``: the server's garbage-collector pauses so far (from ``/bench/stats``).

        None with several workers: each request reaches one of them, so the figures would mix.
        """
        if not self.settings.gc_stats or self.workers > 1:
            return None
        stats = (await self.stats())["gc"]
        return dict(stats) if stats else None

    async def gc_stats_by_worker(self, tries: int = 100) -> dict[int, dict[str, Any]] | None:
        """With ``--gc-stats``: each worker's garbage-collector pauses so far, by pid (fresh connections
        until every worker has answered one; the kernel picks the worker)."""
        if not self.settings.gc_stats:
            return None
        seen: dict[int, dict[str, Any]] = {}
        for _ in range(tries):
            stats = await self.stats(timeout=5)
            seen[int(stats["pid"])] = dict(stats["gc"] or {})
            if len(seen) >= self.workers:
                break
        return seen

    def _processes(self) -> list[Any]:
        main = psutil.Process(self.pid)
        return [main, *main.children(recursive=True)] if self.workers > 1 else [main]

    def rss(self) -> int:
        return sum(int(process.memory_info().rss) for process in self._processes())

    def cpu_seconds(self) -> float:
        return sum(float(t.user + t.system) for t in (process.cpu_times() for process in self._processes()))

    def log_tail(self, lines: int = 30) -> str:
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        # Errors logged while shutting down (streams cut by the exit) are not the benchmark's.
        before_exit = Path(self._log.name).read_text(errors="replace")
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if "Traceback" in before_exit or "ERROR" in before_exit:
            first = next((line for line in before_exit.splitlines() if "Error" in line or "ERROR" in line), "error")
            self.settings.warnings.append(f"server {self.label} logged errors (first: {first.strip()[:160]}); log kept at {self._log.name}")
        else:
            with contextlib.suppress(OSError):
                os.unlink(self._log.name)
        self.proc = None

    async def __aenter__(self) -> ServerProcess:
        try:
            return await self.start()
        except BaseException:
            self.stop()
            raise

    async def __aexit__(self, *exc: object) -> None:
        """Stop in the background: the next server starts meanwhile (``start`` and ``finish_stopping`` wait for it)."""

        async def stop_later() -> None:
            try:
                await asyncio.sleep(0.3)  # let the server see the client's closed connections first
                await asyncio.to_thread(self.stop)
            except asyncio.CancelledError:  # the loop is closing (a script that never called finish_stopping)
                self.stop()
                raise

        task = asyncio.get_running_loop().create_task(stop_later())
        _STOPPING.add(task)
        task.add_done_callback(_STOPPING.discard)

    @contextlib.asynccontextmanager
    async def profiled(self, name: str, seconds: float) -> AsyncIterator[None]:
        """With ``--profile``: py-spy samples the server for ``seconds`` (a flame graph and top list)."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not self.settings.profile or not Path(spy).exists():
            yield
            return
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"profile-{name}-{self.label}.txt"
        proc = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                "250",
                "--duration",
                str(max(1, int(seconds))),
                "--format",
                "raw",
                "-o",
                str(out),
                "--nonblocking",
                *(["--subprocesses"] if self.workers > 1 else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            try:
                await asyncio.get_running_loop().run_in_executor(None, proc.wait, seconds + 15)
            except subprocess.TimeoutExpired:
                proc.kill()


_STOPPING: set[asyncio.Task[None]] = set()


async def finish_stopping() -> None:
    """Wait until every server left (``async with ServerProcess``) has exited."""
    while _STOPPING:
        await asyncio.gather(*list(_STOPPING))


@contextlib.asynccontextmanager
async def redis_cluster(settings: Settings) -> AsyncIterator[str]:
    """The Redis Cluster of the cluster rows: ``settings.redis_cluster_url`` when given (``?cluster=true``),
    else three masters of the bench's own on free loopback ports, made with ``redis-cli --cluster create``: once per
    ``python -m bench`` run (``settings.resources``), kept until the run ends."""
    if settings.redis_cluster_url:
        yield settings.redis_cluster_url
        return
    if settings.resources is not None:  # one cluster for the whole run: the fan-out and presence rows share it
        settings.redis_cluster_url = await settings.resources.enter_async_context(_local_redis_cluster())
        yield settings.redis_cluster_url
        return
    async with _local_redis_cluster() as url:
        yield url


@contextlib.asynccontextmanager
async def _local_redis_cluster() -> AsyncIterator[str]:
    binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if binary is None or cli is None:
        raise RuntimeError("the Redis Cluster rows need redis-server and redis-cli (apt-get install redis-server), or --redis-cluster-url")
    ports: list[int] = []
    while len(ports) < 3:
        port = free_port()
        if port + 10000 <= 65535 and port not in ports:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 10000))  # the cluster bus port must be free too
                except OSError:
                    continue
            ports.append(port)
    workdir = tempfile.mkdtemp(prefix="bench-redis-cluster-")
    procs = []
    try:
        for port in ports:
            node_dir = os.path.join(workdir, str(port))
            os.makedirs(node_dir)
            command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", node_dir]
            command += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"]
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # free to run on any CPU, like the machine's own redis-server: not pinned with this client
            os.sched_setaffinity(proc.pid, range(os.cpu_count() or 1))
            procs.append(proc)
        for port in ports:
            await _until(lambda port=port: _answers(port), 10, f"redis-server on port {port}")  # type: ignore[misc]
        create = [cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports), "--cluster-replicas", "0", "--cluster-yes"]
        created = await asyncio.to_thread(subprocess.run, create, capture_output=True, text=True, timeout=60)
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout} {created.stderr}")

        def ok() -> bool:
            infos = [subprocess.run([cli, "-p", str(port), "cluster", "info"], capture_output=True, text=True).stdout for port in ports]
            return all("cluster_state:ok" in info for info in infos)

        await _until(ok, 30, "the Redis Cluster to be ok")
        yield f"redis://127.0.0.1:{ports[0]}/0?cluster=true"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


async def _until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
