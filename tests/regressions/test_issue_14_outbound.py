"""Issue 14, items 3 and 13: the outbound bound never stops a page from resyncing, and a stream
closed for falling behind says so in the log once.

A resync larger than ``SessionConfig.outbound_bytes`` used to close its own stream before a
byte was written (200, empty body, no log line), so the client reconnected forever, each retry
costing a full render.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, SessionConfig
from fastapi_live.connection import Connection
from fastapi_live.pubsub.memory import MemoryPubSub
from tests.integration.test_backpressure import open_unread_stream
from tests.support.sse import SSEReader, headers, open_page
from tests.support.views.counter import TEMPLATES, Counter, make_app
from tests.support.waits import eventually

BIG = "y" * 60_000  # the page's resync is larger than outbound_bytes below


@pytest.fixture
def small_outbound(serve):
    app, live = make_app(SessionConfig(outbound_bytes=20_000, replay_bytes=10_000))
    return serve(app), live


async def test_a_resync_larger_than_outbound_bytes_still_reaches_the_page(small_outbound):
    url, _ = small_outbound
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        echoed = await client.post("/_live/event", data={"text": BIG}, headers=headers(token, "echo"))
        assert echoed.status_code == 200
        # A Last-Event-ID the session never sent cannot be replayed: the stream resyncs.
        async with client.stream("GET", "/_live/stream", headers=headers(token, **{"Last-Event-ID": "999999"})) as stream:
            assert stream.status_code == 200
            message = await SSEReader(stream).next()
            assert BIG in message.data
            assert 'hx-target="#live-root"' in message.data


class BigCounter(Counter):
    async def mount(self, socket: LiveSocket, start: int = 0) -> None:
        socket.assign(title="Counter", count=start, echo=BIG)


async def test_a_remount_larger_than_outbound_bytes_still_reaches_the_page(serve):
    live = LiveRouter(
        templates=Jinja2Templates(directory=TEMPLATES),
        secret_key="test-secret",
        pubsub=MemoryPubSub(),
        config=SessionConfig(outbound_bytes=20_000, replay_bytes=10_000, connect_timeout=0.2),
    )
    live.page("/big", template="counter.html")(BigCounter)
    app = FastAPI()
    app.include_router(live)
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/big")
        await eventually(lambda: not live.manager.sessions)  # never connected: dropped
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            assert stream.status_code == 200
            message = await SSEReader(stream).next()
            assert message.event == "live:remount"
            assert BIG in message.data


async def test_a_slow_stream_closed_for_backpressure_is_logged_once_with_its_session_and_bytes(serve, caplog):
    app, live = make_app(SessionConfig(outbound_bytes=200_000, replay_bytes=100_000))
    url = serve(app)
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        (session,) = live.manager.sessions.values()
        sock = open_unread_stream(url, token, client.cookies)
        try:
            await eventually(lambda: session.attached, 5)
            with caplog.at_level(logging.WARNING, logger="fastapi_live"):
                chunk = "x" * 20_000
                for n in range(200):
                    session.send_info(("set", f"{n}{chunk}"))
                await eventually(lambda: not session.attached, 20)
                await eventually(lambda: any("fell behind" in r.getMessage() for r in caplog.records), 5)
            records = [r for r in caplog.records if "fell behind" in r.getMessage()]
            assert len(records) == 1, [r.getMessage() for r in records]
            text = records[0].getMessage()
            assert session.id in text and "Counter" in text
            assert " bytes" in text and "outbound_bytes=200000" in text
            assert "\n" not in text
        finally:
            sock.close()


def test_one_frame_larger_than_the_byte_limit_is_queued_when_nothing_else_is():
    connection = Connection(limit=10, byte_limit=1_000)
    connection.send(b"x" * 5_000)
    assert not connection.closed
    connection.send(b"y" * 10)  # a second frame behind an over-limit one: the reader is too far behind
    assert connection.closed and connection.overflowed


class BrokenAt(Counter):
    async def mount(self, socket: LiveSocket, slug: str) -> None:  # type: ignore[override]
        raise RuntimeError("mount exploded")


async def test_every_log_record_of_a_refused_request_is_one_line(serve, caplog):
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub())
    live.page("/counter", template="counter.html")(Counter)
    live.page("/broken/{slug}", template="counter.html")(BrokenAt)
    app = FastAPI()
    app.include_router(live)
    url = serve(app)
    with caplog.at_level(logging.INFO, logger="fastapi_live"):
        async with httpx.AsyncClient(base_url=url) as client:
            _, token = await open_page(client, "/counter")
            plain = await client.post("/_live/event", content=b"x", headers={**headers(token, "inc"), "Content-Type": "text/plain"})
            assert plain.status_code == 415
            broken = await client.get("/broken/a%0A2026-01-01 00:00:00 CRITICAL forged record")
            assert broken.status_code == 500
    messages = [record.getMessage() for record in caplog.records]
    assert any("unsupported event body type" in m for m in messages) and any("mounting" in m for m in messages)
    assert all("\n" not in m and "\r" not in m for m in messages), messages
