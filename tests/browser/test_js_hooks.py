"""JS hooks in a real Chromium: lifecycle, push_event, pushEvent with a reply, redirect."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.views.hooks import make_app

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def hooks_url(serve):
    return serve(make_app()) + "/hooks"


def log(page):
    return page.evaluate("window.hookLog")


def test_hook_lifecycle_mounted_updated_destroyed(page, hooks_url):
    page.goto(hooks_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.wait_for_function("window.hookLog.includes('mounted:probe')")
    page.click("#bump")
    page.wait_for_function("window.hookLog.includes('updated:probe:value 1')")
    page.click("#hide")
    page.wait_for_function("window.hookLog.includes('destroyed:probe')")
    assert log(page).count("mounted:probe") == 1


def test_push_event_reaches_window_listeners_and_hook_handlers(page, hooks_url):
    page.goto(hooks_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.click("#push")
    page.wait_for_function("window.hookLog.includes('highlight:gold') && window.hookLog.includes('window:gold')")


def test_push_event_from_a_hook_resolves_with_the_reply_and_applies_the_update(page, hooks_url):
    page.goto(hooks_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.wait_for_function("window.hookLog.includes('mounted:probe')")
    reply = page.evaluate("window.probe.pushEvent('ask', {question: 'answer?'})")
    assert reply == {"answer": 42}
    expect(page.locator("#answer")).to_have_text("asked: answer?")


def test_redirect_leaves_the_page(page, hooks_url):
    page.goto(hooks_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.click("#go")
    page.wait_for_url(re.compile(r"/elsewhere$"))


def test_navigate_swaps_in_another_live_page_without_a_reload(page, hooks_url):
    page.goto(hooks_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.evaluate("window.__sameDocument = true")
    page.click("#nav")
    page.wait_for_url(re.compile(r"/other$"))
    expect(page.locator("h1")).to_have_text("Other page")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.click("#hit")
    expect(page.locator("#hits")).to_have_text("Hits: 1")
    assert page.evaluate("window.__sameDocument") is True
