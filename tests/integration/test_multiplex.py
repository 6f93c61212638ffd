"""One shared stream carries many pages of a browser, over real HTTP: attach, frames, replay, detach, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from fastapi_live import SessionConfig
from fastapi_live.testing._sse import SSEMessage
from tests.support.sse import SSEReader, headers, open_page
from tests.support.views.counter import make_app

MUX = {"X-Live-Mux": "open", "Accept": "text/event-stream"}


@pytest.fixture
def counter(serve):
    app, live = make_app(SessionConfig(disconnect_grace=0.3))
    return serve(app), live


@asynccontextmanager
async def shared_stream(client: httpx.AsyncClient) -> AsyncIterator[tuple[str, SSEReader]]:
    async with client.stream("GET", "/_live/stream", headers=MUX) as response:
        assert response.status_code == 200, response.status_code
        reader = SSEReader(response)
        opened = await reader.next()
        assert opened.event == "live:mux-open"
        yield opened.data, reader


def attach_headers(mux: str, channel: str, token: str, **extra: str) -> dict[str, str]:
    return {**headers(token), "X-Live-Mux": mux, "X-Live-Mux-Page": channel, **extra}


async def frame_for(reader: SSEReader, channel: str, needle: str = "", timeout: float = 5.0) -> str:
    """The next frame on ``channel`` holding ``needle``: the page's own SSE text."""
    while True:
        message: SSEMessage = await reader.next(timeout)
        if message.event != "live:mux-frame":
            continue
        got, _, body = message.data.partition("\n")
        if got == channel and needle in body:
            return body


async def test_two_pages_share_one_stream_and_each_gets_its_own_frames(counter):
    url, live = counter
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, first = await open_page(client, "/counter")
        _, second = await open_page(client, "/counter?start=40")
        async with shared_stream(client) as (mux, reader):
            for channel, token in (("a.1", first), ("b.1", second)):
                response = await client.post("/_live/stream", headers=attach_headers(mux, channel, token))
                assert response.status_code == 204, response.text
            assert await frame_for(reader, "a.1")
            assert await frame_for(reader, "b.1")
            clicked = await client.post("/_live/event", data={"by": "2"}, headers=headers(second, "inc"))
            assert clicked.status_code == 200
            # The event's own reply carries the count; the stream carries only later changes.
            live.manager.sessions[next(s.id for s in live.manager.sessions.values() if s.token == first)].send_info(("set", "hello"))
            assert "hello" in await frame_for(reader, "a.1", "hello")
            assert len(live.multiplex.streams) == 1
            (shared,) = live.multiplex.streams.values()
            assert shared.pages == 2


async def test_a_reattach_with_last_event_id_replays_what_the_page_missed(counter):
    url, live = counter
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        (session,) = live.manager.sessions.values()
        async with shared_stream(client) as (mux, reader):
            assert (await client.post("/_live/stream", headers=attach_headers(mux, "p.1", token))).status_code == 204
            first = await frame_for(reader, "p.1")
            last_id = [line for line in first.splitlines() if line.startswith("id:")][-1].split(":", 1)[1].strip()
            await client.post("/_live/stream", headers={"X-Live-Mux": mux, "X-Live-Mux-Detach": "p.1"})
            session.send_info(("set", "missed-1"))
            await session.wait_idle()
            again = await client.post("/_live/stream", headers=attach_headers(mux, "p.2", token, **{"Last-Event-ID": last_id}))
            assert again.status_code == 204
            replayed = await frame_for(reader, "p.2", "missed-1")
            assert "missed-1" in replayed


async def test_a_closed_page_detaches_and_its_session_ends_on_the_grace(counter):
    url, live = counter
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        (session,) = live.manager.sessions.values()
        async with shared_stream(client) as (mux, reader):
            assert (await client.post("/_live/stream", headers=attach_headers(mux, "p.1", token))).status_code == 204
            await frame_for(reader, "p.1")
            assert session.attached
            assert (await client.post("/_live/stream", headers={"X-Live-Mux": mux, "X-Live-Mux-Detach": "p.1"})).status_code == 204
            assert not session.attached
            await asyncio.wait_for(_until(lambda: session.closed), 5)


async def test_the_end_of_the_shared_stream_detaches_every_page(counter):
    url, live = counter
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, first = await open_page(client, "/counter")
        _, second = await open_page(client, "/counter")
        sessions = list(live.manager.sessions.values())
        async with shared_stream(client) as (mux, reader):
            for channel, token in (("a", first), ("b", second)):
                assert (await client.post("/_live/stream", headers=attach_headers(mux, channel, token))).status_code == 204
            await frame_for(reader, "a")
            assert all(s.attached for s in sessions)
        await asyncio.wait_for(_until(lambda: not any(s.attached for s in sessions) and not live.multiplex.streams), 5)


async def test_a_token_of_another_browser_is_refused_and_so_is_another_browsers_stream(counter):
    url, _ = counter
    async with httpx.AsyncClient(base_url=url, timeout=10) as mine, httpx.AsyncClient(base_url=url, timeout=10) as theirs:
        _, my_token = await open_page(mine, "/counter")
        _, their_token = await open_page(theirs, "/counter")
        async with shared_stream(mine) as (mux, _reader):
            foreign = await mine.post("/_live/stream", headers=attach_headers(mux, "x", their_token))
            assert foreign.status_code == 403
            assert foreign.json()["reason"] == "foreign"
            # Their own token, on my shared stream: refused too.
            hijack = await theirs.post("/_live/stream", headers=attach_headers(mux, "x", their_token))
            assert hijack.status_code == 403
            assert "another browser" in hijack.json()["detail"]
            assert (await mine.post("/_live/stream", headers=attach_headers(mux, "y", my_token))).status_code == 204


async def test_bad_attach_requests_get_clear_answers(counter):
    url, _ = counter
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        gone = await client.post("/_live/stream", headers=attach_headers("nope", "p", token))
        assert gone.status_code == 404
        assert "shared live stream is gone" in gone.json()["detail"]
        async with shared_stream(client) as (mux, _reader):
            bad = await client.post("/_live/stream", headers=attach_headers(mux, "no spaces!", token))
            assert bad.status_code == 400
            assert "X-Live-Mux-Page" in bad.json()["detail"] or "x-live-mux-page" in bad.json()["detail"]
    async with httpx.AsyncClient(base_url=url, timeout=10) as stranger:
        refused = await stranger.get("/_live/stream", headers=MUX)
        assert refused.status_code == 403
        assert "browser cookie" in refused.json()["detail"]


async def test_a_page_whose_session_is_gone_is_remounted_on_the_shared_stream(counter):
    url, live = counter
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        (session,) = live.manager.sessions.values()
        await session.close()
        async with shared_stream(client) as (mux, reader):
            response = await client.post("/_live/stream", headers=attach_headers(mux, "p", token))
            assert response.status_code == 204, response.text
            body = await frame_for(reader, "p", "event: live:remount")
            assert "#live-root" in body


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.02)  # why: polling state owned by the server thread


async def test_a_cross_site_attach_is_refused(serve):
    app, _ = make_app(allowed_origins=["http://127.0.0.1"])
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        async with shared_stream(client) as (mux, _reader):
            refused = await client.post("/_live/stream", headers=attach_headers(mux, "p", token, Origin="http://evil.test"))
            assert refused.status_code == 403
            assert refused.json()["reason"] == "cross-site"
