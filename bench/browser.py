"""5. In Chromium: navigation start → every async part of the dashboard in the DOM.

A MutationObserver (installed before any page script) stamps ``performance.now()`` — which
counts from navigation start — the moment ``#org-name``, ``#profile-name`` and
``#rank-value`` are all present; ``page.wait_for_function`` waits for that stamp.
Baseline: the slowest load's latency (the page cannot be complete sooner). pyview beside it:
its dashboard written the pyview way (no loads on the page GET; the loads start when the view
joins over its WebSocket, after its JavaScript client has loaded).
"""

from __future__ import annotations

import os
from typing import Any

from .apps import LIVE_APP, PROFILE_LATENCY, PYVIEW_APP
from .load import guarded
from .report import Row, median, percentile
from .servers import ServerProcess, Settings

NAME = "browser"
TARGET_SLACK_MS = 50.0
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

DONE_WATCH = """
(() => {
  const stamp = () => {
    if (window.__liveDone === undefined && document.querySelector('#org-name')
        && document.querySelector('#profile-name') && document.querySelector('#rank-value')) {
      window.__liveDone = performance.now();
    }
  };
  new MutationObserver(stamp).observe(document, {childList: true, subtree: true});
})();
"""

TIMINGS = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    done: window.__liveDone,
    response_start: nav ? nav.responseStart : null,
    dom_content_loaded: nav ? nav.domContentLoadedEventEnd : null,
  };
}
"""


async def measure(settings: Settings, app: str, label: str) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    runs = settings.pick(12, 2)
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    timings: list[dict[str, Any]] = []
    async with ServerProcess(app, settings, label=label) as server, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            await context.add_init_script(DONE_WATCH)
            errors: list[str] = []
            for i in range(runs + 1):  # the first run warms the browser cache and is dropped
                page = await context.new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await page.goto(f"http://{server.host}:{server.port}/dash/async/acme", wait_until="commit")
                await page.wait_for_function("() => window.__liveDone !== undefined", timeout=15_000)
                timing = await page.evaluate(TIMINGS)
                if await page.text_content("#rank-value") != "Rank #7":
                    raise RuntimeError(f"{label}: the dashboard's rank region shows the wrong text")
                await page.close()
                if i > 0:
                    timings.append(timing)
            await context.close()
        finally:
            await browser.close()
    if errors:
        raise RuntimeError(f"{label}: JavaScript errors on the dashboard: {errors[:3]}")
    return timings


def summary(timings: list[dict[str, Any]]) -> dict[str, Any]:
    done = [t["done"] for t in timings]
    return {
        "runs": len(done),
        "p50_ms": median(done),
        "max_ms": max(done),
        "min_ms": min(done),
        "p90_ms": percentile(done, 90),
        "response_start_p50_ms": median([t["response_start"] for t in timings if t["response_start"] is not None]),
        "dom_content_loaded_p50_ms": median([t["dom_content_loaded"] for t in timings if t["dom_content_loaded"] is not None]),
    }


async def run(settings: Settings) -> list[Row]:
    slowest_ms = PROFILE_LATENCY * 1000.0
    details = summary(await measure(settings, LIVE_APP, "live"))
    details["slowest_load_ms"] = slowest_ms

    async def measure_pyview() -> dict[str, Any]:
        return summary(await measure(settings, PYVIEW_APP, "pyview"))

    pyview, pyview_error = await guarded(measure_pyview(), "pyview in Chromium")
    details["pyview"] = pyview
    return [
        Row(
            "Chromium: navigation → all async parts in DOM, p50 (vs slowest load)",
            details["p50_ms"],
            slowest_ms,
            "ms",
            target=f"≤ +{TARGET_SLACK_MS:.0f} ms",
            check=lambda live_value, base: live_value <= base + TARGET_SLACK_MS,
            details=details,
            group=NAME,
            pyview=None if pyview is None else pyview["p50_ms"],
            pyview_error=pyview_error,
        )
    ]
