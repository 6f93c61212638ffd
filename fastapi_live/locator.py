"""Where a session lives: one interface, in this process (``LocalLocator``) or in a cluster.

The router asks a locator to attach a stream to a session, or to have a session answer an
event, by session id alone; the locator finds the session here or routes to the process that
holds it (``cluster.ClusterLocator``). ``None`` from either means the session is gone
everywhere: the stream then remounts the page, the event answers 410.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from .connection import Connection
from .exceptions import EventError, LiveError
from .manager import SessionManager
from .session import LiveSession
from .uploads import Chunk, UploadRefused

log = logging.getLogger("fastapi_live")


@dataclass(frozen=True, slots=True)
class EventAnswer:
    """An event's outcome as HTTP will carry it: the patch and reply, or a status and why."""

    status: int = 200
    body: str = ""
    reply: Any = None
    detail: str = ""
    errors: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UploadAnswer:
    """A chunk's outcome as HTTP will carry it: 200 with the entry's offset, or a status and why."""

    status: int
    offset: int = 0
    done: bool = False
    detail: str = ""


GONE = EventAnswer(410, detail="the live session is gone; its stream will remount it")
CLOSED = EventAnswer(410, detail="the live session is gone; reload the page")
UPLOAD_GONE = UploadAnswer(410, detail="the live session is gone; reload the page and choose the file again")


async def answer_chunk(session: LiveSession, chunk: Chunk, body: AsyncIterator[bytes]) -> UploadAnswer:
    """Have ``session`` take one upload chunk; a refusal becomes its 4xx answer, never an escape."""
    try:
        result = await session.receive_chunk(chunk, body)
    except UploadRefused as exc:
        if exc.status < 500 and exc.status != 499:
            log.info("fastapi-live: refused an upload chunk for %s: %s", session.view_name, exc)
        return UploadAnswer(exc.status, detail=str(exc))
    except Exception as exc:
        log.error("%s: receiving an upload chunk failed", session.view_name, exc_info=exc)
        return UploadAnswer(500, detail=f"receiving the chunk failed on the server ({type(exc).__name__}); see the server log")
    return UploadAnswer(200, offset=result["offset"], done=result["done"])


async def answer_event(session: LiveSession, name: str, params: dict[str, Any]) -> EventAnswer:
    """Have ``session`` handle one event; the handler's failures become answers, never escapes."""
    try:
        body, reply = await session.handle_event(name, params)
    except EventError as exc:
        return EventAnswer(exc.status_code, detail=str(exc), errors=list(exc.errors))
    except LiveError as exc:
        if session.closed:
            return CLOSED
        return EventAnswer(500, detail=f"event {name!r} failed: {type(exc).__name__}")
    except Exception as exc:
        return EventAnswer(500, detail=f"event {name!r} failed on the server ({type(exc).__name__}); see the server log")
    return EventAnswer(body=body, reply=reply)


class SessionLocator(Protocol):
    """Finds the session behind a page token's id, wherever it lives."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def claim(self, session: LiveSession) -> None:
        """Record that this process holds ``session`` (after it mounted)."""
        ...

    async def attach(self, session_id: str, last_event_id: int | None) -> Connection | None:
        """A stream for the session, replaying from ``last_event_id``; None when it is gone."""
        ...

    async def attach_remounted(self, session_id: str) -> Connection | None:
        """The stream of a page just remounted (``LiveSession.attach_remount``); None when it is gone."""
        ...

    def detach(self, connection: Connection) -> None:
        """The browser's stream ended."""
        ...

    async def event(self, session_id: str, name: str, params: dict[str, Any]) -> EventAnswer:
        """The session's answer to an event (``GONE`` when it is gone)."""
        ...

    async def upload(self, session_id: str, chunk: Chunk, body: AsyncIterator[bytes]) -> UploadAnswer:
        """The session's answer to an upload chunk (410 when it is gone)."""
        ...


class LocalLocator:
    """Sessions of this process only: a dict lookup, nothing serialized."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def claim(self, session: LiveSession) -> None:
        return None

    async def attach(self, session_id: str, last_event_id: int | None) -> Connection | None:
        session = self.manager.get(session_id)
        return None if session is None else session.attach(last_event_id)

    async def attach_remounted(self, session_id: str) -> Connection | None:
        session = self.manager.get(session_id)
        return None if session is None or session.closed else session.attach_remount()

    def detach(self, connection: Connection) -> None:
        if isinstance(connection.owner, LiveSession):
            connection.owner.detach(connection)

    async def event(self, session_id: str, name: str, params: dict[str, Any]) -> EventAnswer:
        session = self.manager.get(session_id)
        if session is None:
            return GONE
        return await answer_event(session, name, params)

    async def upload(self, session_id: str, chunk: Chunk, body: AsyncIterator[bytes]) -> UploadAnswer:
        session = self.manager.get(session_id)
        if session is None:
            return UPLOAD_GONE
        return await answer_chunk(session, chunk, body)
