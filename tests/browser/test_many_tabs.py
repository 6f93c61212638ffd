"""Many tabs of one browser over HTTP/1.1 (real uvicorn, one Chromium context): every live page
shares one stream, so a dozen tabs all stay live, past the browser's six connections per host."""

from __future__ import annotations

import os
import random
import re
import time

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.servers import SubprocessServer

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")
ERROR = re.compile(r"\blive-error\b")
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The client's mode, forced per origin before its script runs (about:blank has no storage).
FORCE_FALLBACK = "try { localStorage.setItem('fastapi-live:multiplex', 'broadcast'); } catch (e) {}"
FORCE_OFF = "try { localStorage.setItem('fastapi-live:multiplex', 'off'); } catch (e) {}"


@pytest.fixture
def example(serve):
    from examples.app.main import app

    return serve(app)


def shared_streams() -> list[int]:
    """Pages attached to each shared stream the example's process holds now."""
    from examples.app.main import live

    return [mux.pages for mux in list(live.multiplex.streams.values())]


@pytest.fixture
def context(browser) -> BrowserContext:
    context = browser.new_context()
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    yield context
    context.close()
    assert not errors, f"JavaScript errors on the pages: {errors}"


def open_counter(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url + "/counter")
    expect(page.locator("#live-root")).to_have_class(CONNECTED, timeout=5000)
    return page


def click_and_expect(page: Page, expected: int, timeout: float = 1000) -> None:
    page.click("#inc")
    expect(page.locator("#region-count, .count").first).to_have_text(str(expected), timeout=timeout)


def test_twelve_tabs_are_all_live_and_every_click_is_answered_within_a_second(context, example):
    pages = [open_counter(context, example) for _ in range(12)]
    for page in pages:
        click_and_expect(page, 1)
    for page in reversed(pages):
        click_and_expect(page, 2)
        expect(page.locator("#live-root")).to_have_class(CONNECTED)
    assert shared_streams() == [12]  # one connection carries them all


CHURN_SECONDS = 20.0


def test_tabs_opened_and_closed_in_random_order_while_clicking_keep_every_count_right(context, example):
    # 20 s of churn, not a minute: it opens and closes a few dozen tabs on the shared stream
    # (each open, close and click checked), and the whole browser suite stays within minutes.
    rng = random.Random(19)
    tabs: list[tuple[Page, list[int]]] = []
    opened = closed = clicks = 0
    deadline = time.monotonic() + CHURN_SECONDS
    while time.monotonic() < deadline:
        action = rng.random()
        if not tabs or (action < 0.3 and len(tabs) < 12):
            tabs.append((open_counter(context, example), [0]))
            opened += 1
        elif action < 0.5 and len(tabs) > 1:
            page, _ = tabs.pop(rng.randrange(len(tabs)))
            page.close()
            closed += 1
        else:
            page, count = rng.choice(tabs)
            count[0] += 1
            click_and_expect(page, count[0])
            clicks += 1
    for page, count in tabs:
        count[0] += 1
        click_and_expect(page, count[0])
        expect(page.locator("#live-root")).to_have_class(CONNECTED)
    assert opened > 10 and closed > 5 and clicks > 20, (opened, closed, clicks)
    # Closed tabs detached from the shared stream: only the open ones are on it.
    deadline = time.monotonic() + 5
    while shared_streams() != [len(tabs)] and time.monotonic() < deadline:
        time.sleep(0.05)  # why: the detach of the last closed tab is a request of its own
    assert shared_streams() == [len(tabs)]


def signed_in_dashboard(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url + "/dashboard/acme")
    expect(page.locator("#live-root")).to_have_class(CONNECTED, timeout=5000)
    expect(page.locator(".org-name")).to_have_text("Acme Corp")
    return page


def publish(url: str, user: str, message: str) -> None:
    import httpx

    response = httpx.post(url + "/api/notifications", json={"user": user, "message": message})
    assert response.status_code == 202


def test_without_a_shared_worker_a_leader_tab_holds_the_stream_and_the_next_takes_over_when_it_closes(context, example):
    context.add_init_script(FORCE_FALLBACK)
    context.new_page().goto(example + "/login?user=leader")
    pages = [signed_in_dashboard(context, example) for _ in range(4)]
    assert all(page.evaluate("!!navigator.locks") for page in pages)
    publish(example, "leader", "first")
    for page in pages:
        expect(page.locator(".notification p").first).to_have_text("first", timeout=2000)
    assert shared_streams() == [5]  # the login tab's dashboard, and the four
    # The first tab opened got the leader lock first: it holds the shared stream.
    held = pages[1].evaluate("navigator.locks.query().then((q) => q.held.filter((l) => l.name === 'fastapi-live:leader').length)")
    assert held == 1
    context.pages[0].close()  # the login tab: the leader
    pages[0].close()
    publish(example, "leader", "after the leader left")
    for page in pages[1:]:
        expect(page.locator(".notification p").first).to_have_text("after the leader left", timeout=2000)
        expect(page.locator("#live-root")).to_have_class(CONNECTED)
    deadline = time.monotonic() + 5
    while shared_streams() != [3] and time.monotonic() < deadline:
        time.sleep(0.05)  # why: the old shared stream's end reaches the server on its own
    assert shared_streams() == [3]


@pytest.fixture
def restartable():
    server = SubprocessServer("examples.app.main:app", env={"PYTHONPATH": ROOT_DIR}).start()
    yield server
    server.stop()


def test_a_server_restart_recovers_the_typed_form_of_every_tab(context, restartable):
    server = restartable
    context.new_page().goto(server.url + "/login?user=restart")
    pages = []
    for n in range(4):
        page = context.new_page()
        page.goto(server.url + "/dashboard/acme?tab=settings")
        expect(page.locator("#live-root")).to_have_class(CONNECTED, timeout=5000)
        page.fill("#settings-name", f"Tab {n}")
        page.fill("#settings-email", f"tab{n}@")
        expect(page.locator("#settings-email-error")).to_have_text("Enter a valid email address")
        page.evaluate("window.__marker = 'same page'; document.addEventListener('live:remounted', () => window.__remounted = true)")
        pages.append(page)

    server.stop()
    server.start()

    for n, page in enumerate(pages):
        page.wait_for_function("window.__remounted === true", timeout=20000)
        expect(page.locator("#live-root")).to_have_class(CONNECTED)
        assert page.input_value("#settings-name") == f"Tab {n}"
        assert page.input_value("#settings-email") == f"tab{n}@"
        expect(page.locator("#settings-email-error")).to_have_text("Enter a valid email address")
        assert page.evaluate("window.__marker") == "same page"
    assert "Traceback" not in server.log()


def test_a_stream_that_cannot_open_shows_the_error_state_and_says_why(context, example):
    context.add_init_script(FORCE_OFF)
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    # The stream request stays pending, as a seventh connection to one host does over HTTP/1.1.
    page.route("**/_live/stream", lambda route: None)
    page.goto(example + "/counter")
    started = time.monotonic()
    # The example's disconnectedTimeout is 1000 ms.
    expect(page.locator("#live-root")).to_have_class(ERROR, timeout=1500)
    assert time.monotonic() - started < 1.5
    expect(page.locator("#live-root")).not_to_have_class(CONNECTED)
    why = [text for text in messages if "L016" in text]
    assert why and "six connections" in why[0] and "HTTP/2" in why[0] and "multiplex" in why[0], messages


HIDE = """() => {
  Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def test_a_hidden_tab_keeps_its_page_live_on_the_shared_stream(context, example):
    context.new_page().goto(example + "/login?user=hidden")
    hidden, shown = signed_in_dashboard(context, example), signed_in_dashboard(context, example)
    hidden.evaluate(HIDE)
    publish(example, "hidden", "while you looked away")
    # On the shared stream a hidden tab costs no connection: its page stays attached and current.
    for page in (shown, hidden):
        expect(page.locator(".notification p").first).to_have_text("while you looked away", timeout=2000)
    assert shared_streams() == [3]


def test_a_refused_stream_shows_the_error_state_within_the_timeout_and_says_so(context, example):
    context.add_init_script(FORCE_OFF)
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.route("**/_live/stream", lambda route: route.abort("connectionrefused"))
    page.goto(example + "/counter")
    started = time.monotonic()
    expect(page.locator("#live-root")).to_have_class(ERROR, timeout=1500)
    assert time.monotonic() - started < 1.5
    assert any("L001" in text and "retrying" in text for text in messages), messages
