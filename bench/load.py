"""Client-side building blocks shared by the benchmarks: live pages, streams, bounded concurrency."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi_live.testing._sse import SSEMessage

from . import wire

T = TypeVar("T")
R = TypeVar("R")
STREAM_URL = "/_live/stream"
EVENT_URL = "/_live/event"


@dataclass
class LivePage:
    """A live page as a browser holds it: the cookie, the page token and connections."""

    token: str
    cookie: str
    page: wire.Connection
    stream: wire.Connection | None = None
    html: str = ""
    accept_encoding: str | None = None  # sent with its stream and events, as a browser's ``Accept-Encoding``

    def headers(self, event: str | None = None) -> dict[str, str]:
        headers = {"X-Live-Token": self.token, "Cookie": self.cookie, "HX-Request": "true"}
        if self.accept_encoding is not None:
            headers["Accept-Encoding"] = self.accept_encoding
        if event is not None:
            headers["X-Live-Event"] = event
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers

    def close(self) -> None:
        self.page.close()
        if self.stream is not None and self.stream is not self.page:
            self.stream.close()


async def open_live_page(
    host: str,
    port: int,
    path: str,
    *,
    stream: str = "same",
    on_message: wire.MessageCallback | None = None,
    timeout: float = 20.0,
    source: str | None = None,
    accept_encoding: str | None = None,
) -> LivePage:
    """GET a live page, then open its stream and wait for the hello frame.

    ``stream="same"`` reuses the page's keep-alive connection for the stream (one socket
    per page); ``"separate"`` keeps the page connection free for event POSTs. ``source``: the
    local address to connect from (a loopback address of its own has its own ephemeral ports).
    With ``accept_encoding``, the stream and the events send it (a browser sends ``gzip, deflate, br, zstd``).
    """
    conn = await connect(host, port, source)
    response = await asyncio.wait_for(conn.request("GET", path), timeout)
    if response.status != 200:
        conn.close()
        raise wire.HttpError(f"GET {path} answered {response.status}: {response.text[:200]}")
    page = LivePage(wire.token_of(response.text), wire.cookie_header(response.cookies()), conn, html=response.text, accept_encoding=accept_encoding)
    stream_conn = conn if stream == "same" else await connect(host, port, source)
    loop = asyncio.get_running_loop()
    hello: asyncio.Future[float] = loop.create_future()

    def first(message: SSEMessage, now: float) -> None:
        if not hello.done():
            hello.set_result(now)
        elif on_message is not None:
            on_message(message, now)

    page.stream = stream_conn
    stream_headers = {"X-Live-Token": page.token, "Cookie": page.cookie}
    if accept_encoding is not None:
        stream_headers["Accept-Encoding"] = accept_encoding
    await asyncio.wait_for(stream_conn.open_stream(STREAM_URL, stream_headers, first), timeout)
    await asyncio.wait_for(asyncio.shield(hello), timeout)
    return page


async def connect(host: str, port: int, source: str | None = None) -> wire.Connection:
    """``wire.connect``, from the local address ``source`` when given."""
    if source is None:
        return await wire.connect(host, port)
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: wire.Connection(host, port), host, port, local_addr=(source, 0))
    return protocol


async def bounded(items: Iterable[T], concurrency: int, fn: Callable[[T], Awaitable[R]]) -> list[R]:
    """``fn`` over ``items`` with at most ``concurrency`` in flight; results in order."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(item: T) -> R:
        async with semaphore:
            return await fn(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def settle_rss(read: Callable[[], int], *, minimum: float, maximum: float) -> int:
    """Wait ``minimum`` seconds, then until RSS moves < 0.5 % over half a second (at most ``maximum``)."""
    await asyncio.sleep(minimum)
    deadline = time.monotonic() + max(0.0, maximum - minimum)
    previous = read()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        current = read()
        if abs(current - previous) <= previous * 0.005:
            return current
        previous = current
    return read()


class CpuWindow:
    """Server and client CPU seconds read at the edges of a ``perf_counter`` window.

    ``sample`` runs beside the load (sleeps to the window's start, reads, sleeps to its end,
    reads again); ``percentages`` gives each side's CPU over the window as % of ``duration``.
    """

    def __init__(self, server_cpu: Callable[[], float], measure_from: float, measure_to: float) -> None:
        self.server_cpu = server_cpu
        self.measure_from = measure_from
        self.measure_to = measure_to
        self.cpu: dict[str, float] = {}

    async def sample(self) -> None:
        cpu = self.cpu
        await asyncio.sleep(max(0.0, self.measure_from - time.perf_counter()))
        cpu["from"], cpu["client_from"] = self.server_cpu(), time.process_time()
        await asyncio.sleep(max(0.0, self.measure_to - time.perf_counter()))
        cpu["to"], cpu["client_to"] = self.server_cpu(), time.process_time()

    def percentages(self, duration: float) -> dict[str, float]:
        cpu = self.cpu
        return {
            "server_cpu_pct": 100.0 * (cpu.get("to", 0.0) - cpu.get("from", 0.0)) / duration,
            "client_cpu_pct": 100.0 * (cpu.get("client_to", 0.0) - cpu.get("client_from", 0.0)) / duration,
        }


async def guarded(measure: Awaitable[dict[str, Any]], what: str) -> tuple[dict[str, Any] | None, str | None]:
    """Run one side of a comparison; a failure becomes an error text instead of sinking the benchmark.

    A pyview side is "not run" when pyview-web (the ``bench`` extra) is not installed.
    """
    if what.startswith("pyview") and importlib.util.find_spec("pyview") is None:
        if inspect.iscoroutine(measure):
            measure.close()
        return None, "not run: pyview-web is not installed (pip install -e '.[bench]')"
    try:
        return await measure, None
    except Exception as exc:
        return None, " ".join(f"{what} failed: {type(exc).__name__}: {exc}".split())[:400]
