"""Issue 13: notification ids were numbered per process (``itertools.count``), so under
``make run-cluster`` two workers handed out the same id and one Dismiss removed both.

Two real worker processes of the example app share one real Redis; each notification is
posted straight to a different worker.
"""

from __future__ import annotations

import re
import uuid

import pytest

from fastapi_live.testing import live, render, render_async, render_click
from tests.support.example_workers import client_for, example_workers
from tests.support.sse import SSEReader, headers, token_of

pytestmark = pytest.mark.redis
BADGE = re.compile(r'<span class="badge" title="unread">(\d+)</span>')
DRAFT = re.compile(r'<li id="(post-[^"]+)"><span class="title">Draft #')


@pytest.fixture
def workers(redis_server_url):
    with example_workers(redis_server_url, EXAMPLE_ORG_LATENCY_MS="0", EXAMPLE_PROFILE_LATENCY_MS="0") as servers:
        yield servers


async def test_notifications_from_two_workers_get_distinct_ids_and_one_dismiss_removes_one(workers):
    a, b = workers
    user = f"u{uuid.uuid4().hex[:8]}"
    async with client_for(a, user) as on_a, client_for(b, user) as on_b:
        page = await on_a.get("/dashboard/acme")
        token = token_of(page.text)
        async with on_a.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            reader = SSEReader(stream)
            await reader.next()
            from_a = await on_a.post("/api/notifications", json={"user": user, "message": "posted to worker A"})
            await reader.next_with("posted to worker A", timeout=10)
            from_b = await on_b.post("/api/notifications", json={"user": user, "message": "posted to worker B"})
            widget = (await reader.next_with("posted to worker B", timeout=10)).data

            assert from_a.status_code == from_b.status_code == 202
            id_a, id_b = from_a.json()["published"]["id"], from_b.json()["published"]["id"]
            assert id_a != id_b
            assert BADGE.findall(widget) == ["2"]
            assert f'id="notification-{id_a}"' in widget and f'id="notification-{id_b}"' in widget

            dismissed = await on_a.post("/_live/event", data={"id": id_a}, headers=headers(token, "dismiss-notification"))
            assert dismissed.status_code == 200
            assert BADGE.findall(dismissed.text) == ["1"]
            assert "posted to worker B" in dismissed.text and "posted to worker A" not in dismissed.text


# The same per-process assumption in the dashboard's "New draft": its ids counted from 100
# per session, and a remounted session (its worker died, or restarted) counts again from
# there, while the page's stream still holds the drafts made before.


@pytest.fixture
def live_app():
    from examples.app.main import app

    return app


async def test_a_draft_made_after_a_remount_never_reuses_the_id_of_one_made_before(live_client):
    await live_client.get("/login?user=alice")
    view, _ = await live(live_client, "/dashboard/acme")
    await render_async(view)
    await render_click(view, "#add-post")
    (before,) = DRAFT.findall(render(view))
    await view.session.close()  # the server lost the session: its worker died, or restarted
    await render_async(view)  # the stream reconnects and the server remounts the page
    assert view.remounts == 1
    # The remount clears what its fresh render does not insert again (issue 13.12): the old
    # draft, which the server no longer has, is gone.
    assert DRAFT.findall(render(view)) == []
    await render_click(view, "#add-post")
    (after,) = DRAFT.findall(render(view))
    assert after != before
