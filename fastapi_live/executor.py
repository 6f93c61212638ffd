"""Sync user functions on a bounded pool of threads, shared fairly between sessions.

A plain (sync) function given to ``assign_async``, ``start_async`` or ``stream_async`` runs on
a thread. On one shared first-come-first-served pool, one page's work queues ahead of every
other page's, and a flood of pages nobody connects to holds every thread. Here each session
has a lane: its jobs wait in it, and a free thread takes the next lane in turn (round robin),
so a page with a hundred jobs delays another page by one job at most. Lanes of sessions whose
stream connected go first; sessions whose stream never connected may hold at most
``unconnected_threads`` threads at once, so the others stay free for pages people look at.
A session's work still starts at its page request: a real user's stream connects within
milliseconds, and its lane moves ahead then.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .exceptions import ConfigurationError


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop closed while the thread ran: nobody waits any more
        pass


def default_threads() -> int:
    """What asyncio's own default pool would use: ``min(32, cpu count + 4)``."""
    return min(32, (os.cpu_count() or 1) + 4)


class _Job:
    __slots__ = ("call", "context", "unconnected", "waiter")

    def __init__(self, call: Callable[[], Any], waiter: asyncio.Future[Any]) -> None:
        self.call = call
        self.context = contextvars.copy_context()
        self.waiter = waiter
        self.unconnected = True


class Lane:
    """One session's queue of sync jobs on a ``SyncExecutor``."""

    __slots__ = ("_executor", "_jobs", "connected", "queued")

    def __init__(self, executor: SyncExecutor) -> None:
        self._executor = executor
        self._jobs: deque[_Job] | None = None  # made with the first job: most pages have none
        self.connected = False
        self.queued = False  # the lane is in one of the executor's rings

    async def run(self, call: Callable[[], Any]) -> Any:
        """Run ``call()`` on a thread when this lane's turn comes; its result, or what it raised."""
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        job = _Job(call, waiter)
        if self._jobs is None:
            self._jobs = deque()
        self._jobs.append(job)
        self._executor._queue(self)
        try:
            return await waiter
        except asyncio.CancelledError:
            if job in self._jobs:  # not started: it never will be (a started one runs out, unheard)
                self._jobs.remove(job)
            raise

    def connect(self) -> None:
        """The session's stream connected: its jobs go ahead of unconnected sessions' from now on."""
        if not self.connected:
            self.connected = True
            self._executor._promote(self)

    def _take(self) -> _Job | None:
        jobs = self._jobs
        return jobs.popleft() if jobs else None

    def _has_jobs(self) -> bool:
        return bool(self._jobs)


class SyncExecutor:
    """A bounded pool of threads for the sync functions of a process's sessions, fair between them."""

    def __init__(self, threads: int | None = None, unconnected_threads: int | None = None) -> None:
        self.threads = default_threads() if threads is None else threads
        self.unconnected_threads = max(1, self.threads // 2) if unconnected_threads is None else unconnected_threads
        if type(self.threads) is not int or self.threads < 1:
            raise ConfigurationError(f"SessionConfig.sync_threads must be a whole number of at least 1\nGot: {threads!r}")
        if type(self.unconnected_threads) is not int or not 1 <= self.unconnected_threads <= self.threads:
            raise ConfigurationError(
                f"SessionConfig.unconnected_sync_threads must be a whole number from 1 to sync_threads ({self.threads})\nGot: {unconnected_threads!r}"
            )
        self._pool: ThreadPoolExecutor | None = None
        self._rings: tuple[deque[Lane], deque[Lane]] = (deque(), deque())  # (connected, unconnected) lanes with jobs
        self.running = 0
        self.running_unconnected = 0

    def lane(self) -> Lane:
        """A new lane, for one session."""
        return Lane(self)

    @property
    def waiting(self) -> int:
        """Jobs queued and not started, in every lane."""
        return sum(len(lane._jobs or ()) for ring in self._rings for lane in ring)

    def shutdown(self) -> None:
        """Stop the threads once their current jobs end (a later job starts a new pool)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # -- scheduling (on the event loop) ------------------------------------------------------------
    def _queue(self, lane: Lane) -> None:
        if not lane.queued:
            lane.queued = True
            self._rings[0 if lane.connected else 1].append(lane)
        self._dispatch()

    def _promote(self, lane: Lane) -> None:
        if lane.queued:
            self._rings[1].remove(lane)
            self._rings[0].append(lane)
            self._dispatch()

    def _dispatch(self) -> None:
        connected, unconnected = self._rings
        while self.running < self.threads:
            if connected:
                ring = connected
            elif unconnected and self.running_unconnected < self.unconnected_threads:
                ring = unconnected
            else:
                return
            lane = ring.popleft()
            job = lane._take()
            if lane._has_jobs():
                ring.append(lane)  # its next job waits for the other lanes' turns
            else:
                lane.queued = False
            if job is not None and not job.waiter.done():
                self._start(job, unconnected=ring is unconnected)

    def _start(self, job: _Job, *, unconnected: bool) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="fastapi-live-sync")
        job.unconnected = unconnected
        self.running += 1
        self.running_unconnected += unconnected
        loop = job.waiter.get_loop()
        done: Future[Any] = self._pool.submit(job.context.run, job.call)
        done.add_done_callback(lambda result: _call_soon(loop, self._finished, job, result))

    def _finished(self, job: _Job, result: Future[Any]) -> None:
        self.running -= 1
        self.running_unconnected -= job.unconnected
        waiter = job.waiter
        if not waiter.done():  # its task may have been cancelled meanwhile: the result is unheard
            if result.cancelled():
                waiter.cancel()
            elif (error := result.exception()) is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(result.result())
        self._dispatch()
