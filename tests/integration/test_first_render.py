"""The page request: the headers and cookie a browser gets with the first render, and the
process it leaves behind (startup objects out of the garbage collector's passes)."""

from __future__ import annotations

import gc
from typing import Any

import httpx
import pytest
from starlette.responses import Response

from fastapi_live import ConfigurationError, SessionConfig
from tests.support.sse import headers, open_page, token_of
from tests.support.views.counter import make_app

COOKIE = "fastapi_live_browser"


def starlette_cookie(value: str, *, max_age: int, secure: bool) -> str:
    """What ``Response.set_cookie`` writes for the browser cookie: the header a page must carry."""
    response = Response()
    response.set_cookie(COOKIE, value, max_age=max_age, httponly=True, samesite="lax", path="/", secure=secure)
    return dict(response.raw_headers)[b"set-cookie"].decode("latin-1")


async def test_a_page_sets_the_browser_cookie_as_starlette_writes_it_and_is_never_cached(serve):
    app, live = make_app()
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        first = await client.get("/counter?start=3")
        browser_id = client.cookies[COOKIE]
        again = await client.get("/counter?start=4")
    for response in (first, again):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-store"
        assert int(response.headers["content-length"]) == len(response.content)
        assert response.headers["set-cookie"] == starlette_cookie(browser_id, max_age=int(live.cookie_max_age), secure=False)
    assert "Count: 4" in again.text


async def test_a_page_behind_https_gets_a_secure_cookie(serve):
    app, live = make_app(cookie_secure=True)
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.get("/counter")
    assert response.headers["set-cookie"] == starlette_cookie(client.cookies[COOKIE], max_age=int(live.cookie_max_age), secure=True)


async def test_a_browser_cookie_with_odd_characters_is_quoted_and_its_page_still_works(serve):
    app, live = make_app()
    url = serve(app)
    odd = 'a"b,c'
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        page = await client.get("/counter", headers={"Cookie": f"{COOKIE}={odd}"})
        token = token_of(page.text)
        response = await client.post("/_live/event", headers={**headers(token, "inc"), "Cookie": f"{COOKIE}={odd}"})
    assert page.headers["set-cookie"] == starlette_cookie(odd, max_age=int(live.cookie_max_age), secure=False)
    assert page.headers["set-cookie"].startswith(f'{COOKIE}="a\\"b\\054c";')
    assert response.status_code == 200 and "Count: 1" in response.text


async def test_the_page_token_names_the_path_and_query_as_requested(serve):
    app, live = make_app()
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await open_page(client, "/counter?start=2&note=a%20b")
    (session,) = live.manager.sessions.values()
    assert session.url == "/counter?start=2&note=a%20b"


async def test_startup_moves_what_it_made_out_of_the_collectors_passes(serve):
    gc.unfreeze()
    app, _ = make_app()
    serve(app)
    assert gc.get_freeze_count() > 1000


async def test_the_freeze_can_be_turned_off(serve):
    gc.unfreeze()
    app, _ = make_app(SessionConfig(freeze_gc_at_startup=False))
    serve(app)
    assert gc.get_freeze_count() == 0


async def test_startup_widens_the_young_generation_unless_the_process_set_its_own(serve):
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, *before[1:])
        serve(make_app(SessionConfig(gc_young_threshold=12_345))[0])
        assert gc.get_threshold() == (12_345, *before[1:])

        gc.set_threshold(2_000, *before[1:])  # the app's own choice stays
        serve(make_app(SessionConfig(gc_young_threshold=12_345))[0])
        assert gc.get_threshold()[0] == 2_000

        gc.set_threshold(700, *before[1:])
        serve(make_app(SessionConfig(gc_young_threshold=None))[0])
        assert gc.get_threshold()[0] == 700
    finally:
        gc.set_threshold(*before)


def test_a_young_threshold_that_is_not_a_count_is_refused():
    with pytest.raises(ConfigurationError, match=r"gc_young_threshold must be a whole number.*\nGot: 0"):
        SessionConfig(gc_young_threshold=0)



def _router_without_fast_path() -> Any:
    from fastapi.templating import Jinja2Templates

    from fastapi_live import LiveRouter
    from fastapi_live.pubsub.memory import MemoryPubSub
    from tests.support.views.counter import TEMPLATES

    return LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), pubsub=MemoryPubSub(), secret_key="test-secret", fast_path=False)


async def test_a_page_that_could_take_the_live_endpoints_urls_is_matched_after_them(serve):
    """Pages that cannot take the endpoints' URLs are matched ahead of them, for speed; one
    that could (a catch-all) stays behind them, even with the fast path off."""
    from fastapi import FastAPI

    from tests.support.views.counter import Counter

    live = _router_without_fast_path()
    live.page("/{section}/{rest:path}", template="counter.html", name="anything")(Counter)
    live.page("/counter", template="counter.html")(Counter)
    app = FastAPI()
    app.include_router(live)
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        page, token = await open_page(client, "/counter")
        assert "Count: 0" in page
        assert "Count: 0" in (await client.get("/some/where")).text  # the catch-all page
        script = await client.get("/_live/static/fastapi-live.js")  # not the catch-all's
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        event = await client.post("/_live/event", headers=headers(token, "inc"))
        assert event.status_code == 200 and "Count: 1" in event.text


async def test_a_page_never_passes_a_route_added_before_it(serve):
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from tests.support.views.counter import Counter

    live = _router_without_fast_path()

    @live.get("/items/{name}")
    async def item(name: str) -> PlainTextResponse:
        return PlainTextResponse(f"item {name}")

    live.page("/items/new", template="counter.html")(Counter)
    app = FastAPI()
    app.include_router(live)
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        assert (await client.get("/items/new")).text == "item new"
