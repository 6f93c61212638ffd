"""Scale-out without sticky sessions: two server processes sharing one real Redis, or one Redis Cluster."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support.example_workers import client_for, example_workers
from tests.support.sse import SSEReader, headers, token_of

pytestmark = pytest.mark.redis


@pytest.fixture
def pair(any_redis_url, tmp_path_factory):
    media = str(tmp_path_factory.mktemp("media"))
    with example_workers(any_redis_url, EXAMPLE_ORG_LATENCY_MS="50", EXAMPLE_PROFILE_LATENCY_MS="80", EXAMPLE_MEDIA_DIR=media) as servers:
        yield servers


async def test_page_from_a_stream_from_b_events_to_both(pair):
    a, b = pair
    user = f"u{uuid.uuid4().hex[:8]}"
    async with client_for(a, user) as on_a, client_for(b, user) as on_b:
        page = await on_a.get("/counter")
        token = token_of(page.text)
        on_b.cookies.update(on_a.cookies)  # the same browser, whichever process answers
        async with on_b.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            assert stream.status_code == 200
            reader = SSEReader(stream)
            await reader.next()
            via_a = await on_a.post("/_live/event", headers=headers(token, "inc"))
            assert via_a.status_code == 200 and "liveText v:1 b:0 " in via_a.text and ">1</hx-partial>" in via_a.text, via_a.text
            via_b = await on_b.post("/_live/event", data={"by": "5"}, headers=headers(token, "inc"))
            # And so is the second.
            assert via_b.status_code == 200 and "liveText" in via_b.text and ">6</" in via_b.text, via_b.text
            # A frame produced on A (an info) reaches the stream held by B.
            dashboard = await on_a.get("/dashboard/acme")
            dash_token = token_of(dashboard.text)
        async with on_b.stream("GET", "/_live/stream", headers=headers(dash_token)) as stream:
            reader = SSEReader(stream)
            message = await reader.next_with("Acme Corp", timeout=10)
            assert 'hx-target="#async-org"' in message.data


async def test_a_notification_posted_to_b_reaches_a_session_owned_by_a(pair):
    a, b = pair
    user = f"u{uuid.uuid4().hex[:8]}"
    async with client_for(a, user) as on_a, client_for(b, user) as on_b:
        page = await on_a.get("/dashboard/acme")
        token = token_of(page.text)
        async with on_a.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            reader = SSEReader(stream)
            await reader.next()
            response = await on_b.post("/api/notifications", json={"user": user, "message": "from process B"})
            assert response.status_code == 202
            message = await reader.next_with("from process B", timeout=10)
            assert 'hx-target="#notification-widget"' in message.data


async def test_when_the_owner_dies_the_stream_remounts_on_the_survivor(pair):
    a, b = pair
    user = f"u{uuid.uuid4().hex[:8]}"
    async with client_for(a, user) as on_a, client_for(b, user) as on_b:
        page = await on_a.get("/counter")
        token = token_of(page.text)
        on_b.cookies.update(on_a.cookies)
        bumped = await on_a.post("/_live/event", headers=headers(token, "inc"))
        assert bumped.status_code == 200
        a.stop()
        async with on_b.stream("GET", "/_live/stream", headers=headers(token, **{"Last-Event-ID": "3"})) as stream:
            assert stream.status_code == 200
            reader = SSEReader(stream)
            remount = await reader.next()
            assert remount.event == "live:remount"
            assert 'id="count"' in remount.data
        via_b = await on_b.post("/_live/event", headers=headers(token, "inc"))
        assert via_b.status_code == 200 and ">1</hx-partial>" in via_b.text, via_b.text  # a text patch against the remount's render


async def test_an_upload_posted_to_either_process_lands_in_the_session_that_owns_it(pair):
    import json

    a, b = pair
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(1_500_000)
    async with client_for(a, "uploader") as on_a, client_for(b, "uploader") as on_b:
        page = await on_a.get("/uploads")
        token = token_of(page.text)
        on_b.cookies.update(on_a.cookies)
        entries = [{"ref": "c1", "name": "big.png", "size": len(png), "type": "image/png"}]
        preflight = await on_b.post(
            "/_live/event",
            content=json.dumps({"upload": "photos", "entries": entries}),
            headers={**headers(token, "live:upload"), "Content-Type": "application/json"},
        )
        assert preflight.status_code == 200, preflight.text
        grant = json.loads(preflight.headers["x-live-reply"])["entries"]["c1"]
        size = grant["chunk_size"]

        def chunk_headers(offset: int) -> dict[str, str]:
            return {
                "X-Live-Token": token,
                "X-Live-Upload-Token": grant["token"],
                "X-Live-Upload-Ref": "c1",
                "X-Live-Upload-Offset": str(offset),
                "Content-Type": "application/octet-stream",
            }

        too_big = await on_b.post("/_live/upload", content=png[: size + 10], headers=chunk_headers(0))
        assert too_big.status_code == 413  # refused by the owner, as it refuses its own
        await on_a.post("/_live/event", data={"ref": "c1"}, headers=headers(token, "cancel"))
        entries[0]["ref"] = "c2"
        preflight = await on_b.post(
            "/_live/event",
            content=json.dumps({"upload": "photos", "entries": entries}),
            headers={**headers(token, "live:upload"), "Content-Type": "application/json"},
        )
        grant = json.loads(preflight.headers["x-live-reply"])["entries"]["c2"]

        def chunk(offset: int) -> dict[str, str]:
            return {**chunk_headers(offset), "X-Live-Upload-Token": grant["token"], "X-Live-Upload-Ref": "c2"}

        first = await on_b.post("/_live/upload", content=png[:size], headers=chunk(0))  # forwarded to A through Redis
        assert first.status_code == 200 and first.json() == {"offset": size, "done": False}, first.text
        second = await on_a.post("/_live/upload", content=png[size:], headers=chunk(size))
        assert second.json() == {"offset": len(png), "done": True}
        saved = await on_b.post("/_live/event", headers=headers(token, "save"))
        assert '<li class="uploaded">big.png (1.5 MB)</li>' in saved.text


async def test_a_shared_stream_on_b_carries_pages_owned_by_a_and_b_whatever_process_takes_the_attach(pair):
    a, b = pair
    user = f"u{uuid.uuid4().hex[:8]}"
    async with client_for(a, user) as on_a, client_for(b, user) as on_b:
        from_a = token_of((await on_a.get("/counter")).text)
        on_b.cookies.update(on_a.cookies)  # one browser, whichever process answers
        from_b = token_of((await on_b.get("/counter")).text)
        on_a.cookies.update(on_b.cookies)
        async with on_b.stream("GET", "/_live/stream", headers={"X-Live-Mux": "open"}) as stream:
            reader = SSEReader(stream)
            mux = (await reader.next()).data
            # Attach A's page through A (forwarded to B, which holds the stream) and B's through A too.
            for channel, token in (("from-a", from_a), ("from-b", from_b)):
                attached = await on_a.post("/_live/stream", headers={**headers(token), "X-Live-Mux": mux, "X-Live-Mux-Page": channel})
                assert attached.status_code == 204, attached.text
            clicked = await on_a.post("/_live/event", data={"by": "3"}, headers=headers(from_a, "inc"))
            assert clicked.status_code == 200
            seen: set[str] = set()
            while seen != {"from-a", "from-b"}:
                message = await reader.next(timeout=10)
                if message.event == "live:mux-frame":
                    seen.add(message.data.partition("\n")[0])
            # A token of another browser is refused wherever the attach lands.
            async with client_for(a, user) as stranger:
                foreign = token_of((await stranger.get("/counter")).text)
            refused = await on_a.post("/_live/stream", headers={**headers(foreign), "X-Live-Mux": mux, "X-Live-Mux-Page": "x"})
            assert refused.status_code == 403
            # A page whose session ended is remounted by the process the attach lands on, and
            # its fresh render still travels on B's shared stream.
            left = await on_a.post("/_live/event", headers=headers(from_a, "live:leave"))
            assert left.status_code == 200, left.text
            again = await on_a.post("/_live/stream", headers={**headers(from_a), "X-Live-Mux": mux, "X-Live-Mux-Page": "from-a.2"})
            assert again.status_code == 204, again.text
            while True:
                message = await reader.next(timeout=10)
                channel, _, body = message.data.partition("\n")
                if message.event == "live:mux-frame" and channel == "from-a.2":
                    assert "event: live:remount" in body
                    break
