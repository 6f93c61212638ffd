"""Client-side commands (live.js) in a real Chromium: no round trip, sticky across patches, push, from the server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.views.commands import make_app

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def menu_page(page, serve):
    events: list[str] = []
    page.on("request", lambda request: events.append(request.headers.get("x-live-event", "")) if "/_live/event" in request.url else None)
    page.goto(serve(make_app()) + "/menu")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    return page, events


def test_a_toggle_shows_and_hides_with_no_request(menu_page):
    page, events = menu_page
    page.click("#menu-button")
    expect(page.locator("#menu")).to_be_visible()
    expect(page.locator("#menu-button")).to_have_attribute("aria-expanded", "true")
    page.click("#menu-button")
    expect(page.locator("#menu")).to_be_hidden()
    expect(page.locator("#menu-button")).to_have_attribute("aria-expanded", "false")
    page.click("#highlight")
    expect(page.locator("#card")).to_have_class("highlight")
    # A real event now: had the commands sent anything, it would have gone before this one.
    page.click("#tick")
    expect(page.locator("#ticks")).to_have_text("Ticks: 1")
    assert events == ["tick"]


def test_commands_stick_across_server_patches_of_the_element(menu_page):
    page, _ = menu_page
    page.click("#menu-button")
    page.click("#highlight")
    expect(page.locator("#menu")).to_be_visible()
    page.click("#tick")  # the server re-renders the whole panel
    expect(page.locator("#card")).to_have_text("Card 1")
    expect(page.locator("#menu")).to_be_visible()
    expect(page.locator("#menu-button")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#card")).to_have_class("highlight")


def test_a_key_filtered_chain_runs_on_that_key_only(menu_page):
    page, events = menu_page
    page.click("#menu-button")
    page.locator("#menu-search").press("a")
    expect(page.locator("#menu")).to_be_visible()
    page.locator("#menu-search").press("Escape")
    expect(page.locator("#menu")).to_be_hidden()
    expect(page.locator("#menu-button")).to_have_attribute("aria-expanded", "false")
    assert events == []


def test_a_push_in_a_chain_sends_its_event_with_its_values(menu_page):
    page, events = menu_page
    page.click("#push")
    expect(page.locator("#ticks")).to_have_text("Ticks: 2")
    expect(page.locator("#push")).to_have_class("pushed")
    assert events == ["tick"]


def test_dispatch_fires_a_dom_event_with_its_detail(menu_page):
    page, _ = menu_page
    page.evaluate("document.addEventListener('menu:announce', (e) => window.__announced = [e.target.id, e.detail.ticks])")
    page.click("#announce")
    page.wait_for_function("window.__announced !== undefined")
    assert page.evaluate("window.__announced") == ["card", 0]


def test_the_server_runs_commands_with_exec_js(menu_page):
    page, _ = menu_page
    expect(page.locator("#secret")).to_be_hidden()
    page.click("#reveal")
    expect(page.locator("#secret")).to_be_visible()
    expect(page.locator("#secret")).to_have_class("revealed")


def test_a_hook_runs_commands_on_its_element(menu_page):
    page, _ = menu_page
    page.evaluate("FastapiLive.execJS(document.getElementById('card'), '[[\"add_class\", {\"names\": [\"from-js\"]}]]')")
    expect(page.locator("#card")).to_have_class(re.compile(r"\bfrom-js\b"))
