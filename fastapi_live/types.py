"""Type aliases and protocols shared by every module."""

from __future__ import annotations

from typing import Any, Protocol

HOOK_STAGES: tuple[str, ...] = ("handle_event", "handle_info", "handle_async", "after_render")


class Runtime(Protocol):
    """What a socket needs from the session that owns it (implemented in ``session.py``)."""

    def start_task(self, name: object, runner: Any) -> None: ...

    def cancel_task(self, name: object, reason: object) -> bool: ...

    def has_task(self, name: object) -> bool: ...

    def task_keys(self) -> list[Any]: ...

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...
