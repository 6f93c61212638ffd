"""``make run-cluster REDIS=cluster``: the example on two workers over a local Redis Cluster it starts itself."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from examples.app.auth import COOKIE, login_cookie
from tests.support.servers import free_port
from tests.support.sse import SSEReader, headers, token_of

pytestmark = pytest.mark.redis
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def three_free_cluster_ports() -> int:
    """A first port such that it, the two after it and their cluster bus ports (+10000) are free."""
    while True:
        first = random.randint(20000, 30000)
        sockets = []
        try:
            for port in (first, first + 1, first + 2, first + 10000, first + 10001, first + 10002):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


async def test_run_cluster_over_a_redis_cluster_serves_the_example_on_two_workers() -> None:
    port, redis_port = free_port(), three_free_cluster_ports()
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(PYTHONPATH=ROOT_DIR, EXAMPLE_ORG_LATENCY_MS="50", EXAMPLE_PROFILE_LATENCY_MS="80")
    command = [sys.executable, "-m", "examples.cluster", "--port", str(port), "--workers", "2", "--redis", "cluster", "--redis-port", str(redis_port)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not listening(port):
            assert proc.poll() is None and time.monotonic() < deadline, "make run-cluster REDIS=cluster did not start"
            time.sleep(0.1)  # why: polling for the workers to listen
        assert all(listening(redis_port + n) for n in range(3)), "three Redis Cluster masters of its own"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", cookies={COOKIE: login_cookie("ann")}, timeout=15) as ann:
            page = await ann.get("/dashboard/acme")
            assert page.status_code == 200 and 'data-user="ann"' in page.text
            async with ann.stream("GET", "/_live/stream", headers=headers(token_of(page.text))) as stream:
                reader = SSEReader(stream)
                await reader.next_with("Acme Corp", timeout=10)  # the stream may land on the other worker: fed by the owner
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", cookies={COOKIE: login_cookie("bob")}, timeout=15) as bob:
                    other = await bob.get("/dashboard/acme")
                    assert 'data-user="ann"' in other.text and 'data-user="bob"' in other.text
                    message = await reader.next_with('data-user="bob"', timeout=5)
                    assert 'hx-target="#presence"' in message.data
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode(errors="replace")
    assert f"PubSub through redis://127.0.0.1:{redis_port}/0?cluster=true" in output, output
    assert not any(listening(redis_port + n) for n in range(3)), "the Redis Cluster it started is stopped with it"
