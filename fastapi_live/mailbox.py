"""A session's mailbox: its messages first in, first out, up to a limit, handled one at a time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any, Protocol

from .messages import Message, refuse
from .runner import TIME_SLICE, Runner

log = logging.getLogger("fastapi_live")

_COMPACT_AT = 1024  # taken slots kept before the list is shortened
_INLINE: Any = object()  # marks the mailbox busy with a message handled in its sender's task
_QUEUED: Any = object()  # marks the mailbox waiting for its turn in the host's runner
# What an empty mailbox holds instead of a list of its own (an idle session's is empty); never changed.
_NO_ITEMS: list[Any] = []


class Owner(Protocol):
    """Who handles a mailbox's messages (the session)."""

    id: str
    view_name: str  # names it in the log

    async def handle(self, message: Message) -> None: ...

    @property
    def busy(self) -> bool:
        """Work outside the mailbox (running tasks) keeps it from being idle."""
        ...


class Mailbox:
    """A bounded FIFO of messages and the one-at-a-time loop that handles them.

    Lighter than a deque for the few a session usually holds, and O(1) to take from however
    many it holds (a list's ``pop(0)`` is not). Nothing is handled before ``open()``; then a
    message finding the mailbox idle may be handled in its sender's own task
    (``handle_inline``), and the rest are drained by the host's runner, back to back with
    other sessions' (see ``runner.py``).
    """

    __slots__ = ("_drainer", "_head", "_items", "_owner", "_ready", "_runner", "_waiters", "closed", "limit")

    def __init__(self, limit: int, owner: Owner, runner: Runner) -> None:
        self._items: list[Message | None] = _NO_ITEMS  # a list of its own from the first message queued
        self._head = 0
        self.limit = limit
        self._owner = owner  # a reference, not bound methods: a session holds one mailbox for its life
        self._runner = runner
        self._drainer: asyncio.Task[None] | Any = None
        self._ready = False
        self._waiters: list[asyncio.Future[None]] | None = None  # made with the first ``wait_idle``
        self.closed = False

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
        items = self._items
        if len(items) - self._head >= self.limit:
            return False
        if items is _NO_ITEMS:
            self._items = [message]
        else:
            items.append(message)
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
            self._items = _NO_ITEMS  # drained: an idle mailbox holds no list
            head = 0
        elif head >= _COMPACT_AT and head * 2 >= len(items):
            del items[:head]
            head = 0
        self._head = head
        return message

    # -- handling --------------------------------------------------------------------------------
    def deliver(self, message: Message) -> bool:
        """Queue ``message`` to be handled in its turn; False (nothing queued, and the log says
        so) when full: its owner then ends, rather than drop messages its state may need."""
        if not self.put(message):
            log.warning(
                "fastapi-live: closed %s session %s: a message found its mailbox full (%d queued, SessionConfig.mailbox_limit=%d); "
                "its page remounts when its stream reconnects",
                self._owner.view_name,
                self._owner.id,
                len(self),
                self.limit,
            )
            return False
        if self._ready and self._drainer is None:
            self._schedule()
        return True

    async def handle_inline(self, message: Message) -> bool:
        """Handle ``message`` right here if the mailbox is idle; False (nothing done) if not.

        Saves a drain task and two loop turns for the common case, an event's request finding
        its session idle. Messages arriving meanwhile queue behind it.
        """
        if not self._ready or self._drainer is not None or self or self.closed:
            return False
        self._drainer = _INLINE
        try:
            await self._owner.handle(message)
        finally:
            self._drainer = None
            if self and not self.closed:
                self._schedule()
            else:
                self._notify_idle()
        return True

    def open(self) -> None:
        """Start handling messages (those queued before are handled first)."""
        self._ready = True
        if self and self._drainer is None:
            self._schedule()
        self._notify_idle()

    def _schedule(self) -> None:
        self._drainer = _QUEUED
        self._runner.submit(self._drain)

    async def _drain(self) -> None:
        self._drainer = asyncio.current_task()  # the task this drain keeps if it has to wait
        turn_ends = time.perf_counter() + TIME_SLICE
        try:
            while self and not self.closed:
                message = self.take()
                try:
                    await self._owner.handle(message)
                except Exception:  # a bug in the library itself: log, keep the session alive
                    log.exception("%s: internal error while handling %s", self._owner.view_name, type(message).__name__)
                if self and time.perf_counter() > turn_ends:
                    # Handlers that never wait would otherwise hold the loop for the whole backlog.
                    await asyncio.sleep(0)
                    turn_ends = time.perf_counter() + TIME_SLICE
        finally:
            self._drainer = None
            self._notify_idle()

    # -- idleness and the end --------------------------------------------------------------------
    async def wait_idle(self) -> None:
        """Wait until the mailbox is open, empty and handling nothing, and nothing keeps it busy."""
        while self._owner.busy or self or self._drainer is not None or not self._ready:
            if self.closed:
                return
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter

    def _notify_idle(self) -> None:
        if self._owner.busy or self or self._drainer is not None:
            return
        self._release_waiters()

    def _release_waiters(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def close(self) -> None:
        """Handle nothing more: a handler still running is cancelled, queued messages refused."""
        self.closed = True
        drainer = self._drainer
        if isinstance(drainer, asyncio.Task) and drainer is not asyncio.current_task():
            drainer.cancel()  # a handler still running belongs to the session too
        for message in self:
            refuse(message)
        self._items = _NO_ITEMS
        self._head = 0
        self._release_waiters()
