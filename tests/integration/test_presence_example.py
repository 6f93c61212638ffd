"""The example's ``#presence``: one <li> per signed-in user on the page, kept current within 1 s,
in one process and across worker processes sharing Redis (and when a worker is SIGKILLed)."""

from __future__ import annotations

import re
import signal
import time
import uuid

import pytest

from fastapi_live.testing import LiveTestClient, live, render, render_async
from tests.support.example_workers import client_for, example_workers
from tests.support.sse import SSEReader, headers, token_of
from tests.support.waits import eventually

USER_RE = re.compile(r'<li class="person" data-user="([^"]+)"')


def users_in(html: str) -> list[str]:
    section = html.split('id="presence"', 1)[1].split("</section>", 1)[0]
    return USER_RE.findall(section)


async def test_each_signed_in_user_is_one_li_per_page_and_leaves_when_the_page_closes() -> None:
    from examples.app.main import app

    async with LiveTestClient(app) as alice, LiveTestClient(app) as bob:
        await alice.get("/login?user=alice")
        await bob.get("/login?user=bob")
        on_acme, _ = await live(alice, "/dashboard/acme")
        second_tab, _ = await live(alice, "/dashboard/acme?tab=settings")  # same page, same room
        bobs, html = await live(bob, "/dashboard/acme")
        assert users_in(html) == ["alice", "bob"]
        assert "2 tabs" in html.split('data-user="alice"', 1)[1].split("</li>", 1)[0]
        await eventually(lambda: users_in(render(on_acme)) == ["alice", "bob"])
        elsewhere, html = await live(bob, "/dashboard/globex")
        assert users_in(html) == ["bob"], "another page is another room"

        await render_async(bobs)
        await bobs.close()
        await eventually(lambda: users_in(render(on_acme)) == ["alice"])
        for view in (on_acme, second_tab, elsewhere):
            await render_async(view)
            await view.close()


@pytest.fixture
def workers(any_redis_url):
    with example_workers(any_redis_url, EXAMPLE_ORG_LATENCY_MS="50", EXAMPLE_PROFILE_LATENCY_MS="80") as servers:
        yield servers


async def presence_update(reader: SSEReader, want: list[str], since: float, timeout: float = 10) -> float:
    """Seconds from ``since`` until the stream carries a ``#presence`` fragment listing exactly ``want``."""
    while True:
        message = await reader.next_with('hx-target="#presence"', timeout=timeout)
        if USER_RE.findall(message.data) == want:
            return time.monotonic() - since


@pytest.mark.redis
async def test_across_worker_processes_joins_and_leaves_show_within_a_second(workers):
    a, b = workers
    slug = f"org-{uuid.uuid4().hex[:8]}"  # a room of this test's own: the Redis is shared
    ann, bob = f"ann-{slug}", f"bob-{slug}"
    async with client_for(a, ann) as on_a, client_for(b, bob) as on_b:
        page = await on_a.get(f"/dashboard/{slug}")
        assert users_in(page.text) == [ann]
        async with on_a.stream("GET", "/_live/stream", headers=headers(token_of(page.text))) as ann_stream:
            ann_reader = SSEReader(ann_stream)
            await ann_reader.next()
            opened = time.monotonic()
            page = await on_b.get(f"/dashboard/{slug}")
            assert users_in(page.text) == [ann, bob], "the list is the same in every process"
            async with on_b.stream("GET", "/_live/stream", headers=headers(token_of(page.text))) as bob_stream:
                bob_reader = SSEReader(bob_stream)
                await bob_reader.next()
                joined = await presence_update(ann_reader, [ann, bob], opened)
            closed = time.monotonic()
            left = await presence_update(ann_reader, [ann], closed)  # bob's tab closed: its stream ended
    print(f"\njoin shown across processes after {joined * 1000:.0f} ms, leave after {left * 1000:.0f} ms")
    assert joined < 1.0 and left < 1.0


@pytest.mark.redis
async def test_the_users_of_a_sigkilled_worker_leave_the_others_lists(workers):
    a, b = workers
    slug = f"org-{uuid.uuid4().hex[:8]}"
    ann, bob = f"ann-{slug}", f"bob-{slug}"
    async with client_for(a, ann) as on_a, client_for(b, bob) as on_b:
        page = await on_a.get(f"/dashboard/{slug}")
        async with on_a.stream("GET", "/_live/stream", headers=headers(token_of(page.text))) as ann_stream:
            await SSEReader(ann_stream).next()
            page = await on_b.get(f"/dashboard/{slug}")
            assert users_in(page.text) == [ann, bob]
            async with on_b.stream("GET", "/_live/stream", headers=headers(token_of(page.text))) as bob_stream:
                bob_reader = SSEReader(bob_stream)
                await bob_reader.next()
                killed = time.monotonic()
                a.stop(signal.SIGKILL)
                gone = await presence_update(bob_reader, [bob], killed)
    print(f"\nthe users of a SIGKILLed worker left the other worker's page after {gone:.2f} s")
    assert gone <= 5.0
