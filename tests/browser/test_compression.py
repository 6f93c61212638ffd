"""The wire in a real Chromium: gzip-encoded streams and text patches apply, change after change,
and a region changed beside the server is fetched whole instead of silently differing."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.views.ticker import HeaderLog, make_app

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")
FORCE_OFF = "try { localStorage.setItem('fastapi-live:multiplex', 'off'); } catch (e) {}"


@pytest.fixture
def ticker(serve) -> tuple[str, HeaderLog]:
    app, _ = make_app()
    return serve(app), app


def open_ticker(page: Page, url: str) -> None:
    page.goto(url + "/ticker")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)


def publish(url: str, note: str) -> None:
    assert httpx.post(f"{url}/publish", params={"note": note}).status_code == 204


def streams(log: HeaderLog) -> list[tuple[str, str | None, str | None]]:
    return [seen for seen in log.seen if seen[0] == "/_live/stream"]


@pytest.mark.parametrize("shared", [True, False], ids=["shared stream", "own stream"])
def test_many_clicks_and_published_notes_apply_over_a_gzip_stream(page, ticker, shared):
    url, log = ticker
    if not shared:
        page.add_init_script(FORCE_OFF)
    open_ticker(page, url)
    for n in range(1, 16):
        page.click("#inc")
        expect(page.locator("#count")).to_have_text(f"Count: {n}")
        publish(url, f"note {n} <&>")
        expect(page.locator("#note .note")).to_have_text(f"note {n} <&>")
    expect(page.locator("#note .by")).to_have_text("by nobody")
    assert log.events.count("inc") == 15 and "live:refresh" not in log.events  # every text patch fitted its region
    # Every stream the browser opened (its own, or the shared one) came gzip-encoded.
    opened = streams(log)
    assert opened and all(encoding == "gzip" and "gzip" in (accept or "") for _, accept, encoding in opened), opened
    # Its regions carry the version of the last change: later patches are still judged against it.
    assert page.get_attribute("#count", "data-live-v") is not None


def test_a_region_whose_text_a_script_changed_is_fetched_whole_and_then_always_sent_whole(page, ticker):
    url, log = ticker
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    open_ticker(page, url)
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("Count: 1")
    # A script (a hook, an extension) changes the region's text beside the server.
    page.evaluate("document.querySelector('#count b').textContent = 'tampered'")
    page.click("#inc")  # a text patch for "1" -> "2": it no longer fits, so the region comes whole
    expect(page.locator("#count")).to_have_text("Count: 2")
    assert any("L030" in text for text in messages), messages
    assert log.events.count("live:refresh") == 1
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("Count: 3")
    assert log.events.count("live:refresh") == 1  # sent whole now: nothing more to fetch


def test_a_client_without_accept_encoding_gets_the_stream_as_plain_text(ticker):
    url, log = ticker
    with httpx.Client(base_url=url) as client:
        page = client.get("/ticker")
        token = re.search(r'data-live-token="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        del client.headers["accept-encoding"]  # httpx sends one unless told not to
        with client.stream("GET", "/_live/stream", headers={"X-Live-Token": token}) as stream:
            assert "content-encoding" not in stream.headers and stream.headers["vary"].lower() == "accept-encoding"
            publish(url, "plain")
            raw = b""
            for chunk in stream.iter_raw():
                raw += chunk
                if b"plain" in raw:
                    break
    assert raw.startswith(b"id: ") and b"data: <hx-partial" in raw
    assert streams(log)[-1] == ("/_live/stream", None, None)
