"""Issue 14, item 6: signing out ends the sign-in's live sessions, in every process.

After the login cookie was deleted (or replaced by bob's), alice's open page went on acting as
alice and receiving her notifications. A page now joins its sign-in's identity
(``socket.identify``) and ``live.disconnect(identity)`` ends every such session wherever it
lives; the page reloads as whoever the browser is by then. Here the page's session lives in
one worker and the sign-out lands on another.
"""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from examples.app.auth import COOKIE, login_cookie
from tests.support.servers import SubprocessServer
from tests.support.sse import SSEReader, headers, open_page

pytestmark = pytest.mark.redis
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def workers(redis_server_url):
    env = {"PYTHONPATH": ROOT_DIR, "REDIS_URL": redis_server_url, "EXAMPLE_ORG_LATENCY_MS": "0", "EXAMPLE_PROFILE_LATENCY_MS": "0"}
    a = SubprocessServer("examples.app.main:app", env=env).start()
    b = SubprocessServer("examples.app.main:app", env=env).start()
    yield a, b
    a.stop()
    b.stop()


async def test_signing_out_on_one_worker_ends_the_page_on_another(workers):
    a, b = workers
    cookie = login_cookie(f"alice-{uuid.uuid4().hex[:6]}")
    async with httpx.AsyncClient(base_url=a.url, cookies={COOKIE: cookie}, timeout=15) as on_a:
        _, token = await open_page(on_a, "/dashboard/acme")
        async with on_a.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            reader = SSEReader(stream)
            await reader.next()
            async with httpx.AsyncClient(base_url=b.url, cookies={COOKIE: cookie}) as on_b:
                signed_out = await on_b.post("/logout")
            assert signed_out.status_code == 303
            reload = await reader.next_with('"kind":"redirect"', timeout=10)
            assert '"name":"/dashboard/acme"' in reload.data  # the page itself, loaded afresh
            with pytest.raises(EOFError):
                await reader.next(timeout=10)  # ...and the session's stream ended
        gone = await on_a.post("/_live/event", headers=headers(token, "select-tab"), data={"tab": "activity"})
        assert gone.status_code == 410
        # Its reconnect remounts the page as the browser is now: signed out (its cookie deleted).
        on_a.cookies.delete(COOKIE)
        async with on_a.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            message = await SSEReader(stream).next()
            assert '"name":"/login"' in message.data


async def test_a_sign_in_of_another_browser_is_left_alone(workers):
    a, b = workers
    name = f"alice-{uuid.uuid4().hex[:6]}"
    laptop, phone = login_cookie(name), login_cookie(name)  # one user, two sign-ins
    async with httpx.AsyncClient(base_url=a.url, cookies={COOKIE: laptop}, timeout=15) as on_laptop:
        _, token = await open_page(on_laptop, "/dashboard/acme")
        async with httpx.AsyncClient(base_url=b.url, cookies={COOKIE: phone}) as on_phone:
            assert (await on_phone.post("/logout")).status_code == 303
        still = await on_laptop.post("/_live/event", headers=headers(token, "select-tab"), data={"tab": "activity"})
        assert still.status_code == 200
