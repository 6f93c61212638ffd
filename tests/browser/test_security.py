"""Issue 14 in a real Chromium, where the browser is the attacker's tool."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import CHROMIUM_ARGS
from tests.support.servers import ThreadedServer, free_port
from tests.support.views import redirects
from tests.support.views.counter import make_app as counter_app

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")
SERVER_ERROR = re.compile(r"\blive-server-error\b")


@pytest.fixture
def redirects_url():
    port = free_port()
    app, _ = redirects.make_app(external=f"http://localhost:{port}/redirects?from=external")
    with ThreadedServer(app, port=port) as server:
        yield server.url


@pytest.mark.parametrize("button", ["#go-script", "#go-protocol-relative", "#go-backslash", "#nav-away"])
def test_a_redirect_to_a_script_or_another_site_is_refused_and_the_page_stays(page, redirects_url, button):
    page.goto(redirects_url + "/redirects")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.click(button)
    expect(page.locator("#live-root")).to_have_class(SERVER_ERROR)  # the handler raised: it is the app's bug
    assert page.evaluate("window.__pwned") is None
    assert page.url == redirects_url + "/redirects"


def test_the_client_never_runs_a_script_url_even_if_the_server_sent_one(page, redirects_url):
    page.goto(redirects_url + "/redirects")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    with page.expect_console_message(lambda message: "L012" in message.text):
        page.click("#unchecked-script")
    assert page.evaluate("window.__pwned") is None
    assert page.url == redirects_url + "/redirects"


def test_local_redirects_and_explicit_external_ones_still_go(page, redirects_url):
    page.goto(redirects_url + "/redirects")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.click("#go-local")
    page.wait_for_url(redirects_url + "/redirects?from=local")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.click("#go-external")
    page.wait_for_url(re.compile(r"^http://localhost:\d+/redirects\?from=external$"))


@pytest.fixture
def rebinding_browser(chromium_path):
    """A Chromium for which ``evil.test`` resolves to this machine: a DNS-rebinding attacker's page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.test 127.0.0.1"])
        yield browser
        browser.close()


def test_a_dns_rebinding_page_cannot_send_events_when_origins_are_configured(rebinding_browser):
    port = free_port()
    app, _ = counter_app(allowed_origins=[f"http://127.0.0.1:{port}"])
    with ThreadedServer(app, port=port):
        context = rebinding_browser.new_context()
        # The page's own stream, a GET, opens as before; the shared stream's attach is a POST
        # and is refused like an event (tests/integration/test_multiplex.py).
        context.add_init_script("try { localStorage.setItem('fastapi-live:multiplex', 'off'); } catch (e) {}")
        try:
            attacker = context.new_page()
            attacker.goto(f"http://evil.test:{port}/counter")  # the attacker's name, this server's address
            expect(attacker.locator("#live-root")).to_have_class(CONNECTED)
            with attacker.expect_response(lambda response: "/_live/event" in response.url) as refused:
                attacker.click("#inc")
            assert refused.value.status == 403
            expect(attacker.locator("#count")).to_have_text("Count: 0")

            user = context.new_page()
            user.goto(f"http://127.0.0.1:{port}/counter")
            expect(user.locator("#live-root")).to_have_class(CONNECTED)
            user.click("#inc")
            expect(user.locator("#count")).to_have_text("Count: 1")
        finally:
            context.close()


@pytest.fixture
def example_url(serve):
    from examples.app.main import app

    return serve(app)


def signed_in_dashboard(context, url: str, user: str):
    page = context.new_page()
    page.goto(f"{url}/login?user={user}")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    expect(page.locator(".who strong")).to_have_text(user)
    return page


def test_signing_out_ends_the_live_pages_of_that_sign_in(browser, example_url):
    alice = f"alice-{uuid.uuid4().hex[:6]}"
    context = browser.new_context()
    try:
        dashboard = signed_in_dashboard(context, example_url, alice)
        elsewhere = context.new_page()
        elsewhere.goto(example_url + "/")
        elsewhere.get_by_role("button", name="Sign out").click()
        elsewhere.wait_for_url(example_url + "/")
        # The open dashboard reloads as whoever the browser is now: nobody, so the login page.
        dashboard.wait_for_url(example_url + "/login")
        httpx.post(example_url + "/api/notifications", json={"user": alice, "message": "for alice's eyes"})
        expect(dashboard.get_by_role("heading", name="Sign in")).to_be_visible()
        assert "for alice's eyes" not in dashboard.content()
    finally:
        context.close()


def test_signing_in_as_someone_else_ends_the_old_sign_ins_pages(browser, example_url):
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    context = browser.new_context()
    try:
        dashboard = signed_in_dashboard(context, example_url, alice)
        signed_in_dashboard(context, example_url, bob)  # another tab of the same browser
        expect(dashboard.locator(".who strong")).to_have_text(bob)  # the old tab reloaded as bob
        expect(dashboard.locator("#live-root")).to_have_class(CONNECTED)
        httpx.post(example_url + "/api/notifications", json={"user": alice, "message": "for alice"})
        httpx.post(example_url + "/api/notifications", json={"user": bob, "message": "for bob"})
        expect(dashboard.locator("#notification-widget .notification p")).to_have_text(["for bob"])
        expect(dashboard.locator("#notification-widget .badge")).to_have_text("1")
    finally:
        context.close()
