"""Real servers for tests: the ASGI app under uvicorn on a free port, and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadedServer:
    """Serves an ASGI app with uvicorn in a background thread (its own event loop)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # loop="asyncio": uvloop 0.23 run on a background thread segfaults now and then when a
        # client drops a streaming response and reconnects (tests/integration/test_wire.py).
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", timeout_graceful_shutdown=1, loop="asyncio")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.01)  # why: polling a flag set by another thread
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _redis_answers(url: str) -> bool:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisProcess:
    """A ``redis-server`` of the test's own on a free port (for fault tests or when none answers)."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server must be installed to run the Redis tests (apt-get install redis-server)")
        self.binary = binary
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="fastapi-live-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _redis_answers(self.url):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer")
            time.sleep(0.02)  # why: polling for the server process to listen
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            self.proc = None


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """A redis-server of our own on a free port — one per test worker, so that two tests running
    side by side (``-n 2``) never hear each other's topics (pub/sub ignores database numbers) — or
    ``FASTAPI_LIVE_TEST_REDIS_URL`` when set and answering (then run the suite without ``-n``)."""
    url = os.environ.get("FASTAPI_LIVE_TEST_REDIS_URL")
    if url and _redis_answers(url):
        yield url
        return
    server = RedisProcess().start()
    try:
        yield server.url
    finally:
        server.stop()


class SubprocessServer:
    """``uvicorn <app>`` in a child process on a fixed port: for restarts and signals."""

    def __init__(self, app: str, port: int | None = None, env: dict[str, str] | None = None, workers: int = 1) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self.log_path = tempfile.mktemp(prefix="fastapi-live-server-", suffix=".log")

    def start(self, timeout: float = 20.0) -> SubprocessServer:
        import sys

        self._log_file = open(self.log_path, "ab")
        args = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        self.proc = subprocess.Popen(args, stdout=self._log_file, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server {self.app} did not start:\n{self.log()}") from None
                time.sleep(0.05)  # why: polling for the child process to listen

    def stop(self, sig: int | None = None, timeout: float = 10.0) -> int | None:
        import signal

        if self.proc is None:
            return None
        self.proc.send_signal(sig or signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        self._log_file.close()
        return code

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _cluster_info(port: int) -> dict[str, str]:
    binary = shutil.which("redis-cli") or "redis-cli"
    out = subprocess.run([binary, "-p", str(port), "cluster", "info"], capture_output=True, text=True, timeout=5).stdout
    return dict(line.strip().split(":", 1) for line in out.splitlines() if ":" in line)


class RedisClusterProcess:
    """A Redis Cluster of the test's own: ``masters`` masters (and ``replicas`` replicas each) on free ports,
    made with ``redis-server --cluster-enabled yes`` and ``redis-cli --cluster create``.

    ``url`` carries ``?cluster=true``, the flag that makes ``create_pubsub`` pick the cluster backend.
    """

    def __init__(self, masters: int = 3, replicas: int = 0, node_timeout_ms: int = 1000) -> None:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError("redis-server and redis-cli must be installed to run the Redis Cluster tests (apt-get install redis-server)")
        self.binary, self.cli = binary, cli
        self.ports = [free_cluster_port() for _ in range(masters * (1 + replicas))]
        self.masters, self.replicas = masters, replicas
        self.node_timeout_ms = node_timeout_ms
        self.dir = tempfile.mkdtemp(prefix="fastapi-live-redis-cluster-")
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.url = f"redis://127.0.0.1:{self.ports[0]}/0?cluster=true"

    def start_node(self, port: int) -> None:
        workdir = os.path.join(self.dir, str(port))
        os.makedirs(workdir, exist_ok=True)
        self.procs[port] = subprocess.Popen(
            [
                self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir,
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _redis_answers(f"redis://127.0.0.1:{port}/0"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server (cluster node) did not answer on port {port}")
            time.sleep(0.02)  # why: polling for the server process to listen

    def start(self) -> RedisClusterProcess:
        for port in self.ports:
            self.start_node(port)
        created = subprocess.run(
            [self.cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports), "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if created.returncode != 0:
            self.stop()
            raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout}\n{created.stderr}")
        self.wait_ok()
        return self

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every running node says the cluster is ok and knows every node, and every replica is in sync
        (a replica whose link to its master never came up refuses to take over)."""
        deadline = time.monotonic() + timeout
        while True:
            infos = [_cluster_info(port) for port in self.procs]
            ok = all(info.get("cluster_state") == "ok" and info.get("cluster_known_nodes") == str(len(self.ports)) for info in infos)
            if ok and (not self.replicas or self._replicas_in_sync()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis Cluster did not become ok: {infos}")
            time.sleep(0.05)  # why: polling cluster state, which redis-cli offers no way to wait on

    def _replicas_in_sync(self) -> bool:
        synced = 0
        for port in self.procs:
            out = subprocess.run([self.cli, "-p", str(port), "info", "replication"], capture_output=True, text=True, timeout=5).stdout
            if "role:slave" in out:
                if "master_link_status:up" not in out:
                    return False
                synced += 1
        return synced == self.masters * self.replicas

    def master_ports(self) -> list[int]:
        binary = self.cli
        for port in self.procs:
            out = subprocess.run([binary, "-p", str(port), "cluster", "nodes"], capture_output=True, text=True, timeout=5).stdout
            rows = [line.split() for line in out.splitlines()]
            masters = [int(row[1].split("@")[0].rsplit(":", 1)[1]) for row in rows if "master" in row[2] and "fail" not in row[2]]
            if masters:
                return sorted(masters)
        raise RuntimeError("no cluster node answered CLUSTER NODES")

    def kill(self, port: int) -> None:
        """SIGKILL one node (a crashed master: its replica takes over after the node timeout)."""
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def redis_cluster_url() -> Iterator[str]:
    """``FASTAPI_LIVE_TEST_REDIS_CLUSTER_URL`` when set, else a 3-master Redis Cluster of our own."""
    url = os.environ.get("FASTAPI_LIVE_TEST_REDIS_CLUSTER_URL")
    if url:
        yield url
        return
    cluster = RedisClusterProcess().start()
    try:
        yield cluster.url
    finally:
        cluster.stop()
