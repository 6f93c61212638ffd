"""Event bindings in a real Chromium: keydown filtered by key, debounced change."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.views.search import make_app

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def search_url(serve):
    return serve(make_app()) + "/search"


def test_keydown_sends_only_the_filtered_key_with_the_value(page, search_url):
    page.goto(search_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.fill("#search", "anvils")
    page.press("#search", "a")
    page.press("#search", "Enter")
    expect(page.locator("#results")).to_contain_text("Searched: anvilsa (Enter)")


def test_a_debounced_change_sends_once_after_typing_stops(page, search_url):
    page.goto(search_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    # Six keystrokes' input events, each well inside the 150 ms debounce of the one before it: sent
    # from the page itself, so a loaded machine cannot stretch the gaps between them (Playwright's
    # per-key round trips can take longer than the debounce under load).
    page.evaluate(
        """() => {
            const input = document.querySelector('#typeahead');
            for (const letter of 'rocket') {
                input.value += letter;
                input.dispatchEvent(new Event('input', { bubbles: true }));
            }
        }"""
    )
    expect(page.locator("#results")).to_contain_text('for "rocket"')
    expect(page.locator("#results")).to_contain_text("Suggest calls: 1 ")
