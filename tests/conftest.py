"""Shared fixtures: real servers, a real Redis and a real Chromium."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.gates import GATES
from tests.support.real_parts import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401 - hooks: a skip fails in CI
from tests.support.servers import ThreadedServer, redis_cluster_url, redis_url

# The library picks Redis when REDIS_URL is set; tests choose backends explicitly, so the
# variable only tells the tests where Redis is.
if "REDIS_URL" in os.environ:
    os.environ.setdefault("FASTAPI_LIVE_TEST_REDIS_URL", os.environ.pop("REDIS_URL"))

# One signing key per test run, in the environment: example servers started as subprocesses
# (several of them sharing Redis) sign with the key the tests sign their login cookies with.
os.environ.setdefault("FASTAPI_LIVE_SECRET", secrets.token_hex(32))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    with redis_url() as url:
        yield url


@pytest.fixture(scope="session")
def redis_cluster_server_url() -> Iterator[str]:
    """A 3-master Redis Cluster of the test run's own (``?cluster=true`` URL), one per test worker."""
    with redis_cluster_url() as url:
        yield url


@pytest.fixture(params=["redis", "cluster"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which Redis a suite runs against: one server, or a Redis Cluster (sharded pub/sub)."""
    return str(request.param)


@pytest.fixture
def any_redis_url(backend: str, request: pytest.FixtureRequest) -> str:
    """The URL of the ``backend`` Redis: ``redis_server_url`` or ``redis_cluster_server_url``."""
    return str(request.getfixturevalue("redis_cluster_server_url" if backend == "cluster" else "redis_server_url"))


@pytest.fixture
def run() -> Iterator[str]:
    """A run id that fixture views' gates are keyed by; its gates are released at teardown,
    before the server stops, so no thread stays blocked on a gate."""
    run_id = uuid.uuid4().hex
    yield run_id
    GATES.release(run_id)


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(app)`` runs the app under uvicorn on a free port and returns its base URL."""
    servers: list[ThreadedServer] = []

    def start(app: Any) -> str:
        server = ThreadedServer(app).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(path):
        pytest.fail(f"Chromium is required for browser tests: install Debian's chromium or set CHROMIUM_PATH (looked at {path})")
    return path


@pytest.fixture
def browser(chromium_path: str) -> Iterator[Any]:
    # Function-scoped on purpose: Playwright's sync API keeps an event loop running in
    # this thread while it is started, which would stop asyncio tests on the same worker.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (own cookies) and page; page errors fail the test."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
