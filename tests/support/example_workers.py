"""The example app on two real worker processes sharing one Redis, and a signed-in client for each."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from examples.app.auth import COOKIE, login_cookie
from tests.support.servers import SubprocessServer

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@contextmanager
def example_workers(redis_url: str, **env: str) -> Iterator[tuple[SubprocessServer, SubprocessServer]]:
    """Two processes of ``examples.app.main:app`` on ``redis_url``; ``env`` adds to their environment."""
    environment = {"PYTHONPATH": ROOT_DIR, "REDIS_URL": redis_url, **env}
    a = SubprocessServer("examples.app.main:app", env=environment).start()
    try:
        b = SubprocessServer("examples.app.main:app", env=environment).start()
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


def client_for(server: SubprocessServer, user: str) -> httpx.AsyncClient:
    """An HTTP client of ``server`` signed in as ``user``."""
    return httpx.AsyncClient(base_url=server.url, cookies={COOKIE: login_cookie(user)}, timeout=15)
