"""A tiny TCP load balancer for tests: no sticky sessions, skips backends that are down."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from tests.support.servers import free_port


class RoundRobinProxy:
    """Forwards each new connection to the next backend that accepts it.

    ``pin(i)`` sends every new connection to backend ``i`` (while it is up) until
    ``spread()`` goes back to round robin. ``cut()`` drops every open connection and refuses
    new ones, as a network blip does, until ``restore()``.
    """

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._next = 0
        self._pinned: int | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._pipes: set[asyncio.Task[Any]] = set()
        self._down = False
        self._shared_streams: set[int] = set()  # ids of open connections that opened a shared live stream

    def start(self) -> RoundRobinProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def pin(self, index: int) -> None:
        self._pinned = index

    def spread(self) -> None:
        self._pinned = None

    def cut(self) -> None:
        async def drop() -> None:
            self._down = True
            for task in list(self._pipes):
                task.cancel()
            await asyncio.gather(*self._pipes, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(5)

    def restore(self) -> None:
        self._down = False

    def shared_streams(self) -> int:
        """Open client connections that carry a shared live stream (``X-Live-Mux: open``)."""
        return len(self._shared_streams)

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._pipes):
                task.cancel()
            await asyncio.gather(*self._pipes, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()

    def _order(self) -> list[int]:
        if self._pinned is not None:
            first = self._pinned
        else:
            first = self._next % len(self.backends)
            self._next += 1
        return [self.backends[(first + i) % len(self.backends)] for i in range(len(self.backends))]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            writer.close()
            return
        for port in self._order():
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue  # that backend is down: try the next
            for source, sink, tap in ((reader, upstream_writer, id(writer)), (upstream_reader, writer, None)):
                task = asyncio.get_running_loop().create_task(self._pipe(source, sink, tap))
                self._pipes.add(task)
                task.add_done_callback(self._pipes.discard)
            return
        writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tap: int | None) -> None:
        try:
            while data := await reader.read(65536):
                if tap is not None and b"x-live-mux: open" in data.lower():
                    self._shared_streams.add(tap)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._shared_streams.discard(tap or 0)
            with contextlib.suppress(Exception):
                writer.close()
