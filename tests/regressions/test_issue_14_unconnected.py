"""Issue 14, item 1: pages whose stream never connects are no free lever on the server.

60 page loads nobody connected (one free login) delayed another user's async parts from 0.31 s
to 13 s: each page's sync loads went onto the shared default thread pool at once and kept it
until the 30 s connect timeout. Now sync functions run on a bounded, fair executor where
unconnected sessions hold at most half the threads, unconnected sessions are capped per
browser and per process, and they are dropped after 10 s.

The flood's loads block on gates here, so what is measured is who gets a thread at all.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from fastapi_live import LiveRouter, LiveSocket, LiveView, SessionConfig
from fastapi_live.executor import default_threads
from fastapi_live.pubsub.memory import MemoryPubSub
from tests.support.gates import GATES
from tests.support.sse import SSEReader, headers, open_page
from tests.support.views.counter import TEMPLATES
from tests.support.waits import eventually


def load(run: str, who: str) -> str:
    if who.startswith("flood"):
        return str(GATES.get(run, who).wait_blocking(timeout=30))
    return f"loaded for {who}"


def loaded(run: str) -> list[str]:
    return GATES.started(run)


class Loads(LiveView):
    async def mount(self, socket: LiveSocket, run: str, who: str) -> None:  # type: ignore[override]
        socket.assign(title="Loads", count=0, echo="")
        socket.assign_async("echo", load, run, who)


def loads_app(config: SessionConfig | None = None) -> tuple[FastAPI, LiveRouter]:
    live = LiveRouter(templates=Jinja2Templates(directory=TEMPLATES), secret_key="test-secret", pubsub=MemoryPubSub(), config=config)
    live.page("/loads/{run}/{who}", template="counter.html")(Loads)
    app = FastAPI()
    app.include_router(live)
    return app, live


async def test_a_flood_of_unconnected_pages_leaves_threads_for_a_user_who_connects(serve, run):
    app, live = loads_app()
    url = serve(app)
    flood = default_threads() + 10  # more blocked loads than there are threads
    async with httpx.AsyncClient(base_url=url, timeout=10) as attacker:
        for n in range(flood):
            attacker.cookies.clear()  # a fresh "browser" each time: no per-browser cap applies
            await attacker.get(f"/loads/{run}/flood-{n}")
    await eventually(lambda: len(loaded(run)) == live.manager.executor.unconnected_threads)
    async with httpx.AsyncClient(base_url=url, timeout=10) as user:
        _, token = await open_page(user, f"/loads/{run}/user")
        async with user.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            message = await SSEReader(stream).next_with("loaded for user", timeout=5)
            assert 'hx-target="#echo"' in message.data
    # The flood still holds only its share of the threads.
    assert len(loaded(run)) == live.manager.executor.unconnected_threads


async def test_one_browser_keeps_at_most_its_cap_of_unconnected_pages(serve, run):
    app, live = loads_app(SessionConfig(max_unconnected_per_browser=5))
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        tokens = [(await open_page(client, f"/loads/{run}/page-{n}"))[1] for n in range(12)]
        assert len(live.manager.sessions) == 5
        kept = {session.token for session in live.manager.sessions.values()}
        assert kept == set(tokens[-5:])  # the oldest went first
        # A dropped page that connects after all is remounted, not lost.
        async with client.stream("GET", "/_live/stream", headers=headers(tokens[0])) as stream:
            assert (await SSEReader(stream).next()).event == "live:remount"
        # Connected pages no longer count: five more unconnected ones fit beside it.
        for n in range(5):
            await open_page(client, f"/loads/{run}/more-{n}")
        assert len(live.manager.sessions) == 6


async def test_the_process_keeps_at_most_its_cap_of_unconnected_pages(serve, run):
    app, live = loads_app(SessionConfig(max_unconnected=8))
    url = serve(app)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for n in range(20):
            client.cookies.clear()
            await client.get(f"/loads/{run}/page-{n}")
    assert len(live.manager.sessions) == 8 and len(live.manager.unconnected) == 8


def test_unconnected_work_is_dropped_well_before_30_seconds():
    assert SessionConfig().connect_timeout <= 10
