"""12. Many tabs, one stream: what the shared stream (``multiplex``) costs and saves.

* Server memory per open tab, 50 tabs in 5 browsers (10 each): each browser's tabs on one
  shared stream (the browser's own: its cookie; one connection for the stream, one for its
  page loads and attaches, as a browser's pool reuses it) vs one stream per page (each tab a
  page GET and its stream on its own keep-alive connection — what Chromium cannot even do past
  six tabs over HTTP/1.1, so raw HTTP/1.1 clients play the browsers for both figures). RSS
  after − before, over the 50 tabs, each figure the median of three rounds on a fresh server.
* Event round trip p50 in Chromium (one context, over HTTP/1.1): a click → its reply in the
  DOM of the same tab, with 11 more tabs of ``/counter`` open and live on the shared stream vs
  that tab alone (measured before the others open and after they close, in three rounds).
"""

from __future__ import annotations

import asyncio
import os
import statistics
from typing import Any

from . import wire
from .apps import LIVE_APP
from .load import LivePage, open_live_page, settle_rss
from .report import Row, median
from .servers import ServerProcess, Settings

NAME = "tabs"
BROWSERS = 5
TABS_PER_BROWSER = 10
MEMORY_TARGET = 0.5
ROUND_TRIP_TARGET = 1.2
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

CLICK = """
async () => {
  const count = () => document.querySelector('#live-root p').textContent;  // the count region
  const before = count();
  const started = performance.now();
  const changed = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (count() !== before) { observer.disconnect(); resolve(performance.now()); }
    });
    observer.observe(document.querySelector('#live-root'), {subtree: true, childList: true, characterData: true});
  });
  document.querySelector('#inc').click();
  return (await changed) - started;
}
"""


class _Browser:
    """One browser's tabs on one shared stream: a request connection, a stream connection."""

    def __init__(self) -> None:
        self.requests: wire.Connection | None = None
        self.stream: wire.Connection | None = None
        self.cookie = ""
        self.mux_id = ""

    async def open(self, host: str, port: int, tabs: int) -> None:
        self.requests = await wire.connect(host, port)
        first = await self.requests.request("GET", "/counter")
        if first.status != 200:
            raise wire.HttpError(f"GET /counter answered {first.status}")
        self.cookie = wire.cookie_header(first.cookies())
        tokens = [wire.token_of(first.text)]
        for _ in range(tabs - 1):
            page = await self.requests.request("GET", "/counter", {"Cookie": self.cookie})
            tokens.append(wire.token_of(page.text))
        self.stream = await wire.connect(host, port)
        opened: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_message(message: Any, _now: float) -> None:
            if message.event == "live:mux-open" and not opened.done():
                opened.set_result(message.data)

        await self.stream.open_stream("/_live/stream", {"X-Live-Mux": "open", "Cookie": self.cookie}, on_message)
        self.mux_id = await asyncio.wait_for(opened, 20)
        for n, token in enumerate(tokens):
            headers = {"Cookie": self.cookie, "X-Live-Token": token, "X-Live-Mux": self.mux_id, "X-Live-Mux-Page": f"tab{n}", "HX-Request": "true"}
            answer = await self.requests.request("POST", "/_live/stream", headers)
            if answer.status != 204:
                raise wire.HttpError(f"attaching tab {n} answered {answer.status}: {answer.text[:200]}")

    def close(self) -> None:
        for conn in (self.requests, self.stream):
            if conn is not None:
                conn.close()


async def _memory_round(settings: Settings, shared: bool) -> float:
    """KB of server RSS per open tab, with the 5 × 10 tabs open."""
    count = BROWSERS * TABS_PER_BROWSER
    async with ServerProcess(LIVE_APP, settings, label="tabs-shared" if shared else "tabs-own") as server:
        held: list[Any] = []

        async def open_all() -> None:
            if shared:
                browsers = [_Browser() for _ in range(BROWSERS)]
                held.extend(browsers)
                await asyncio.gather(*(b.open(server.host, server.port, TABS_PER_BROWSER) for b in browsers))
            else:
                pages: list[LivePage] = await asyncio.gather(*(open_live_page(server.host, server.port, "/counter") for _ in range(count)))
                held.extend(pages)

        try:
            warm = [await open_live_page(server.host, server.port, "/counter") for _ in range(10)]
            held.extend(warm)
            before = await settle_rss(server.rss, minimum=1.0, maximum=5.0)
            await open_all()
            after = await settle_rss(server.rss, minimum=settings.pick(3.0, 1.0), maximum=15.0)
            stats = await server.stats()
        finally:
            for item in held:
                item.close()
    if stats.get("attached") != count + 10:
        raise wire.HttpError(f"expected {count + 10} attached pages, the server holds {stats}")
    return (after - before) / count / 1024


async def measure_memory(settings: Settings) -> dict[str, Any]:
    rounds = settings.pick(3, 1)
    # Each round's two servers at once: each reads its own server's RSS, which the other does not move.
    pairs = [await asyncio.gather(_memory_round(settings, True), _memory_round(settings, False)) for _ in range(rounds)]
    shared = [pair[0] for pair in pairs]
    own = [pair[1] for pair in pairs]
    return {"shared_kb_per_tab": statistics.median(shared), "own_kb_per_tab": statistics.median(own), "shared_rounds": shared, "own_rounds": own}


async def measure_round_trip(settings: Settings) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    clicks = settings.pick(60, 12)
    rounds = settings.pick(3, 1)
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    async with ServerProcess(LIVE_APP, settings, label="tabs-chromium") as server, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            url = f"http://{server.host}:{server.port}/counter"

            async def open_tab() -> Any:
                page = await context.new_page()
                await page.goto(url)
                await page.wait_for_selector("#live-root.live-connected", timeout=10_000)
                return page

            first = await open_tab()
            for _ in range(5):  # warm: imports, the first renders, the browser's connections
                await first.evaluate(CLICK)
            # Rounds of: the tab alone, the same tab with eleven more open and live, the tab alone
            # again. The baseline is every lone round, so a machine that gets busier or calmer
            # over the run (it is shared) skews neither figure.
            one: list[float] = []
            twelve: list[float] = []
            across: list[float] = []
            attached: list[int] = []
            per_round = max(clicks // rounds, 4)
            for _ in range(rounds):
                one += [await first.evaluate(CLICK) for _ in range(per_round // 2)]
                others = [await open_tab() for _ in range(11)]
                for tab in others:
                    await tab.evaluate(CLICK)
                await first.bring_to_front()
                twelve += [await first.evaluate(CLICK) for _ in range(per_round)]
                attached.append((await server.stats()).get("attached", 0))
                across += [await others[n % 11].evaluate(CLICK) for n in range(4)]  # in the other tabs, for the JSON
                for tab in others:
                    await tab.close()
                await first.bring_to_front()
                one += [await first.evaluate(CLICK) for _ in range(per_round - per_round // 2)]
            await context.close()
        finally:
            await browser.close()
    if any(count != 12 for count in attached):
        raise wire.HttpError(f"expected 12 attached tabs in every round, the server held {attached}")
    return {
        "one_tab_p50_ms": median(one),
        "twelve_tabs_p50_ms": median(twelve),
        "other_tabs_p50_ms": median(across),
        "clicks": clicks,
        "rounds": rounds,
        "one_tab_ms": one,
        "twelve_tabs_ms": twelve,
    }


async def run(settings: Settings) -> list[Row]:
    memory = await measure_memory(settings)
    trip = await measure_round_trip(settings)
    return [
        Row(
            f"server memory per open tab, {BROWSERS * TABS_PER_BROWSER} tabs in {BROWSERS} browsers: one shared stream each (vs a stream per page)",
            memory["shared_kb_per_tab"],
            memory["own_kb_per_tab"],
            "KB",
            target=f"≤ {MEMORY_TARGET}×",
            check=lambda live_value, base: live_value <= MEMORY_TARGET * base,
            details=memory,
            group=NAME,
        ),
        Row(
            "Chromium: event round trip p50 with 12 tabs open on one stream (vs one tab)",
            trip["twelve_tabs_p50_ms"],
            trip["one_tab_p50_ms"],
            "ms",
            target=f"≤ {ROUND_TRIP_TARGET}×",
            check=lambda live_value, base: live_value <= ROUND_TRIP_TARGET * base,
            details=trip,
            group=NAME,
        ),
    ]
