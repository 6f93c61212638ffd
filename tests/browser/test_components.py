"""LiveComponents in a real Chromium: events reach the component they come from (or the one
target= names), hooks push to their component, and only the changed component is swapped."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.views.components import make_app

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def cards_url(serve):
    return serve(make_app()[0]) + "/cards?n=3"


def open_cards(page, url):
    page.goto(url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.wait_for_function("window.probes && Object.keys(window.probes).length === 3")


def test_a_click_inside_a_component_changes_only_that_component(page, cards_url):
    open_cards(page, cards_url)
    page.evaluate("document.querySelector('#card-1').dataset.untouched = 'yes'")  # a mark a swap of card 1 would lose
    page.click("#card-2 button.toggle")
    expect(page.locator("#card-2 .clicks")).to_have_text("1 clicks")
    expect(page.locator("#card-2")).to_have_class(re.compile(r"\bopen\b"))
    assert page.get_attribute("#card-1", "data-untouched") == "yes"
    expect(page.locator("#card-1 .clicks")).to_have_text("0 clicks")


def test_explicit_targets_myself_and_the_page(page, cards_url):
    open_cards(page, cards_url)
    page.click("#card-3 button.mine")
    expect(page.locator("#card-3 .clicks")).to_have_text("1 clicks")
    page.click("#card-3 button.page")
    expect(page.locator("#page-clicks")).to_have_text("1 page clicks")
    expect(page.locator("#card-3 .clicks")).to_have_text("1 clicks")


def test_hooks_push_to_their_component_or_to_a_target(page, cards_url):
    open_cards(page, cards_url)
    reply = page.evaluate("window.probes['card-2'].pushEvent('hooked', {width: 640})")
    assert reply == {"seen": 640}
    expect(page.locator("#card-2 .note")).to_have_text("width 640")
    reply = page.evaluate("window.probes['card-2'].pushEventTo('#card-3 .note', 'hooked', {width: 320})")
    assert reply == {"seen": 320}
    expect(page.locator("#card-3 .note")).to_have_text("width 320")
    failed = page.evaluate("window.probes['card-2'].pushEventTo('#nowhere', 'hooked', {}).then(() => 'sent', (e) => e.message)")
    assert "matches no element" in failed


def test_async_work_in_a_component_lands_in_it(page, cards_url):
    open_cards(page, cards_url)
    page.click("#card-1 button.load")
    expect(page.locator("#card-1 .total")).to_have_text("42")
    page.click("#card-2 button.start")
    expect(page.locator("#card-2 .note")).to_have_text("double 10")


def test_a_target_that_matches_nothing_sends_nothing_and_says_so(page, cards_url):
    open_cards(page, cards_url)
    with page.expect_console_message(lambda message: "L013" in message.text):
        page.click("#card-1 button.lost")
    page.click("#card-1 button.toggle")  # the next event is the first the server sees
    expect(page.locator("#card-1 .clicks")).to_have_text("1 clicks")
