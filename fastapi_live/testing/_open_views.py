"""The live views still open, which the pytest plugin closes when a test ends, and the warning about their tasks."""

# No httpx here: the plugin loads in every pytest run of a project that installs
# fastapi-live, with or without the test extra.

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from typing import Protocol

from ._errors import PendingTasksWarning


class Closable(Protocol):
    """An open view the pytest plugin closes when a test ends."""

    def _close_blocking(self) -> list[str]: ...


_open: dict[int, Closable] = {}
_open_lock = threading.Lock()


def register_open(view: Closable) -> None:
    with _open_lock:
        _open[id(view)] = view


def unregister_open(view: Closable) -> None:
    with _open_lock:
        _open.pop(id(view), None)


def close_open_views() -> list[str]:
    """Close every view still open (from any client); returns the pending-task warnings."""
    with _open_lock:
        views = list(_open.values())
        _open.clear()
    messages: list[str] = []
    for view in views:
        messages.extend(view._close_blocking())
    return messages


def warn_pending(messages: Sequence[str], stacklevel: int = 3) -> None:
    for message in messages:
        warnings.warn(PendingTasksWarning(message), stacklevel=stacklevel)
