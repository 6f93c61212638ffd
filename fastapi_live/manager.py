"""``SessionManager``: the sessions this process holds, their streams, the shared heartbeat, and
the bounds on what pages nobody connected to may cost.

A page request mounts a session and starts its work at once; a real browser opens the page's
stream within milliseconds. Sessions whose stream never connected are bounded per browser
(``SessionConfig.max_unconnected_per_browser``) and per process (``max_unconnected``): past
either, the oldest is dropped (its work cancelled; a stream that still comes remounts it),
and until they connect their sync work may hold only part of the threads (``executor``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from .config import SessionConfig
from .connection import Connection
from .executor import SyncExecutor
from .presence import Presence
from .pubsub import PubSub
from .runner import Runner
from .session import LiveSession
from .telemetry import telemetry
from .transport import encode_comment
from .uploads import UploadSigner

log = logging.getLogger("fastapi_live")


class SessionManager:
    """The sessions this process holds, the shared heartbeat and the PubSub backend."""

    def __init__(
        self, config: SessionConfig, pubsub: PubSub, presence: Presence | None = None, *, upload_signer: UploadSigner | None = None
    ) -> None:
        self.config = config
        self.pubsub = pubsub
        self.presence = presence if presence is not None else Presence(pubsub)
        self.upload_signer = upload_signer or UploadSigner(secrets.token_hex(32))
        self.sessions: dict[str, LiveSession] = {}
        self.by_token: dict[str, LiveSession] = {}
        self.connections: set[Connection] = set()
        self.on_forget: Callable[[LiveSession], None] | None = None
        self.runner = Runner("fastapi-live sessions")
        self.executor = SyncExecutor(config.sync_threads, config.unconnected_sync_threads)
        # Sessions whose stream never connected, oldest first (dicts keep insertion order).
        self.unconnected: dict[str, LiveSession] = {}
        self._unconnected_by_browser: dict[str, dict[str, LiveSession]] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._shutdown_watch: asyncio.Task[None] | None = None

    def watch_shutdown(self, shutting_down: Callable[[], Awaitable[None]]) -> None:
        """Close every stream as soon as ``shutting_down()`` returns (the server got SIGTERM).

        One watcher per process, so clients reconnect to the next process at once instead
        of waiting for this one to be killed.
        """
        if self._shutdown_watch is None or self._shutdown_watch.done():
            self._shutdown_watch = asyncio.get_running_loop().create_task(self._close_streams_on_shutdown(shutting_down))

    async def _close_streams_on_shutdown(self, shutting_down: Callable[[], Awaitable[None]]) -> None:
        await shutting_down()
        for conn in list(self.connections):
            conn.close()

    def add(self, session: LiveSession) -> None:
        self.sessions[session.id] = session
        self.by_token[session.token] = session
        self._ensure_heartbeat()
        if not session.attached:
            self._hold_unconnected(session)
        if telemetry.on:
            telemetry.point("session", "start", session.view_name, session.id, url=session.url)

    def get(self, session_id: str) -> LiveSession | None:
        return self.sessions.get(session_id)

    def connected(self, session: LiveSession) -> None:
        """The session's stream attached: it no longer counts against the unconnected bounds."""
        self._release_unconnected(session)

    def forget(self, session: LiveSession) -> None:
        self._release_unconnected(session)
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
            if self.by_token.get(session.token) is session:
                del self.by_token[session.token]
            if self.on_forget is not None:
                self.on_forget(session)
            if telemetry.on:
                telemetry.point("session", "stop", session.view_name, session.id, time.monotonic() - session.created, url=session.url)

    # -- the unconnected bounds ------------------------------------------------------------------
    def _hold_unconnected(self, session: LiveSession) -> None:
        self.unconnected[session.id] = session
        of_browser = self._unconnected_by_browser.setdefault(session.browser_id, {})
        of_browser[session.id] = session
        config = self.config
        if len(of_browser) > config.max_unconnected_per_browser:
            self._drop_oldest(of_browser, f"its browser holds {len(of_browser)} (max_unconnected_per_browser={config.max_unconnected_per_browser})")
        if len(self.unconnected) > config.max_unconnected:
            self._drop_oldest(self.unconnected, f"this process holds {len(self.unconnected)} (max_unconnected={config.max_unconnected})")

    @staticmethod
    def _drop_oldest(sessions: dict[str, LiveSession], why: str) -> None:
        oldest = next(iter(sessions.values()))
        log.info("fastapi-live: dropped %s session %s, whose stream never connected: %s such sessions", oldest.view_name, oldest.id, why)
        oldest.shut()  # forgets it, and so releases it from the bounds

    def _release_unconnected(self, session: LiveSession) -> None:
        if self.unconnected.pop(session.id, None) is None:
            return
        of_browser = self._unconnected_by_browser.get(session.browser_id)
        if of_browser is not None:
            of_browser.pop(session.id, None)
            if not of_browser:
                del self._unconnected_by_browser[session.browser_id]

    # -- the heartbeat and the end --------------------------------------------------------------
    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat(), name="fastapi-live heartbeat")

    async def _beat(self) -> None:
        comment = encode_comment("hb")
        while True:
            await asyncio.sleep(self.config.heartbeat)
            for conn in list(self.connections):
                conn.send(comment)

    async def close_all(self) -> None:
        for session in list(self.sessions.values()):
            await session.close()
        for task in (self._heartbeat, self._shutdown_watch):
            if task is not None:
                task.cancel()
        self._heartbeat = self._shutdown_watch = None
        self.executor.shutdown()
