"""The shared stream's writer: pages' frames labelled by channel, in turn; a page that overflows is closed alone."""

from __future__ import annotations

import asyncio

from fastapi_live.connection import Connection
from fastapi_live.multiplex import Multiplex
from fastapi_live.testing._sse import read_messages
from fastapi_live.transport import encode_comment, encode_message


class SlowClient:
    """An ASGI ``send`` whose writes wait until the test lets them through."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.open = asyncio.Event()

    async def send(self, message: dict[str, object]) -> None:
        await self.open.wait()
        body = message.get("body", b"")
        assert isinstance(body, bytes)
        self.bodies.append(body)

    async def messages(self) -> list[tuple[str, str]]:
        async def chunks():
            for body in self.bodies:
                yield body

        return [(m.event or "", m.data) async for m in read_messages(chunks())]


def shared(detached: list[Connection]) -> Multiplex:
    return Multiplex("mux", "browser", Connection(16), detached.append)


async def test_frames_of_each_page_travel_labelled_by_channel_and_heartbeats_of_pages_stay_home():
    detached: list[Connection] = []
    mux = shared(detached)
    a, b = Connection(8), Connection(8)
    mux.add("a", a)
    mux.add("b", b)
    client = SlowClient()
    client.open.set()
    pump = asyncio.create_task(mux.pump(client.send))
    a.send(encode_message("one", event_id="1"))
    b.send(encode_comment("hb"))
    b.send(encode_message("two", event_id="1"))
    mux.outer.send(encode_comment("hb"))
    await asyncio.sleep(0)  # why: one turn of the pump task
    a.close()
    await asyncio.sleep(0)  # why: one turn of the pump task
    mux.close()
    await asyncio.wait_for(pump, 1)
    messages = await client.messages()
    assert ("live:mux-frame", "a\nid: 1\ndata: one\n\n") in messages
    assert ("live:mux-frame", "b\nid: 1\ndata: two\n\n") in messages
    assert ("live:mux-end", "a") in messages
    assert a in detached and b not in detached
    assert b"hb" in b"".join(client.bodies)  # the shared stream's own heartbeat
    assert mux.pages == 1


async def test_a_page_whose_reader_falls_behind_is_closed_alone():
    detached: list[Connection] = []
    mux = shared(detached)
    chatty, quiet = Connection(4), Connection(4)
    mux.add("chatty", chatty)
    mux.add("quiet", quiet)
    client = SlowClient()  # the browser reads nothing for now
    pump = asyncio.create_task(mux.pump(client.send))
    quiet.send(encode_message("hello", event_id="1"))
    await asyncio.sleep(0)  # why: the pump takes the first write, which then waits on the client
    for n in range(20):
        chatty.send(encode_message(f"flood {n}", event_id=str(n)))
    assert chatty.closed and chatty.overflowed
    quiet.send(encode_message("still here", event_id="2"))
    assert not quiet.closed
    client.open.set()
    while b"still here" not in b"".join(client.bodies):
        await asyncio.sleep(0)  # why: turns of the pump task, until the quiet page's frame is written
    mux.close()
    await asyncio.wait_for(pump, 1)
    messages = await client.messages()
    assert ("live:mux-end", "chatty") in messages
    assert any(event == "live:mux-frame" and data.startswith("quiet\n") and "still here" in data for event, data in messages)
    assert chatty in detached and quiet not in detached


async def test_a_channel_attached_again_replaces_the_older_page_and_its_frames_go_nowhere():
    detached: list[Connection] = []
    mux = shared(detached)
    old, new = Connection(4), Connection(4)
    mux.add("p", old)
    old.send(encode_message("stale", event_id="1"))
    mux.add("p", new)
    new.send(encode_message("fresh", event_id="2"))
    client = SlowClient()
    client.open.set()
    pump = asyncio.create_task(mux.pump(client.send))
    await asyncio.sleep(0)  # why: one turn of the pump task
    mux.close()
    await asyncio.wait_for(pump, 1)
    text = b"".join(client.bodies).decode()
    assert "fresh" in text and "stale" not in text
    assert detached == [old]
    mux.end()
    assert detached == [old, new]
