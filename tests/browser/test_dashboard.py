"""The example dashboard in a real Chromium: loading states first, results morphed in, no reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.gates import GATES
from tests.support.views.async_views import make_app

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")

# Runs before any page script: counts full page loads in this tab and records every text the
# organization card shows, from the first parsed HTML on.
RECORDER = """
(() => {
    const loads = Number(sessionStorage.getItem("fastapi-live-test-loads") || 0) + 1;
    sessionStorage.setItem("fastapi-live-test-loads", String(loads));
    window.__loadNumber = loads;
    window.__orgTexts = [];
    const record = () => {
        const org = document.getElementById("async-org");
        const text = org ? org.textContent.replace(/\\s+/g, " ").trim() : null;
        if (text !== null && window.__orgTexts[window.__orgTexts.length - 1] !== text) {
            window.__orgTexts.push(text);
        }
    };
    document.addEventListener("DOMContentLoaded", () => {
        record();
        new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
    });
})();
"""


@pytest.fixture
def example_url(serve):
    from examples.app.main import app

    return serve(app)


def login(page, url: str, path: str = "/dashboard/acme") -> None:
    page.add_init_script(RECORDER)
    page.goto(url + "/login?user=alice")  # sets the cookie, lands on /dashboard/acme
    if path != "/dashboard/acme":
        page.goto(url + path)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)


def test_the_organization_loads_after_the_page_without_a_reload(page, example_url):
    login(page, example_url)
    expect(page.locator("#async-org .org-name")).to_have_text("Acme Corp")
    expect(page.locator("#async-org")).not_to_contain_text("Loading organization...")
    texts = page.evaluate("window.__orgTexts")
    assert texts[0] == "Loading organization...", texts
    assert texts[-1].startswith("Acme Corp"), texts
    assert page.evaluate("window.__loadNumber") == 1
    assert page.url == example_url + "/dashboard/acme"


def test_the_other_async_assigns_land_too(page, example_url):
    login(page, example_url)
    expect(page.locator("#async-profile .tagline")).to_have_text("“Quality anvils since 1949”")
    expect(page.locator("#async-rank .rank")).to_contain_text("Rank #1")
    expect(page.locator("#async-org .org-name")).to_have_text("Acme Corp")


def test_a_broken_organization_ends_in_its_failed_state(page, example_url):
    login(page, example_url, "/dashboard/broken")
    expect(page.locator("#async-org")).to_have_text("Failed to load organization")
    expect(page.locator("#async-profile")).to_contain_text("Failed to load profile")
    texts = page.evaluate("window.__orgTexts")
    assert texts[0] == "Loading organization..." and texts[-1] == "Failed to load organization", texts
    assert "Traceback" not in page.content() and "OrgNotFound" not in page.content()


def test_posts_stream_in_with_their_dom_ids(page, example_url):
    login(page, example_url)
    items = page.locator("#posts > li")
    expect(items).to_have_count(4)
    assert page.eval_on_selector_all("#posts > li", "els => els.map(e => e.id)") == ["post-1", "post-2", "post-3", "post-4"]
    expect(page.locator("#post-1 .title")).to_have_text("Rocket skates: a field report")
    expect(page.locator("#async-posts")).not_to_contain_text("Loading posts...")


# -- two async assigns whose order the test decides ---------------------------------------------------


@pytest.fixture
def pair_url(serve, run):
    app, _ = make_app()
    return serve(app) + f"/pair?run={run}"


@pytest.mark.parametrize("order", [("first", "second"), ("second", "first")])
def test_two_results_arriving_in_either_order_both_land(page, pair_url, run, order):
    page.goto(pair_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.evaluate("window.__noReload = true")
    expect(page.locator("#async-first")).to_have_text("Loading first...")
    expect(page.locator("#async-second")).to_have_text("Loading second...")
    early, late = order
    GATES.get(run, early).open(f"{early} value")
    expect(page.locator(f"#async-{early}")).to_have_text(f"{early.title()}: {early} value")
    expect(page.locator(f"#async-{late}")).to_have_text(f"Loading {late}...")
    GATES.get(run, late).open(f"{late} value")
    expect(page.locator(f"#async-{late}")).to_have_text(f"{late.title()}: {late} value")
    expect(page.locator(f"#async-{early}")).to_have_text(f"{early.title()}: {early} value")
    assert page.evaluate("window.__noReload") is True
