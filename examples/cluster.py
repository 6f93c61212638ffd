"""``make run-cluster``: the example app on several worker processes sharing one local Redis.

Uses the Redis at ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) when it answers, else
starts a ``redis-server`` of its own for as long as the cluster runs. The workers share one
listening socket, so the kernel spreads connections between them: a page, its stream and
its events may each land on a different process — no sticky sessions.

``make run-cluster REDIS=cluster`` (``--redis cluster``) runs them over a Redis Cluster
instead: a ``REDIS_URL`` with ``?cluster=true`` when one answers, else a local one of three
masters it starts (``redis-server --cluster-enabled yes``, ``redis-cli --cluster create``)
on ``--redis-port`` and the two ports after it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit


def redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("make run-cluster needs Redis: set REDIS_URL, or install redis-server (apt-get install redis-server)")
    workdir = tempfile.mkdtemp(prefix="fastapi-live-cluster-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if redis_answers(url):
            return proc
        time.sleep(0.05)
    proc.terminate()
    sys.exit(f"redis-server did not answer on port {port}")


def start_redis_cluster(first_port: int, masters: int = 3) -> list[subprocess.Popen[bytes]]:
    binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if binary is None or cli is None:
        sys.exit("make run-cluster REDIS=cluster needs redis-server and redis-cli: apt-get install redis-server")
    ports = [first_port + n for n in range(masters)]
    workdir = tempfile.mkdtemp(prefix="fastapi-live-redis-cluster-")
    procs = []
    for port in ports:
        node_dir = os.path.join(workdir, str(port))
        os.makedirs(node_dir)
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", node_dir]
        command += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"]
        procs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
    for port in ports:
        for _ in range(100):
            if redis_answers(f"redis://127.0.0.1:{port}/0"):
                break
            time.sleep(0.05)
        else:
            stop(procs)
            sys.exit(f"redis-server did not answer on port {port}")
    created = subprocess.run(
        [cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports), "--cluster-replicas", "0", "--cluster-yes"],
        capture_output=True,
        text=True,
    )
    if created.returncode != 0:
        stop(procs)
        sys.exit(f"redis-cli --cluster create failed:\n{created.stdout}{created.stderr}")
    for _ in range(200):
        states = [subprocess.run([cli, "-p", str(port), "cluster", "info"], capture_output=True, text=True).stdout for port in ports]
        if all("cluster_state:ok" in state for state in states):
            return procs
        time.sleep(0.05)
    stop(procs)
    sys.exit("the local Redis Cluster did not become ok")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--redis-port", type=int, default=6390, help="port for a redis-server of our own, when none answers")
    parser.add_argument("--redis", choices=("single", "cluster"), default="single", help="one Redis, or a Redis Cluster (sharded pub/sub)")
    args = parser.parse_args()

    redis_procs: list[subprocess.Popen[bytes]] = []
    if args.redis == "cluster":
        url = os.environ.get("REDIS_URL", "")
        if "cluster=true" not in url or not redis_answers(url):
            redis_procs = start_redis_cluster(args.redis_port)
            url = f"redis://127.0.0.1:{args.redis_port}/0?cluster=true"
    else:
        url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        if not redis_answers(url):
            redis_procs = [start_redis(args.redis_port)]
            url = f"redis://127.0.0.1:{args.redis_port}/0"
    print(f"fastapi-live cluster: {args.workers} workers on http://{args.host}:{args.port}, PubSub through {url}", flush=True)
    env = {**os.environ, "REDIS_URL": url}
    if not env.get("FASTAPI_LIVE_SECRET"):
        # Every worker must sign with the same key: one random key for this run, never a fixed one.
        env["FASTAPI_LIVE_SECRET"] = secrets.token_hex(32)
        print("fastapi-live cluster: FASTAPI_LIVE_SECRET is unset; the workers share a random key for this run", flush=True)
    command = [
        sys.executable, "-m", "uvicorn", "examples.app.main:app",
        "--host", args.host, "--port", str(args.port), "--workers", str(args.workers),
    ]
    server = subprocess.Popen(command, env=env)

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # stop the workers, then the Redis we started, as Ctrl-C does

    signal.signal(signal.SIGTERM, terminate)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.send_signal(signal.SIGINT)
        server.wait()
    finally:
        stop(redis_procs)


if __name__ == "__main__":
    main()
