"""Result rows, the machine header, the fixed-width table and the JSON file."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One line of the table: a fastapi-live figure beside its baseline from the same run."""

    benchmark: str
    live: float | None
    baseline: float | None
    unit: str
    target: str = "—"
    check: Callable[[float, float], bool] | None = field(default=None, repr=False)
    """(live, baseline) -> met?; None when the row has no target."""
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    group: str = ""

    @property
    def ratio(self) -> float | None:
        if self.live is None or self.baseline is None or self.baseline == 0:
            return None
        return self.live / self.baseline

    @property
    def met(self) -> bool | None:
        if self.check is None or self.live is None or self.baseline is None:
            return None
        return bool(self.check(self.live, self.baseline))

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("check")
        data["ratio"] = self.ratio
        data["met"] = self.met
        return data


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine(settings_text: str) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "setup": settings_text,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def _number(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "—"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def _yes_no(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "NO")


def table(rows: Sequence[Row], header: str) -> str:
    columns = ["benchmark", "fastapi-live", "baseline", "ratio", "target", "met?"]
    cells: list[list[str]] = []
    for row in rows:
        if row.error is not None:
            status = "not run" if row.error.startswith("not run") else "error"
            cells.append([row.benchmark, status, _number(row.baseline, row.unit), "—", row.target, "—"])
            continue
        ratio = row.ratio
        cells.append(
            [
                row.benchmark,
                _number(row.live, row.unit),
                _number(row.baseline, row.unit),
                "—" if ratio is None else f"{ratio:.2f}×",
                row.target,
                _yes_no(row.met),
            ]
        )
    widths = [max(len(columns[i]), *(len(c[i]) for c in cells)) if cells else len(columns[i]) for i in range(len(columns))]
    right = {1, 2, 3}

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(values)]
        return "| " + " | ".join(parts) + " |"

    out = [header, line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(c) for c in cells)
    return "\n".join(out)


def write_json(path: Path, header: dict[str, Any], rows: Sequence[Row], notes: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": header, "rows": [r.as_json() for r in rows], "notes": list(notes)}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
