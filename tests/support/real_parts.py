"""``FASTAPI_LIVE_REQUIRE_REAL_PARTS=1`` (set by ``.ci/run``): a skipped test fails, so a
missing Chromium or Redis can never pass as a skip. A test marked xfail is left alone."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

REQUIRE_REAL_PARTS = "FASTAPI_LIVE_REQUIRE_REAL_PARTS"


def required() -> bool:
    return os.environ.get(REQUIRE_REAL_PARTS) == "1"


def _fail_the_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped, but {REQUIRE_REAL_PARTS}=1 makes a skip a failure: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and required():
        _fail_the_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if report.skipped and required():  # a module-level skip, or an importorskip
        _fail_the_skip(report)
    return report
