"""Apps served by the benchmarks: the fastapi-live bench app and the hand-written baselines."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
ORG_LATENCY = 0.3
"""Seconds ``load_org`` takes (the dashboard's fast load)."""
PROFILE_LATENCY = 0.6
"""Seconds ``load_profile_rank`` takes (the dashboard's slowest load)."""


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
