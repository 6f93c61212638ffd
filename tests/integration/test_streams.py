"""Streams over real HTTP and SSE: items in the first HTML, operations as fragments, nothing kept."""

from __future__ import annotations

import re

import httpx
import pytest

from fastapi_live.testing import element, live, render, render_async, render_click
from tests.support.gates import GATES
from tests.support.live_client import live_page, partials
from tests.support.sse import open_page
from tests.support.views.async_views import make_app
from tests.support.views.stored_feed import make_app as make_stored_app
from tests.support.views.stored_feed import write_store


@pytest.fixture
def served(serve, run):
    app, live = make_app()
    return serve(app), live


@pytest.fixture
def url(served):
    return served[0]


def container(html: str) -> str:
    match = re.search(r'<ul id="posts"[^>]*>(.*?)</ul>', html, re.S)
    assert match is not None
    return match.group(1)


def stream_ops(data: str) -> list[tuple[str, str, str]]:
    return [(target, swap, content) for target, swap, content in partials(data) if target != "count"]


# -- the first render ------------------------------------------------------------------------------


async def test_items_streamed_in_mount_are_in_the_first_html(url):
    async with httpx.AsyncClient(base_url=url) as client:
        html, _ = await open_page(client, "/feed?n=3")
    opening = re.search(r'<ul id="posts"[^>]*>', html).group(0)
    for attribute in ('data-live-region="stream"', 'data-live-stream="posts"', 'hx-morph-skip-children=""', 'class="feed"'):
        assert attribute in opening
    assert container(html) == "".join(f'<li id="post-{i}" class="post">Post {i}</li>' for i in (1, 2, 3))


# -- operations as fragments ---------------------------------------------------------------------------


async def test_an_insert_is_one_fragment_for_the_container(url):
    async with live_page(url, "/feed?n=2") as page:
        response = await page.event("insert", id=3, title="Third")
        assert stream_ops(response.text) == [("posts", "liveStream at:-1", '<li id="post-3" class="post">Third</li>')]
        assert "Post 1" not in response.text  # the items already shown are not sent again


async def test_prepend_with_a_limit(url):
    async with live_page(url, "/feed?n=2") as page:
        response = await page.event("insert", id=0, title="Zero", at=0, limit=2)
        assert stream_ops(response.text) == [("posts", "liveStream at:0 limit:2", '<li id="post-0" class="post">Zero</li>')]


async def test_an_existing_item_is_sent_under_its_dom_id_to_be_replaced_in_place(url):
    async with live_page(url, "/feed?n=2") as page:
        response = await page.event("insert", id=1, title="Edited")
        assert stream_ops(response.text) == [("posts", "liveStream at:-1", '<li id="post-1" class="post">Edited</li>')]


async def test_update_only(url):
    async with live_page(url, "/feed?n=2") as page:
        response = await page.event("insert", id=9, title="Nine", update_only=True)
        assert stream_ops(response.text) == [("posts", "liveStream at:-1 updateOnly:true", '<li id="post-9" class="post">Nine</li>')]


async def test_delete_by_item_and_by_dom_id(url):
    async with live_page(url, "/feed?n=3") as page:
        response = await page.event("delete", id=2)
        assert stream_ops(response.text) == [("post-2", "delete", "")]
        response = await page.event("delete-dom-id", dom_id="post-3")
        assert stream_ops(response.text) == [("post-3", "delete", "")]


async def test_reset_empties_the_container_then_inserts(url):
    async with live_page(url, "/feed?n=3") as page:
        response = await page.event("reset", ids="7,8")
        assert stream_ops(response.text) == [
            ("posts", "innerHTML", ""),
            ("posts", "liveStream at:-1", '<li id="post-7" class="post">Fresh 7</li>'),
            ("posts", "liveStream at:-1", '<li id="post-8" class="post">Fresh 8</li>'),
        ]


async def test_the_session_keeps_no_items_once_they_are_sent(served):
    url, live = served
    async with live_page(url, "/feed?n=50") as page:
        for n in range(51, 61):
            await page.event("insert", id=n, title=f"Post {n}")
        (session,) = live.manager.sessions.values()
        assert all(pending == [] for pending in session.socket._stream_state()[1].values())
        assert not any(isinstance(value, dict) and "title" in value for value in session.socket.assigns.values())
        assert session.socket.assigns.inserted == 60


# -- stream_async ------------------------------------------------------------------------------------


def posts(*ids: int) -> list[dict[str, object]]:
    return [{"id": i, "title": f"Post {i}"} for i in ids]


async def test_stream_async_with_a_list(url, run):
    async with live_page(url, f"/posts?run={run}") as page:
        assert "Loading posts..." in page.html
        assert container(page.html) == ""
        GATES.get(run, "posts").open(posts(1, 2))
        message = await page.next_with("post-2")
        assert stream_ops(message.data) == [
            ("async-posts", "outerMorph", stream_ops(message.data)[0][2]),
            ("posts", "liveStream at:-1", '<li id="post-1">Post 1</li>'),
            ("posts", "liveStream at:-1", '<li id="post-2">Post 2</li>'),
        ]
        assert "Loading posts..." not in message.data


async def test_stream_async_with_an_async_generator_sends_batches_as_they_are_produced(url, run):
    async with live_page(url, f"/posts?run={run}&mode=batches") as page:
        GATES.get(run, "batch-1").open(posts(1, 2))
        first = await page.next_with("post-2")
        # The generator is now waiting for its second batch: the first already arrived.
        assert not GATES.get(run, "batch-2").finished.is_set()
        assert [target for target, _, _ in stream_ops(first.data)] == ["posts", "posts"]
        GATES.get(run, "batch-2").open(posts(3))
        second = await page.next_with("post-3")
        assert [content for _, _, content in stream_ops(second.data)] == ['<li id="post-3">Post 3</li>']
        GATES.get(run, "batch-3").open(None)  # the generator ends
        done = await page.next_with("async-posts")
        assert "Loading posts..." not in done.data


async def test_stream_async_with_reset_shows_loading_and_keeps_the_items_shown(url, run):
    """LiveView's ``reset``: the loading state again, while the old items stay visible."""
    async with live_page(url, f"/posts?run={run}") as page:
        GATES.get(run, "posts").open(posts(1, 2))
        await page.next_with("post-2")
        response = await page.event("reload", gate="again")
        assert "Loading posts..." in response.text
        assert "innerHTML" not in response.text  # nothing clears the items already shown
        GATES.get(run, "again").open(posts(5))
        message = await page.next_with("post-5")
        ops = [(target, swap) for target, swap, _ in stream_ops(message.data) if target == "posts"]
        assert ops == [("posts", "liveStream at:-1")]


async def test_a_failed_stream_async_shows_its_failed_state(url, run):
    async with live_page(url, f"/posts?run={run}") as page:
        GATES.get(run, "posts").fail(ConnectionError("feed unavailable"))
        message = await page.next_with("Failed to load posts")
        assert "feed unavailable" not in message.data


async def test_re_rendering_the_live_container_sends_an_empty_stream_container_the_client_keeps(url):
    async with live_page(url, "/feed?n=2") as page:
        response = await page.event("retitle", heading="Renamed")
        ((target, swap, content),) = partials(response.text)
        assert (target, swap) == ("live-root", "innerMorph")
        assert "<h1>Renamed</h1>" in content
        # The items are not kept, so they are not re-sent: the morph skips the container's children.
        assert re.search(r'<ul id="posts"[^>]*hx-morph-skip-children=""[^>]*></ul>', content)


# -- static children in the container --------------------------------------------------------------------


def children(view) -> list[str]:
    return re.findall(r'<li id="([^"]+)"', render(element(view, "#posts")))


async def test_static_children_stay_through_inserts_deletes_and_resets():
    app, _ = make_app()
    view, html = await live(app, "/feed-statics?n=2")
    assert "<!--live:items-->" in html
    assert children(view) == ["posts-header", "post-1", "post-2", "posts-empty"]
    await render_click(view, "insert", {"id": 0, "title": "Zero", "at": 0})
    await render_click(view, "insert", {"id": 3, "title": "Three", "limit": -3})
    assert children(view) == ["posts-header", "post-1", "post-2", "post-3", "posts-empty"]
    await render_click(view, "delete", {"id": 2})
    assert children(view) == ["posts-header", "post-1", "post-3", "posts-empty"]
    await render_click(view, "reset", {"ids": ""})
    assert children(view) == ["posts-header", "posts-empty"]
    await render_click(view, "reset", {"ids": "7"})
    assert children(view) == ["posts-header", "post-7", "posts-empty"]


async def test_a_reset_re_renders_the_static_children_with_the_assigns_of_now(url):
    async with live_page(url, "/feed-statics?n=1") as page:
        await page.event("retitle", heading="News")
        response = await page.event("reset", ids="")
        ((target, swap, content),) = stream_ops(response.text)
        assert (target, swap) == ("posts", "innerHTML")
        assert re.fullmatch(
            r'\s*<li id="posts-header" class="header">News: newest first</li>\s*<!--live:items--><!--/live:items-->'
            r'\s*<li id="posts-empty" class="empty">No posts yet</li>\s*',
            content,
        )


# -- a remount --------------------------------------------------------------------------------------------


async def test_a_remount_clears_the_items_its_fresh_render_does_not_show_again(tmp_path):
    store = tmp_path / "feed.json"
    write_store(store, [1, 2, 3])
    view, _ = await live(make_stored_app(store), "/stored")
    assert children(view) == ["posts-header", "post-1", "post-2", "post-3", "posts-empty"]
    write_store(store, [1, 3, 4])  # while the page's session is lost: 2 deleted, 4 added
    await view.session.close()  # the server lost the session (a restart, an expiry)
    await render_async(view)  # the stream reconnects and the server remounts the page
    assert view.remounts == 1
    assert children(view) == ["posts-header", "post-1", "post-3", "post-4", "posts-empty"]
    await render_click(view, "delete", {"id": 3})
    assert children(view) == ["posts-header", "post-1", "post-4", "posts-empty"]
