"""The server's side of a failure: what the user's code raised, from the library's log, for the test's error."""

# The library answers the browser without the exception (a 500, an error page, an error
# frame on the stream) and logs it on the "fastapi_live" logger with its traceback. The
# app runs in the test's process, so the toolkit listens there while it drives the app:
# a request's capture takes what is logged in the request's own context (a mount runs
# there); a view's watcher takes what its session logs from its own tasks, recognised by a
# frame of the traceback holding the session, its view or its socket (the handler's
# ``self`` and ``socket``), so another session's failure is never reported as this one's.

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..session import LiveSession

_LOGGER = "fastapi_live"
_FRAMES = 3  # the traceback's last frames shown in a failure: where the user's code raised
_KEPT = 20  # a watcher keeps this many of its session's errors (a failed assign_async logs one too)


@dataclass(frozen=True, slots=True)
class ServerError:
    """An exception the library logged, with its log message."""

    exception: BaseException
    logged: str
    frame_id: int = -1
    """For a session's error: the id of the newest frame the session had sent when it was logged."""

    def describe(self) -> str:
        """The exception, as Python ends a traceback with it, then the traceback's last frames."""
        stack = traceback.extract_tb(self.exception.__traceback__)[-_FRAMES:]
        raised = "".join(traceback.format_exception_only(type(self.exception), self.exception)).rstrip()
        frames = "".join(traceback.format_list(stack)).rstrip()
        return f"Raised on the server: {raised}\nTraceback (most recent call last), its last {len(stack)} frames:\n{frames}"


@dataclass(slots=True)
class RequestErrors:
    """The errors logged while one request was served in its own context."""

    errors: list[ServerError] = field(default_factory=list)
    active: bool = True

    def last(self) -> ServerError | None:
        return self.errors[-1] if self.errors else None


class SessionErrors:
    """The errors a view's session logs, from any task, while the view is open.

    An error explains one failure: ``since`` and ``before_frame`` hand it out and forget
    it with every older one, so a later failure is never explained by an earlier error.
    """

    def __init__(self, session_of: Callable[[], LiveSession]) -> None:
        self._session_of = session_of
        self._errors: deque[tuple[int, ServerError]] = deque(maxlen=_KEPT)
        self._count = 0

    def offer(self, exception: BaseException, logged: str) -> None:
        session = self._session_of()
        if _involves(exception, session):
            self._errors.append((self._count, ServerError(exception, logged, session.last_frame_id)))
            self._count += 1

    def mark(self) -> int:
        """A point in time to ask ``since(mark)`` about."""
        return self._count

    def since(self, mark: int) -> ServerError | None:
        """The last error logged after ``mark``."""
        return self._take(lambda number, error: number >= mark)

    def before_frame(self, frame_id: int | None) -> ServerError | None:
        """The last error logged before the session sent frame ``frame_id`` (any frame when None)."""
        return self._take(lambda number, error: frame_id is None or error.frame_id < frame_id)

    def _take(self, wanted: Callable[[int, ServerError], bool]) -> ServerError | None:
        for index in range(len(self._errors) - 1, -1, -1):
            number, error = self._errors[index]
            if wanted(number, error):
                for _ in range(index + 1):
                    self._errors.popleft()
                return error
        return None


def _involves(exception: BaseException, session: LiveSession) -> bool:
    targets = {id(session), id(session.view), id(session.socket)}
    entry = exception.__traceback__
    while entry is not None:
        if any(id(value) in targets for value in entry.tb_frame.f_locals.values()):
            return True
        entry = entry.tb_next
    return False


_request: ContextVar[RequestErrors | None] = ContextVar("fastapi_live_testing_request_errors", default=None)


class _Listener(logging.Handler):
    """Hands each exception logged on the library's logger to the captures that want it."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.watchers: set[SessionErrors] = set()
        self.users = 0

    def emit(self, record: logging.LogRecord) -> None:
        exception = record.exc_info[1] if record.exc_info else None
        if exception is None:
            return
        logged = record.getMessage()
        capture = _request.get()
        if capture is not None and capture.active:
            capture.errors.append(ServerError(exception, logged))
        for watcher in list(self.watchers):
            watcher.offer(exception, logged)


_listener = _Listener()
_listener_lock = threading.Lock()


def _attach() -> None:
    with _listener_lock:
        if _listener.users == 0:
            logging.getLogger(_LOGGER).addHandler(_listener)
        _listener.users += 1


def _detach() -> None:
    with _listener_lock:
        _listener.users -= 1
        if _listener.users == 0:
            logging.getLogger(_LOGGER).removeHandler(_listener)


@contextlib.contextmanager
def request_errors() -> Iterator[RequestErrors]:
    """Capture what is logged while the requests sent inside the block are served."""
    capture = RequestErrors()
    token = _request.set(capture)
    _attach()
    try:
        yield capture
    finally:
        capture.active = False  # tasks the request started keep the context, not the capture
        _request.reset(token)
        _detach()


def watch_session(session_of: Callable[[], LiveSession]) -> SessionErrors:
    """Start collecting what the session (``session_of()``, as it is at the time) logs; ``unwatch`` stops it."""
    watcher = SessionErrors(session_of)
    _attach()
    with _listener_lock:
        _listener.watchers.add(watcher)
    return watcher


def unwatch(watcher: SessionErrors) -> None:
    with _listener_lock:
        if watcher not in _listener.watchers:
            return
        _listener.watchers.discard(watcher)
    _detach()
