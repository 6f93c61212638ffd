"""Async operations over real HTTP and SSE: loading states first, results as fragments later."""

from __future__ import annotations

import html as html_lib
import logging
import re

import httpx
import pytest

from fastapi_live import CallbackReturnError, SessionConfig
from tests.support.gates import GATES, flag
from tests.support.live_client import live_page, partials
from tests.support.sse import open_page
from tests.support.views.async_views import make_app


@pytest.fixture
def served(serve, run):
    app, live = make_app()
    return serve(app), live


@pytest.fixture
def url(served):
    return served[0]


def gate(run: str, name: str):
    return GATES.get(run, name)


def region(html: str, dom_id: str) -> str:
    match = re.search(rf'<div id="{dom_id}" data-live-region="[a-z]+"[^>]*>(.*?)</div>', html, re.S)
    assert match is not None, f"no region {dom_id} in {html!r}"
    return " ".join(match.group(1).split())


def texts(data: str) -> dict[str, str]:
    """Target id -> the fragment's text, for every partial in a message."""
    return {target: " ".join(re.sub(r"<[^>]+>", " ", content).split()) for target, _, content in partials(data)}


# -- loading first, then results ------------------------------------------------------------------


async def test_the_first_html_shows_every_loading_state_and_work_starts_at_the_page_request(url, run):
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        html, _ = await open_page(client, f"/assign?run={run}")
        # No stream yet: the page request alone started the work.
        await flag(gate(run, "org").started)
        await flag(gate(run, "pair").started)
    assert region(html, "async-org") == '<p class="loading">Loading org...</p>'
    assert (region(html, "async-profile"), region(html, "async-rank")) == ("Loading profile...", "Loading rank...")
    assert "Org:" not in html


async def test_a_result_arrives_as_a_fragment_for_only_its_region(url, run):
    async with live_page(url, f"/assign?run={run}") as page:
        gate(run, "org").open("Acme Corp")
        message = await page.next_with("Org: Acme Corp")
        assert [(target, swap) for target, swap, _ in partials(message.data)] == [("async-org", "outerMorph")]
        assert texts(message.data) == {"async-org": "Org: Acme Corp"}
        assert message.id is not None and int(message.id) >= 1


async def test_two_keys_from_one_function_arrive_together(url, run):
    async with live_page(url, f"/assign?run={run}") as page:
        gate(run, "pair").open({"profile": "Anvils", "rank": 1})
        message = await page.next_with("Profile: Anvils")
        assert texts(message.data) == {"async-profile": "Profile: Anvils", "async-rank": "Rank: 1"}


async def test_results_arriving_in_either_order_each_update_their_region(url, run):
    async with live_page(url, f"/assign?run={run}") as page:
        gate(run, "pair").open({"profile": "P", "rank": 2})
        await page.next_with("Profile: P")
        gate(run, "org").open("O")
        message = await page.next_with("Org: O")
        assert set(texts(message.data)) == {"async-org"}


# -- failures -------------------------------------------------------------------------------------


async def test_an_exception_is_logged_with_its_traceback_and_the_client_sees_only_the_failed_state(url, run, caplog):
    async with live_page(url, f"/assign?run={run}") as page:
        gate(run, "report").fail(RuntimeError("password=hunter2 rejected by db"))
        message = await page.next_with("Failed to load report")
        assert texts(message.data) == {"async-report": "Failed to load report"}
        assert all("hunter2" not in m.data and "Traceback" not in m.data for m in page.messages)
        records = [r for r in caplog.records if r.name == "fastapi_live" and r.levelno == logging.ERROR]
        assert [r.getMessage() for r in records] == ["AssignPage: assign_async(['report']) failed"]
        assert isinstance(records[0].exc_info[1], RuntimeError)
        assert "Traceback (most recent call last)" in caplog.text and "hunter2" in caplog.text
        # The session never crashed.
        response = await page.event("inc")
        assert response.status_code == 200 and "Clicks: 1" in response.text


async def test_a_missing_key_fails_every_key_and_names_the_missing_one(url, run):
    async with live_page(url, f"/assign?run={run}") as page:
        gate(run, "pair").open({"profile": "only the profile"})
        message = await page.next_with("Failed to load rank")
        found = {target: html_lib.unescape(text) for target, text in texts(message.data).items()}
        assert set(found) == {"async-profile", "async-rank"}
        for key in ("profile", "rank"):
            assert found[f"async-{key}"].startswith(f"Failed to load {key}: invalid return from assign_async(['profile', 'rank']) function")
            assert "missing keys ['rank']" in found[f"async-{key}"]


# -- replacement and reset -------------------------------------------------------------------------


async def test_a_newer_call_for_the_same_key_wins_and_the_older_is_cancelled(url, run):
    async with live_page(url, f"/assign?run={run}") as page:
        await flag(gate(run, "org").started)
        response = await page.event("reload-org", gate="newer")
        assert response.status_code == 200
        await flag(gate(run, "org").cancelled)
        gate(run, "newer").open("Newer Org")
        await page.next_with("Org: Newer Org")


async def test_a_replaced_sync_function_finishing_later_never_delivers(url, run):
    async with live_page(url, f"/assign?run={run}&sync=true") as page:
        older = gate(run, "org")
        await flag(older.started)
        await page.event("reload-org", gate="newer")
        gate(run, "newer").open("Newer Org")
        await page.next_with("Org: Newer Org")
        older.open("Older Org")
        await flag(older.finished)
        # A marker result sent after the older function returned: anything the older
        # one wrongly delivered would come first.
        await page.event("reload-pair", gate="marker")
        gate(run, "marker").open({"profile": "marker", "rank": 0})
        seen = await page.until("Profile: marker")
        assert all("Older Org" not in m.data for m in seen)


async def test_by_default_a_reload_keeps_the_stale_value_shown(url, run):
    async with live_page(url, f"/assign?run={run}") as page:
        gate(run, "org").open("Acme")
        await page.next_with("Org: Acme")
        response = await page.event("reload-org", gate="again")
        assert texts(response.text) == {"async-org": "Org: Acme (refreshing)"}
        gate(run, "again").open("Acme v2")
        message = await page.next_with("Org: Acme v2")
        assert texts(message.data) == {"async-org": "Org: Acme v2"}


async def test_reset_true_shows_the_loading_state_again(url, run):
    async with live_page(url, f"/assign?run={run}") as page:
        gate(run, "org").open("Acme")
        await page.next_with("Org: Acme")
        response = await page.event("reload-org", gate="again", reset=True)
        assert texts(response.text) == {"async-org": "Loading org..."}


async def test_reset_with_a_list_clears_only_those_keys(url, run):
    async with live_page(url, f"/assign?run={run}") as page:
        gate(run, "pair").open({"profile": "P", "rank": 3})
        await page.next_with("Profile: P")
        response = await page.event("reload-pair", gate="again", reset="rank")
        assert texts(response.text) == {"async-profile": "Profile: P (refreshing)", "async-rank": "Loading rank..."}
        gate(run, "again").open({"profile": "P2", "rank": 4})
        message = await page.next_with("Profile: P2")
        assert texts(message.data) == {"async-profile": "Profile: P2", "async-rank": "Rank: 4"}


# -- start_async, handle_async and cancel_async --------------------------------------------------------


async def test_start_async_delivers_ok_then_exit_to_handle_async(url, run):
    async with live_page(url, f"/task?run={run}") as page:
        assert region(page.html, "status") == "Status: Waiting"
        gate(run, "fetch").open(42)
        message = await page.next_with("Status: Fetched 42")
        assert texts(message.data) == {"status": "Status: Fetched 42"}
        response = await page.event("restart", gate="again")
        assert texts(response.text) == {"status": "Status: Waiting again"}
        gate(run, "again").fail(ValueError("upstream said no"))
        await page.next_with("Status: Gave up: upstream said no")


async def test_cancel_async_delivers_an_exit_with_the_reason(url, run):
    async with live_page(url, f"/task?run={run}") as page:
        await flag(gate(run, "fetch").started)
        response = await page.event("cancel")
        assert response.status_code == 200
        await page.next_with("Status: Gave up: stopped by the test")
        await flag(gate(run, "fetch").cancelled)


@pytest.mark.parametrize("by_result", [False, True])
async def test_cancel_async_of_an_assign_fails_all_its_keys(url, run, by_result):
    async with live_page(url, f"/assign?run={run}") as page:
        await page.event("cancel", key="rank", by_result=by_result)
        message = await page.next_with("Failed to load rank")
        assert texts(message.data) == {
            "async-profile": "Failed to load profile: stopped by the test",
            "async-rank": "Failed to load rank: stopped by the test",
        }
        await flag(gate(run, "pair").cancelled)


async def test_a_view_without_handle_async_gets_a_clear_error_and_the_session_stays_alive(served, run, caplog):
    url, live = served
    async with live_page(url, f"/no-handler?run={run}") as page:
        gate(run, "fetch").open("Acme")
        message = await page.next_with("<hx-live>")
        assert "Traceback" not in message.data and "handle_async" not in message.data
        records = [r for r in caplog.records if r.name == "fastapi_live" and r.levelno == logging.ERROR]
        assert len(records) == 1 and isinstance(records[0].exc_info[1], CallbackReturnError)
        assert str(records[0].exc_info[1]) == (
            "NoHandlerPage has no handle_async for task 'fetch_org': "
            "define handle_async(self, name, outcome, socket) to receive its Ok outcome"
        )
        response = await page.event("inc")
        assert response.status_code == 200 and "Clicks: 1" in response.text
        assert len(live.manager.sessions) == 1


# -- the event loop stays free -----------------------------------------------------------------------------


async def test_a_blocking_sync_function_does_not_block_the_event_loop(url, run):
    async with live_page(url, f"/assign?run={run}&sync=true") as page:
        blocking = gate(run, "org")
        await flag(blocking.started)
        # The sync function holds its thread until the gate opens, which happens only after
        # this event is answered: a blocked loop would time the request out.
        response = await page.event("inc")
        assert response.status_code == 200 and texts(response.text) == {"clicks": "Clicks: 1"}
        assert not blocking.finished.is_set()
        blocking.open("Threaded Org")
        await page.next_with("Org: Threaded Org")


# -- lifetime ------------------------------------------------------------------------------------------------


async def test_tasks_are_cancelled_when_a_page_never_connects(serve, run):
    app, live = make_app(SessionConfig(connect_timeout=0.1))
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await open_page(client, f"/task?run={run}")
    await flag(gate(run, "fetch").cancelled)
    assert live.manager.sessions == {}


# -- the blocking-mount warning --------------------------------------------------------------------------------


WARNING = re.compile(
    r"^SlowMountPage\.mount\(\) took (\d+) ms, blocking the first render \(threshold 20 ms\)\. "
    r"Load slow data with socket\.assign_async\(\.\.\.\) so the page shows at once with a loading state\.$"
)


def mount_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "fastapi_live" and r.levelno == logging.WARNING and "mount()" in r.getMessage()]


async def test_a_slow_mount_logs_a_warning_naming_the_view_and_the_time(serve, caplog):
    app, _ = make_app(SessionConfig(mount_warning_ms=20))
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await open_page(client, "/slow-mount?ms=60")
    (message,) = mount_warnings(caplog)
    match = WARNING.match(message)
    assert match is not None, message
    assert int(match.group(1)) >= 60


async def test_a_fast_mount_logs_no_warning(serve, caplog):
    app, _ = make_app(SessionConfig(mount_warning_ms=1000))
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await open_page(client, "/slow-mount?ms=0")
    assert mount_warnings(caplog) == []


async def test_the_warning_can_be_turned_off(serve, caplog):
    app, _ = make_app(SessionConfig(mount_warning_ms=None))
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await open_page(client, "/slow-mount?ms=60")
    assert mount_warnings(caplog) == []


def test_the_default_threshold_is_50_ms():
    assert SessionConfig().mount_warning_ms == 50
