"""Live navigation across processes: patches and leaves reach a session another process owns,
and a remount on the survivor mounts the page at its patched URL."""

from __future__ import annotations

import json
import os
import re
import uuid

import httpx
import pytest

from examples.app.auth import COOKIE, login_cookie
from fastapi_live.wire import NAVIGATE_HEADER, PATCH_EVENT
from tests.support.servers import SubprocessServer
from tests.support.sse import SSEReader, headers, token_of

pytestmark = pytest.mark.redis
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACTIVE_SETTINGS = re.compile(r'id="tab-settings" class="tab active"')


@pytest.fixture
def pair(redis_server_url):
    latencies = {f"EXAMPLE_{kind}_LATENCY_MS": "20" for kind in ("ORG", "PROFILE", "POSTS")}
    env = {"PYTHONPATH": ROOT_DIR, "REDIS_URL": redis_server_url, **latencies}
    a = SubprocessServer("examples.app.main:app", env=env).start()
    b = SubprocessServer("examples.app.main:app", env=env).start()
    yield a, b
    a.stop()
    b.stop()


def browser_on(server: SubprocessServer, cookies: httpx.Cookies) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, cookies=cookies, timeout=15)


async def patch(client: httpx.AsyncClient, token: str, url: str) -> httpx.Response:
    body = json.dumps({"url": url})
    return await client.post("/_live/event", content=body, headers={**headers(token, PATCH_EVENT), "Content-Type": "application/json"})


async def test_a_patch_and_a_leave_reach_the_process_that_owns_the_page(pair):
    a, b = pair
    cookies = httpx.Cookies({COOKIE: login_cookie(f"u{uuid.uuid4().hex[:8]}")})
    async with browser_on(a, cookies) as on_a:
        page = await on_a.get("/dashboard/acme")
        token = token_of(page.text)
        async with browser_on(b, on_a.cookies) as on_b:
            patched = await patch(on_b, token, "/dashboard/acme?tab=settings")
            assert patched.status_code == 200 and ACTIVE_SETTINGS.search(patched.text), patched.text
            # A live navigation answered by B names the page it leaves: A's session ends.
            counter = await on_b.get("/counter", headers={NAVIGATE_HEADER: token})
            assert counter.status_code == 200
        gone = await on_a.post("/_live/event", headers=headers(token, "select-tab"), data={"tab": "activity"})
        assert gone.status_code == 410


async def test_the_survivor_remounts_the_page_at_its_patched_url(pair):
    a, b = pair
    cookies = httpx.Cookies({COOKIE: login_cookie(f"u{uuid.uuid4().hex[:8]}")})
    async with browser_on(a, cookies) as on_a:
        page = await on_a.get("/dashboard/acme")
        token = token_of(page.text)
        patched = await patch(on_a, token, "/dashboard/acme?tab=settings&page=2")
        assert patched.status_code == 200
        browser_cookies = on_a.cookies
    a.stop()
    async with browser_on(b, browser_cookies) as on_b:
        stream_headers = headers(token, **{"Last-Event-ID": "2", "HX-Current-URL": f"{a.url}/dashboard/acme?tab=settings&page=2"})
        async with on_b.stream("GET", "/_live/stream", headers=stream_headers) as stream:
            assert stream.status_code == 200
            remount = await SSEReader(stream).next()
            assert remount.event == "live:remount"
            assert ACTIVE_SETTINGS.search(remount.data) and "Page 2" in remount.data
