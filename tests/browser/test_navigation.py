"""Live navigation in a real Chromium: patch links, navigate links, Back and Forward, the flash,
and a restart after a patch."""

from __future__ import annotations

import os
import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.support.servers import SubprocessServer

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")
ACTIVE = re.compile(r"\bactive\b")
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Requests:
    """Playwright's request log: document loads, and the streams still open."""

    def __init__(self, page: Page) -> None:
        self.documents: list[str] = []
        self.open_streams: set[object] = set()
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_end)
        page.on("requestfailed", self._on_end)

    def _on_request(self, request) -> None:
        if request.resource_type == "document":
            self.documents.append(request.url)
        if "/_live/stream" in request.url:
            self.open_streams.add(request)

    def _on_end(self, request) -> None:
        self.open_streams.discard(request)


@pytest.fixture
def example(serve):
    from examples.app.main import app, live

    return serve(app), live


def sign_in(page: Page, url: str, path: str = "/dashboard/acme") -> None:
    page.goto(url + "/login?user=alice")
    if path != "/dashboard/acme":
        page.goto(url + path)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)


def dashboard_loaded(page: Page) -> None:
    expect(page.locator("#async-org .org-name")).to_have_text("Acme Corp")
    expect(page.locator("#posts > li")).to_have_count(4)


# -- patch links: the dashboard's tabs ------------------------------------------------------------------


def test_a_tab_is_a_patch_keeping_the_page_its_typed_input_and_its_loaded_parts(page, example):
    url, _ = example
    sign_in(page, url)
    dashboard_loaded(page)
    page.evaluate("window.__marker = 'same document'")
    page.fill("#settings-name", "Ada typed this")
    requests = Requests(page)

    page.click("#tab-settings")

    expect(page).to_have_url(url + "/dashboard/acme?tab=settings")
    expect(page.locator("#tab-settings")).to_have_class(ACTIVE)
    expect(page.locator("#tab-panel")).to_have_text("Settings live in the form beside this card.")
    assert page.evaluate("window.__marker") == "same document"
    assert page.input_value("#settings-name") == "Ada typed this"
    # The async parts loaded before the patch stay loaded: no loading state, no reload.
    expect(page.locator("#async-org .org-name")).to_have_text("Acme Corp")
    expect(page.locator("#async-org")).not_to_contain_text("Loading")
    assert page.eval_on_selector_all("#posts > li", "els => els.map(e => e.id)") == ["post-1", "post-2", "post-3", "post-4"]
    assert requests.documents == []
    assert page.get_attribute("#tab-settings", "href") == "/dashboard/acme?tab=settings"  # a plain link without JS


def test_loading_a_tab_url_opens_that_tab(page, example):
    url, _ = example
    sign_in(page, url, "/dashboard/acme?tab=settings")
    expect(page.locator("#tab-settings")).to_have_class(ACTIVE)
    expect(page.locator("#tab-overview")).not_to_have_class(ACTIVE)


def test_back_and_forward_move_between_three_tabs_without_a_reload(page, example):
    url, _ = example
    sign_in(page, url)
    dashboard_loaded(page)
    page.evaluate("window.__marker = 'same document'")
    requests = Requests(page)
    page.click("#tab-activity")
    expect(page).to_have_url(url + "/dashboard/acme?tab=activity")
    page.click("#tab-settings")
    expect(page).to_have_url(url + "/dashboard/acme?tab=settings")
    expect(page.locator("#tab-settings")).to_have_class(ACTIVE)

    page.go_back()
    expect(page).to_have_url(url + "/dashboard/acme?tab=activity")
    expect(page.locator("#tab-activity")).to_have_class(ACTIVE)
    page.go_back()
    expect(page).to_have_url(url + "/dashboard/acme")
    expect(page.locator("#tab-overview")).to_have_class(ACTIVE)
    page.go_forward()
    expect(page).to_have_url(url + "/dashboard/acme?tab=activity")
    expect(page.locator("#tab-activity")).to_have_class(ACTIVE)
    page.go_forward()
    expect(page.locator("#tab-settings")).to_have_class(ACTIVE)

    assert page.evaluate("window.__marker") == "same document"
    assert requests.documents == []
    expect(page.locator("#async-org .org-name")).to_have_text("Acme Corp")


def test_posts_page_through_handle_params(page, example):
    url, _ = example
    sign_in(page, url, "/dashboard/acme?tab=activity")
    dashboard_loaded(page)
    page.click("#older-posts")
    expect(page).to_have_url(url + "/dashboard/acme?tab=activity&page=2")
    expect(page.locator("#posts > li")).to_have_count(3)
    assert page.eval_on_selector_all("#posts > li", "els => els.map(e => e.id)") == ["post-7", "post-8", "post-9"]
    expect(page.locator("#pager")).to_contain_text("Page 2 of 2")
    expect(page.locator("#tab-activity")).to_have_class(ACTIVE)  # the tab stays
    page.go_back()
    expect(page.locator("#posts > li")).to_have_count(4)
    expect(page.locator("#pager")).to_contain_text("Page 1 of 2")


def test_a_modifier_click_opens_the_patch_link_in_a_new_tab(page, example):
    url, _ = example
    sign_in(page, url)
    dashboard_loaded(page)
    with page.context.expect_page() as opened:
        page.click("#tab-settings", modifiers=["Control"])
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url == url + "/dashboard/acme?tab=settings"
    expect(tab.locator("#tab-settings")).to_have_class(ACTIVE)
    expect(page).to_have_url(url + "/dashboard/acme")  # this tab did not move
    tab.close()


# -- navigate links: the top bar ----------------------------------------------------------------------------


def test_navigate_from_counter_to_dashboard_loads_no_document_and_leaves_one_stream(page, example):
    url, live = example
    sign_in(page, url, "/counter")
    expect(page.locator("#count")).to_have_text("0")
    page.evaluate("window.__marker = 'same document'")
    requests = Requests(page)
    counter_session = live.manager.by_token[page.get_attribute("#live-root", "data-live-token")]

    page.click(".topbar nav >> text=Dashboard")

    expect(page).to_have_url(url + "/dashboard/acme")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    dashboard_loaded(page)
    expect(page).to_have_title("Dashboard · fastapi-live")
    assert page.evaluate("window.__marker") == "same document"
    assert requests.documents == [], requests.documents
    assert counter_session.closed  # the page it left ended at once
    # Exactly one stream afterwards, as the browser sees it and as the server does.
    page.wait_for_function("document.querySelectorAll('[data-live-root]').length === 1")
    expect(page.locator(".topbar nav a[aria-current=page]")).to_have_text("Dashboard")
    # The page holds no stream of its own: the browser's shared stream (its SharedWorker's)
    # carries the dashboard's, and only it.
    assert requests.open_streams == set(), [r.url for r in requests.open_streams]
    dashboard_session = live.manager.by_token[page.get_attribute("#live-root", "data-live-token")]
    deadline = time.monotonic() + 5
    while [mux.pages for mux in list(live.multiplex.streams.values())] != [1] and time.monotonic() < deadline:
        time.sleep(0.02)  # why: polling the server thread's state for the detach request
    assert [mux.pages for mux in list(live.multiplex.streams.values())] == [1]
    assert [conn.owner for conn in live.manager.connections if conn.owner is not None] == [dashboard_session]


def test_back_after_a_navigation_returns_to_the_page_it_left(page, example):
    url, _ = example
    sign_in(page, url, "/counter")
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("1")
    page.evaluate("window.__marker = 'same document'")
    requests = Requests(page)
    page.click(".topbar nav >> text=Dashboard")
    dashboard_loaded(page)
    page.go_back()
    expect(page).to_have_url(url + "/counter")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    expect(page.locator("#count")).to_have_text("0")  # a fresh mount, as a full load would show
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("1")
    page.go_forward()
    expect(page).to_have_url(url + "/dashboard/acme")
    dashboard_loaded(page)
    assert page.evaluate("window.__marker") == "same document"
    assert requests.documents == []


def test_a_link_to_a_page_that_is_not_live_is_a_full_load(page, example):
    url, _ = example
    sign_in(page, url, "/counter")
    requests = Requests(page)
    page.click(".brand")  # "/" is a plain FastAPI page
    expect(page.locator("h1")).to_have_text("Live pages for FastAPI")
    assert requests.documents == [url + "/"]


# -- a restart after a patch ------------------------------------------------------------------------------


@pytest.fixture
def restartable():
    server = SubprocessServer("examples.app.main:app", env={"PYTHONPATH": ROOT_DIR}).start()
    yield server
    server.stop()


def test_a_restart_after_a_patch_remounts_at_the_patched_url(page, restartable):
    server = restartable
    sign_in(page, server.url)
    dashboard_loaded(page)
    page.click("#older-posts")
    expect(page.locator("#pager")).to_contain_text("Page 2 of 2")
    page.click("#tab-activity")
    expect(page).to_have_url(server.url + "/dashboard/acme?tab=activity&page=2")
    page.evaluate("window.__marker = 'same page'; document.addEventListener('live:remounted', () => window.__remounted = true)")

    server.stop()
    server.start()

    page.wait_for_function("window.__remounted === true", timeout=20000)
    # The new process mounted the page at the URL the browser shows, not the first one.
    expect(page.locator("#pager")).to_contain_text("Page 2 of 2")
    expect(page.locator("#posts > li")).to_have_count(3)
    expect(page.locator("#tab-activity")).to_have_class(ACTIVE)
    expect(page).to_have_url(server.url + "/dashboard/acme?tab=activity&page=2")
    assert page.evaluate("window.__marker") == "same page"
    # And the page stays live there: patching again works against the new process.
    page.click("#newer-posts")
    expect(page.locator("#pager")).to_contain_text("Page 1 of 2")
    expect(page).to_have_url(server.url + "/dashboard/acme?tab=activity")
    assert "Traceback" not in server.log()


# -- the fixture pages: flash, scroll, errors, other routers ------------------------------------------------


@pytest.fixture
def catalog(serve):
    from tests.support.views.navigation import make_app

    app, live = make_app()
    return serve(app), live


def open_catalog(page: Page, url: str, path: str = "/catalog") -> Requests:
    page.goto(url + path)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    expect(page.locator("#stock")).to_have_text("Stock: 42")
    page.evaluate("window.__marker = 'same document'")
    return Requests(page)


def test_a_flash_put_before_push_navigate_shows_on_the_page_it_lands_on(page, catalog):
    url, _ = catalog
    requests = open_catalog(page, url)
    page.click("#go-other")
    expect(page).to_have_url(url + "/other")
    expect(page.locator("#flash")).to_have_text(re.compile("Welcome from the catalog"))
    assert page.get_attribute("#flash", "role") == "alert"
    assert requests.documents == [] and page.evaluate("window.__marker") == "same document"
    page.click("#flash .live-flash-close")
    expect(page.locator("#flash .live-flash-message")).to_have_count(0)
    # The carrier is spent: the next page shows no flash.
    page.click("#catalog-b")
    expect(page.locator("#panel-text")).to_have_text("Tab b, page 1, section all")
    expect(page.locator("#flash .live-flash-message")).to_have_count(0)


def test_a_flash_with_clear_after_closes_itself(page, catalog):
    url, _ = catalog
    open_catalog(page, url)
    page.click("#flash-brief")
    expect(page.locator("#flash")).to_have_text(re.compile("Gone in a moment"))
    expect(page.locator("#flash .live-flash-message")).to_have_count(0)  # closed by the client, cleared on the server


def test_a_flash_put_before_a_redirect_shows_after_the_full_load(page, catalog):
    url, _ = catalog
    requests = open_catalog(page, url)
    page.click("#go-redirect")
    expect(page).to_have_url(url + "/other")
    expect(page.locator("#flash .live-flash-error")).to_contain_text("Redirected with a flash")
    assert requests.documents == [url + "/other"]
    page.reload()  # shown once: a reload of the page does not show it again
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    expect(page.locator("#flash .live-flash-message")).to_have_count(0)


def test_back_and_forward_restore_the_scroll_position(page, catalog):
    url, _ = catalog
    open_catalog(page, url)
    page.evaluate("window.scrollTo(0, 900)")
    page.wait_for_function("window.scrollY === 900")
    page.evaluate("document.getElementById('tab-b').click()")  # a click that scrolls nothing
    expect(page).to_have_url(url + "/catalog?tab=b")
    expect(page.locator("#panel-text")).to_have_text("Tab b, page 1, section all")
    assert page.evaluate("window.scrollY") == 900  # a patch keeps the scroll position
    page.evaluate("window.scrollTo(0, 300)")
    page.wait_for_function("window.scrollY === 300")
    page.go_back()
    expect(page.locator("#panel-text")).to_have_text("Tab a, page 1, section all")
    page.wait_for_function("window.scrollY === 900")
    page.go_forward()
    expect(page.locator("#panel-text")).to_have_text("Tab b, page 1, section all")
    page.wait_for_function("window.scrollY === 300")


def test_a_navigation_starts_at_the_top_and_back_restores_the_scroll(page, catalog):
    url, _ = catalog
    open_catalog(page, url)
    page.evaluate("window.scrollTo(0, 700)")
    page.wait_for_function("window.scrollY === 700")
    page.evaluate("document.getElementById('go-other-link').click()")
    expect(page.locator("#other-title")).to_have_text("Other page")
    page.wait_for_function("window.scrollY === 0")
    page.go_back()
    expect(page.locator("#panel-text")).to_have_text("Tab a, page 1, section all")
    page.wait_for_function("window.scrollY === 700")
    assert page.evaluate("window.__marker") == "same document"


def test_params_that_do_not_fit_are_an_error_event_and_the_page_stays_live(page, catalog):
    url, _ = catalog
    open_catalog(page, url)
    page.evaluate("document.addEventListener('live:error', (e) => window.__error = e.detail.status)")
    page.click("#bad")
    page.wait_for_function("window.__error === 422")
    expect(page).to_have_url(url + "/catalog")
    page.click("#next")
    expect(page).to_have_url(url + "/catalog?tab=a&page=2")
    expect(page.locator("#panel-text")).to_have_text("Tab a, page 2, section all")


def test_a_first_request_whose_params_do_not_fit_is_a_422(page, catalog):
    url, _ = catalog
    response = page.goto(url + "/catalog?page=zero")
    assert response is not None and response.status == 422
    assert "page" in page.content()


def test_push_patch_with_replace_changes_the_entry_instead_of_adding_one(page, catalog):
    url, _ = catalog
    open_catalog(page, url)
    page.click("#next")
    expect(page).to_have_url(url + "/catalog?tab=a&page=2")
    length = page.evaluate("history.length")
    page.click("#first")
    expect(page).to_have_url(url + "/catalog?tab=a")
    expect(page.locator("#panel-text")).to_have_text("Tab a, page 1, section all")
    assert page.evaluate("history.length") == length
    page.click("#replace-c")
    expect(page).to_have_url(url + "/catalog?tab=c")
    assert page.evaluate("history.length") == length


def test_a_patch_link_to_another_path_of_the_view_binds_its_path_params(page, catalog):
    url, _ = catalog
    requests = open_catalog(page, url)
    mounted = page.text_content("#mount")
    page.click("#section-shoes")
    expect(page).to_have_url(url + "/catalog/shoes?tab=b")
    expect(page.locator("#panel-text")).to_have_text("Tab b, page 1, section shoes")
    assert page.text_content("#mount") == mounted  # patched, not remounted
    assert requests.documents == []


def test_a_patch_link_to_another_view_navigates(page, catalog):
    url, _ = catalog
    requests = open_catalog(page, url)
    page.click("#to-other")
    expect(page.locator("#other-title")).to_have_text("Other page")
    expect(page).to_have_url(url + "/other")
    page.go_back()
    expect(page).to_have_url(url + "/catalog")
    expect(page.locator("#panel-text")).to_have_text("Tab a, page 1, section all")
    assert requests.documents == []


def test_pages_of_another_router_and_plain_pages_are_full_loads(page, catalog):
    url, _ = catalog
    requests = open_catalog(page, url)
    assert page.get_attribute("#nav-foreign", "data-live-link") is None  # rendered as a plain link
    page.click("#nav-foreign")
    expect(page.locator("#other-title")).to_have_text("Other page")
    assert requests.documents == [url + "/foreign"]
    page.go_back()
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    page.click("#go-plain")  # push_navigate to a page no live router serves: a redirect
    expect(page.locator("#plain")).to_have_text("A plain page")
    assert requests.documents[-1] == url + "/plain"
