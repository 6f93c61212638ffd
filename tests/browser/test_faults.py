"""A handler that raises: an error state on the page, the page stays live, others untouched."""

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


def test_a_raising_handler_shows_an_error_and_the_page_stays_usable(page, browser, example_url):
    other = browser.new_context().new_page()
    for p in (page, other):
        p.goto(example_url + "/counter")
        expect(p.locator("#live-root")).to_have_class(CONNECTED)

    page.click("#inc")
    expect(page.locator("#count")).to_have_text("1")
    page.click("#explode")
    expect(page.locator("#server-error")).to_be_visible()
    expect(page.locator("#live-root")).to_have_class(re.compile(r"\blive-server-error\b"))

    page.click("#inc")
    expect(page.locator("#count")).to_have_text("2")
    expect(page.locator("#server-error")).to_be_hidden()

    other.click("#inc")
    expect(other.locator("#count")).to_have_text("1")
    expect(other.locator("#server-error")).to_be_hidden()
    other.context.close()
