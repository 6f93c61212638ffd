"""Task supervision: a session's async operations, started, cancelled and delivered in order.

While a message is handled, starts and cancels are staged: they take effect only if the
handler succeeds, so a rolled-back handler leaves no task behind. A task's outcome comes back
to the session's mailbox as a message (``TaskDone``, ``Batch``), never applied from the task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from .async_ops import Exit, Ok, Outcome, StreamBatch, apply_assign_outcome, call_user_function, is_async_generator
from .async_result import AsyncResult
from .exceptions import CallbackReturnError
from .lifecycle import callable_name
from .messages import Batch, Message, TaskDone
from .types import TaskKey, TaskRecord
from .view import LiveSocket

log = logging.getLogger("fastapi_live")

_Staged = tuple[bool, TaskKey, Any]  # (is a start, key, record or cancel reason)


class TaskOwner(Protocol):
    """Whose tasks they are (the session): it takes their outcomes as messages, and runs their
    sync functions on its turn of the process's threads."""

    def post(self, message: Message) -> None: ...

    def run_sync(self, call: Callable[[], Any]) -> Awaitable[Any]: ...


_NO_TASKS: dict[Any, Any] = {}  # what a supervisor with no task running holds; never changed


class TaskSupervisor:
    """The running tasks of one session, by key; a newer task under a key replaces the older.

    It holds its owner, not bound methods of its, and no dict of its own while no task runs:
    most idle pages have none.
    """

    __slots__ = ("_label", "_owner", "_staged", "_tasks")

    def __init__(self, label: str, owner: TaskOwner) -> None:
        self._label = label
        self._owner = owner
        self._tasks: dict[TaskKey, tuple[asyncio.Task[None], TaskRecord]] = _NO_TASKS
        self._staged: list[_Staged] | None = None

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def _post(self, message: Message) -> None:
        self._owner.post(message)

    # -- the socket's side (the session's Runtime) ------------------------------------------
    def start(self, key: TaskKey, record: TaskRecord) -> None:
        if self._staged is not None:
            self._staged.append((True, key, record))
        else:
            self._start(key, record)

    def cancel(self, key: TaskKey, reason: object) -> bool:
        if self._staged is None:
            return self._cancel(key, reason)
        exists = key in self.keys()
        if exists:
            self._staged.append((False, key, reason))
        return exists

    def keys(self) -> list[TaskKey]:
        keys = list(self._tasks)
        for is_start, key, _ in self._staged or ():
            if is_start and key not in keys:
                keys.append(key)
            elif not is_start and key in keys:
                keys.remove(key)
        return keys

    def labels(self) -> list[str]:
        return [record.label for _, record in self._tasks.values()]

    # -- staging around one handled message ------------------------------------------------------
    def stage(self) -> None:
        self._staged = []

    def commit(self, succeeded: bool) -> None:
        staged, self._staged = self._staged or [], None
        if not succeeded:
            return
        for is_start, key, argument in staged:
            if is_start:
                self._start(key, argument)
            else:
                self._cancel(key, argument)

    def cancel_all(self) -> None:
        tasks, self._tasks = self._tasks, _NO_TASKS
        for task, _ in tasks.values():
            task.cancel()

    # -- running ----------------------------------------------------------------------------
    def _start(self, key: TaskKey, record: TaskRecord) -> None:
        previous = self._tasks.pop(key, None)
        if previous is not None:
            previous[0].cancel()  # the newer call wins; the older never delivers
        task = asyncio.get_running_loop().create_task(self._run(key, record), name=f"fastapi-live {self._label} {record.label}")
        if self._tasks is _NO_TASKS:
            self._tasks = {}
        self._tasks[key] = (task, record)

    def _cancel(self, key: TaskKey, reason: object) -> bool:
        entry = self._tasks.pop(key, None)
        if entry is None:
            return False
        task, record = entry
        task.cancel()
        self._post(TaskDone(key, None, record, Exit(reason)))
        return True

    async def _run(self, key: TaskKey, record: TaskRecord) -> None:
        task = asyncio.current_task()
        try:
            if record.kind == "stream" and is_async_generator(record.fn):
                async for batch in record.fn(*record.args, **record.kwargs):
                    self._post(Batch(key, task, record, batch if isinstance(batch, StreamBatch) else StreamBatch(list(batch))))
                outcome: Outcome = Ok(None)
            else:
                outcome = Ok(await call_user_function(record.fn, record.args, record.kwargs, self._owner.run_sync))
        except asyncio.CancelledError as exc:
            if task is not None and task.cancelling():
                raise  # the library cancelled it (a newer call, cancel_async, the session's end): silent
            # Cancelled from inside (the function, or something it awaited, was cancelled): a failure.
            log.error("%s: %s ended cancelled from inside", self._label, record.label, exc_info=exc)
            outcome = Exit(exc)
        except Exception as exc:
            log.error("%s: %s failed", self._label, record.label, exc_info=exc)
            outcome = Exit(exc)
        self._post(TaskDone(key, task, record, outcome))

    def is_current(self, key: TaskKey, task: asyncio.Task[None] | None) -> bool:
        """Whether a message from ``task`` still counts (a cancel's, with no task, always does)."""
        entry = self._tasks.get(key)
        return task is None or (entry is not None and entry[0] is task)

    def finish(self, key: TaskKey, task: asyncio.Task[None] | None) -> bool:
        """Forget the task that delivered an outcome; False when a newer one replaced it."""
        if task is not None:
            if not self.is_current(key, task):
                return False
            self._tasks.pop(key, None)
            if not self._tasks:
                self._tasks = _NO_TASKS  # the last one done: an idle page keeps no table for them
        return True

    # -- delivering the built-in kinds' outcomes ------------------------------------------------
    @staticmethod
    def stream_items(socket: LiveSocket, record: TaskRecord, batch: StreamBatch) -> None:
        """Insert a ``stream_async`` batch where the call said; ``StreamBatch(reset=True)`` clears first."""
        socket.stream(record.name, batch.items, reset=batch.reset, at=record.at, limit=record.limit)

    def apply(self, socket: LiveSocket, record: TaskRecord, outcome: Outcome) -> None:
        """Apply an ``assign_async`` or ``stream_async`` outcome to the socket's assigns."""
        if record.kind == "assign":
            apply_assign_outcome(socket, record, outcome)
            return
        current = socket._data.get(record.name)
        base = current if isinstance(current, AsyncResult) else AsyncResult.loading()
        if isinstance(outcome, Exit):
            socket.assign({record.name: base.failed_with(outcome.reason)})
        else:
            failure = self._deliver_stream_result(socket, record, outcome.value)
            socket.assign({record.name: base.ok_with(True) if failure is None else base.failed_with(failure)})

    def _deliver_stream_result(self, socket: LiveSocket, record: TaskRecord, value: Any) -> CallbackReturnError | None:
        if value is None or is_async_generator(record.fn):
            return None  # a generator delivered its batches as it went
        if not isinstance(value, StreamBatch):
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
                return CallbackReturnError(
                    f"invalid return from {record.label} function {callable_name(record.fn)}: expected an iterable of items\nGot: {value!r}"
                )
            value = StreamBatch(list(value))
        self.stream_items(socket, record, value)
        return None
