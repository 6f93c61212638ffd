"""Async operations: ``assign_async``, ``start_async``, ``stream_async``, ``cancel_async``.

The socket only records *what* to run; the session that owns the socket runs it as a
task and hands the outcome back through its mailbox, so results are applied one at a
time, like every other message.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from .async_result import AsyncResult
from .exceptions import CallbackReturnError, CapturedSocketError, ConfigurationError
from .socket import SocketState
from .types import Runtime, TaskKey, TaskKind, TaskRecord

T = TypeVar("T")
DOCS = "https://github.com/fastapi-live/fastapi-live#async-operations"


@dataclass(frozen=True, slots=True)
class Ok(Generic[T]):
    """A task finished with ``value``: ``case "fetch_org", Ok(org):``."""

    value: T


@dataclass(frozen=True, slots=True)
class Exit:
    """A task raised or was cancelled; ``reason`` is the exception or the cancel reason."""

    reason: Any


Outcome = Ok[Any] | Exit


@dataclass(frozen=True, slots=True)
class StreamBatch:
    """Items for a ``stream_async`` stream, returned by its function or yielded by its generator.

    ``reset=True`` clears the stream's items before these are inserted (LiveView's
    ``{:ok, items, reset: true}``); a plain list or generator batch only inserts.

    >>> async def fetch_posts(org: str) -> StreamBatch:
    ...     return StreamBatch(await db.posts(org), reset=True)
    """

    items: list[Any]
    reset: bool = False


# ----------------------------------------------------------------------------------------
# The critical rule: never hand the socket (or its assigns) to a task
# ----------------------------------------------------------------------------------------


def _holds_socket(value: Any, socket: SocketState) -> bool:
    return value is socket or value is socket.assigns or value is socket._data


def _captures(fn: Any, socket: SocketState, depth: int = 0) -> str | None:
    """Where ``fn`` captures the socket, or None (looking a few callables deep)."""
    if depth > 4:
        return None
    if isinstance(fn, functools.partial):
        for value in (*fn.args, *fn.keywords.values()):
            if _holds_socket(value, socket):
                return "a functools.partial argument"
        return _captures(fn.func, socket, depth + 1)
    bound_self = getattr(fn, "__self__", None)
    if bound_self is not None and not inspect.ismodule(bound_self):
        if _holds_socket(bound_self, socket):
            return "the bound object"
        for value in getattr(bound_self, "__dict__", {}).values():
            if _holds_socket(value, socket):
                return f"an attribute of the bound {type(bound_self).__name__} object"
    if not inspect.isroutine(fn) and not inspect.isclass(fn) and bound_self is None:
        # A callable object: what it holds is what its __call__ will read.
        for value in getattr(fn, "__dict__", {}).values():
            if _holds_socket(value, socket):
                return f"an attribute of the callable {type(fn).__name__} object"
    func = getattr(fn, "__func__", fn)
    for cell in getattr(func, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell: the variable is not bound yet
            continue
        if _holds_socket(value, socket):
            return "a closure variable"
        if callable(value) and not inspect.isclass(value) and _captures(value, socket, depth + 1):
            return "a closure variable (through a nested function)" if inspect.isfunction(value) else "a closure variable (through the callable it holds)"
    for value in (*(getattr(func, "__defaults__", None) or ()), *(getattr(func, "__kwdefaults__", None) or {}).values()):
        if _holds_socket(value, socket):
            return "a default argument"
    return None


def check_no_clash(operation: str, fn: Callable[..., Any], given: Mapping[str, Any]) -> None:
    """Refuse an option of the library's that ``fn`` also takes: it is never passed on to ``fn``."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: nothing can clash
        return
    for option, value in given.items():
        if option in parameters:
            name = getattr(fn, "__qualname__", repr(fn))
            raise ConfigurationError(
                f"{operation}() option {option}={value!r} clashes with parameter {option!r} of {name}(): "
                f"the option is {operation}'s own and is never passed to the function\n"
                f"Pass the function's own value with functools.partial({name}, {option}=...), "
                f"and the option, if you want it, as {operation}(..., {option}=...)"
            )


def check_not_captured(operation: str, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], socket: SocketState) -> None:
    """Refuse ``fn`` (and its arguments) when they carry the socket or its assigns."""
    where = _captures(fn, socket)
    if where is None:
        for value in (*args, *kwargs.values()):
            if _holds_socket(value, socket):
                where = "an argument"
                break
    if where is None:
        return
    name = getattr(fn, "__qualname__", repr(fn))
    raise CapturedSocketError(
        f"{operation}() was given {name}, which captures the socket or its assigns through {where}.\n"
        "The task would hold the whole page state and read it from another thread or task.\n\n"
        "Instead of:\n"
        f'    socket.{operation}("org", lambda: fetch_org(socket.assigns.slug))\n\n'
        "Do: capture the value you need and pass it as an argument\n"
        "    slug = socket.assigns.slug\n"
        f'    socket.{operation}("org", fetch_org, slug)\n\n'
        f"See {DOCS}"
    )


# ----------------------------------------------------------------------------------------
# Running user functions
# ----------------------------------------------------------------------------------------


RunSync = Callable[[Callable[[], Any]], Awaitable[Any]]
"""Runs a sync call on a thread and returns its result (the session's lane of ``executor.SyncExecutor``)."""


async def call_user_function(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], run_sync: RunSync | None = None) -> Any:
    """Await ``fn`` when async; run it on a thread when sync (``run_sync``, else asyncio's pool), so the loop never blocks."""
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__):
        return await fn(*args, **kwargs)
    call = functools.partial(fn, *args, **kwargs)
    result = await (asyncio.to_thread(call) if run_sync is None else run_sync(call))
    if inspect.isawaitable(result):  # a sync callable that returned a coroutine
        return await result
    return result


def is_async_generator(fn: Callable[..., Any]) -> bool:
    return inspect.isasyncgenfunction(fn)  # partials unwrapped, as for coroutine functions


def _key(kind: TaskKind, name: Any) -> TaskKey:
    return (kind, name)


class AsyncMixin(SocketState):
    """``assign_async``, ``start_async``, ``stream_async`` and ``cancel_async``."""

    def _require_runtime(self, operation: str) -> Runtime:
        if self._runtime is None:
            raise ConfigurationError(f"{operation}() needs a running session: call it from mount, an event or an info handler")
        return self._runtime

    def assign_async(
        self, keys: str | Sequence[str], fn: Callable[..., Any], *args: Any, reset: bool | Sequence[str] = False, **kwargs: Any
    ) -> Self:
        """Load assigns without blocking: each key holds an ``AsyncResult`` until ``fn`` returns.

        With one key, ``fn``'s return value is the key's value; with several, ``fn``
        returns a mapping holding every key. Pass what ``fn`` needs as arguments.

        >>> socket.assign_async("org", fetch_org, slug)  # doctest: +SKIP
        >>> socket.assign_async(["profile", "rank"], fetch_profile_and_rank, slug)  # doctest: +SKIP
        """
        names = (keys,) if isinstance(keys, str) else tuple(keys)
        if not names or not all(isinstance(k, str) and k for k in names):
            raise ConfigurationError(f"assign_async keys must be a name or a list of names, got {keys!r}")
        check_not_captured("assign_async", fn, args, kwargs, self)
        if reset is not False:
            check_no_clash("assign_async", fn, {"reset": reset})
        runtime = self._require_runtime("assign_async")
        reset_keys = set(names) if reset is True else set(reset or ())
        for key in names:
            current = self._data.get(key)
            if isinstance(current, AsyncResult) and key not in reset_keys:
                self.assign({key: current.reloading()})
            else:
                self.assign({key: AsyncResult.loading()})
        record = TaskRecord("assign", names, fn, args, kwargs, reset)
        runtime.tasks.start(_key("assign", names), record)
        return self

    def start_async(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Self:
        """Run ``fn`` in a task; its outcome reaches ``handle_async(name, Ok(value) | Exit(reason), socket)``."""
        check_not_captured("start_async", fn, args, kwargs, self)
        self._require_runtime("start_async").tasks.start(_key("start", name), TaskRecord("start", name, fn, args, kwargs))
        return self

    def stream_async(
        self, name: str, fn: Callable[..., Any], *args: Any, reset: bool = False, at: int = -1, limit: int | None = None, **kwargs: Any
    ) -> Self:
        """Fill stream ``name`` from ``fn``: an iterable of items, or an async generator of batches.

        The assign ``name`` holds an ``AsyncResult`` for the loading and failed states; the
        items go in with ``at`` and ``limit`` as ``stream_insert`` puts them. ``reset=True``
        shows the loading state again (not a stale one) while the items already shown stay;
        to replace them, ``fn`` returns (or yields) ``StreamBatch(items, reset=True)``.

        >>> socket.stream_async("posts", fetch_posts, org_id, at=0, limit=50)  # doctest: +SKIP
        """
        check_not_captured("stream_async", fn, args, kwargs, self)
        given = {option: value for option, value, default in (("reset", reset, False), ("at", at, -1), ("limit", limit, None)) if value != default}
        if given:
            check_no_clash("stream_async", fn, given)
        current = self._data.get(name)
        self.assign({name: current.reloading() if isinstance(current, AsyncResult) and not reset else AsyncResult.loading()})
        record = TaskRecord("stream", name, fn, args, kwargs, reset, at, limit)
        self._require_runtime("stream_async").tasks.start(_key("stream", name), record)
        return self

    def cancel_async(self, name_or_result: Any, reason: Any = "cancelled") -> Self:
        """Cancel a task; its callback gets ``Exit(reason)`` (assigns become failed).

        Pass the ``start_async`` name, or an assign key / its ``AsyncResult``.
        """
        runtime = self._require_runtime("cancel_async")
        if isinstance(name_or_result, AsyncResult):
            matches = [k for k, v in self._data.items() if v is name_or_result]
            candidates = [key for key in (_assign_key_containing(runtime, k) for k in matches) if key is not None]
        else:
            candidates = [
                k
                for k in (_key("start", name_or_result), _key("stream", name_or_result), _assign_key_containing(runtime, name_or_result))
                if k is not None
            ]
        for key in candidates:
            if runtime.tasks.cancel(key, reason):
                break
        return self


def _assign_key_containing(runtime: Runtime, key: Any) -> TaskKey | None:
    for task_key in runtime.tasks.keys():
        if task_key[0] == "assign" and key in task_key[1]:
            return task_key
    return None


# ----------------------------------------------------------------------------------------
# Applying outcomes (called by the session, one message at a time)
# ----------------------------------------------------------------------------------------


def apply_assign_outcome(socket: SocketState, record: TaskRecord, outcome: Outcome) -> None:
    keys: tuple[str, ...] = record.name
    if isinstance(outcome, Ok):
        value = outcome.value
        # One key and a mapping holding exactly that key is LiveView's {:ok, %{org: org}} form.
        if len(keys) == 1 and not (isinstance(value, Mapping) and set(value) == set(keys)):
            values = {keys[0]: value}
        elif isinstance(value, Mapping):
            missing = [k for k in keys if k not in value]
            if missing:
                reason = CallbackReturnError(
                    f"invalid return from {record.label} function {getattr(record.fn, '__qualname__', record.fn)!r}: "
                    f"missing keys {missing}\nExpected a mapping with every key: {list(keys)}\nGot: {_short(value)}"
                )
                _fail_all(socket, keys, reason)
                return
            values = {k: value[k] for k in keys}
        else:
            reason = CallbackReturnError(
                f"invalid return from {record.label} function: expected a mapping with keys {list(keys)}\nGot: {_short(value)}"
            )
            _fail_all(socket, keys, reason)
            return
        for key, val in values.items():
            current = socket._data.get(key)
            base = current if isinstance(current, AsyncResult) else AsyncResult.loading()
            socket.assign({key: base.ok_with(val)})
    else:
        _fail_all(socket, keys, outcome.reason)


def _fail_all(socket: SocketState, keys: Iterable[str], reason: Any) -> None:
    for key in keys:
        current = socket._data.get(key)
        base = current if isinstance(current, AsyncResult) else AsyncResult.loading()
        socket.assign({key: base.failed_with(reason)})


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 200 else text[:197] + "..."
