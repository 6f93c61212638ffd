"""Issue 14, items 10 and 11: origins by configuration, and the browser cookie's attributes.

The fast path serves events and streams ahead of the app's middleware, and compared ``Origin``
with the request's own ``Host`` alone: a DNS-rebinding page passed, a scheme was never
compared, and a proxy that rewrites ``Host`` broke real users. ``allowed_origins`` now
decides (default: the request's own scheme and host), and an app's ``TrustedHostMiddleware``
guards the fast path too.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from fastapi_live import ConfigurationError, LiveRouter
from fastapi_live.router import BROWSER_COOKIE
from tests.support.sse import headers, open_page
from tests.support.views.counter import make_app


def counter_app(**router_kwargs: Any) -> tuple[FastAPI, LiveRouter]:
    return make_app(**router_kwargs)


async def post_inc(client: httpx.AsyncClient, token: str, **extra: str) -> httpx.Response:
    return await client.post("/_live/event", headers={**headers(token, "inc"), **extra})


async def test_the_scheme_of_the_origin_counts(serve):
    app, _ = counter_app()
    url = serve(app)
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        other_scheme = await post_inc(client, token, Origin=url.replace("http://", "https://"))
        assert other_scheme.status_code == 403 and other_scheme.json()["reason"] == "cross-site"
        assert (await post_inc(client, token, Origin=url)).status_code == 200


async def test_allowed_origins_serve_users_behind_a_proxy_that_rewrites_host(serve):
    app, _ = counter_app(allowed_origins=["https://app.example.com"])
    url = serve(app)  # the proxy forwards to 127.0.0.1:<port>, so Host is never app.example.com
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        through_proxy = await post_inc(client, token, Origin="https://app.example.com", **{"Sec-Fetch-Site": "same-origin"})
        assert through_proxy.status_code == 200 and "Count: 1" in through_proxy.text
        # Only the configured origins: the Host's own origin is no longer enough on its own...
        assert (await post_inc(client, token, Origin=url)).status_code == 403
        # ...and a rebinding page, whose Origin matches its Host, is refused.
        rebound = await post_inc(client, token, Origin="http://evil.test:8000", Host="evil.test:8000")
        assert rebound.status_code == 403
        stream = await client.get("/_live/stream", headers={**headers(token), "Origin": "http://evil.test:8000"})
        assert stream.status_code == 403


async def test_the_fast_path_applies_the_apps_trusted_host_middleware(serve):
    app, _ = counter_app()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1"])
    url = serve(app)
    async with httpx.AsyncClient(base_url=url) as client:
        _, token = await open_page(client, "/counter")
        assert (await post_inc(client, token)).status_code == 200
        rebound = await post_inc(client, token, Host="evil.test")
        assert rebound.status_code == 400  # TrustedHostMiddleware's own answer
        stream = await client.get("/_live/stream", headers={**headers(token), "Host": "evil.test"})
        assert stream.status_code == 400


@pytest.mark.parametrize("bad", ["app.example.com", "https://app.example.com/path", "*", "https://", "ftp://app.example.com", ""])
def test_an_allowed_origin_must_be_a_scheme_and_host(bad):
    with pytest.raises(ConfigurationError, match=r"^LiveRouter\(allowed_origins=\.\.\.\) takes origins like 'https://app\.example\.com'"):
        counter_app(allowed_origins=[bad])


def test_an_allowed_origin_is_compared_normalised():
    _, live = counter_app(allowed_origins=["HTTPS://App.Example.com:443", "http://localhost:8000/"])
    assert live.allowed_origins == frozenset({"https://app.example.com", "http://localhost:8000"})


def browser_cookie(response: httpx.Response) -> str:
    (header,) = [value for value in response.headers.get_list("set-cookie") if value.startswith(BROWSER_COOKIE + "=")]
    return header.lower()


async def test_the_browser_cookie_is_secure_over_https_and_has_a_max_age():
    app, _ = counter_app(token_max_age=3600)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as client:
        cookie = browser_cookie(await client.get("/counter"))
        assert "; secure" in cookie and "max-age=3660" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        # Every page renews it, so it outlives the newest page's token (by a minute).
        assert "max-age=3660" in browser_cookie(await client.get("/counter"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        assert "; secure" not in browser_cookie(await client.get("/counter"))


async def test_the_cookie_options_can_be_set():
    app, _ = counter_app(cookie_secure=True, cookie_max_age=600)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        cookie = browser_cookie(await client.get("/counter"))
        assert "; secure" in cookie and "max-age=600" in cookie
