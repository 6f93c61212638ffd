"""Stream operations applied by the client in a real Chromium: order, replacement, deletion, limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support import stream_cases
from tests.support.servers import SubprocessServer
from tests.support.stream_cases import CASES
from tests.support.views.async_views import make_app
from tests.support.views.stored_feed import STORE_ENV, write_store

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def feed_url(serve):
    app, _ = make_app()
    return serve(app) + "/feed?n=3"


def push(page, event: str, **params) -> None:
    page.evaluate("([event, params]) => FastapiLive.pushEvent(document.getElementById('posts'), event, params)", [event, params])


def items(page) -> list[str]:
    return page.eval_on_selector_all("#posts > li", "els => els.map(e => `${e.id}:${e.textContent}`)")


def test_stream_operations_change_only_the_items_they_name(page, feed_url):
    page.goto(feed_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.evaluate("document.getElementById('post-2').dataset.marker = 'kept'")
    assert items(page) == ["post-1:Post 1", "post-2:Post 2", "post-3:Post 3"]

    push(page, "insert", id=4, title="Appended")
    push(page, "insert", id=0, title="Prepended", at=0)
    expect(page.locator("#count")).to_have_text("Inserted: 5")
    assert items(page) == ["post-0:Prepended", "post-1:Post 1", "post-2:Post 2", "post-3:Post 3", "post-4:Appended"]
    assert page.evaluate("document.getElementById('post-2').dataset.marker") == "kept"

    push(page, "insert", id=3, title="Edited in place")
    expect(page.locator("#post-3")).to_have_text("Edited in place")
    assert items(page)[3] == "post-3:Edited in place" and len(items(page)) == 5

    push(page, "insert", id=99, title="Not shown", update_only=True)
    push(page, "delete", id=1)
    expect(page.locator("#post-1")).to_have_count(0)
    assert items(page) == ["post-0:Prepended", "post-2:Post 2", "post-3:Edited in place", "post-4:Appended"]


def test_limits_and_reset(page, feed_url):
    page.goto(feed_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    push(page, "insert", id=4, title="Fourth", limit=-3)  # append, keep the last three
    expect(page.locator("#posts > li")).to_have_count(3)
    assert items(page) == ["post-2:Post 2", "post-3:Post 3", "post-4:Fourth"]
    push(page, "insert", id=0, title="Zero", at=0, limit=2)  # prepend, keep the first two
    expect(page.locator("#posts > li")).to_have_count(2)
    assert items(page) == ["post-0:Zero", "post-2:Post 2"]
    push(page, "reset", ids="7,8")
    expect(page.locator("#posts > li")).to_have_count(2)
    assert items(page) == ["post-7:Fresh 7", "post-8:Fresh 8"]


def test_re_rendering_the_live_container_keeps_the_streamed_items(page, feed_url):
    page.goto(feed_url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    push(page, "insert", id=4, title="Streamed later")
    expect(page.locator("#post-4")).to_have_text("Streamed later")
    push(page, "retitle", heading="Renamed feed")
    expect(page.locator("h1")).to_have_text("Renamed feed")
    assert items(page) == ["post-1:Post 1", "post-2:Post 2", "post-3:Post 3", "post-4:Streamed later"]



def test_static_children_stay_and_an_empty_state_shows_when_no_item_is_left(page, serve):
    app, _ = make_app()
    page.goto(serve(app) + "/feed-statics?n=1")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    children = "els => els.map(e => e.id)"
    assert page.eval_on_selector_all("#posts > li", children) == ["posts-header", "post-1", "posts-empty"]
    expect(page.locator("#posts-empty")).to_be_hidden()
    push(page, "insert", id=0, title="Zero", at=0)
    push(page, "delete", id=1)
    expect(page.locator("#post-1")).to_have_count(0)
    assert page.eval_on_selector_all("#posts > li", children) == ["posts-header", "post-0", "posts-empty"]
    push(page, "reset")
    expect(page.locator("#post-0")).to_have_count(0)
    expect(page.locator("#posts-empty")).to_be_visible()
    expect(page.locator("#posts-header")).to_have_text("Feed: newest first")
    push(page, "insert", id=5, title="Five", at=0, limit=1)
    expect(page.locator("#post-5")).to_be_visible()
    expect(page.locator("#posts-empty")).to_be_hidden()
    assert page.eval_on_selector_all("#posts > li", children) == ["posts-header", "post-5", "posts-empty"]


# -- a remount ---------------------------------------------------------------------------------------

ROOT_DIR = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def stored_feed(tmp_path):
    store = tmp_path / "feed.json"
    write_store(store, [1, 2, 3])
    server = SubprocessServer("tests.support.views.stored_feed_app:app", env={"PYTHONPATH": ROOT_DIR, STORE_ENV: str(store)}).start()
    yield server, store
    server.stop()


def test_after_a_restart_the_remount_drops_the_items_the_server_no_longer_has(page, stored_feed):
    server, store = stored_feed
    page.goto(server.url + "/stored")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    ids = "els => els.map(e => e.id)"
    assert page.eval_on_selector_all("#posts > li", ids) == ["posts-header", "post-1", "post-2", "post-3", "posts-empty"]
    push(page, "delete", id=1)
    expect(page.locator("#post-1")).to_have_count(0)
    page.evaluate("document.getElementById('post-3').__same = true; document.addEventListener('live:remounted', () => window.__remounted = true)")

    server.stop()
    write_store(store, [3, 4])  # meanwhile post-2 was deleted and post-4 added elsewhere
    server.start()

    page.wait_for_function("window.__remounted === true", timeout=20000)
    # The fresh render is what the page shows now, as after LiveView's join: the dead render's
    # post-2 is gone, post-3 stays (the same element), the static children stay.
    assert page.eval_on_selector_all("#posts > li", ids) == ["posts-header", "post-3", "post-4", "posts-empty"]
    assert page.evaluate("document.getElementById('post-3').__same") is True
    push(page, "delete", id=3)  # still live, and its items still found by id
    expect(page.locator("#post-3")).to_have_count(0)
    assert page.eval_on_selector_all("#posts > li", ids) == ["posts-header", "post-4", "posts-empty"]
    assert "Traceback" not in server.log()

# -- one set of stream cases, applied by the real client (the same run against the testing DOM
# and the first render: tests/test_streams.py) ------------------------------------------------------

STATIC = Path(__file__).resolve().parents[2] / "static"
APPLY_MESSAGES = """async ([container, messages]) => {
    document.body.innerHTML = container;
    for (const text of messages) {
        await htmx.swap({sourceElement: document.body, target: document.body, text, swap: "none", transition: false});
    }
    return [...document.getElementById("posts").children].map((el) => `${el.id}:${el.textContent}`);
}"""


def test_stream_cases_in_the_real_client(page):
    page.set_content("<!doctype html><html><head></head><body></body></html>")
    for script in ("vendor/htmx.min.js", "fastapi-live.js"):
        page.add_script_tag(path=str(STATIC / script))
    page.wait_for_function("() => window.FastapiLive !== undefined")
    mismatches = {}
    for case in CASES:
        html, messages = stream_cases.initial_html_and_messages(case)
        got = page.evaluate(APPLY_MESSAGES, [stream_cases.container_html(html), messages])
        if got != case.expected_children():
            mismatches[case.name] = {"expected": case.expected_children(), "got": got}
    assert not mismatches, f"the client disagrees with the stream cases: {mismatches}"
