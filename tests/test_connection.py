"""A stream's outbound side: frames written on the sender's turn while the stream is idle."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fastapi_live.session import Connection

pytestmark = pytest.mark.asyncio


class Server:
    """An ASGI ``send`` that records bodies; ``block()`` makes writes wait, as a slow client does."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.writer_tasks: list[asyncio.Task[Any] | None] = []
        self.fail: Exception | None = None

    def block(self) -> None:
        self.writable.clear()

    async def send(self, message: dict[str, Any]) -> None:
        if not self.writable.is_set():
            await self.writable.wait()
        if self.fail is not None:
            raise self.fail
        self.writer_tasks.append(asyncio.current_task())
        self.bodies.append(message["body"])


async def stream_task(conn: Connection, server: Server) -> asyncio.Task[None]:
    """What the stream response does: write each frame the connection yields."""

    async def run() -> None:
        conn.attach_writer(server.send)
        try:
            async for frame in conn.frames():
                await server.send({"type": "http.response.body", "body": frame, "more_body": True})
        finally:
            conn.attach_writer(None)

    task = asyncio.get_running_loop().create_task(run())
    while conn._waiter is None:  # until it sits idle, waiting for frames
        await asyncio.sleep(0)
    return task


async def eventually(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


async def test_an_idle_stream_is_written_on_the_senders_turn():
    server, conn = Server(), Connection(limit=8)
    task = await stream_task(conn, server)
    conn.send(b"one")
    conn.send(b"two")
    assert server.bodies == [b"one", b"two"]  # written before this task gave up its turn
    assert server.writer_tasks == [asyncio.current_task()] * 2
    conn.close()
    await asyncio.wait_for(task, 5)


async def test_a_write_that_must_wait_is_finished_by_the_stream_and_later_frames_follow_in_order():
    server, conn = Server(), Connection(limit=8)
    task = await stream_task(conn, server)
    server.block()
    conn.send(b"1")  # the server makes this one wait
    conn.send(b"2")
    conn.send(b"3")  # these queue behind it
    assert server.bodies == []
    server.writable.set()
    await eventually(lambda: len(server.bodies) == 3)
    assert server.bodies == [b"1", b"2", b"3"]
    assert all(writer is task for writer in server.writer_tasks)
    conn.send(b"4")  # idle again: written at once
    assert server.bodies[-1] == b"4"
    conn.close()
    await asyncio.wait_for(task, 5)


async def test_a_stalled_stream_still_overflows_and_closes():
    server, conn = Server(), Connection(limit=4, byte_limit=1_000)
    task = await stream_task(conn, server)
    server.block()
    for n in range(10):
        conn.send(f"frame {n}".encode())
    assert conn.closed and conn.overflowed
    server.writable.set()
    await asyncio.wait_for(task, 5)  # the stream ends; its reconnect resyncs the page
    assert server.bodies == [b"frame 0"]  # the write already under way, nothing queued after


async def test_a_refused_write_closes_the_stream():
    server, conn = Server(), Connection(limit=8)
    task = await stream_task(conn, server)
    server.fail = ConnectionResetError("client went away")
    conn.send(b"lost")
    assert conn.closed
    await asyncio.wait_for(task, 5)
    conn.send(b"after")  # ignored: nothing raised, nothing written
    assert server.bodies == []


async def test_without_a_direct_writer_frames_wait_for_the_streams_task():
    server, conn = Server(), Connection(limit=8)

    async def run() -> None:
        async for frame in conn.frames():
            await server.send({"type": "http.response.body", "body": frame, "more_body": True})

    task = asyncio.get_running_loop().create_task(run())
    await eventually(lambda: conn._waiter is not None)
    conn.send(b"queued")
    assert server.bodies == []
    await eventually(lambda: server.bodies == [b"queued"])
    assert server.writer_tasks == [task]
    conn.close()
    await asyncio.wait_for(task, 5)


async def test_a_send_that_returns_a_plain_awaitable_is_written_too():
    written: list[bytes] = []
    conn = Connection(limit=8)

    def send(message: dict[str, Any]) -> asyncio.Future[None]:
        written.append(message["body"])
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    server = Server()
    task = await stream_task(conn, server)
    conn.attach_writer(send)
    conn.send(b"via a future")
    assert written == [b"via a future"] and server.bodies == []
    conn.close()
    await asyncio.wait_for(task, 5)
