"""``#presence`` in Chromium across two worker processes behind a non-sticky balancer."""

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
def balanced(redis_server_url):
    env = {"PYTHONPATH": ROOT_DIR, "REDIS_URL": redis_server_url, "EXAMPLE_ORG_LATENCY_MS": "50", "EXAMPLE_PROFILE_LATENCY_MS": "80"}
    a = SubprocessServer("examples.app.main:app", env=env).start()
    b = SubprocessServer("examples.app.main:app", env=env).start()
    proxy = RoundRobinProxy([a.port, b.port]).start()
    yield proxy
    proxy.stop()
    a.stop()
    b.stop()


def test_two_users_on_two_workers_see_each_other_come_and_go_within_a_second(browser, balanced):
    proxy = balanced
    slug = f"org-{uuid.uuid4().hex[:8]}"
    ann, bob = f"ann-{slug}", f"bob-{slug}"
    pages = {}
    for index, user in enumerate((ann, bob)):
        proxy.pin(index)  # ann's page is served and owned by worker A, bob's by worker B
        page = browser.new_context().new_page()
        page.goto(f"{proxy.url}/login?user={user}")
        page.goto(f"{proxy.url}/dashboard/{slug}")
        expect(page.locator("#live-root")).to_have_class(CONNECTED)
        pages[user] = page
    proxy.spread()

    people = pages[ann].locator("#presence li")
    expect(people).to_have_count(2, timeout=1000)
    expect(people).to_have_text([re.compile(ann), re.compile(bob)])
    expect(pages[bob].locator("#presence li")).to_have_count(2)
    expect(pages[ann].locator("#presence .pill")).to_have_text("2")

    pages[bob].context.close()  # the tab closes: its stream ends
    expect(people).to_have_count(1, timeout=1000)
    expect(people).to_have_text([re.compile(ann)])
    pages[ann].context.close()
