"""7. Uploading 100 MB in one entry: fastapi-live's chunked upload beside a plain FastAPI ``UploadFile``
endpoint (one multipart POST), in the same run, and the server's RSS growth while it receives.

fastapi-live: the page GET, the preflight event, then the file in raw chunks of the upload's
``chunk_size`` (1 MiB by default), one POST after another on one keep-alive connection, as
the browser client sends them; the clock runs from the first chunk to the last answer. The
plain endpoint: one ``multipart/form-data`` POST of the same bytes. Rounds alternate between
the two servers (both pinned to the server CPU); the median round counts. RSS is sampled
every 10 ms during each upload; growth is its peak minus its level just before.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from . import wire
from .report import Row, median
from .servers import ServerProcess, Settings

NAME = "uploads"
LIVE = "bench.apps.upload_app:create_live_app"
PLAIN = "bench.apps.upload_app:create_plain_app"
TARGET_RATIO = 0.7
TARGET_RSS_MB = 20.0
BOUNDARY = "benchboundary7MA4YWxkTrZu0gW"


class RssPeak:
    """Samples a server's RSS in the background; ``growth`` is the peak over the level at start."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.start = server.rss()
        self.peak = self.start
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self.server.rss())
            await asyncio.sleep(0.01)

    async def stop(self) -> int:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.peak = max(self.peak, self.server.rss())
        return self.peak - self.start


async def live_round(server: ServerProcess, data: bytes) -> tuple[float, int]:
    conn = await wire.connect(server.host, server.port)
    try:
        page = await conn.request("GET", "/upload")
        token = wire.token_of(page.text)
        cookie = wire.cookie_header(page.cookies())
        base = {"Cookie": cookie, "X-Live-Token": token, "HX-Request": "true"}
        entries = [{"ref": "bench1", "name": "big.bin", "size": len(data), "type": "application/octet-stream"}]
        body = json.dumps({"upload": "file", "entries": entries}).encode()
        preflight = await conn.request("POST", "/_live/event", {**base, "X-Live-Event": "live:upload", "Content-Type": "application/json"}, body)
        grant = json.loads(preflight.headers["x-live-reply"])["entries"]["bench1"]
        chunk_size = int(grant["chunk_size"])
        view = memoryview(data)
        rss = RssPeak(server)
        started = time.perf_counter()
        offset = 0
        while True:
            headers = {
                **base,
                "X-Live-Upload-Token": grant["token"],
                "X-Live-Upload-Ref": "bench1",
                "X-Live-Upload-Offset": str(offset),
                "Content-Type": "application/octet-stream",
            }
            response = await conn.request("POST", "/_live/upload", headers, bytes(view[offset : offset + chunk_size]))
            if response.status != 200:
                raise wire.HttpError(f"chunk at {offset} answered {response.status}: {response.text[:200]}")
            answer = json.loads(response.body)
            offset = answer["offset"]
            if answer["done"]:
                break
        elapsed = time.perf_counter() - started
        growth = await rss.stop()
        consumed = await conn.request("POST", "/_live/event", {**base, "X-Live-Event": "consume"})
        if str(len(data)) not in consumed.text:
            raise wire.HttpError(f"consume did not see the whole file: {consumed.text[:200]}")
        return elapsed, growth
    finally:
        conn.close()


async def plain_round(server: ServerProcess, data: bytes) -> tuple[float, int]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    body = head + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    conn = await wire.connect(server.host, server.port)
    try:
        rss = RssPeak(server)
        started = time.perf_counter()
        response = await conn.request("POST", "/plain", {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, body)
        elapsed = time.perf_counter() - started
        growth = await rss.stop()
        if response.status != 200 or json.loads(response.body)["size"] != len(data):
            raise wire.HttpError(f"the plain endpoint answered {response.status}: {response.text[:200]}")
        return elapsed, growth
    finally:
        conn.close()


async def run(settings: Settings) -> list[Row]:
    size = settings.pick(100_000_000, 20_000_000)
    rounds = settings.pick(5, 2)
    data = os.urandom(size)
    live_times: list[float] = []
    plain_times: list[float] = []
    live_growth: list[int] = []
    plain_growth: list[int] = []
    async with ServerProcess(LIVE, settings, label="uploads-live") as live, ServerProcess(PLAIN, settings, label="uploads-plain") as plain:
        await live_round(live, data[: 4_000_000])  # warm-up: imports, first render, first temp file
        await plain_round(plain, data[: 4_000_000])
        for _ in range(rounds):
            elapsed, growth = await live_round(live, data)
            live_times.append(elapsed)
            live_growth.append(growth)
            elapsed, growth = await plain_round(plain, data)
            plain_times.append(elapsed)
            plain_growth.append(growth)
        leftover = (await live.stats())["temp_files"]
    mb = size / 1_000_000
    live_rate, plain_rate = mb / median(live_times), mb / median(plain_times)
    details: dict[str, Any] = {
        "bytes": size,
        "rounds": rounds,
        "live_s": live_times,
        "plain_s": plain_times,
        "live_rss_growth_bytes": live_growth,
        "plain_rss_growth_bytes": plain_growth,
        "temp_files_left": leftover,
    }
    if leftover:
        settings.warnings.append(f"uploads: {leftover} fastapi-live temporary files were left after consume")
    return [
        Row(
            f"upload {mb:,.0f} MB in one entry: throughput (vs a plain FastAPI UploadFile endpoint)",
            live_rate,
            plain_rate,
            "MB/s",
            target=f"≥ {TARGET_RATIO}×",
            check=lambda live_value, base: live_value >= TARGET_RATIO * base,
            details=details,
            group=NAME,
        ),
        Row(
            f"upload {mb:,.0f} MB: server RSS growth while receiving, worst round (vs the plain endpoint's)",
            max(live_growth) / 1_000_000,
            max(plain_growth) / 1_000_000,
            "MB",
            target=f"< {TARGET_RSS_MB:.0f} MB",
            check=lambda live_value, base: live_value < TARGET_RSS_MB,
            details=details,
            group=NAME,
        ),
    ]
