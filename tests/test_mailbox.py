"""The mailbox: first in, first out, bounded, O(1) to take from however long it grows, and
handled one message at a time — inline when idle, by the runner otherwise."""

from __future__ import annotations

import asyncio

import pytest

from fastapi_live.exceptions import LiveError
from fastapi_live.mailbox import Mailbox
from fastapi_live.messages import Call, Info, Message
from fastapi_live.runner import Runner


class _Owner:
    id = "session-1"
    view_name = "TestView"
    busy = False

    def __init__(self, handled: list[object] | None) -> None:
        self.handled = handled

    async def handle(self, message: Message) -> None:
        if self.handled is not None:
            assert isinstance(message, Info)
            self.handled.append(message.message)
            await asyncio.sleep(0)  # why: a handler that waits, so others must queue behind it


def _box(limit: int, handled: list[object] | None = None) -> Mailbox:
    return Mailbox(limit, _Owner(handled), Runner())


def test_messages_come_out_in_order_and_the_limit_refuses_the_next():
    box = _box(3)
    assert not box and len(box) == 0
    assert all(box.put(Info(n)) for n in range(3))
    assert not box.put(Info(3))
    assert [m.message for m in box] == [0, 1, 2]
    assert box.take().message == 0
    assert box.put(Info(3)) and len(box) == 3
    assert [box.take().message for _ in range(3)] == [1, 2, 3]
    assert not box
    with pytest.raises(IndexError):
        box.take()


def test_a_long_backlog_is_taken_in_order_and_compacted_on_the_way():
    box = _box(100_000)
    for n in range(50_000):
        box.put(Info(n))
    taken = [box.take().message for _ in range(30_000)]
    assert taken == list(range(30_000))
    assert len(box._items) < 50_000  # the taken slots were dropped
    box.put(Info("last"))
    assert [m.message for m in box][-1] == "last" and len(box) == 20_001


async def test_nothing_is_handled_before_open_then_everything_in_order():
    handled: list[object] = []
    box = _box(10, handled)
    assert all(box.deliver(Info(n)) for n in range(3))
    assert not await box.handle_inline(Info("inline")), "a closed-for-mount mailbox handles nothing inline"
    assert handled == []
    box.open()
    await asyncio.wait_for(box.wait_idle(), 2)
    assert handled == [0, 1, 2]


async def test_an_idle_mailbox_handles_inline_and_a_busy_one_queues_behind():
    handled: list[object] = []
    box = _box(10, handled)
    box.open()
    assert await box.handle_inline(Info("first"))
    assert handled == ["first"]
    box.deliver(Info("queued"))
    assert not await box.handle_inline(Info("late")), "a message waiting its turn comes first"
    await asyncio.wait_for(box.wait_idle(), 2)
    assert handled == ["first", "queued"]


async def test_close_refuses_what_is_queued_and_releases_waiters():
    box = _box(10, [])
    answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    box.deliver(Call(lambda socket: None, answer))
    waiting = asyncio.ensure_future(box.wait_idle())
    while not box._waiters:
        await asyncio.sleep(0)  # why: one loop turn at a time until the waiter waits (the condition is the loop's)
    box.close()
    await asyncio.wait_for(waiting, 2)
    with pytest.raises(LiveError, match="the live session is closed"):
        answer.result()
    assert not box and box.closed
    assert not await box.handle_inline(Info("after"))


async def test_a_full_mailbox_refuses_delivery():
    box = _box(1)
    assert box.deliver(Info(1))
    assert not box.deliver(Info(2))
    assert [m.message for m in box] == [1]
