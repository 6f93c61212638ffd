"""A client that does not read never grows server memory without bound."""

from __future__ import annotations

import asyncio
import socket
import tracemalloc
from urllib.parse import urlsplit

import httpx
import pytest

from fastapi_live import SessionConfig
from tests.support.sse import open_page
from tests.support.views.counter import make_app


@pytest.fixture
def counter(serve):
    app, live = make_app(SessionConfig(outbound_bytes=2_000_000, replay_bytes=500_000))
    return serve(app), live


def open_unread_stream(url: str, token: str, cookies: httpx.Cookies) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    request = (
        f"GET /_live/stream HTTP/1.1\r\nHost: {parts.netloc}\r\nX-Live-Token: {token}\r\n"
        f"Cookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n"
    )
    sock.sendall(request.encode())
    return sock


async def test_a_stream_that_is_not_read_is_closed_and_memory_stays_bounded(counter):
    url, live = counter
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        (session,) = live.manager.sessions.values()
        sock = open_unread_stream(url, token, client.cookies)
        try:
            async def attached() -> None:
                while not session.attached:
                    await asyncio.sleep(0.01)  # why: polling a flag owned by the server thread

            await asyncio.wait_for(attached(), 5)
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            chunk = "x" * 50_000
            # 2,000 updates of 50 KB: 100 MB that the client never reads.
            for n in range(2_000):
                session.send_info(("set", f"{n}{chunk}"))
            await asyncio.wait_for(session.wait_idle(), 60)
            grown = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            assert not session.attached  # the slow stream was closed...
            assert grown < 16_000_000, f"server memory grew by {grown} bytes"
            # ...and the session lives on: a reconnect resyncs it.
            response = await client.post("/_live/event", data={"text": "still here"}, headers={"X-Live-Token": token, "X-Live-Event": "echo"})
            assert response.status_code == 200
            assert "still here" in response.text
        finally:
            sock.close()
