"""The session's mailbox messages: one frozen type per kind, handled by ``match``."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .async_ops import Ok, Outcome, StreamBatch
from .exceptions import EventError, LiveError
from .logs import oneline
from .types import TaskKey, TaskRecord
from .view import LiveSocket
from .wire import BUILTIN_EVENTS, OP_ERROR, PATCH_EVENT, RESERVED_EVENT_PREFIX, push_element

log = logging.getLogger("fastapi_live")


@dataclass(frozen=True, slots=True)
class Event:
    """A client event; its answer (patch HTML, reply) or error goes to ``answer``.

    ``context`` is its request's when it waits its turn while telemetry listens (its span belongs to that request).
    """

    name: str
    params: dict[str, Any]
    answer: asyncio.Future[tuple[str, Any]]
    context: contextvars.Context | None = None


@dataclass(frozen=True, slots=True)
class Patch:
    """The browser patched the page's URL (a patch link, Back or Forward); answered like an event."""

    url: str
    answer: asyncio.Future[tuple[str, Any]]


@dataclass(frozen=True, slots=True)
class Call:
    """``fn(socket)`` run between messages (the testing toolkit's and the server's own calls)."""

    fn: Callable[[LiveSocket], Any]
    answer: asyncio.Future[Any]


@dataclass(frozen=True, slots=True)
class Info:
    """A message for ``handle_info``: from PubSub, ``send_info`` or a hook."""

    message: Any


@dataclass(frozen=True, slots=True)
class TaskDone:
    """A task's outcome; ``task`` None for a cancel, which always applies."""

    key: TaskKey
    task: asyncio.Task[None] | None
    record: TaskRecord
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch of items from a ``stream_async`` async generator."""

    key: TaskKey
    task: asyncio.Task[None] | None
    record: TaskRecord
    batch: StreamBatch


@dataclass(frozen=True, slots=True)
class UploadChanged:
    """An upload entry's bytes arrived (throttled), it completed or it failed: run its ``progress=`` and render."""

    upload: str
    ref: str


Message = Event | Patch | Call | Info | TaskDone | Batch | UploadChanged


def refuse(message: Message) -> None:
    """A message for a closed session: an event or call waiting on it hears so."""
    if isinstance(message, (Event, Patch, Call)) and not message.answer.done():
        message.answer.set_exception(LiveError("the live session is closed"))


_KINDS: dict[type[Message], str] = {Info: "info", TaskDone: "task", Batch: "batch", UploadChanged: "upload"}  # as the page hears of a failure


def fail(message: Message, exc: Exception, view_name: str) -> str:
    """A handler raised: the log hears of it, the event or call waiting hears ``exc``; for a
    server message, the error the page shows (it hears that something failed, never what: the
    traceback stays in the log). Empty for a message someone waits on."""
    if isinstance(message, (Event, Patch, Call)):
        name = message.name if isinstance(message, Event) else PATCH_EVENT
        if isinstance(message, (Event, Patch)) and isinstance(exc, EventError):
            log.warning("%s: refused event %r: %s", view_name, name, oneline(exc))
        elif isinstance(message, (Event, Patch)):
            log.error("%s: event %r raised", view_name, name, exc_info=exc)
        if not message.answer.done():
            message.answer.set_exception(exc)
        return ""
    kind = _KINDS[type(message)]
    log.error("%s: %s handler raised", view_name, kind, exc_info=exc)
    return push_element(OP_ERROR, "server", {"message": "Something went wrong on the server.", "during": kind})


def unknown_builtin(name: str) -> EventError:
    """The refusal of an event named like the library's own that is none of them."""
    return EventError(
        f"unknown event {name!r}: names starting with {RESERVED_EVENT_PREFIX!r} are the library's own\n"
        f"Expected one of: {', '.join(BUILTIN_EVENTS)}\nGot: {name!r}",
        status_code=400,
    )


def telemetry_span(message: Message) -> tuple[str, dict[str, Any]] | None:
    """The telemetry span a message is handled in (name, metadata); None for the library's own."""
    match message:
        case Event(name, params, _, context):
            return "handle_event", {"event": name, "params": params, "context": context}
        case Info(info):
            return "handle_info", {"message": type(info).__name__}
        case TaskDone(_, _, record, outcome):
            name = record.name if isinstance(record.name, str) else ", ".join(record.name)
            return "handle_async", {"name": name, "kind": record.kind, "ok": isinstance(outcome, Ok)}
    return None
