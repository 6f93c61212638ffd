"""8. Live navigation: a tab patch in Chromium beside a full load of the same URL, and its bytes.

The page (``tabs.html``) is the 10-region page with a tabs region whose links are
``live.patch("?tab=…")``. Round trip: in the page, ``performance.now()`` at the click, then a
MutationObserver stamps the moment the URL shows the tab and its panel is applied (p50 over
the runs, the tabs taken in turn). Baseline: a full page load of the same URLs in the same
browser, navigation start → DOMContentLoaded (the page parsed, its scripts run; its load event
in the details). Bytes: the response to one tab patch (status line, headers and body, as the
socket carries them) against the changed region's own HTML; the target is that + 300 bytes.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from fastapi_live.wire import PATCH_EVENT

from . import wire
from .apps import LIVE_APP
from .browser import CHROMIUM_ARGS
from .load import EVENT_URL, open_live_page
from .report import Row, median, percentile
from .servers import ServerProcess, Settings

NAME = "navigation"
RATIO_TARGET = 0.3
SLACK = 300
TABS = ("overview", "activity", "settings")
_PARTIAL = re.compile(r"<hx-partial [^>]*>(.*?)</hx-partial>", re.S)

PATCH = """
async (tab) => {
  const want = "?tab=" + tab;
  const title = tab[0].toUpperCase() + tab.slice(1);
  const done = () => location.search === want && document.querySelector("#panel h2")?.textContent === title;
  const started = performance.now();
  document.getElementById("tab-" + tab).click();
  await new Promise((resolve) => {
    if (done()) { resolve(); return; }
    const observer = new MutationObserver(() => { if (done()) { observer.disconnect(); resolve(); } });
    observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
  });
  return performance.now() - started;
}
"""

LOAD_TIMINGS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return {dom_content_loaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, response_end: nav.responseEnd};
}
"""


async def measure_browser(settings: Settings) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    runs = settings.pick(30, 6)
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    patches: list[float] = []
    loads: list[dict[str, float]] = []
    errors: list[str] = []
    async with ServerProcess(LIVE_APP, settings, label="live") as server, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            base = f"http://{server.host}:{server.port}/tabs"
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base)
            await page.wait_for_selector("#live-root.live-connected")
            for i in range(runs + 3):  # the first turns warm the browser and the server up, and are dropped
                elapsed = await page.evaluate(PATCH, TABS[(i + 1) % len(TABS)])
                if i >= 3:
                    patches.append(elapsed)
            for i in range(runs + 1):
                tab = TABS[i % len(TABS)]
                await page.goto(f"{base}?tab={tab}", wait_until="load")
                if await page.text_content("#panel h2") != tab.title():
                    raise RuntimeError(f"the full load of ?tab={tab} shows the wrong panel")
                if i > 0:
                    loads.append(await page.evaluate(LOAD_TIMINGS))
            await context.close()
        finally:
            await browser.close()
    if errors:
        raise RuntimeError(f"JavaScript errors on the tabs page: {errors[:3]}")
    full = [timing["dom_content_loaded"] for timing in loads]
    return {
        "runs": len(patches),
        "patch_p50_ms": median(patches),
        "patch_p90_ms": percentile(patches, 90),
        "patch_max_ms": max(patches),
        "full_load_dom_content_loaded_p50_ms": median(full),
        "full_load_load_event_p50_ms": median([timing["load"] for timing in loads]),
        "full_load_response_end_p50_ms": median([timing["response_end"] for timing in loads]),
    }


async def measure_bytes(settings: Settings) -> dict[str, Any]:
    async with ServerProcess(LIVE_APP, settings, label="live") as server:
        page = await open_live_page(server.host, server.port, "/tabs", stream="separate")
        try:
            headers = {**page.headers(PATCH_EVENT), "Content-Type": "application/json"}
            body = json.dumps({"url": "/tabs?tab=settings"}, separators=(",", ":")).encode()
            response = await page.page.request("POST", EVENT_URL, headers, body)
        finally:
            page.close()
    regions = _PARTIAL.findall(response.text)
    if response.status != 200 or len(regions) != 1 or 'id="tabs"' not in regions[0] or "Settings" not in regions[0]:
        raise wire.HttpError(f"the tab patch should answer with the tabs region alone, got {response.status}: {response.text[:300]}")
    request_bytes = len(f"POST {EVENT_URL} HTTP/1.1\r\n".encode()) + sum(len(f"{k}: {v}\r\n".encode()) for k, v in headers.items()) + 2 + len(body)
    return {
        "region_bytes": len(regions[0].encode()),
        "response_head_bytes": len(response.raw_head),
        "response_body_bytes": len(response.body),
        "response_wire_bytes": len(response.raw_head) + len(response.body),
        "request_wire_bytes_without_host": request_bytes,
        "response_body": response.text,
    }


async def run(settings: Settings) -> list[Row]:
    browser = await measure_browser(settings)
    sizes = await measure_bytes(settings)
    return [
        Row(
            "Chromium: tab patch round trip p50 (vs full load of the same URL, to DOMContentLoaded)",
            browser["patch_p50_ms"],
            browser["full_load_dom_content_loaded_p50_ms"],
            "ms",
            target=f"≤ {RATIO_TARGET}×",
            check=lambda live, full: live <= RATIO_TARGET * full,
            details=browser,
            group=NAME,
        ),
        Row(
            "bytes on the wire for a tab patch, response (vs the changed region's HTML)",
            sizes["response_wire_bytes"],
            sizes["region_bytes"],
            "B",
            target=f"≤ +{SLACK} B",
            check=lambda live, region: live <= region + SLACK,
            details=sizes,
            group=NAME,
        ),
    ]
