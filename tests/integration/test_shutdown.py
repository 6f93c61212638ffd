"""Graceful shutdown: on SIGTERM streams end at once and cleanly, with nothing in the log."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from tests.support.servers import SubprocessServer
from tests.support.sse import SSEReader, headers, open_page

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def server():
    server = SubprocessServer("examples.app.main:app", env={"PYTHONPATH": ROOT_DIR}).start()
    yield server
    server.stop()


async def test_sigterm_closes_open_streams_promptly_without_tracebacks(server):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as response:
            reader = SSEReader(response)
            await reader.next()
            assert server.proc is not None
            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            with pytest.raises(EOFError):
                while True:
                    await reader.next(timeout=5)
            closed_after = time.monotonic() - started
    assert closed_after < 3.0
    assert server.proc is not None
    # uvicorn re-raises the signal once its graceful shutdown is done.
    assert server.proc.wait(timeout=10) in (0, -signal.SIGTERM)
    log = server.log()
    assert "Traceback" not in log
    assert "ERROR" not in log
