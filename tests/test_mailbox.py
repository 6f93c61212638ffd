"""The mailbox: first in, first out, bounded, and O(1) to take from however long it grows."""

from __future__ import annotations

import pytest

from fastapi_live.mailbox import Mailbox
from fastapi_live.messages import Info


def test_messages_come_out_in_order_and_the_limit_refuses_the_next():
    box = Mailbox(limit=3)
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
    box = Mailbox(limit=100_000)
    for n in range(50_000):
        box.put(Info(n))
    taken = [box.take().message for _ in range(30_000)]
    assert taken == list(range(30_000))
    assert len(box._items) < 50_000  # the taken slots were dropped
    box.put(Info("last"))
    assert [m.message for m in box][-1] == "last" and len(box) == 20_001
    box.clear()
    assert not box and list(box) == []
