"""First render and events as instructions: what one page request, or one event, costs the
server, counted, not timed.

``python -m bench.instructions`` runs each server under Valgrind's callgrind (Debian's
``valgrind``), drives it over the wire as ``bench.first_render`` does (keep-alive GETs on 16
connections, each a browser sending its cookie back), and prints the instructions the server
executed per request: the count of a long run less that of a short one, so start-up, imports
and shutdown cancel out. The count does not move with the machine's load, so a change's effect
on the first render can be read on a busy machine, and its ratio beside the hand-written
``Jinja2Templates`` endpoint follows the req/s ratio of ``bench.first_render`` closely.

``--events``: the event round trip of ``bench.events`` instead (16 clients, each with its page
and open stream, looping ``inc`` events): fastapi-live's, the FastAPI + sse-starlette floor's
(POST, then the fragment on the stream) and the bare ASGI app's.

Run under callgrind, a server is about 50 times slower: each app takes about half a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from . import wire
from .apps import BARE_APP, HAND_APP, LIVE_APP
from .events import RoundTrip, event_trip, hand_trip
from .load import LivePage, bounded, open_live_page
from .servers import ROOT, free_port

CONNECTIONS = 16
SHORT, LONG = 320, 1920  # requests in the two runs: their difference is what is reported
_COLLECTED = re.compile(r"Collected : (\d+)")


@dataclass(frozen=True)
class Target:
    label: str
    app: str
    path: str  # the page GET; for an event target, how its clients are set up (``_CLIENTS``)
    events: bool = False
    env: dict[str, str] = field(default_factory=dict)


TARGETS = (Target("hand-written Jinja2Templates", HAND_APP, "/page"), Target("fastapi-live", LIVE_APP, "/counter"))
EVENT_TARGETS = (
    Target("FastAPI + sse-starlette (POST, fragment on the stream)", HAND_APP, "hand", events=True),
    Target("fastapi-live", LIVE_APP, "live", events=True),
    Target("bare ASGI app (the limit)", BARE_APP, "bare", events=True),
)


async def _live_client(port: int, conns: list[wire.Connection]) -> RoundTrip:
    page = await open_live_page("127.0.0.1", port, "/counter", stream="separate")
    conns.extend(c for c in (page.page, page.stream) if c is not None)
    return event_trip(page, "event")


async def _bare_client(port: int, conns: list[wire.Connection]) -> RoundTrip:
    conn = await wire.connect("127.0.0.1", port)
    conns.append(conn)
    return event_trip(LivePage(f"bare-token-{len(conns)}", "fastapi_live_browser=bare", conn), "bare event")


_CLIENTS: dict[str, Callable[[int, list[wire.Connection]], Awaitable[RoundTrip]]] = {
    "hand": lambda port, conns: hand_trip("127.0.0.1", port, conns),
    "live": _live_client,
    "bare": _bare_client,
}


async def _wait_up(port: int, proc: subprocess.Popen[str]) -> None:
    for _ in range(600):  # callgrind starts the server slowly
        if proc.poll() is not None:
            raise RuntimeError(f"the server under callgrind exited with {proc.returncode} before it answered")
        try:
            probe = await wire.connect("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        probe.close()
        return


async def _drive_events(port: int, kind: str, events: int, proc: subprocess.Popen[str]) -> None:
    await _wait_up(port, proc)
    conns: list[wire.Connection] = []
    try:
        trips = await bounded(range(CONNECTIONS), 4, lambda _: _CLIENTS[kind](port, conns))

        async def client(trip: RoundTrip) -> None:
            for sent in range(1, events // CONNECTIONS + 1):
                _, _, count = await trip()
                if count != sent:
                    raise wire.HttpError(f"after {sent} events the fragment shows Count: {count}")

        await asyncio.gather(*(client(trip) for trip in trips))
    finally:
        for conn in conns:
            conn.close()


async def _drive(port: int, path: str, requests: int, proc: subprocess.Popen[str]) -> None:
    await _wait_up(port, proc)
    conns = [await wire.connect("127.0.0.1", port) for _ in range(CONNECTIONS)]

    async def browser(conn: wire.Connection) -> None:
        cookie: str | None = None
        for _ in range(requests // CONNECTIONS):
            response = await conn.request("GET", path, {"Cookie": cookie} if cookie else None)
            if response.status != 200:
                raise wire.HttpError(f"GET {path}: {response.status}")
            if cookie is None and response.cookies():
                cookie = wire.cookie_header(response.cookies())

    try:
        await asyncio.gather(*(browser(conn) for conn in conns))
    finally:
        for conn in conns:
            conn.close()


def count(target: Target, requests: int) -> int:
    """Instructions the server executed, from start to shutdown, answering ``requests`` GETs (or events)."""
    port = free_port()
    env = {**os.environ, **target.env, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    env.pop("REDIS_URL", None)
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m", "bench.serve", target.app, "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        asyncio.run(_drive_events(port, target.path, requests, proc) if target.events else _drive(port, target.path, requests, proc))
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    found = _COLLECTED.search(err)
    if found is None:
        raise RuntimeError(f"callgrind printed no instruction count for {target.app}:\n{err[-2000:]}")
    return int(found.group(1))


def per_request(target: Target) -> float:
    return (count(target, LONG) - count(target, SHORT)) / (LONG - SHORT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", action="store_true", help="the event round trip instead of the first render")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("bench.instructions needs Valgrind: apt-get install valgrind", file=sys.stderr)
        return 2
    if args.events:
        floor, live, bare = _table("event round trip, server instructions per event", EVENT_TARGETS, "vs the floor")
        print(f"fastapi-live does {live / floor:.2f}× the floor's work per event (events/s ratio ≈ {floor / live:.2f}×), {live / bare:.2f}× the bare app's")
    else:
        hand, live = _table("first render GET, server instructions per request", TARGETS, "vs hand-written")
        print(f"fastapi-live does {live / hand:.2f}× the hand-written endpoint's work per page (req/s ratio ≈ {hand / live:.2f}×)")
    return 0


def _table(title: str, targets: tuple[Target, ...], beside: str) -> list[float]:
    """Count ``targets`` and print them as a table beside the first; their figures, in order."""
    figures = [per_request(target) for target in targets]
    print(f"| {title} | instructions | {beside} |")
    print("|---|---:|---:|")
    for target, value in zip(targets, figures, strict=True):
        print(f"| {target.label} | {value:,.0f} | {figures[0] / value:.2f}× |")
    return figures


if __name__ == "__main__":
    raise SystemExit(main())
