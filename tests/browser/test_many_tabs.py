"""Many tabs of one browser over HTTP/1.1 (real uvicorn, one Chromium context): every live page
shares one stream, so a dozen tabs all stay live, past the browser's six connections per host."""

from __future__ import annotations

import os
import random
import re
import time

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.servers import SubprocessServer

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")
ERROR = re.compile(r"\blive-error\b")
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORCE_FALLBACK = "localStorage.setItem('fastapi-live:multiplex', 'broadcast')"
FORCE_OFF = "localStorage.setItem('fastapi-live:multiplex', 'off')"
SHARED_STREAMS = """() => performance.getEntriesByType('resource').filter((e) => e.name.includes('/_live/stream')).length"""


@pytest.fixture
def example(serve):
    from examples.app.main import app

    return serve(app)


def shared_streams() -> list[int]:
    """Pages attached to each shared stream the example's process holds now."""
    from examples.app.main import live

    return [mux.pages for mux in list(live.multiplex.streams.values())]


@pytest.fixture
def context(browser) -> BrowserContext:
    context = browser.new_context()
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    yield context
    context.close()
    assert not errors, f"JavaScript errors on the pages: {errors}"


def open_counter(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url + "/counter")
    expect(page.locator("#live-root")).to_have_class(CONNECTED, timeout=5000)
    return page


def click_and_expect(page: Page, expected: int, timeout: float = 1000) -> None:
    page.click("#inc")
    expect(page.locator("#region-count, .count").first).to_have_text(str(expected), timeout=timeout)


def test_twelve_tabs_are_all_live_and_every_click_is_answered_within_a_second(context, example):
    pages = [open_counter(context, example) for _ in range(12)]
    for page in pages:
        click_and_expect(page, 1)
    for page in reversed(pages):
        click_and_expect(page, 2)
        expect(page.locator("#live-root")).to_have_class(CONNECTED)
    assert shared_streams() == [12]  # one connection carries them all
