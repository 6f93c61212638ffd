"""The notification widget in a real Chromium: per-user delivery, badge and Dismiss."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def example_url(serve):
    from examples.app.main import app

    return serve(app)


@pytest.fixture
def bob_page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_alice_gets_hers_within_a_second_and_bob_does_not(page, bob_page, example_url):
    for who, p in (("alice", page), ("bob", bob_page)):
        p.goto(f"{example_url}/login?user={who}")
        expect(p.locator("#live-root")).to_have_class(CONNECTED)
        expect(p.locator("#notification-widget .badge")).to_have_text("0")

    response = httpx.post(example_url + "/api/notifications", json={"user": "alice", "message": "Deploy finished"})
    assert response.status_code == 202

    expect(page.locator("#notification-widget .badge")).to_have_text("1", timeout=1000)
    expect(page.locator("#notification-widget .notification p")).to_have_text("Deploy finished")
    # Bob's stream is ordered: once his own later notification shows, alice's would have too.
    httpx.post(example_url + "/api/notifications", json={"user": "bob", "message": "Only for bob"})
    expect(bob_page.locator("#notification-widget .notification p")).to_have_text(["Only for bob"])
    expect(bob_page.locator("#notification-widget .badge")).to_have_text("1")
    expect(page.locator("#notification-widget .notification p")).to_have_text(["Deploy finished"])


def test_dismiss_lowers_the_badge(page, example_url):
    page.goto(f"{example_url}/login?user=carol")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    for text in ("first", "second"):
        httpx.post(example_url + "/api/notifications", json={"user": "carol", "message": text})
    expect(page.locator("#notification-widget .badge")).to_have_text("2")
    page.locator(".notification", has_text="first").get_by_role("button", name="Dismiss").click()
    expect(page.locator("#notification-widget .badge")).to_have_text("1")
    expect(page.locator(".notification p")).to_have_text(["second"])
