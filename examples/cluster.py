"""``make run-cluster``: the example app on several worker processes sharing one local Redis.

Uses the Redis at ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) when it answers, else
starts a ``redis-server`` of its own for as long as the cluster runs. The workers share one
listening socket, so the kernel spreads connections between them: a page, its stream and
its events may each land on a different process — no sticky sessions.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--redis-port", type=int, default=6390, help="port for a redis-server of our own, when none answers")
    args = parser.parse_args()

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    redis_proc = None
    if not redis_answers(url):
        redis_proc = start_redis(args.redis_port)
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
    try:
        server.wait()
    except KeyboardInterrupt:
        server.send_signal(signal.SIGINT)
        server.wait()
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait()


if __name__ == "__main__":
    main()
