"""``python -m bench.profiles FILE [--top N]``: summarise a py-spy raw profile written by ``--profile``.

Prints the functions with the most samples, inclusive (on the stack) and self (on top).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")
_NOISE = ("asyncio/", "runpy", "bench/serve.py", "uvicorn/main.py", "uvicorn/server.py", "uvicorn/_compat.py")


def summarise(path: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    on_top: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        on_top[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    out = [f"{path.name}: {total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", on_top)):
        out.append(f"== {title}")
        shown = [(frame, n) for frame, n in counter.most_common() if not any(noise in frame for noise in _NOISE)][:top]
        out.extend(f"{100 * n / max(total, 1):5.1f}%  {frame}" for frame, n in shown)
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profiles")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    for path in args.files:
        print(summarise(path, args.top))


if __name__ == "__main__":
    main()
