"""Live pages over real HTTP and SSE: one mount, events answered with fragments, the stream."""

from __future__ import annotations

import httpx
import pytest

from tests.support.sse import SSEReader, headers, open_page
from tests.support.views.counter import make_app


@pytest.fixture
def counter_url(serve):
    app, live = make_app()
    return serve(app), live


async def test_event_reply_carries_only_the_changed_region(counter_url):
    url, _ = counter_url
    async with httpx.AsyncClient(base_url=url) as client:
        html, token = await open_page(client, "/counter")
        assert "Count: 0" in html
        response = await client.post("/_live/event", data={"by": "2"}, headers=headers(token, "inc"))
        assert response.status_code == 200
        body = response.text
        # One text node changed: a text patch, against the page's first render (version 0).
        assert body.startswith('<hx-partial id="count" hx-swap="liveText v:1 b:0 n:0 ') and body.endswith(">Count: 2</hx-partial>")
        assert "echo" not in body  # the other region did not change


async def test_stream_carries_ids_retry_and_info_updates(counter_url):
    url, live = counter_url
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = SSEReader(response)
            hello = await reader.next()
            assert hello.retry == live.config.retry_ms
            assert hello.id == "0"
            session = next(iter(live.manager.sessions.values()))
            session.send_info(("set", 41))
            message = await reader.next_with("Count: 41")
            assert message.id == "1"
            assert message.data.startswith('<hx-partial id="count" hx-swap="liveText v:1 b:0 ')


async def test_page_request_mounts_once_and_stream_attaches_to_that_session(counter_url):
    url, live = counter_url
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter?start=7")
        assert len(live.manager.sessions) == 1
        await client.post("/_live/event", headers=headers(token, "inc"))
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as response:
            reader = SSEReader(response)
            await reader.next()
            session = next(iter(live.manager.sessions.values()))
            assert session.socket.assigns.count == 8
            assert len(live.manager.sessions) == 1


async def test_last_event_id_replays_what_was_missed(counter_url):
    url, live = counter_url
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        session = next(iter(live.manager.sessions.values()))
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as response:
            reader = SSEReader(response)
            await reader.next()
            session.send_info(("set", 1))
            first = await reader.next_with("Count: 1")
        # Disconnected: two updates happen meanwhile.
        await session.call(lambda socket: socket.assign(count=2))
        await session.call(lambda socket: socket.assign(count=3))
        async with client.stream("GET", "/_live/stream", headers=headers(token, **{"Last-Event-ID": first.id})) as response:
            reader = SSEReader(response)
            await reader.next()
            assert "Count: 2" in (await reader.next()).data
            assert "Count: 3" in (await reader.next()).data


async def test_an_info_handler_that_raises_reports_an_error_state_and_the_session_lives_on(counter_url, caplog):
    url, live = counter_url
    async with httpx.AsyncClient(base_url=url, timeout=10) as client, httpx.AsyncClient(base_url=url, timeout=10) as other:
        _, token = await open_page(client, "/counter")
        _, other_token = await open_page(other, "/counter")
        session = next(s for s in live.manager.sessions.values() if s.token == token)
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as response:
            reader = SSEReader(response)
            await reader.next()
            session.send_info("raise")
            message = await reader.next_with("<hx-live>")
            assert '"kind":"error"' in message.data
            assert "Traceback" not in message.data and "a bug" not in message.data
            session.send_info(("set", 5))
            assert "Count: 5" in (await reader.next_with("Count:")).data
        assert any("handle_info" in r.getMessage() or r.exc_info for r in caplog.records)
        ok = await other.post("/_live/event", headers=headers(other_token, "inc"))
        assert "Count: 1" in ok.text


async def test_a_head_request_answers_headers_and_leaves_the_open_stream_alone(counter_url):
    url, live = counter_url
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as response:
            reader = SSEReader(response)
            await reader.next()
            head = await client.head("/_live/stream", headers=headers(token))
            assert head.status_code == 200
            assert head.headers["content-type"].startswith("text/event-stream")
            assert head.content == b""
            session = next(iter(live.manager.sessions.values()))
            session.send_info(("set", 5))
            assert "Count: 5" in (await reader.next_with("Count: 5")).data  # still the live stream
            assert len(live.manager.connections) == 1


async def test_a_large_reply_comes_gzip_encoded_to_a_client_that_accepts_it_and_plain_to_one_that_does_not(counter_url):
    url, _ = counter_url
    text = "a long echo " * 200
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        small = await client.post("/_live/event", headers=headers(token, "inc"))
        assert "content-encoding" not in small.headers  # its gzip would be no smaller
        large = await client.post("/_live/event", data={"text": text}, headers=headers(token, "echo"))
        assert large.headers["content-encoding"] == "gzip" and large.headers["vary"] == "accept-encoding"
        assert int(large.headers["content-length"]) < len(text) // 10
        assert text.strip() in large.text
        plain = await client.post("/_live/event", data={"text": text + "!"}, headers={**headers(token, "echo"), "Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and (text + "!").strip() in plain.text


async def test_the_stream_comes_gzip_encoded_each_message_readable_as_it_arrives(counter_url):
    url, live = counter_url
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        _, token = await open_page(client, "/counter")
        async with client.stream("GET", "/_live/stream", headers={**headers(token), "Accept-Encoding": "gzip"}) as response:
            assert response.headers["content-encoding"] == "gzip" and response.headers["vary"] == "accept-encoding"
            reader = SSEReader(response)  # httpx inflates what has come so far
            await reader.next()
            session = next(iter(live.manager.sessions.values()))
            for n in range(1, 6):
                session.send_info(("set", n * 11))
                message = await reader.next_with(f"Count: {n * 11}<")  # whole, then as text patches
                assert message.id == str(n)
