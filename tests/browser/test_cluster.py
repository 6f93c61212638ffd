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
