"""The example's live dashboard in a real Chromium: it follows sessions as they open and close."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def example_url(serve):
    from examples.app.main import app

    return serve(app)


def sign_in(context, url: str, user: str) -> None:
    """The sign-in cookie only: no page of the example opened on the way."""
    response = context.request.get(f"{url}/login?user={user}", max_redirects=0)
    assert response.status == 303


def test_the_dashboard_follows_sessions_as_they_open_and_close(browser, example_url):
    admin = browser.new_context(viewport={"width": 1360, "height": 1000})
    sign_in(admin, example_url, "admin")
    board = admin.new_page()
    board.goto(example_url + "/_live/dashboard")
    expect(board.locator("#live-root")).to_have_class(CONNECTED)
    counter_total = board.locator('#sessions-per-view tr[data-view="Counter"] td').last
    dashboard_total = board.locator('#sessions-per-view tr[data-view="Dashboard"] td').last
    expect(board.locator('#sessions-per-view tr[data-view="Counter"]')).to_have_count(0)
    board.evaluate("window.__sameDocument = true")

    alice = browser.new_context()
    sign_in(alice, example_url, "alice")
    page = alice.new_page()
    page.goto(example_url + "/dashboard/acme")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    counter = browser.new_context().new_page()
    counter.goto(example_url + "/counter")
    expect(counter.locator("#live-root")).to_have_class(CONNECTED)

    # Opened: both pages are listed, attached, within a refresh; the page itself never reloads.
    expect(dashboard_total).to_have_text("1", timeout=5000)
    expect(counter_total).to_have_text("1", timeout=5000)
    alice_row = board.locator('#sessions tr[data-view="Dashboard"]')
    expect(alice_row).to_contain_text("/dashboard/acme")
    expect(alice_row).to_contain_text("notifications:alice")
    expect(alice_row.locator(".pill")).to_have_text("attached")
    expect(board.locator("#stream-total")).to_have_text("2", timeout=5000)

    # alice goes to the counter by its top-bar link: her dashboard session ends at once.
    page.click("nav >> text=Counter")
    expect(page).to_have_url(example_url + "/counter")
    expect(counter_total).to_have_text("2", timeout=5000)
    expect(board.locator('#sessions-per-view tr[data-view="Dashboard"]')).to_have_count(0, timeout=5000)

    # A tab closed: its stream ends at once; its session waits out the reconnect grace, detached.
    counter.context.close()
    expect(board.locator("#stream-total")).to_have_text("1", timeout=5000)
    expect(board.locator('#sessions tr[data-view="Counter"] .pill', has_text="detached")).to_have_count(1)

    # A handler that raises shows under the recent exceptions, with where it was raised.
    page.click("#explode")
    expect(board.locator("#recent-exceptions .exc").first).to_contain_text("RuntimeError in Counter.handle_event explode", timeout=5000)
    expect(board.locator("#recent-exceptions .exc").first).to_contain_text("a bug in an event handler")
    assert board.evaluate("window.__sameDocument") is True  # every update came over the stream
