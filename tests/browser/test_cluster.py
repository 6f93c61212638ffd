"""Behind a non-sticky load balancer: killing the owning process remounts the page on the
survivor, with the typed form recovered."""

from __future__ import annotations

import os
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.support.proxy import RoundRobinProxy
from tests.support.servers import SubprocessServer

pytestmark = [pytest.mark.browser, pytest.mark.redis]
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def cluster(redis_server_url):
    env = {"PYTHONPATH": ROOT_DIR, "REDIS_URL": redis_server_url, "EXAMPLE_ORG_LATENCY_MS": "50", "EXAMPLE_PROFILE_LATENCY_MS": "80"}
    a = SubprocessServer("examples.app.main:app", env=env).start()
    b = SubprocessServer("examples.app.main:app", env=env).start()
    proxy = RoundRobinProxy([a.port, b.port]).start()
    yield proxy, a, b
    proxy.stop()
    a.stop()
    b.stop()


def test_killing_the_owner_remounts_on_the_other_process_with_the_form_recovered(page, cluster):
    proxy, a, _ = cluster
    proxy.pin(0)  # the page is rendered, and its session owned, by process A
    page.goto(f"{proxy.url}/login?user=u{uuid.uuid4().hex[:8]}")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    expect(page.locator(".org-name")).to_have_text("Acme Corp")
    proxy.spread()  # from now on any process may answer
    page.fill("#settings-name", "Ada")
    page.fill("#settings-email", "ada@example")
    expect(page.locator("#settings-email-error")).to_have_text("Enter a valid email address")
    page.click("#tab-activity")
    expect(page.locator("#tab-activity")).to_have_class(re.compile(r"\bactive\b"))
    page.evaluate("document.addEventListener('live:remounted', () => window.__remounted = true)")

    a.stop()

    page.wait_for_function("window.__remounted === true", timeout=20000)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    assert page.input_value("#settings-name") == "Ada"
    assert page.input_value("#settings-email") == "ada@example"
    expect(page.locator("#settings-email-error")).to_have_text("Enter a valid email address")
    expect(page.locator("#tab-activity")).to_have_class(re.compile(r"\bactive\b"))
    # The survivor now owns the page: events work.
    page.fill("#settings-email", "ada@example.com")
    expect(page.locator("#settings-email-error")).to_have_text("")


@pytest.fixture
def three_workers(redis_server_url):
    env = {"PYTHONPATH": ROOT_DIR, "REDIS_URL": redis_server_url}
    servers = [SubprocessServer("examples.app.main:app", env=env).start() for _ in range(3)]
    proxy = RoundRobinProxy([server.port for server in servers]).start()
    yield proxy, servers, redis_server_url
    proxy.stop()
    for server in servers:
        server.stop()


def session_owner(redis_url: str, token: str) -> str:
    """The node the cluster directory names for the page of ``token`` (its id is in the signed payload)."""
    import base64
    import json

    import redis

    payload = token.split(".")[0]
    session_id = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))[1]
    client = redis.Redis.from_url(redis_url)
    try:
        owner = client.get(f"fastapi-live:session:{{{session_id}}}")
    finally:
        client.close()
    assert owner is not None, f"no directory entry for session {session_id}"
    return owner.decode()


def test_six_pages_whose_sessions_live_on_three_workers_share_one_stream(browser, three_workers):
    proxy, _, redis_url = three_workers
    context = browser.new_context()
    try:
        user = f"u{uuid.uuid4().hex[:8]}"
        pages = []
        context.new_page().goto(f"{proxy.url}/login?user={user}")  # once: a sign-in disconnects the pages of the one before
        for index in range(3):
            proxy.pin(index)
            proxy.cut()  # fresh connections: the next pages are rendered, and owned, by worker `index`
            proxy.restore()
            for _ in range(2):
                page = context.new_page()
                page.goto(f"{proxy.url}/dashboard/acme")
                expect(page.locator("#live-root")).to_have_class(CONNECTED, timeout=15000)
                pages.append(page)
        owners = {session_owner(redis_url, page.get_attribute("#live-root", "data-live-token")) for page in pages}
        assert len(owners) == 3, owners
        # Any worker may now answer: the shared stream lands on one, each page's attach on any.
        proxy.spread()
        proxy.cut()
        proxy.restore()
        for page in pages:
            expect(page.locator("#live-root")).to_have_class(CONNECTED, timeout=15000)
        import httpx

        response = httpx.post(f"{proxy.url}/api/notifications", json={"user": user, "message": "to every tab"})
        assert response.status_code == 202
        for page in pages:
            expect(page.locator(".notification p").first).to_have_text("to every tab", timeout=5000)
        # One connection carries the six pages' frames; the pages hold no stream of their own.
        assert proxy.shared_streams() == 1
        for page in pages:
            own = page.evaluate("performance.getEntriesByType('resource').filter((e) => e.name.includes('/_live/stream')).length")
            assert own == 0
        # Events still reach each page's owner.
        pages[0].click("#tab-activity")
        expect(pages[0].locator("#tab-activity")).to_have_class(re.compile(r"\bactive\b"))
    finally:
        context.close()
