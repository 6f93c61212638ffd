"""Type aliases, protocols and the small records shared by every module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

HOOK_STAGES: tuple[str, ...] = ("handle_params", "handle_event", "handle_info", "handle_async", "after_render")

# ASGI, as Starlette spells it.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TaskKind = Literal["assign", "start", "stream"]
TaskKey = tuple[TaskKind, Any]
"""A task's identity within its session: (kind, keys tuple | task name | stream name)."""


@dataclass(slots=True)
class TaskRecord:
    """What the session must do with a finished task."""

    kind: TaskKind
    name: Any  # keys tuple for assign, task name for start, stream name for stream
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    reset: bool | Sequence[str] = False
    at: int = -1  # stream_async: where its items go, as stream_insert's ``at``
    limit: int | None = None  # stream_async: as stream_insert's ``limit``
    owner: str | None = None  # the component (its cid) whose task it is; None: the page's

    @property
    def key(self) -> TaskKey:
        return (self.kind, self.name)

    @property
    def label(self) -> str:
        if self.kind == "assign":
            return f"assign_async({list(self.name)!r})"
        return f"{self.kind}_async({self.name!r})"


class Topics(Protocol):
    """A session's PubSub topics, identity and presence, as its socket asks for them (``topics.py``)."""

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...

    async def identify(self, identity: str) -> None: ...

    async def track(self, topic: str, key: str, meta: Mapping[str, Any]) -> str: ...

    async def untrack(self, topic: str, key: str) -> None: ...

    async def update_presence(self, topic: str, key: str, meta: Mapping[str, Any]) -> str: ...


class Tasks(Protocol):
    """A session's running tasks, as its socket starts and cancels them (``tasks.py``)."""

    def start(self, key: TaskKey, record: TaskRecord) -> None: ...

    def cancel(self, key: TaskKey, reason: object) -> bool: ...

    def keys(self) -> list[TaskKey]: ...


class Runtime(Protocol):
    """What a socket needs from the session that owns it (implemented in ``session.py``)."""

    @property
    def topics(self) -> Topics: ...

    @property
    def tasks(self) -> Tasks: ...
