"""Gates: a test decides when (and how) a fixture view's async function finishes.

A gate is opened from the test, which may run on another thread and another event loop
than the server; the function waiting on it runs on the server's loop (``await
gate.wait()``) or in its thread pool (``gate.wait_blocking()``). Gates also record what
happened to their waiter: started, cancelled, finished.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_UNSET: Any = object()
DEFAULT_TIMEOUT = 10.0


class Gate:
    """Blocks its waiters until ``open(result)`` or ``fail(error)``."""

    def __init__(self, name: str = "gate") -> None:
        self.name = name
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self._opened = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._result: Any = None
        self._error: BaseException | None = None

    def open(self, result: Any = None) -> None:
        """Let waiters go on; they return ``result``."""
        self._release(result, None)

    def fail(self, error: BaseException) -> None:
        """Let waiters go on; they raise ``error``."""
        self._release(None, error)

    def _release(self, result: Any, error: BaseException | None) -> None:
        with self._lock:
            if self._opened.is_set():
                return
            self._result, self._error = result, error
            self._opened.set()
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    def _outcome(self) -> Any:
        self.finished.set()
        if self._error is not None:
            raise self._error
        return self._result

    async def wait(self, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Await the gate from any event loop."""
        self.started.set()
        event = asyncio.Event()
        with self._lock:
            pending = not self._opened.is_set()
            if pending:
                self._waiters.append((asyncio.get_running_loop(), event))
        try:
            if pending:
                await asyncio.wait_for(event.wait(), timeout)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return self._outcome()

    def wait_blocking(self, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Block the calling thread on the gate (for sync functions run in a thread pool)."""
        self.started.set()
        if not self._opened.wait(timeout):
            raise TimeoutError(f"gate {self.name!r} was never opened")
        return self._outcome()


class GateRegistry:
    """Gates by (run, name): a test picks a fresh run id, the view looks its gates up."""

    def __init__(self) -> None:
        self._gates: dict[tuple[str, str], Gate] = {}
        self._lock = threading.Lock()

    def get(self, run: str, name: str) -> Gate:
        with self._lock:
            gate = self._gates.get((run, name))
            if gate is None:
                gate = self._gates[(run, name)] = Gate(f"{run}/{name}")
            return gate

    def started(self, run: str) -> list[str]:
        """The names of ``run``'s gates that a waiter has reached."""
        with self._lock:
            return [name for (gate_run, name), gate in self._gates.items() if gate_run == run and gate.started.is_set()]

    def release(self, run: str) -> None:
        """Open every gate of ``run`` (so no thread stays blocked) and forget them."""
        with self._lock:
            keys = [key for key in self._gates if key[0] == run]
            gates = [self._gates.pop(key) for key in keys]
        for gate in gates:
            gate.fail(RuntimeError(f"gate {gate.name!r} released at the end of the test"))


GATES = GateRegistry()


@contextmanager
def gate_run(run: str) -> Iterator[str]:
    """Use ``run`` as a gate namespace for the duration of a test."""
    try:
        yield run
    finally:
        GATES.release(run)


async def flag(event: threading.Event, timeout: float = 5.0) -> None:
    """Wait, without blocking the calling loop, until another thread sets ``event``."""
    if not await asyncio.to_thread(event.wait, timeout):
        raise AssertionError(f"timed out after {timeout} s waiting for a flag")
