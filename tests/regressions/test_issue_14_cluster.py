"""Issue 14, item 12: the cluster's directory and bookkeeping leave nothing behind.

* A stream attached to a session whose owner had died left the owner's directory entry in
  Redis each time (1,000 tries, 1,000 entries), and a stream request cancelled while asking
  a silent owner left its connection in the holder's table.
* A graceful SIGTERM left every directory key for ``token_max_age`` (24 h): the releases were
  spawned as tasks that the shutdown then cancelled.

Each test uses a Redis of its own, so it can count every key.
"""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest
import redis.asyncio as aioredis

from examples.app.auth import COOKIE, login_cookie
from fastapi_live.cluster import DIRECTORY_KEY, NODE_TOPIC, ClusterLocator, RedisDirectory
from fastapi_live.config import SessionConfig
from fastapi_live.manager import SessionManager
from fastapi_live.pubsub.redis import RedisPubSub
from tests.support.servers import RedisProcess, SubprocessServer
from tests.support.sse import open_page
from tests.support.waits import eventually

pytestmark = pytest.mark.redis
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def own_redis():
    server = RedisProcess().start()
    yield server.url
    server.stop()


async def directory_keys(url: str) -> int:
    client = aioredis.from_url(url)
    try:
        return len([key async for key in client.scan_iter(DIRECTORY_KEY + "*")])
    finally:
        await client.aclose()


def bookkeeping(locator: ClusterLocator) -> dict[str, int]:
    return {
        "held": len(locator._held),
        "replies": len(locator._replies),
        "seen": len(locator._seen),
        "served": len(locator._served),
        "connections": len(locator.manager.connections),
    }


async def test_a_thousand_attaches_to_a_dead_owner_leave_nothing_behind(own_redis):
    pubsub = RedisPubSub(own_redis)
    await pubsub.start()
    locator = ClusterLocator(SessionManager(SessionConfig(), pubsub), RedisDirectory(pubsub.client(), 3600))
    await locator.start()
    try:
        for n in range(1_000):
            await locator.directory.claim(f"s{n}", "dead-node")  # its process is gone: nobody listens
        assert await directory_keys(own_redis) == 1_000
        for n in range(1_000):
            assert await locator.attach(f"s{n}", None) is None
        await eventually(_no_keys(own_redis))
        assert bookkeeping(locator) == {"held": 0, "replies": 0, "seen": 0, "served": 0, "connections": 0}
    finally:
        await locator.stop()
        await pubsub.stop()


def _no_keys(url: str):
    async def check() -> bool:
        return await directory_keys(url) == 0

    return check


async def test_a_stream_request_cancelled_while_asking_a_silent_owner_leaves_nothing_behind(own_redis):
    pubsub, silent = RedisPubSub(own_redis), RedisPubSub(own_redis, client_name="silent-owner")
    await pubsub.start()
    await silent.start()
    asked: list[object] = []
    await silent.subscribe(NODE_TOPIC + "silent-node", lambda topic, message: asked.append(message))  # alive, never answers
    locator = ClusterLocator(SessionManager(SessionConfig(), pubsub), RedisDirectory(pubsub.client(), 3600), reply_timeout=30)
    await locator.start()
    try:
        for n in range(100):
            await locator.directory.claim(f"s{n}", "silent-node")
        asking = [asyncio.create_task(locator.attach(f"s{n}", None)) for n in range(100)]
        await eventually(lambda: len(asked) == 100)  # every request is now waiting for its answer
        for task in asking:
            task.cancel()  # the browser gave up, the server is shutting down...
        await asyncio.gather(*asking, return_exceptions=True)
        assert bookkeeping(locator) == {"held": 0, "replies": 0, "seen": 0, "served": 0, "connections": 0}
    finally:
        await locator.stop()
        await pubsub.stop()
        await silent.stop()


async def test_a_graceful_sigterm_releases_every_directory_key(own_redis):
    env = {"PYTHONPATH": ROOT_DIR, "REDIS_URL": own_redis, "EXAMPLE_ORG_LATENCY_MS": "0", "EXAMPLE_PROFILE_LATENCY_MS": "0"}
    server = SubprocessServer("examples.app.main:app", env=env).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, cookies={COOKIE: login_cookie("alice")}, timeout=15) as client:
            for _ in range(25):
                await open_page(client, "/dashboard/acme")
        assert await directory_keys(own_redis) == 25
    finally:
        code = server.stop(signal.SIGTERM)
    assert code in (0, -signal.SIGTERM), server.log()  # uvicorn re-raises the signal once it shut down
    assert "Traceback" not in server.log()
    assert await directory_keys(own_redis) == 0
