"""Live navigation through the real endpoints: handle_params on the page request and on patches,
push_patch and push_navigate, the flash carried across, the remount URL and the toolkit's verbs."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest

from fastapi_live.testing import (
    EventFailedError,
    LiveTestClient,
    LiveTestError,
    assert_patch,
    assert_redirect,
    follow_redirect,
    live,
    render,
    render_async,
    render_click,
    render_patch,
)
from fastapi_live.testing import sync as live_sync
from fastapi_live.wire import FLASH_COOKIE, NAVIGATE_HEADER, PATCH_EVENT, TOKEN_HEADER
from tests.support.testing_plugin import plugins
from tests.support.views.navigation import make_app

pytest_plugins = plugins()


@pytest.fixture
def nav():
    return make_app()


@pytest.fixture
def live_app(nav):
    return nav[0]


def panel(view) -> str:
    return render(view).split('<p id="panel-text">', 1)[1].split("</p>", 1)[0]


def mounted(view) -> str:
    return render(view).split('id="mount"', 1)[1].split("mounted ", 1)[1].split("<", 1)[0]


# -- handle_params on the page request -------------------------------------------------------------------


async def test_handle_params_runs_after_mount_with_the_query_bound_by_type(live_client):
    view, html = await live(live_client, "/catalog?tab=b&page=2&unknown=x")
    assert "Tab b, page 2, section all" in html
    assert "1 handle_params calls" in html
    assert view.assigns.seen_urls == ["/catalog?tab=b&page=2&unknown=x"]


async def test_path_params_reach_handle_params_too(live_client):
    _view, html = await live(live_client, "/catalog/shoes?tab=c")
    assert "Tab c, page 1, section shoes" in html


@pytest.mark.parametrize(
    ("query", "loc", "kind"),
    [("page=zero", ["query", "page"], "int_parsing"), ("page=0", ["query", "page"], "greater_than_equal"), ("tab=d", ["query", "tab"], "literal_error")],
)
async def test_params_that_do_not_fit_answer_the_page_request_with_422(live_client, nav, query, loc, kind):
    response = await live_client.get(f"/catalog?{query}")
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == loc and error["type"] == kind
    assert nav[1].manager.sessions == {}  # the page did not mount


async def test_a_pydantic_model_takes_every_param_and_repeated_keys_become_lists(live_client):
    view, _ = await live(live_client, "/search?q=anvil&tags=heavy&tags=iron&limit=5")
    filters = view.assigns.filters
    assert (filters.q, filters.tags, filters.limit) == ("anvil", ["heavy", "iron"], 5)
    response = await live_client.get("/search?limit=51")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_fastapi_query_aliases_and_list_params_bind(live_client):
    view, _ = await live(live_client, "/aliased?page-size=20&tag=a&tag=b")
    assert (view.assigns.size, view.assigns.tags) == (20, ["a", "b"])


async def test_liveviews_own_order_params_url_socket_binds_too(live_client):
    view, _ = await live(live_client, "/raw?q=x&tag=a&tag=b")
    assert view.assigns.raw == {"q": "x", "tag": ["a", "b"]}
    assert view.assigns.url_seen == "/raw?q=x&tag=a&tag=b"


async def test_a_handle_params_hook_runs_first_and_may_halt(live_client):
    view, _ = await live(live_client, "/guarded?x=1")
    assert (view.assigns.hook_saw, view.assigns.view_saw) == ("/guarded?x=1", "/guarded?x=1")
    await render_patch(view, "?blocked=1")
    assert (view.assigns.hook_saw, view.assigns.view_saw) == ("/guarded?blocked=1", "/guarded?x=1")


async def test_a_legacy_url_is_canonicalised_by_a_redirect_on_the_page_request(live_client):
    response = await live_client.get("/catalog?tab=b&legacy=true")
    assert response.status_code == 303 and response.headers["location"] == "/catalog?tab=b"


# -- patches -----------------------------------------------------------------------------------------------


async def test_a_patch_runs_handle_params_sends_only_what_changed_and_keeps_the_session(live_client):
    view, _ = await live(live_client, "/catalog")
    await render_async(view)
    session, mount_id = view.session, mounted(view)
    response = await live_client.post(
        "/_live/event", json={"url": "/catalog?tab=c"}, headers={TOKEN_HEADER: view._token, "x-live-event": PATCH_EVENT, "origin": "http://testserver"}
    )
    assert response.status_code == 200
    targets = re.findall(r'<hx-partial (?:hx-target="#|id=")([^"]+)"', response.text)  # whole regions, or text patches
    assert sorted(targets) == ["calls", "panel"]  # the async stock, the mount id and the flash stay as they are
    html = await render_patch(view, "?tab=b&page=3")
    assert panel(view) == "Tab b, page 3, section all"
    assert view.url == "/catalog?tab=b&page=3"
    assert view.session is session and mounted(view) == mount_id
    assert "Stock: 42" in html and not session.tasks.labels()  # loaded async parts are not loaded again
    assert session.url == "/catalog?tab=b&page=3"


async def test_a_patch_whose_params_do_not_fit_is_refused_and_the_session_lives_on(live_client):
    view, _ = await live(live_client, "/catalog?tab=b")
    with pytest.raises(EventFailedError, match=r"failed with 422: invalid params for Catalog.handle_params\(\): page") as failed:
        await render_patch(view, "?page=-1")
    assert failed.value.errors[0]["loc"] == ["query", "page"]
    assert view.url == "/catalog?tab=b" and view.session.url == "/catalog?tab=b"
    await render_patch(view, "?tab=c")
    assert panel(view) == "Tab c, page 1, section all"


async def test_push_patch_from_an_event_runs_handle_params_in_the_same_round_trip(live_client):
    view, _ = await live(live_client, "/catalog?tab=b")
    html = await render_click(view, "#next")
    assert await assert_patch(view, "/catalog?tab=b&page=2") == "/catalog?tab=b&page=2"
    assert "Tab b, page 2" in html and view.url == "/catalog?tab=b&page=2"
    with pytest.raises(LiveTestError, match=r"did not patch\nExpected: socket.push_patch\(...\) within 0.01 s\nGot: no patches"):
        await assert_patch(view, timeout=0.01)


async def test_push_patch_replace_and_its_wire_form(live_client):
    view, _ = await live(live_client, "/catalog?tab=b&page=4")
    response = await live_client.post("/_live/event", json={}, headers={TOKEN_HEADER: view._token, "x-live-event": "first-page", "origin": "http://testserver"})
    assert '<hx-live>{"kind":"patch","name":"/catalog?tab=b","payload":{"replace":true}}</hx-live>' in response.text


async def test_a_canonicalising_push_patch_inside_handle_params_replaces_the_entry(live_client):
    view, _ = await live(live_client, "/catalog")
    await render_patch(view, "?tab=c&legacy=1")
    assert await assert_patch(view, "/catalog?tab=c") == "/catalog?tab=c"
    assert view.url == "/catalog?tab=c" and panel(view) == "Tab c, page 1, section all"


async def test_push_patch_with_params_that_do_not_fit_fails_the_event_and_rolls_back(live_client):
    view, _ = await live(live_client, "/catalog?tab=c")
    with pytest.raises(EventFailedError, match=r"failed with 422"):
        await render_click(view, "#bad")
    assert view.session.url == "/catalog?tab=c" and panel(view) == "Tab c, page 1, section all"


async def test_push_patch_to_another_view_is_an_error_naming_push_navigate(live_client, caplog):
    view, _ = await live(live_client, "/catalog")
    with caplog.at_level(logging.ERROR, "fastapi_live"), pytest.raises(EventFailedError, match="failed with 500"):
        await render_patch(view, "?x=1")  # fine
        await view._post_event("patch-elsewhere", payload={}, timeout=5)
    assert "use push_navigate(url) to go to another live page" in caplog.text


async def test_a_patch_link_to_another_view_navigates_and_one_no_live_page_serves_redirects(live_client):
    view, _ = await live(live_client, "/catalog")
    await render_click(view, "#to-other")
    assert await assert_redirect(view, "/other") == "/other"
    assert view._redirect is not None and view._redirect.kind == "navigate"
    _other, html = await follow_redirect(view)
    assert "Other page" in html
    view, _ = await live(live_client, "/catalog")
    await render_patch(view, "/plain")
    assert view._redirect is not None and (view._redirect.kind, view._redirect.name) == ("redirect", "/plain")


async def test_render_click_on_a_navigate_link_leaves_for_the_page(live_client):
    view, _ = await live(live_client, "/catalog")
    await render_click(view, "#go-other-link")
    new, _html = await follow_redirect(view)
    assert new.view_name == "Other" and new.url == "/other"


async def test_unknown_library_events_are_refused(live_client):
    view, _ = await live(live_client, "/catalog")
    with pytest.raises(EventFailedError, match=r"failed with 400: unknown event 'live:nope'"):
        await view._post_event("live:nope", payload={}, timeout=5)
    with pytest.raises(EventFailedError, match=r"failed with 422: invalid params for live:patch"):
        await view._post_event(PATCH_EVENT, payload={"url": 3}, timeout=5)


# -- navigations and the flash ---------------------------------------------------------------------------------


async def test_push_navigate_carries_the_flash_and_ends_the_page_it_leaves(live_client, nav):
    view, _ = await live(live_client, "/catalog")
    left = view.session
    await render_click(view, "#go-other")
    assert await assert_redirect(view, "/other") == "/other"
    assert live_client.cookies.get(FLASH_COOKIE)
    other, html = await follow_redirect(view)
    assert "Welcome from the catalog" in html and 'id="flash"' in html
    assert left.closed and nav[1].manager.get(left.id) is None
    assert not live_client.cookies.get(FLASH_COOKIE)  # spent: the page it landed on cleared it
    html = await render_click(other, "#flash .live-flash-close")
    assert "Welcome from the catalog" not in html


async def test_redirect_carries_the_flash_too(live_client):
    view, _ = await live(live_client, "/catalog")
    await render_click(view, "#go-redirect")
    _other, html = await follow_redirect(view)
    assert "Redirected with a flash" in html and "live-flash-error" in html


async def test_a_flash_put_before_a_mount_redirect_rides_the_303(live_client):
    response = await live_client.get("/moved")
    assert response.status_code == 303 and response.headers["location"] == "/other"
    assert FLASH_COOKIE in response.headers["set-cookie"]
    _, html = await live(live_client, "/other")
    assert "The page moved here" in html


async def test_push_navigate_to_a_page_no_live_router_serves_is_a_redirect(live_client):
    view, _ = await live(live_client, "/catalog")
    await render_click(view, "#go-plain")
    assert view._redirect is not None and (view._redirect.kind, view._redirect.name) == ("redirect", "/plain")


async def test_a_forged_or_foreign_flash_cookie_shows_nothing(live_client):
    live_client.cookies.set(FLASH_COOKIE, "forged.cookie.value")
    _, html = await live(live_client, "/other")
    assert "live-flash-message" not in html


async def test_the_navigate_header_ends_only_a_page_of_the_same_browser(nav):
    app, _router = nav
    async with LiveTestClient(app) as alice, LiveTestClient(app) as mallory:
        view, _ = await live(alice, "/catalog")
        await live(mallory, "/other")
        # Another browser naming alice's page: its token is bound to alice's cookie, nothing ends.
        response = await mallory.get("/other", headers={NAVIGATE_HEADER: view._token})
        assert response.status_code == 200 and not view.session.closed
        response = await alice.get("/other", headers={NAVIGATE_HEADER: view._token})
        assert response.status_code == 200 and view.session.closed


# -- reconnect keeps the URL --------------------------------------------------------------------------------


async def test_a_remount_mounts_the_page_at_the_url_it_was_patched_to(live_client):
    view, _ = await live(live_client, "/catalog?tab=b")
    await render_patch(view, "?tab=c&page=5")
    lost = view.session
    await lost.close()  # the server lost the session: a restart, an expiry
    await render_async(view)  # the stream reconnects (HX-Current-URL: the patched URL); the server remounts
    assert view.remounts == 1 and view.session is not lost
    assert view.session.url == "/catalog?tab=c&page=5"
    assert view.session.socket.assigns.seen_urls == ["/catalog?tab=c&page=5"]
    assert panel(view) == "Tab c, page 5, section all"


async def test_a_remount_url_of_another_view_falls_back_to_the_tokens(nav):
    app, router = nav
    async with LiveTestClient(app) as client:
        view, _ = await live(client, "/catalog?tab=b")
        token = view._token
        await view.session.close()
        headers = {TOKEN_HEADER: token, "hx-current-url": "http://testserver/other", "origin": "http://testserver"}
        async with client.stream("GET", "/_live/stream", headers=headers) as response:
            assert response.status_code == 200
            session = next(iter(router.manager.sessions.values()))
            assert session.view_name == "Catalog" and session.url == "/catalog?tab=b"
        await view.close()


# -- the toolkit, sync ---------------------------------------------------------------------------------------


def test_the_sync_verbs_patch_and_assert_patches(sync_live_client):
    view, _ = live_sync.live(sync_live_client, "/catalog")
    html = live_sync.render_patch(view, "?tab=c")
    assert "Tab c, page 1" in html and view.url == "/catalog?tab=c"
    live_sync.render_click(view, "#next")
    assert live_sync.assert_patch(view, "/catalog?tab=c&page=2") == "/catalog?tab=c&page=2"


async def test_render_patch_refuses_another_site(live_client):
    view, _ = await live(live_client, "/catalog")
    with pytest.raises(LiveTestError, match=r"cannot patch /catalog to 'https://example.com/x': it is another site"):
        await render_patch(view, "https://example.com/x")


async def test_raw_patch_over_http_answers_like_an_event(nav, serve):
    app, _ = nav
    url = serve(app)
    async with httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/catalog")
        token = page.text.split('data-live-token="', 1)[1].split('"', 1)[0]
        headers = {"content-type": "application/json", TOKEN_HEADER: token, "x-live-event": PATCH_EVENT, "origin": url}
        response = await client.post("/_live/event", content=json.dumps({"url": "/catalog?tab=b"}), headers=headers)
        assert response.status_code == 200 and "Tab b, page 1" in response.text
