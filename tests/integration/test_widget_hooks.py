"""The attach_hook widget: its events and infos stay its own, the page's pass through."""

from __future__ import annotations

import httpx
import pytest

from examples.app.auth import COOKIE, login_cookie
from examples.app.notifications import new_notification, topic_for
from tests.support.sse import SSEReader, headers, open_page
from tests.support.views.widget import make_app


@pytest.fixture
def widget(serve):
    app, live = make_app()
    return serve(app), live


def only_session(live):
    (session,) = live.manager.sessions.values()
    return session


async def test_widget_events_never_reach_the_page_and_page_events_are_never_swallowed(widget):
    url, live = widget
    async with httpx.AsyncClient(base_url=url, cookies={COOKIE: login_cookie("dora")}) as client:
        _, token = await open_page(client, "/widget")
        session = only_session(live)
        await live.publish(topic_for("dora"), new_notification("hello"))
        await session.wait_idle()
        notification_id = session.socket.assigns.notifications[0].id

        dismissed = await client.post("/_live/event", data={"id": notification_id}, headers=headers(token, "dismiss-notification"))
        assert dismissed.status_code == 200
        assert '<span class="badge" title="unread">0</span>' in dismissed.text
        assert session.view.seen_events == []

        clicked = await client.post("/_live/event", headers=headers(token, "page-click"))
        assert "Clicks: 1" in clicked.text
        other = await client.post("/_live/event", headers=headers(token, "something-else"))
        assert other.status_code == 200
        assert session.view.seen_events == ["page-click", "something-else"]


async def test_widget_infos_are_halted_and_other_infos_reach_the_page(widget):
    url, live = widget
    async with httpx.AsyncClient(base_url=url, cookies={COOKIE: login_cookie("erin")}, timeout=10) as client:
        _, token = await open_page(client, "/widget")
        session = only_session(live)
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as response:
            reader = SSEReader(response)
            await reader.next()
            await live.publish(topic_for("erin"), new_notification("for the widget"))
            message = await reader.next_with("for the widget")
            assert 'hx-target="#notification-widget"' in message.data
            session.send_info({"kind": "page-info"})
            await session.wait_idle()
        assert session.view.seen_infos == [{"kind": "page-info"}]


async def test_a_page_without_a_user_gets_no_subscription(widget):
    url, live = widget
    async with httpx.AsyncClient(base_url=url) as client:
        await open_page(client, "/widget")
        assert live.pubsub.fanout.listener_count() == 0
