"""What each idle live page holds in the server: ``python -m bench.holders [--pages N] [--frames F] [--app live|hand]``.

The memory benchmark's setup (a GET /counter and its stream on the same keep-alive connection,
``--app hand``: the sse-starlette idle stream instead), with the server tracing its allocations
(``tracemalloc``) from just before the N pages open: the table lists what is still allocated once
they are idle, per page, grouped by file and line (``--group traceback``: by the first frame inside
fastapi_live, then the allocating line), with the objects' types counted by ``gc`` beside it.
Not part of the benchmark run: a tool to find the holders, its figures the allocator's (RSS also
holds the allocator's slack).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import linecache
import sys
import tracemalloc
import urllib.parse
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response

from . import wire
from .load import LivePage, bounded, open_live_page
from .servers import ServerProcess, Settings

_state: dict[str, Any] = {}


def _types() -> collections.Counter[str]:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def _where(trace: tracemalloc.Traceback, group: str) -> str:
    frames = list(reversed(trace))  # most recent call first (a Traceback runs oldest first)
    if group == "lineno":
        frame = frames[0]
        return f"{frame.filename.rsplit('site-packages/', 1)[-1]}:{frame.lineno}"
    ours = next((f for f in frames if "fastapi_live" in f.filename), None)
    first = frames[0]
    text = linecache.getline(first.filename, first.lineno).strip()[:60]
    at = f"{first.filename.rsplit('/', 2)[-2:][-1]}:{first.lineno} {text}"
    if ours is None:
        return f"[not ours] {at}"
    return f"{ours.filename.rsplit('/', 1)[-1]}:{ours.lineno} <- {at}"


def _share(trace: tracemalloc.Traceback) -> str:
    """Whose the bytes are: ours (a fastapi_live frame is on the stack), else the allocating package."""
    frames = list(reversed(trace))
    if any("fastapi_live" in f.filename for f in frames):
        return "fastapi_live (or called by it)"
    first = frames[0].filename
    for name in ("uvicorn", "starlette", "fastapi", "anyio", "sse_starlette", "httptools", "markupsafe", "jinja2"):
        if f"/{name}/" in first:
            return name
    if first.endswith("runners.py"):
        return "uvloop (C, no Python frame)"
    if "/asyncio/" in first or first.endswith("_weakrefset.py"):
        caller = next((n for f in frames for n in ("uvicorn", "starlette", "anyio", "sse_starlette") if f"/{n}/" in f.filename), "?")
        return f"asyncio (called by {caller})"
    return first.rsplit("/", 1)[-1]


def add_routes(app: FastAPI) -> FastAPI:
    async def start(frames: int = 25) -> Response:
        gc.collect()
        _state["types"] = _types()
        tracemalloc.start(frames)
        return JSONResponse({"tracing": True})

    async def report(pages: int, group: str = "lineno", top: int = 40, show: str = "") -> Response:
        gc.collect()
        types = _types()
        types.subtract(_state["types"])
        objects = [(obj, tracemalloc.get_object_traceback(obj)) for obj in gc.get_objects()]
        examples: list[str] = []
        if show:  # a few objects allocated there (untracked ones too, found as referents) and who holds them
            for obj, _ in objects:
                for held in gc.get_referents(obj):
                    trace = tracemalloc.get_object_traceback(held)
                    if trace is not None and show in _where(trace, group) and len(examples) < 5:
                        examples.append(f"{type(held).__name__} {repr(held)[:100]} held by {type(obj).__qualname__}")
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        kinds: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for obj, trace in objects:  # the tracked objects' types, by where each was allocated
            if trace is not None:
                kinds[_where(trace, group)][type(obj).__qualname__] += 1
        del objects
        snapshot = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)])
        sizes: collections.Counter[str] = collections.Counter()
        counts: collections.Counter[str] = collections.Counter()
        shares: collections.Counter[str] = collections.Counter()
        for trace in snapshot.traces:
            where = _where(trace.traceback, group)
            sizes[where] += trace.size
            counts[where] += 1
            shares[_share(trace.traceback)] += trace.size
        total = sum(sizes.values())
        shown = next(("\n".join(t.traceback.format()) for t in snapshot.traces if show and show in _where(t.traceback, group)), "")
        return JSONResponse(
            {
                "per_page_bytes": total / pages,
                "rows": [
                    [where, size / pages, counts[where] / pages, ", ".join(f"{n / pages:.2g} {kind}" for kind, n in kinds[where].most_common(3))]
                    for where, size in sizes.most_common(top)
                ],
                "shown": shown + ("\nexamples:\n" + "\n".join(examples) if examples else ""),
                "shares": [[share, size / pages] for share, size in shares.most_common()],
                "types": [[name, n / pages] for name, n in types.most_common(40) if n > 0],
            }
        )

    app.add_api_route("/bench/trace/start", start, methods=["POST"])
    app.add_api_route("/bench/trace/report", report, methods=["GET"])
    return app


def create_live_app() -> FastAPI:
    from .apps.live_app import create_app

    return add_routes(create_app())


def create_hand_app() -> FastAPI:
    from .apps.hand_app import create_app

    return add_routes(create_app())


async def _call(server: ServerProcess, method: str, path: str) -> Any:
    conn = await wire.connect(server.host, server.port)
    try:
        response = await asyncio.wait_for(conn.request(method, path), 600)
    finally:
        conn.close()
    if response.status != 200:
        raise wire.HttpError(f"{method} {path} answered {response.status}: {response.text[:300]}")
    return json.loads(response.body)


async def main(args: argparse.Namespace) -> None:
    settings = Settings(quick=False)
    app = "bench.holders:create_live_app" if args.app == "live" else "bench.holders:create_hand_app"
    pages: list[LivePage] = []
    conns: list[wire.Connection] = []

    async def one(_: int) -> None:
        if args.app == "live":
            pages.append(await open_live_page(server.host, server.port, "/counter"))
        else:
            conn = await wire.connect(server.host, server.port)
            conns.append(conn)
            await asyncio.wait_for(conn.open_stream("/idle", None, None), 20)

    async with ServerProcess(app, settings, label=f"holders-{args.app}") as server:
        try:
            await bounded(range(20), 10, one)
            await _call(server, "POST", f"/bench/trace/start?frames={args.frames}")
            await bounded(range(args.pages), 50, one)
            await asyncio.sleep(2.0)
            query = urllib.parse.urlencode({"pages": args.pages, "group": args.group, "top": args.top, "show": args.show})
            result = await _call(server, "GET", f"/bench/trace/report?{query}")
        finally:
            for page in pages:
                page.close()
            for conn in conns:
                conn.close()
    if result["shown"]:
        print(f"a traceback of {args.show!r}:\n{result['shown']}\n")
    print(f"traced per page: {result['per_page_bytes']:.0f} B")
    print(f"{'bytes/page':>10} {'blocks/page':>11}  where")
    for where, size, count, kinds in result["rows"]:
        print(f"{size:10.1f} {count:11.2f}  {where}" + (f"  [{kinds}]" if kinds else ""))
    print("\nby owner (bytes/page):")
    for share, size in result["shares"]:
        print(f"{size:10.1f}  {share}")
    print("\nobjects per page by type (gc-tracked only):")
    for name, n in result["types"]:
        print(f"{n:8.2f}  {name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.holders")
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument("--group", choices=("lineno", "traceback"), default="lineno")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--show", default="", help="print the whole traceback of one allocation whose site contains this text")
    parser.add_argument("--app", choices=("live", "hand"), default="live")
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
