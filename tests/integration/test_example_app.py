"""The example app through fastapi_live.testing: the seed's dashboard, widget, form and org page."""

from __future__ import annotations

import pytest

from fastapi_live.testing import (
    LiveRedirect,
    element,
    has_element,
    live,
    render_async,
    render_change,
    render_click,
    render_submit,
    send_info,
)


@pytest.fixture
def live_app():
    from examples.app.main import app

    return app


async def signed_in(client, user: str = "alice") -> None:
    await client.get(f"/login?user={user}")


async def test_dashboard(live_client):
    # The seed's test: without render_async the async work would never be awaited.
    await signed_in(live_client)
    view, html = await live(live_client, "/dashboard/acme")
    assert "Loading organization..." in html
    html = await render_async(view)
    assert "Acme Corp" in html
    assert "Rank" in html and "#1" in html
    assert has_element(view, "#post-1") and has_element(view, "#post-4")


async def test_a_broken_slug_ends_in_the_failed_state(live_client):
    await signed_in(live_client)
    view, _ = await live(live_client, "/dashboard/broken")
    html = await render_async(view)
    assert "Failed to load organization" in html


async def test_signed_out_visitors_are_sent_to_the_login(live_client):
    with pytest.raises(LiveRedirect) as redirect:
        await live(live_client, "/dashboard/acme")
    assert redirect.value.to == "/login"
    login = await live_client.get(redirect.value.to)
    assert "Sign in" in login.text


async def test_the_notification_widget_counts_and_dismisses(live_client):
    from examples.app.notifications import new_notification

    await signed_in(live_client, "nina")
    view, _ = await live(live_client, "/dashboard/acme")
    await render_async(view)
    await send_info(view, new_notification("Build green"))
    await send_info(view, new_notification("Deploy done"))
    assert has_element(view, "#notification-widget .badge", text="2")
    html = await render_click(element(view, "#notification-widget .notification:first-of-type button"))
    assert has_element(view, "#notification-widget .badge", text="1")
    assert "Deploy done" not in html and "Build green" in html


async def test_settings_are_validated_on_change_and_saved_on_submit(live_client):
    await signed_in(live_client)
    view, _ = await live(live_client, "/dashboard/acme")
    await render_async(view)
    html = await render_change(view, "#settings-form", {"name": "A", "email": "nope"})
    assert "Name must be at least 2 characters" in html
    assert "Enter a valid email address" in html
    html = await render_submit(view, "#settings-form", {"name": "Ada", "email": "ada@example.com"})
    assert "Saved — hello, Ada!" in html
    flash = element(view, "#flash")
    assert flash.attributes["role"] == "alert"
    assert "Settings saved" in flash.text()
    assert view.flash == {"info": "Settings saved"}
    assert element(view, "#flash .live-flash-close").text() == "×"


async def test_settings_errors_show_only_for_touched_fields_until_a_submit(live_client):
    await signed_in(live_client)
    view, _ = await live(live_client, "/dashboard/acme")
    await render_async(view)
    await render_change(view, "#settings-form", {"name": "A"})
    assert element(view, "#settings-name-error").text() == "Name must be at least 2 characters"
    assert element(view, "#settings-name").attributes["aria-describedby"] == "settings-name-error"
    assert element(view, "#settings-email-error").text() == ""  # untouched: no "Enter a valid email address" yet
    assert "aria-invalid" not in element(view, "#settings-email").attributes
    await render_submit(view, "#settings-form")
    assert element(view, "#settings-email-error").text() == "Enter a valid email address"
    assert element(view, "#settings-email").attributes["aria-invalid"] == "true"
    assert not has_element(view, "#saved")


async def test_the_start_async_org_page_handles_both_outcomes(live_client):
    await signed_in(live_client)
    view, html = await live(live_client, "/orgs/2")
    assert "Loading organization..." in html
    assert "Globex Corporation" in await render_async(view)
    missing, _ = await live(live_client, "/orgs/99")
    html = await render_async(missing)
    assert "Failed to load organization" in html
    assert "no organization with id 99" in html
