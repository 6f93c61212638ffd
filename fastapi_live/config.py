"""``SessionConfig``: the timing and size limits of live sessions."""

from __future__ import annotations

from dataclasses import dataclass

from .exceptions import ConfigurationError


@dataclass(slots=True)
class SessionConfig:
    """Timing and size limits of sessions; every value has a serious default."""

    connect_timeout: float = 10.0
    """Seconds a rendered page may take to open its stream before its session (and its work) is
    dropped; a stream that comes later remounts the page."""
    disconnect_grace: float = 60.0
    """Seconds a session outlives its stream, so that a reconnect finds it."""
    replay_size: int = 256
    """Frames kept for replay to a reconnecting stream (``Last-Event-ID``)."""
    outbound_limit: int = 512
    """Frames queued for a slow stream before it is closed (its reconnect then resyncs)."""
    outbound_bytes: int = 4_000_000
    """Bytes queued for a slow stream before it is closed, whatever the frame count."""
    replay_bytes: int = 1_000_000
    """Bytes of frames kept for replay; older frames are dropped (a reconnect then resyncs)."""
    retry_ms: int = 500
    """The SSE ``retry:`` the client starts its reconnect backoff from."""
    heartbeat: float = 15.0
    """Seconds between heartbeat comments on idle streams (one shared timer)."""
    mount_warning_ms: float | None = 50.0
    """Warn when ``mount`` blocks longer than this; None turns the warning off."""
    upload_dir: str | None = None
    """Where uploads' temporary files go; None: the system's temporary directory."""
    upload_progress_interval: float = 0.1
    """Seconds between progress renders of one upload entry while its bytes arrive."""
    mailbox_limit: int = 10_000
    """Messages queued for one session before it is closed (logged; its page remounts on reconnect)."""
    max_unconnected_per_browser: int = 32
    """Sessions one browser may hold whose stream never connected; past it, its oldest is dropped."""
    max_unconnected: int = 2_000
    """Sessions whose stream never connected, in the whole process; past it, the oldest is dropped."""
    sync_threads: int | None = None
    """Threads for sync functions given to async operations (None: asyncio's default, min(32, CPUs + 4))."""
    unconnected_sync_threads: int | None = None
    """Of those, how many sessions whose stream never connected may hold at once (None: half)."""
    freeze_gc_at_startup: bool = True
    """At the end of the app's startup, move the objects alive then (modules, routes, templates)
    out of the garbage collector's passes (``gc.freeze()``): full collections, and the pauses
    they put on pages and publishes, then scan only what requests and sessions made."""
    gc_young_threshold: int | None = 10_000
    """At startup, collect the young generation every this many allocations instead of CPython's
    700 (``gc.set_threshold``), unless the process set its own: a fan-out's passing objects then
    die young instead of feeding full collections (a 2-worker Redis fan-out's worst publish went
    from 2.2× to 1.75× its median). None leaves the collector as it is."""

    def __post_init__(self) -> None:
        for name in ("replay_size", "outbound_limit", "mailbox_limit", "max_unconnected_per_browser", "max_unconnected"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ConfigurationError(f"SessionConfig.{name} must be a whole number of at least 1\nGot: {value!r}")
        threshold = self.gc_young_threshold
        if threshold is not None and (type(threshold) is not int or threshold < 1):
            raise ConfigurationError(
                f"SessionConfig.gc_young_threshold must be a whole number of at least 1, or None to leave the collector alone\nGot: {threshold!r}"
            )
