"""A client process holding thousands of idle live pages: ``python -m bench.crowd HOST PORT SOURCE FIRST``.

The scale benchmark (``bench/scale.py``) starts several of these beside itself, because one
process cannot hold 20,000 pages: the open-file limit caps each process (a page is one socket),
and one loopback source address has ~28,000 ephemeral ports, fewer once earlier benchmarks leave
connections in TIME_WAIT. Each crowd therefore raises its open-file limit to the hard maximum
and connects from a loopback address of its own (``127.0.0.2``, ``127.0.0.3``, …).

Commands arrive as JSON lines on stdin, answers leave as JSON lines on stdout:

* ``{"op": "open", "count": k}``: open ``k`` more ``/fan/{n}`` pages (page GET, then its stream on
  the same keep-alive connection, until the hello frame), numbered on from ``FIRST`` so every page
  has a ``user:{n}`` topic of its own; answers ``{"opened": total}``.
* ``{"op": "arm", "marker": m}``: the next message carrying ``m`` ends a round; answers
  ``{"armed": true}`` at once, then ``{"arrived": [perf_counter …], "cpu_ms": …}`` once every page
  held has seen it (the times are taken when the bytes arrived, in ``data_received``;
  ``perf_counter`` reads CLOCK_MONOTONIC, so they compare with the publisher's clock in another
  process). ``{"error": text}`` when they do not all arrive within 60 s.
* ``{"op": "close"}``: close every page and exit.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from .fanout import Arrivals
from .load import LivePage, bounded, open_live_page
from .serve import raise_fd_limit

CONCURRENCY = 50
"""Pages opened at once by one crowd (the memory and fan-out benchmarks open 50 at once too)."""
ROUND_TIMEOUT = 60.0


class Crowd:
    def __init__(self, host: str, port: int, source: str, first: int) -> None:
        self.host, self.port, self.source, self.first = host, port, source, first
        self.pages: list[LivePage] = []
        self.arrivals = Arrivals(0)

    async def open(self, count: int) -> dict[str, Any]:
        start = len(self.pages)
        opened: list[LivePage] = []

        async def one(index: int) -> None:
            page = await open_live_page(
                self.host, self.port, f"/fan/{self.first + index}", on_message=self.arrivals.callback(index), source=self.source, timeout=60.0
            )
            opened.append(page)

        try:
            await bounded(range(start, start + count), CONCURRENCY, one)
        finally:
            self.pages.extend(opened)
        return {"opened": len(self.pages)}

    def arm(self, marker: str, write: Any) -> dict[str, Any]:
        arrivals = self.arrivals
        arrivals.count = len(self.pages)
        arrivals.start_round()
        arrivals.marker = marker
        done = arrivals.done
        assert done is not None
        cpu = time.process_time()

        async def report() -> None:
            try:
                await asyncio.wait_for(asyncio.shield(done), ROUND_TIMEOUT)
            except TimeoutError:
                write({"error": f"{self.source}: {arrivals.remaining} of {arrivals.count} pages did not get {marker} within {ROUND_TIMEOUT:.0f} s"})
                return
            write({"arrived": arrivals.times, "cpu_ms": (time.process_time() - cpu) * 1000.0})

        asyncio.get_running_loop().create_task(report())
        return {"armed": True}

    def close(self) -> None:
        for page in self.pages:
            page.close()
        self.pages.clear()


async def main(host: str, port: int, source: str, first: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    crowd = Crowd(host, port, source, first)
    tasks: set[asyncio.Task[None]] = set()

    def write(answer: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()

    async def opening(count: int) -> None:
        try:
            write(await crowd.open(count))
        except Exception as exc:
            write({"error": f"{source}: opening pages failed after {len(crowd.pages)}: {type(exc).__name__}: {exc}"})

    while line := await reader.readline():
        command = json.loads(line)
        if command["op"] == "open":  # in a task: the loop keeps reading (and the streams keep flowing) meanwhile
            task = loop.create_task(opening(int(command["count"])))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        elif command["op"] == "arm":
            write(crowd.arm(str(command["marker"]), write))
        elif command["op"] == "close":
            break
    crowd.close()
    await asyncio.sleep(0.1)  # why: the transports' close callbacks run on the next loop turns; exiting first resets the sockets


def _run() -> None:
    host, port, source, first = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    raise_fd_limit()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(host, port, source, first))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main(host, port, source, first))


if __name__ == "__main__":
    _run()
