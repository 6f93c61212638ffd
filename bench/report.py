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
    """One line of the table: a fastapi-live figure beside its baseline and pyview's, from the same run."""

    benchmark: str
    live: float | None
    baseline: float | None
    unit: str
    target: str = "—"
    check: Callable[[float, float], bool] | None = field(default=None, repr=False)
    """(live, baseline) -> met?; None when the row has no target against the baseline."""
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    group: str = ""
    pyview: float | None = None
    pyview_check: Callable[[float, float], bool] | None = field(default=None, repr=False)
    """(live, pyview) -> met?; None when the row has no target against pyview."""
    pyview_error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.live is None or self.baseline is None or self.baseline == 0:
            return None
        return self.live / self.baseline

    @property
    def pyview_ratio(self) -> float | None:
        if self.live is None or self.pyview is None or self.pyview == 0:
            return None
        return self.live / self.pyview

    @property
    def met(self) -> bool | None:
        """Every target of the row met; None when it has none or a figure it needs is missing."""
        results: list[bool] = []
        for check, other in ((self.check, self.baseline), (self.pyview_check, self.pyview)):
            if check is None:
                continue
            if self.live is None or other is None:
                return None
            results.append(bool(check(self.live, other)))
        return all(results) if results else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("check")
        data.pop("pyview_check")
        data["ratio"] = self.ratio
        data["pyview_ratio"] = self.pyview_ratio
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


def _ratio(value: float | None) -> str:
    if value is None:
        return "—"
    if 0 < value < 0.01:
        return f"{value:.2g}×"  # two significant digits, not "0.00×"
    return f"{value:.2f}×"


def table(rows: Sequence[Row], header: str) -> str:
    columns = ["benchmark", "fastapi-live", "baseline", "ratio", "pyview", "vs pyview", "target", "met?"]
    cells: list[list[str]] = []
    for row in rows:
        pyview = _number(row.pyview, row.unit)
        if row.pyview_error is not None:
            pyview = "not run" if row.pyview_error.startswith("not run") else "error"
        if row.error is not None:
            status = "not run" if row.error.startswith("not run") else "error"
            cells.append([row.benchmark, status, _number(row.baseline, row.unit), "—", pyview, "—", row.target, "—"])
            continue
        cells.append(
            [
                row.benchmark,
                _number(row.live, row.unit),
                _number(row.baseline, row.unit),
                _ratio(row.ratio),
                pyview,
                _ratio(row.pyview_ratio),
                row.target,
                _yes_no(row.met),
            ]
        )
    widths = [max(len(columns[i]), *(len(c[i]) for c in cells)) if cells else len(columns[i]) for i in range(len(columns))]
    right = {1, 2, 3, 4, 5}

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
