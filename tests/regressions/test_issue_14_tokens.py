"""Issue 14, items 5 and 7: what a page token gives away, and how long it lives.

* A token carried the browser cookie's value in clear base64: anyone who saw a token (page
  source, a HAR file, a proxy's log of ``X-Live-Token``) could rebuild the cookie, drive the
  session and read its stream. It now carries a keyed digest of the cookie instead.
* The fast path measured a token's age from its session's creation, which a remount resets:
  a remounted page's token outlived its ``token_max_age``.
"""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from examples.app.auth import COOKIE, login_cookie
from fastapi_live import LiveRouter, SessionConfig
from fastapi_live.pubsub.memory import MemoryPubSub
from fastapi_live.router import BROWSER_COOKIE
from tests.support.sse import SSEReader, headers, open_page
from tests.support.views.counter import TEMPLATES, Counter
from tests.support.waits import eventually


@pytest.fixture
def example_url(serve):
    from examples.app.main import app

    return serve(app)


def payload_strings(token: str) -> list[str]:
    """Every string an onlooker can read out of a token without the key."""
    body = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return [str(part) for part in json.loads(decoded)]


async def test_a_token_seen_by_an_onlooker_does_not_give_away_the_browser(example_url):
    async with httpx.AsyncClient(base_url=example_url, cookies={COOKIE: login_cookie("alice")}, timeout=10) as alice:
        html, token = await open_page(alice, "/dashboard/acme")
        browser = alice.cookies[BROWSER_COOKIE]
        assert browser not in token and browser not in html
        readable = payload_strings(token)
        assert not any(browser in part for part in readable)
        # The onlooker has the token and everything in it, but not alice's cookies.
        async with httpx.AsyncClient(base_url=example_url, timeout=10) as onlooker:
            for guess in readable:
                onlooker.cookies.set(BROWSER_COOKIE, guess)
                event = await onlooker.post("/_live/event", data={"id": "1"}, headers=headers(token, "dismiss-notification"))
                assert event.status_code == 403, (guess, event.text)
                stream = await onlooker.get("/_live/stream", headers=headers(token))
                assert stream.status_code == 403
        # Alice herself is unaffected.
        async with alice.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            assert stream.status_code == 200
            await SSEReader(stream).next()


async def test_a_remount_does_not_extend_the_life_of_the_token(serve):
    live = LiveRouter(
        templates=Jinja2Templates(directory=TEMPLATES),
        secret_key="test-secret",
        pubsub=MemoryPubSub(),
        token_max_age=3,
        config=SessionConfig(connect_timeout=0.3),
    )
    live.page("/counter", template="counter.html")(Counter)
    app = FastAPI()
    app.include_router(live)
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        issued = time.time()
        _, token = await open_page(client, "/counter")
        await eventually(lambda: not live.manager.sessions)  # its stream never came: dropped
        await eventually(lambda: time.time() >= issued + 2.0)
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            assert stream.status_code == 200, (await stream.aread())
            message = await SSEReader(stream).next()
            assert message.event == "live:remount"  # a fresh session, 2 s into the token's 3 s
        assert (await client.post("/_live/event", headers=headers(token, "inc"))).status_code == 200
        # 4.1 s after it was issued the token has expired, however young the session is.
        await eventually(lambda: time.time() >= issued + 4.1)
        late = await client.post("/_live/event", headers=headers(token, "inc"))
        assert late.status_code == 403, late.text
        assert late.json()["reason"] == "expired"
