"""``SessionManager``: the sessions this process holds, their streams and the shared heartbeat."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

from .config import SessionConfig
from .connection import Connection
from .pubsub import PubSub
from .runner import Runner
from .session import LiveSession
from .transport import encode_comment
from .uploads import UploadSigner


class SessionManager:
    """The sessions this process holds, the shared heartbeat and the PubSub backend."""

    def __init__(self, config: SessionConfig, pubsub: PubSub, *, upload_signer: UploadSigner | None = None) -> None:
        self.config = config
        self.pubsub = pubsub
        self.upload_signer = upload_signer or UploadSigner(secrets.token_hex(32))
        self.sessions: dict[str, LiveSession] = {}
        self.by_token: dict[str, LiveSession] = {}
        self.connections: set[Connection] = set()
        self.on_forget: Callable[[LiveSession], None] | None = None
        self.runner = Runner("fastapi-live sessions")
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

    def get(self, session_id: str) -> LiveSession | None:
        return self.sessions.get(session_id)

    def forget(self, session: LiveSession) -> None:
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
            if self.by_token.get(session.token) is session:
                del self.by_token[session.token]
            if self.on_forget is not None:
                self.on_forget(session)

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
