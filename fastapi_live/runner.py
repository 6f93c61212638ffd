"""Many short coroutines run back to back in one task, instead of one task each.

A PubSub broadcast wakes thousands of idle sessions at once, and nearly every one of them
handles its message without ever waiting: a task each would cost more than the work. The
runner starts each coroutine in its own task's turn, one after another. A coroutine that
has to wait keeps the task it started in — so ``asyncio.current_task()``, timeouts and task
groups see one task from its start to its end — and the coroutines still queued move on
to a fresh task at once, so one slow handler never delays the others.

Each coroutine runs in its own copy of the context, as it would in a task of its own. A long
run of coroutines that never wait gives the loop back every ``TIME_SLICE`` seconds, so other
requests and streams go on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

log = logging.getLogger("fastapi_live")

TIME_SLICE = 0.002
"""Seconds of work without a wait after which a runner, or a session's drain, yields to the loop."""

Starter = Callable[[], Coroutine[Any, Any, None]]


class Runner:
    """A queue of coroutine starters, run in order by as few tasks as possible."""

    __slots__ = ("_name", "_queue", "_task")

    def __init__(self, name: str = "fastapi-live runner") -> None:
        self._name = name
        self._queue: deque[Starter] = deque()
        self._task: asyncio.Task[None] | None = None

    def submit(self, start: Starter) -> None:
        """Run ``start()`` soon, after what is queued already. Call from the event loop."""
        self._queue.append(start)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    @property
    def queued(self) -> int:
        """Starters not begun yet."""
        return len(self._queue)

    async def _run(self) -> None:
        queue = self._queue
        turn_ends = time.perf_counter() + TIME_SLICE
        try:
            while queue:
                if time.perf_counter() > turn_ends:
                    await asyncio.sleep(0)  # others' turn: what is queued waits, in order
                    turn_ends = time.perf_counter() + TIME_SLICE
                    continue
                start = queue.popleft()
                context = contextvars.copy_context()
                try:
                    coroutine = start()
                    waiting_on = context.run(coroutine.send, None)
                except StopIteration:
                    continue  # done without waiting: the common case
                except Exception:
                    log.exception("%s: a coroutine failed", self._name)
                    continue
                # It waits: it keeps this task to its end; the rest go on in a fresh one.
                self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name) if queue else None
                try:
                    await Resume(coroutine, context, waiting_on)
                except Exception:
                    log.exception("%s: a coroutine failed", self._name)
                return
        finally:
            if self._task is asyncio.current_task():
                self._task = None


class Resume:
    """Await a coroutine that already ran up to its first wait (``waiting_on``), in ``context``."""

    __slots__ = ("_context", "_coroutine", "_waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, None], context: contextvars.Context, waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._context = context
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, run, waiting_on = self._coroutine, self._context.run, self._waiting_on
        while True:
            try:
                value = yield waiting_on
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as exc:  # a cancellation, thrown into the awaiting task
                try:
                    waiting_on = run(coroutine.throw, exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting_on = run(coroutine.send, value)
                except StopIteration:
                    return
