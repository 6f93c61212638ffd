"""Apps served by the benchmarks: the fastapi-live bench app and the hand-written baselines.

What the apps share lives here: their import paths, the data their pages show and the slow
loads. It imports nothing from ``fastapi_live``, so the baselines and pyview stay independent.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
LIVE_APP = "bench.apps.live_app:create_app"
HAND_APP = "bench.apps.hand_app:create_app"
PYVIEW_APP = "bench.apps.pyview_app:create_app"
BARE_APP = "bench.apps.bare_app:create_app"
ORG_LATENCY = 0.3
"""Seconds ``load_org`` takes (the dashboard's fast load)."""
PROFILE_LATENCY = 0.6
"""Seconds ``load_profile_rank`` takes (the dashboard's slowest load)."""


def card(i: int, value: int = 0, note: str = "steady") -> dict[str, Any]:
    """One card of the 10-region page."""
    return {"label": f"Metric {i}", "value": value, "note": note, "tags": ["ops", f"team-{i}", "daily"]}


def regions_state() -> dict[str, Any]:
    """The 10-region page's starting state (a fresh dict): its title and cards ``m0`` … ``m9``."""
    return {"title": "Ten regions", **{f"m{i}": card(i) for i in range(10)}}


def org_of(slug: str) -> dict[str, str]:
    """The dashboard's organisation (what ``load_org`` returns)."""
    return {"name": f"{slug.title()} Inc.", "plan": "pro"}


def profile_rank_of(slug: str) -> dict[str, Any]:
    """The dashboard's profile and rank (what ``load_profile_rank`` returns)."""
    return {"profile": {"name": f"{slug} admin"}, "rank": 7}


async def load_org(slug: str) -> dict[str, str]:
    await asyncio.sleep(ORG_LATENCY)
    return org_of(slug)


async def load_profile_rank(slug: str) -> dict[str, Any]:
    await asyncio.sleep(PROFILE_LATENCY)
    return profile_rank_of(slug)


def load_org_blocking(slug: str) -> dict[str, str]:
    """``load_org`` as a plain function: a blocking driver's call, run on a thread."""
    time.sleep(ORG_LATENCY)
    return org_of(slug)


def load_profile_rank_blocking(slug: str) -> dict[str, Any]:
    """``load_profile_rank`` as a plain function."""
    time.sleep(PROFILE_LATENCY)
    return profile_rank_of(slug)


def busy_work(seconds: float) -> None:
    """Hold the CPU (and the event loop, when called on it) for ``seconds``, never waiting."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


class GcPauses:
    """With ``BENCH_GC_STATS=1``: how long the cyclic garbage collector paused the server, by generation."""

    def __init__(self) -> None:
        self.installed = False
        self.started = 0.0
        self.count = [0, 0, 0]
        self.total_ms = [0.0, 0.0, 0.0]
        self.max_ms = [0.0, 0.0, 0.0]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        generation = info["generation"]
        elapsed = (time.perf_counter() - self.started) * 1000.0
        self.count[generation] += 1
        self.total_ms[generation] += elapsed
        self.max_ms[generation] = max(self.max_ms[generation], elapsed)

    @classmethod
    def install(cls) -> GcPauses:
        pauses = cls()
        if os.environ.get("BENCH_GC_STATS") == "1":
            gc.callbacks.append(pauses)
            pauses.installed = True
        return pauses

    def as_json(self) -> dict[str, Any] | None:
        if not self.installed:
            return None
        return {"count": self.count, "total_ms": self.total_ms, "max_ms": self.max_ms, "objects": len(gc.get_objects())}
