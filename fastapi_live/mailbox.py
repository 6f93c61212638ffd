"""A session's mailbox: its messages first in, first out, up to a limit."""

from __future__ import annotations

from collections.abc import Iterator

from .messages import Message

_COMPACT_AT = 1024  # taken slots kept before the list is shortened


class Mailbox:
    """A bounded FIFO of messages. Lighter than a deque for the few a session usually holds,
    and O(1) to take from however many it holds (a list's ``pop(0)`` is not)."""

    __slots__ = ("_head", "_items", "limit")

    def __init__(self, limit: int) -> None:
        self._items: list[Message | None] = []
        self._head = 0
        self.limit = limit

    def __len__(self) -> int:
        return len(self._items) - self._head

    def __bool__(self) -> bool:
        return len(self._items) > self._head

    def __iter__(self) -> Iterator[Message]:
        for index in range(self._head, len(self._items)):
            message = self._items[index]
            if message is not None:
                yield message

    def put(self, message: Message) -> bool:
        """Queue ``message``; False (and nothing queued) when the mailbox is full."""
        if len(self._items) - self._head >= self.limit:
            return False
        self._items.append(message)
        return True

    def take(self) -> Message:
        """The oldest message, removed; ``IndexError`` when there is none."""
        items, head = self._items, self._head
        message = items[head]
        if message is None:
            raise IndexError("take from an empty mailbox")
        items[head] = None
        head += 1
        if head == len(items):
            items.clear()
            head = 0
        elif head >= _COMPACT_AT and head * 2 >= len(items):
            del items[:head]
            head = 0
        self._head = head
        return message

    def clear(self) -> None:
        self._items.clear()
        self._head = 0
