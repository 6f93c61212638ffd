"""Entry point of a server under test: ``python -m bench.serve MODULE:FACTORY --port N``.

uvicorn with one worker (``--workers N`` for more), ``--log-level warning`` and no access log; the open-file limit is
raised to its hard maximum first, so thousands of streams fit.
"""

from __future__ import annotations

import argparse
import resource

import uvicorn


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1_048_576
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("app", help="MODULE:FACTORY returning an ASGI app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", default="auto")
    parser.add_argument("--http", default="auto")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    raise_fd_limit()
    uvicorn.run(
        args.app,
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        loop=args.loop,
        http=args.http,
        backlog=4096,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
