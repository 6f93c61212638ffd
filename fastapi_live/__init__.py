"""fastapi-live: Phoenix LiveView's patterns for FastAPI — live pages over SSE and htmx 4."""

from __future__ import annotations

from .async_ops import Exit, Ok, StreamBatch
from .async_result import AsyncResult
from .commands import JS
from .components import ComponentSocket, LiveComponent
from .config import SessionConfig
from .dashboard import live_dashboard
from .exceptions import (
    CallbackReturnError,
    CapturedSocketError,
    ConfigurationError,
    EventError,
    LiveError,
    MissingDependencyError,
    RedirectError,
    TokenError,
)
from .forms import Form, FormField, to_form
from .lifecycle import CONT, HALT
from .presence import Presence, PresenceDiff
from .pubsub import PubSub, create_pubsub
from .router import LiveHook, LiveRouter
from .telemetry import Telemetry, TelemetryEvent
from .uploads import UploadConfig, UploadEntry, consume_uploaded_entries, consume_uploaded_entry
from .view import LiveSocket, LiveView, event

__version__ = "0.1.0"

__all__ = [
    "CONT",
    "HALT",
    "JS",
    "AsyncResult",
    "CallbackReturnError",
    "CapturedSocketError",
    "ComponentSocket",
    "ConfigurationError",
    "EventError",
    "Exit",
    "Form",
    "FormField",
    "LiveComponent",
    "LiveError",
    "LiveHook",
    "LiveRouter",
    "LiveSocket",
    "LiveView",
    "MissingDependencyError",
    "Ok",
    "Presence",
    "PresenceDiff",
    "PubSub",
    "RedirectError",
    "SessionConfig",
    "StreamBatch",
    "Telemetry",
    "TelemetryEvent",
    "TokenError",
    "UploadConfig",
    "UploadEntry",
    "consume_uploaded_entries",
    "consume_uploaded_entry",
    "create_pubsub",
    "event",
    "live_dashboard",
    "to_form",
]
