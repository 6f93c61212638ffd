"""The ``LiveError`` tree: every error the library raises on purpose."""

from __future__ import annotations


class LiveError(Exception):
    """Base class of every error fastapi-live raises on purpose."""


class ConfigurationError(LiveError):
    """The library was set up wrongly (a template, a route, an option)."""


class MissingDependencyError(ConfigurationError):
    """An optional package is missing; the message names the extra to install."""


class CallbackReturnError(LiveError):
    """A user callback returned something the library cannot use."""


class CapturedSocketError(LiveError):
    """A function given to an async operation captures the socket or its assigns."""


class RedirectError(LiveError):
    """A redirect or navigation target that is not a local path, or an outside URL not marked ``external=``."""


class TokenError(LiveError):
    """A page token failed verification; ``reason`` is invalid, expired, outdated or foreign."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class EventError(LiveError):
    """An event could not be dispatched: unknown name or invalid parameters."""

    def __init__(self, message: str, *, status_code: int = 400, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.errors = errors or []
