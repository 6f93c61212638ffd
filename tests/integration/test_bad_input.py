"""Bad input gets a clear 4xx, runs no user code for a bad token, and harms nothing."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from fastapi_live import LiveSocket, LiveView
from tests.support.sse import headers, open_page
from tests.support.views.counter import make_app


@pytest.fixture
def counter_url(serve):
    app, live = make_app()
    return serve(app), live


async def test_unknown_event_is_a_400_naming_the_known_events(counter_url):
    url, _ = counter_url
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        response = await client.post("/_live/event", headers=headers(token, "nope"))
        assert response.status_code == 400
        assert "unknown event 'nope' for Counter" in response.json()["detail"]
        assert "inc" in response.json()["detail"]
        ok = await client.post("/_live/event", headers=headers(token, "inc"))
        assert "Count: 1" in ok.text


async def test_invalid_params_give_field_errors_and_keep_the_session(counter_url):
    url, _ = counter_url
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        response = await client.post("/_live/event", data={"by": "many"}, headers=headers(token, "inc"))
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert errors[0]["loc"] == ["by"]
        ok = await client.post("/_live/event", data={"by": "3"}, headers=headers(token, "inc"))
        assert "Count: 3" in ok.text


async def test_malformed_body_is_a_400(counter_url):
    url, _ = counter_url
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        response = await client.post(
            "/_live/event", content=b"[1, 2", headers={**headers(token, "inc"), "Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert "malformed JSON" in response.json()["detail"]


@pytest.mark.parametrize("endpoint", ["stream", "event"])
async def test_forged_and_foreign_tokens_are_refused_before_user_code(counter_url, endpoint):
    url, live = counter_url
    async with httpx.AsyncClient(base_url=url) as alice, httpx.AsyncClient(base_url=url) as bob:
        _, token = await open_page(alice, "/counter")
        await open_page(bob, "/counter")  # bob has his own browser cookie
        method = "GET" if endpoint == "stream" else "POST"
        forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        for client, bad in ((alice, forged), (alice, "garbage"), (alice, ""), (bob, token)):
            response = await client.request(method, f"/_live/{endpoint}", headers=headers(bad, "inc"))
            assert response.status_code == 403, (bad, response.text)
        session = next(s for s in live.manager.sessions.values() if s.token == token)
        assert session.socket.assigns.count == 0


async def test_a_raising_handler_is_a_500_and_rolls_back(counter_url):
    url, _ = counter_url
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        response = await client.post("/_live/event", headers=headers(token, "boom"))
        assert response.status_code == 500
        assert "Traceback" not in response.text
        ok = await client.post("/_live/event", headers=headers(token, "inc"))
        assert "Count: 1" in ok.text  # the assign made before the exception was rolled back


@pytest.mark.parametrize(
    "extra",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "null"},
    ],
)
async def test_cross_site_events_are_refused(counter_url, extra):
    url, live = counter_url
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        response = await client.post("/_live/event", headers={**headers(token, "inc"), **extra})
        assert response.status_code == 403
        assert response.json()["reason"] == "cross-site"
        (session,) = live.manager.sessions.values()
        assert session.socket.assigns.count == 0


async def test_same_origin_events_pass(counter_url):
    url, _ = counter_url
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        same = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
        response = await client.post("/_live/event", headers={**headers(token, "inc"), **same})
        assert response.status_code == 200
        assert "Count: 1" in response.text


class Broken(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign_async("never", lambda: 1)
        raise RuntimeError("mount exploded")


async def test_a_mount_that_raises_shows_an_error_page_and_other_pages_go_on(serve, caplog):
    _, live = make_app()
    live.page("/broken", template="counter.html")(Broken)
    app = FastAPI()
    app.include_router(live)
    url = serve(app)
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/broken")
        assert response.status_code == 500
        assert "Something went wrong" in response.text and "live-server-error" in response.text
        assert "mount exploded" not in response.text and "Traceback" not in response.text
        assert not live.manager.sessions  # the failed page left nothing behind
        _, token = await open_page(client, "/counter")
        ok = await client.post("/_live/event", headers=headers(token, "inc"))
        assert "Count: 1" in ok.text
    assert any("mount exploded" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
