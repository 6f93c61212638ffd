"""Reconnects in a real Chromium: short blips stay quiet, long ones show the overlay,
messages sent meanwhile are replayed, and a restarted server recovers form and tab."""

from __future__ import annotations

import os
import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.outage import OutageSwitch
from tests.support.servers import SubprocessServer

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WATCH_CONNECTION = """() => {
  window.__connections = 0;
  window.__everDisconnectedUi = false;
  document.addEventListener('htmx:sse:after:connection', () => window.__connections += 1);
  new MutationObserver(() => {
    if (document.querySelector('#live-root').classList.contains('live-disconnected')) window.__everDisconnectedUi = true;
  }).observe(document.querySelector('#live-root'), {attributes: true});
}"""


@pytest.fixture
def example(serve):
    from examples.app.main import app, live

    switch = OutageSwitch(app, live)
    return serve(switch), switch


def signed_in_dashboard(page: Page, url: str, user: str = "alice") -> None:
    page.goto(f"{url}/login?user={user}")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    expect(page.locator(".org-name")).to_have_text("Acme Corp")
    page.evaluate(WATCH_CONNECTION)


def test_a_blip_shorter_than_the_timeout_shows_no_overlay(page, example):
    url, switch = example
    signed_in_dashboard(page, url)
    switch.cut()
    page.wait_for_function("window.__connections >= 1", timeout=5000)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    assert page.evaluate("window.__everDisconnectedUi") is False
    expect(page.locator("#reconnecting")).to_be_hidden()


def test_a_long_disconnect_shows_the_overlay_until_reconnected(page, example):
    url, switch = example
    signed_in_dashboard(page, url)
    switch.down = True
    switch.cut()
    # The example's disconnectedTimeout is 1000 ms: the overlay shows only after it.
    expect(page.locator("#reconnecting")).to_be_visible(timeout=5000)
    expect(page.locator("#reconnecting")).to_have_text("Reconnecting…")
    switch.down = False
    expect(page.locator("#reconnecting")).to_be_hidden(timeout=10000)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)


def test_notifications_sent_during_a_blip_arrive_after_it(page, example):
    url, switch = example
    signed_in_dashboard(page, url)
    switch.down = True
    switch.cut()
    page.wait_for_function("!document.querySelector('#live-root').classList.contains('live-connected')", timeout=5000)
    assert switch.attached_sessions() == 0
    response = httpx.post(url + "/api/notifications", json={"user": "alice", "message": "sent while you were away"})
    assert response.status_code == 202
    switch.down = False
    expect(page.locator(".notification p")).to_have_text("sent while you were away", timeout=10000)
    expect(page.locator(".badge")).to_have_text("1")


@pytest.fixture
def restartable():
    server = SubprocessServer("examples.app.main:app", env={"PYTHONPATH": ROOT_DIR}).start()
    yield server
    server.stop()


def test_typed_form_and_active_tab_survive_a_server_restart(page, restartable):
    server = restartable
    signed_in_dashboard(page, server.url)
    page.click("#tab-activity")
    expect(page.locator("#tab-activity")).to_have_class(re.compile(r"\bactive\b"))
    page.fill("#settings-name", "Zed")
    page.fill("#settings-email", "not-an-email")
    expect(page.locator("#settings-email-error")).to_have_text("Enter a valid email address")
    page.evaluate("window.__marker = 'same page'; document.addEventListener('live:remounted', () => window.__remounted = true)")

    server.stop()
    server.start()

    page.wait_for_function("window.__remounted === true", timeout=20000)
    # The new process knew nothing of this page: the browser sent it back what it had.
    expect(page.locator("#tab-activity")).to_have_class(re.compile(r"\bactive\b"))
    assert page.input_value("#settings-name") == "Zed"
    assert page.input_value("#settings-email") == "not-an-email"
    expect(page.locator("#settings-email-error")).to_have_text("Enter a valid email address")
    expect(page.locator(".org-name")).to_have_text("Acme Corp")
    assert page.evaluate("window.__marker") == "same page"
    assert "Traceback" not in server.log()
