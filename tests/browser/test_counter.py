"""The counter in a real Chromium: clicks update only what changed, with no reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.views.counter import make_app

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def counter_url(serve):
    app, _ = make_app()
    return serve(app)


def test_three_clicks_show_three_without_a_reload(page, counter_url):
    page.goto(counter_url + "/counter")
    page.evaluate("window.__noReload = 'still here'")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    for _ in range(3):
        page.click("#inc")
    expect(page.locator("#count")).to_have_text("Count: 3")
    assert page.evaluate("window.__noReload") == "still here"


def test_typed_text_survives_an_update_of_its_region(page, counter_url):
    page.goto(counter_url + "/counter")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.fill("#note", "half-written thought")
    # The title lives in the live container itself, so this re-renders the container that
    # holds the input: the morph must keep what was typed.
    page.click("#retitle")
    expect(page.locator("h1")).to_have_text("Counter!")
    assert page.input_value("#note") == "half-written thought"
