"""fastapi_live.testing, dogfooded: live pages driven through their real endpoints in-process."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from fastapi_live import LiveSocket
from fastapi_live.session import LiveSession
from fastapi_live.testing import (
    EventFailedError,
    LiveRedirect,
    LiveTestClient,
    LiveTestError,
    PendingTasksWarning,
    assert_push_event,
    assert_redirect,
    assert_reply,
    element,
    follow_redirect,
    has_element,
    live,
    live_isolated,
    render,
    render_async,
    render_blur,
    render_change,
    render_click,
    render_focus,
    render_hook,
    render_keydown,
    render_keyup,
    render_submit,
    send_info,
)
from fastapi_live.testing import sync as live_sync
from tests.support.testing_plugin import plugins
from tests.support.views.counter import Counter
from tests.support.views.counter import make_app as make_counter_app
from tests.support.views.toolkit_views import NewNotification, make_toolkit_app

pytest_plugins = plugins()


@pytest.fixture
def toolkit():
    return make_toolkit_app()


@pytest.fixture
def live_app(toolkit):
    return toolkit[0]


def sent(view) -> dict:
    """The params the Settings view recorded for the last event, as the browser sent them."""
    return json.loads(render(element(view, "#last")).split(": ", 1)[1].split("</p>")[0].replace("&quot;", '"'))


def last_event(view) -> str:
    return re.search(r'<p id="last">([^:]*):', render(view)).group(1)


# -- the seed ------------------------------------------------------------------------------------------


async def test_dashboard(toolkit):
    app, _ = toolkit
    view, html = await live(app, "/dashboard/acme")
    assert "Loading organization..." in html
    html = await render_async(view)
    assert "Acme Corp" in html


async def test_dashboard_through_the_live_client_fixture(live_client):
    view, html = await live(live_client, "/dashboard/acme")
    assert "Loading organization..." in html
    html = await render_async(view)
    assert "Acme Corp" in html
    assert "Loading organization..." not in html


async def test_a_failed_async_assign_shows_its_failed_state(live_client):
    view, _ = await live(live_client, "/dashboard/broken")
    html = await render_async(view)
    assert "Failed to load organization" in html


async def test_several_keys_from_a_sync_function(live_client):
    view, html = await live(live_client, "/dashboard/acme")
    assert "Loading profile..." in html
    await render_async(view)
    assert render(element(view, "#profile")) == '<p id="profile">Acme profile, rank 1</p>'


# -- streams --------------------------------------------------------------------------------------------


async def test_stream_async_items_arrive_after_render_async(live_client):
    view, html = await live(live_client, "/dashboard/acme")
    assert "Loading posts..." in html
    assert 'id="post-1"' not in html
    await render_async(view)
    assert [n for n in ("#post-1", "#post-2") if has_element(view, n)] == ["#post-1", "#post-2"]
    assert has_element(view, ".posts-loaded")


async def test_stream_inserts_at_the_top_with_a_limit_and_deletes(live_client):
    view, _ = await live(live_client, "/dashboard/acme")
    await render_async(view)
    for _ in range(3):
        await render_click(view, "#more")
    html = render(element(view, "#posts"))
    assert re.findall(r'<li id="(post-\d+)"', html) == ["post-5", "post-4", "post-3"]
    await render_click(element(view, "#post-4 button.delete"))
    assert re.findall(r'<li id="(post-\d+)"', render(element(view, "#posts"))) == ["post-5", "post-3"]


async def test_a_container_update_keeps_the_stream_items_it_contains(live_client):
    view, _ = await live(live_client, "/dashboard/acme")
    await render_async(view)
    # The title lives in the live container itself: the whole container is morphed, and
    # the stream container keeps the items the server no longer holds.
    html = await render_click(view, "retitle")
    assert "<h1>Dashboard acme!</h1>" in html
    assert has_element(view, "#post-1") and has_element(view, "#post-2")


# -- the widget: PubSub, hooks, cookies --------------------------------------------------------------------


async def test_a_published_notification_shows_up_after_render_async(live_client, toolkit):
    _, router = toolkit
    await live_client.get("/login?user=alice")
    view, _ = await live(live_client, "/dashboard/acme")
    await router.pubsub.publish("notifications:alice", NewNotification(7, "Deploy finished"))
    await render_async(view)
    assert render(element(view, ".badge")) == '<span class="badge">1</span>'
    assert has_element(view, ".notification", text="Deploy finished")


async def test_send_info_and_dismiss(live_client):
    view, _ = await live(live_client, "/dashboard/acme")
    await send_info(view, NewNotification(1, "first"))
    html = await send_info(view, NewNotification(2, "second"))
    assert '<span class="badge">2</span>' in html
    with pytest.raises(LiveTestError, match=r"matched 2 elements with text 'Dismiss'"):
        element(view, "button", text="Dismiss")
    html = await render_click(view, ".notification:nth-of-type(2) button")  # the older one, listed second
    assert '<span class="badge">1</span>' in html
    assert has_element(view, ".notification", text="second")
    assert not has_element(view, ".notification", text="first")


# -- reading elements ----------------------------------------------------------------------------------------


async def test_an_element_reads_as_the_browser_shows_it(live_client):
    view, _ = await live(live_client, "/dashboard/acme")
    await send_info(view, NewNotification(1, "Deploy   finished"))
    badge = element(view, ".badge")
    assert badge.text() == "1"
    assert badge.html() == '<span class="badge">1</span>' == render(badge)
    assert badge.inner_html() == "1"
    assert badge.attributes == {"class": "badge"}
    note = element(view, ".notification")
    assert note.text() == "Deploy finishedDismiss"  # the text content, each run of whitespace one space
    assert element(view, ".notification p").text(raw=True) == "Deploy   finished"
    assert note.inner_html().startswith("<p>Deploy   finished</p><button ")
    widget = element(view, "#notification-widget")
    assert widget.text(raw=True).startswith("\n  1\n") and widget.text() == "1 Deploy finishedDismiss"
    await send_info(view, NewNotification(2, "Second"))
    assert badge.text() == "2"  # looked up again: it follows the page


async def test_element_attributes_are_a_dict_of_what_the_dom_holds(live_client):
    view, _ = await live(live_client, "/settings")
    secret = element(view, "input[name=secret]")
    assert secret.attributes == {"name": "secret", "value": "hidden-from-the-server", "disabled": ""}  # a boolean attribute is ""
    secret.attributes["value"] = "changed"  # a copy: the page is untouched
    assert secret.attributes["value"] == "hidden-from-the-server"
    assert element(view, "#save").attributes["type"] == "submit"
    assert element(view, "#save").text() == "Save"
    go = element(view, "button", text="Go")
    assert repr(go) == "element(Settings, 'button', text='Go')"
    assert go.text() == "Go"


# -- redirects ---------------------------------------------------------------------------------------------


async def test_a_mount_redirect_raises_and_can_be_followed(live_client):
    with pytest.raises(LiveRedirect) as redirected:
        await live(live_client, "/private?mode=quick")
    assert redirected.value.to == "/login?user=alice"
    view, html = await follow_redirect(redirected.value)  # the login route redirects on, as a browser follows
    assert view.url == "/dashboard/acme"
    assert "Loading organization..." in html
    await render_async(view)
    private, _ = await live(live_client, "/private?mode=quick")  # the login cookie now lets us in
    assert "quick: report ready" in await render_async(private)


async def test_a_redirect_from_a_bare_app_is_followed_in_a_fresh_browser(toolkit):
    app, _ = toolkit
    with pytest.raises(LiveRedirect) as redirected:
        await live(app, "/private?mode=quick")  # its own browser, closed with the redirect
    view, html = await follow_redirect(redirected.value)
    assert view.url == "/dashboard/acme"
    assert "Loading organization..." in html
    await render_async(view)
    await view.close()
    assert view.client.is_closed


async def test_an_event_redirect_is_asserted_and_followed(live_client):
    view, _ = await live(live_client, "/settings")
    await render_click(view, "#leave")
    assert await assert_redirect(view, "/dashboard/acme") == "/dashboard/acme"
    with pytest.raises(LiveTestError, match=r"Settings redirected to '/dashboard/acme'"):
        await render_click(view, "#go")
    dashboard, html = await follow_redirect(view)
    assert view.closed
    assert "Loading organization..." in html
    await render_async(dashboard)


async def test_navigate_counts_as_a_redirect(live_client):
    view, _ = await live(live_client, "/settings")
    await render_click(view, "#go")
    with pytest.raises(LiveTestError, match=r"Settings redirected elsewhere\nExpected: a redirect to '/elsewhere'\nGot: a navigate to '/dashboard/initech'"):
        await assert_redirect(view, "/elsewhere")
    assert await assert_redirect(view) == "/dashboard/initech"


async def test_assert_redirect_without_a_redirect_fails(live_client):
    view, _ = await live(live_client, "/settings")
    with pytest.raises(LiveTestError, match=r"Settings did not redirect\nExpected: .* within 0.05 s\nGot: no redirect"):
        await assert_redirect(view, timeout=0.05)


# -- forms --------------------------------------------------------------------------------------------------


async def test_submit_sends_what_the_form_holds(live_client):
    view, _ = await live(live_client, "/settings")
    await render_submit(view, "#settings")
    assert sent(view) == {
        "name": "Ada",
        "email": "ada@example.com",
        "plan": "pro",
        "tags": ["a", "c"],
        "newsletter": "yes",
        "color": "blue",
        "bio": "Hello",
    }
    assert await assert_push_event(view, "saved", {"name": "Ada"}) == {"name": "Ada"}


async def test_submitting_with_the_button_adds_the_submitter_and_typed_values(live_client):
    view, _ = await live(live_client, "/settings")
    await render_submit(element(view, "#save"), {"name": "Grace", "terms": "agreed", "tags": ["b"]})
    params = sent(view)
    assert params["action"] == "save"
    assert (params["name"], params["terms"], params["tags"]) == ("Grace", "agreed", "b")
    await assert_push_event(view, "saved", {"name": "Grace"})


async def test_change_sends_the_form_and_names_the_typed_field(live_client):
    view, _ = await live(live_client, "/settings")
    html = await render_change(view, "#settings", {"email": "not-an-email"})
    assert '<p class="error">email is invalid</p>' in html
    params = sent(view)
    assert params["_target"] == "email"
    assert params["email"] == "not-an-email"
    assert params["name"] == "Ada"
    assert last_event(view) == "validate"


async def test_typing_into_a_field_sends_its_form_with_the_field_as_target(live_client):
    view, _ = await live(live_client, "/settings")
    await render_change(view, "#email", {"email": "ada@example.org"})
    params = sent(view)
    assert (params["_target"], params["email"], params["plan"]) == ("email", "ada@example.org", "pro")
    with pytest.raises(LiveTestError, match=r"render_focus\(\): <input#email .*has no focus binding\nExpected: .* on the element itself"):
        await render_focus(view, "#email")


async def test_change_refuses_a_field_the_form_does_not_have(live_client):
    view, _ = await live(live_client, "/settings")
    with pytest.raises(LiveTestError, match=r"has no field 'emial'\nExpected one of: name, email, plan, tags, newsletter"):
        await render_change(view, "#settings", {"emial": "x"})


async def test_an_empty_required_field_stops_the_submit_as_in_a_browser(live_client):
    view, _ = await live(live_client, "/settings")
    with pytest.raises(LiveTestError, match=r"the browser would not send 'save': the required field 'email' is empty"):
        await render_submit(view, "#settings", {"email": ""})
    assert last_event(view) == ""


async def test_keydown_honours_the_key_filter(live_client):
    view, _ = await live(live_client, "/settings")
    await render_keydown(view, "#search", {"key": "a"})
    assert last_event(view) == ""  # not Enter: the browser sends nothing
    await render_keydown(view, "#search", {"key": "Enter"})
    assert last_event(view) == "search"
    assert sent(view) == {"key": "Enter", "value": "draft"}


async def test_keyup_blur_and_hooks(live_client):
    view, _ = await live(live_client, "/settings")
    await render_keyup(view, "#typing", {"key": "x"})
    assert (last_event(view), sent(view)) == ("typed", {"key": "x", "value": "abc"})
    await render_blur(view, "#name")
    assert last_event(view) == "touched"
    assert sent(view)["email"] == "ada@example.com"  # an input in a form sends the form
    await render_hook(element(view, "#chart"), "chart-ready", {"width": 640})
    assert sent(view) == {"width": 640}
    assert assert_reply(view, {"points": 3}) == {"points": 3}
    assert await assert_push_event(view, "chart-data") == {"points": [1, 2, 3]}


async def test_assert_push_event_reports_what_was_pushed(live_client):
    view, _ = await live(live_client, "/settings")
    await render_submit(view, "#settings")
    expected = r"did not push event 'saved' with payload \{'name': 'Bob'\}\nExpected: the push within 0.05 s\nGot: saved \{'name': 'Ada'\}"
    with pytest.raises(LiveTestError, match=expected):
        await assert_push_event(view, "saved", {"name": "Bob"}, timeout=0.05)


async def test_a_remounted_page_recovers_its_forms(live_client):
    view, _ = await live(live_client, "/settings")
    lost = view.session
    await lost.close()  # the server lost the session: a restart, an expiry
    html = await render_async(view)  # the stream reconnects and the server remounts the page
    assert view.session is not lost and not view.session.closed
    assert view.remounts == 1
    assert last_event(view) == "recover"  # live.form(recover="recover"), sent with what the form held
    assert sent(view)["email"] == "ada@example.com"
    assert "email is invalid" not in html
    assert "Count" not in html and has_element(view, "#settings")


async def test_a_handler_that_raises_fails_the_call_that_sees_it(live_client):
    view, _ = await live(live_client, "/tasks?mode=quick")
    await render_async(view)
    expected = (
        r"(?s)Tasks failed on the server while handling a message; the page shows its error state\n"
        r"Raised on the server: RuntimeError: handle_info exploded\n"
        r"Traceback \(most recent call last\), its last \d frames:\n.*toolkit_views.py\", line \d+, in handle_info\n"
        r"    raise RuntimeError\(\"handle_info exploded\"\)\n"
        r"Expected: handlers \(handle_info, handle_async, hooks\) that do not raise\n"
        r"Got: \[\{'message': 'Something went wrong on the server.', 'during': 'info'\}\]$"
    )
    with pytest.raises(LiveTestError, match=expected) as failed:
        await send_info(view, "explode")
    assert repr(failed.value.__cause__) == "RuntimeError('handle_info exploded')"
    assert has_element(view, "#live-root.live-server-error")
    assert "info: still alive" in await send_info(view, "still alive")


async def test_each_view_is_told_what_its_own_session_raised(live_client):
    first, _ = await live(live_client, "/tasks?mode=quick")
    second, _ = await live(live_client, "/tasks?mode=quick")
    await render_async(first)
    await render_async(second)
    # Both fail before either view looks; the later failure is the other view's.
    first.session.send_info(("explode", "the first one failed"))
    await first.session.wait_idle()
    second.session.send_info(("explode", "the second one failed"))
    await second.session.wait_idle()
    with pytest.raises(LiveTestError, match=r"Raised on the server: RuntimeError: the first one failed\n"):
        await render_async(first)
    with pytest.raises(LiveTestError, match=r"Raised on the server: RuntimeError: the second one failed\n"):
        await render_async(second)


async def test_a_page_that_fails_to_mount_shows_what_it_raised(live_client):
    expected = (
        r"(?s)GET /tasks\?mode=broken answered 500; the server logged '.*' with:\n"
        r"Raised on the server: ConnectionError: the report service is down\n"
        r"Traceback \(most recent call last\), its last \d frames:\n.*toolkit_views.py\", line \d+, in mount\n"
        r"    raise ConnectionError\(\"the report service is down\"\)\n"
        r"Expected: 200 with a live page\nGot: '"
    )
    with pytest.raises(LiveTestError, match=expected) as failed:
        await live(live_client, "/tasks?mode=broken")
    assert repr(failed.value.__cause__) == "ConnectionError('the report service is down')"


def test_a_sync_test_is_told_what_the_mount_raised(sync_live_client):
    with pytest.raises(LiveTestError, match=r"answered 500; .*\nRaised on the server: ConnectionError: the report service is down\n"):
        live_sync.live(sync_live_client, "/tasks?mode=broken")


# -- events: bindings, params, failures ------------------------------------------------------------------------


@pytest.fixture
def counter_app():
    app, _ = make_counter_app()
    return app


async def test_click_reads_the_binding_and_hx_vals(counter_app):
    view, html = await live(counter_app, "/counter")
    assert "Count: 0" in html
    assert "Count: 1" in await render_click(view, "#inc")
    assert "Count: 6" in await render_click(view, "#add")  # hx-vals {"by": 5}
    assert "Count: 16" in await render_click(view, "#add", {"by": 10})  # the test's values win
    assert "Count: 18" in await render_click(view, "inc", {"by": 2})  # an event name, no element
    await view.close()


async def test_a_click_inside_a_bound_element_bubbles_to_it(live_client):
    view, _ = await live(live_client, "/dashboard/acme")
    await render_async(view)
    await render_click(view, "#reload .label")
    assert "Acme Corp" in await render_async(view)


async def test_invalid_params_raise_with_the_field_errors(counter_app):
    view, _ = await live(counter_app, "/counter")
    with pytest.raises(EventFailedError, match=r"event 'inc' to Counter failed with 422") as failed:
        await render_click(view, "inc", {"by": "many"})
    assert failed.value.status_code == 422
    assert failed.value.errors[0]["loc"] == ["by"]
    assert "Count: 1" in await render_click(view, "#inc")


async def test_a_raising_handler_shows_its_exception(counter_app):
    view, _ = await live(counter_app, "/counter")
    expected = (
        r"(?s)event 'boom' to Counter failed with 500: .*\n"
        r"Raised on the server: RuntimeError: boom\n"
        r"Traceback \(most recent call last\), its last \d frames:\n.*counter.py\", line \d+, in boom\n"
        r"    raise RuntimeError\(\"boom\"\)$"
    )
    with pytest.raises(EventFailedError, match=expected) as failed:
        await render_click(view, "boom")
    assert failed.value.status_code == 500
    assert repr(failed.value.__cause__) == "RuntimeError('boom')"


async def test_a_handler_that_raises_while_the_session_is_busy_is_shown_too(counter_app, monkeypatch):
    # An event that finds the mailbox busy is handled later in the session's own task, not in its request.
    view, _ = await live(counter_app, "/counter")
    session = view.session
    release, queued = asyncio.Event(), asyncio.Event()

    async def busy(socket: LiveSocket) -> None:
        await release.wait()

    holding = asyncio.ensure_future(session.call(busy))
    post = LiveSession.post

    def spy(self: LiveSession, message: Any) -> None:
        post(self, message)
        if self is session:
            queued.set()  # the only message it is posted now is the event

    monkeypatch.setattr(LiveSession, "post", spy)  # on the class: a session has slots, no attributes of its own
    click = asyncio.ensure_future(render_click(view, "boom"))
    await asyncio.wait_for(queued.wait(), 5)
    release.set()
    with pytest.raises(EventFailedError, match=r"\nRaised on the server: RuntimeError: boom\n"):
        await click
    await holding


async def test_a_selector_that_matches_nothing_is_sent_as_an_event_and_says_so(counter_app):
    view, _ = await live(counter_app, "/counter")
    with pytest.raises(EventFailedError, match=r"(?s)unknown event '#incc'.*\nNote: '#incc' matched no element, so it was sent as an event name"):
        await render_click(view, "#incc")


async def test_element_errors_show_what_the_page_has(counter_app):
    view, _ = await live(counter_app, "/counter")
    with pytest.raises(LiveTestError, match=r"(?s)element\(Counter, '#nope'\) matched no element\n.*ids on the page: #count, #inc, #add"):
        element(view, "#nope")
    with pytest.raises(LiveTestError, match=r"matched 3 elements\nExpected: exactly one element"):
        element(view, "button")
    with pytest.raises(LiveTestError, match=r"render_click\(\): <input#note name=\"note\" type=\"text\"> has no click binding"):
        await render_click(view, "#note")
    assert render(element(view, "button", text="+5")).startswith('<button id="add"')


# -- async tasks: waiting, timeouts, the safety net ---------------------------------------------------------------


async def test_render_async_waits_for_start_async_outcomes(live_client):
    view, html = await live(live_client, "/tasks?mode=quick")
    assert '<p id="status">started</p>' in html
    html = await render_async(view)
    assert '<p id="status">quick: report ready</p>' in html
    assert '<p id="report">report ready</p>' in html


async def test_a_render_async_timeout_names_the_pending_tasks(toolkit):
    app, _ = toolkit
    view, _ = await live(app, "/tasks")
    with pytest.raises(LiveTestError, match=r"render_async\(Tasks\) timed out after 0.2 s with tasks still running: start_async\('forever'\)"):
        await render_async(view, timeout=0.2)
    with pytest.warns(PendingTasksWarning, match=r"start_async\('forever'\)"):
        await view.close()


async def test_closing_a_view_with_running_tasks_cancels_them_and_warns(toolkit):
    app, router = toolkit
    running = r"(?s)Tasks \(/tasks\) was closed with async tasks still running: start_async\('forever'\).*render_async\(view\)"
    with pytest.warns(PendingTasksWarning, match=running):
        async with LiveTestClient(app) as client:
            view, _ = await live(client, "/tasks")
            session = view.session
    assert session.closed
    assert session.tasks.labels() == []
    assert router.manager.sessions == {}


async def test_no_warning_once_the_tasks_are_done(toolkit):
    app, _ = toolkit
    async with LiveTestClient(app) as client:
        view, _ = await live(client, "/tasks?mode=quick")
        await render_async(view)
    assert view.closed


# -- live_isolated --------------------------------------------------------------------------------------------


async def test_live_isolated_mounts_a_view_without_a_route(toolkit):
    app, router = toolkit
    view, html = await live_isolated(app, Counter, template="counter.html", params={"start": 5})
    assert "Count: 5" in html
    assert "Count: 6" in await render_click(view, "#inc")
    assert "Count: 41" in await send_info(view, ("set", 41))
    assert router.manager.sessions == {}  # the app's own router never saw it
    await view.close()


async def test_live_isolated_takes_an_async_mount_function(live_client):
    async def mount(socket: LiveSocket, label: str = "none") -> None:
        socket.assign(status=f"isolated {label}", report=None)

    _, html = await live_isolated(live_client, mount, template="toolkit_tasks.html", params={"label": "ok"})
    assert '<p id="status">isolated ok</p>' in html


# -- sync tests --------------------------------------------------------------------------------------------------


def test_the_sync_api_drives_the_same_page(sync_live_client):
    view, html = live_sync.live(sync_live_client, "/dashboard/acme")
    assert "Loading organization..." in html
    html = live_sync.render_async(view)
    assert "Acme Corp" in html
    html = live_sync.send_info(view, NewNotification(1, "hi"))
    assert '<span class="badge">1</span>' in html
    html = live_sync.render_click(live_sync.element(view, "button", text="Dismiss"))
    assert '<span class="badge">0</span>' in html
    assert live_sync.has_element(view, "#post-2")
    assert live_sync.render(live_sync.element(view, ".badge")) == '<span class="badge">0</span>'


def test_sync_elements_read_the_same_way(sync_live_client):
    view, _ = live_sync.live(sync_live_client, "/settings")
    save = live_sync.element(view, "#save")
    assert save.text() == "Save"
    assert save.attributes == {"id": "save", "type": "submit", "name": "action", "value": "save"}
    assert save.html() == '<button id="save" type="submit" name="action" value="save">Save</button>'
    assert save.inner_html() == "Save"
    assert live_sync.element(view, "textarea").text(raw=True) == "Hello"


def test_sync_forms_redirects_and_push_events(sync_live_client):
    view, _ = live_sync.live(sync_live_client, "/settings")
    live_sync.render_submit(view, "#settings", {"name": "Grace"})
    assert live_sync.assert_push_event(view, "saved") == {"name": "Grace"}
    live_sync.render_click(view, "#leave")
    assert live_sync.assert_redirect(view, "/dashboard/acme") == "/dashboard/acme"
    dashboard, html = live_sync.follow_redirect(view)
    assert "Loading organization..." in html
    live_sync.render_async(dashboard)


def test_sync_live_with_a_bare_app(toolkit):
    app, _ = toolkit
    view, _ = live_sync.live(app, "/tasks?mode=quick")
    assert "quick: report ready" in live_sync.render_async(view)
    with pytest.raises(LiveTestError, match=r"render_async\(Tasks\) timed out"):
        other, _ = live_sync.live(app, "/tasks")
        live_sync.render_async(other, timeout=0.1)
    with pytest.warns(PendingTasksWarning, match=r"start_async\('forever'\)"):
        other.close()
    view.close()


def test_sync_redirects_publishing_hooks_and_isolated_views(sync_live_client, toolkit):
    _, router = toolkit
    with pytest.raises(LiveRedirect) as redirected:
        live_sync.live(sync_live_client, "/private?mode=quick")
    view, _ = live_sync.follow_redirect(redirected.value)
    assert view.url == "/dashboard/acme"
    assert sync_live_client.cookies["user"] == "alice"
    sync_live_client.call(router.publish, "notifications:alice", NewNotification(3, "from the sync test"))
    assert '<span class="badge">1</span>' in live_sync.render_async(view)

    settings, _ = live_sync.live(sync_live_client, "/settings")
    live_sync.render_keydown(settings, "#search", {"key": "Enter"})
    live_sync.render_hook(live_sync.element(settings, "#chart"), "chart-ready")
    assert live_sync.assert_reply(settings) == {"points": 3}

    counter, html = live_sync.live_isolated(sync_live_client, Counter, template="counter.html")
    assert "Count: 0" in html
    assert "Count: 5" in live_sync.render_click(counter, "#add")

