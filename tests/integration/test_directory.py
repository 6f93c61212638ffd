"""The session directory on a real Redis and a real Redis Cluster: claims, owners, releases."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from fastapi_live import SessionConfig
from fastapi_live.cluster import ClusterLocator, RedisDirectory, directory_key
from fastapi_live.manager import SessionManager
from fastapi_live.pubsub import create_pubsub

pytestmark = pytest.mark.redis


async def test_a_release_removes_only_the_entries_that_still_name_the_node(any_redis_url):
    pubsub = create_pubsub(any_redis_url)
    await pubsub.start()
    try:
        client = pubsub.client()  # type: ignore[attr-defined]
        directory = RedisDirectory(client, 60)
        ours = [f"s-{uuid.uuid4().hex}" for _ in range(20)]  # spread over the cluster's slots
        taken = f"s-{uuid.uuid4().hex}"
        for session_id in [*ours, taken]:
            await directory.claim(session_id, "node-a")
        await directory.claim(taken, "node-b")  # remounted elsewhere since
        await directory.release([*ours, taken], "node-a")
        assert [await directory.owner(s) for s in ours] == [None] * len(ours)
        assert await directory.owner(taken) == "node-b"
        assert await client.exists(*(directory_key(s) for s in ours[:1])) == 0
    finally:
        await pubsub.stop()


async def test_a_page_remounted_in_the_same_process_keeps_its_entry_when_the_old_release_runs_late(any_redis_url):
    pubsub = create_pubsub(any_redis_url)
    await pubsub.start()
    try:
        manager = SessionManager(SessionConfig(), pubsub)
        locator = ClusterLocator(manager, RedisDirectory(pubsub.client(), 60))  # type: ignore[attr-defined]
        page: Any = SimpleNamespace(id=f"s-{uuid.uuid4().hex}")
        await locator.claim(page)
        locator.release(page)  # the page's session ended (a live navigation's leave); its release waits for a batch
        manager.sessions[page.id] = page  # ... and the page was remounted here under the same id meanwhile
        await locator.claim(page)
        await locator.stop()  # lets the pending release batch finish
        assert await locator.directory.owner(page.id) == locator.node_id

        gone: Any = SimpleNamespace(id=f"s-{uuid.uuid4().hex}")
        await locator.claim(gone)
        locator.release(gone)  # ended and not back: its entry goes
        await locator.stop()
        assert await locator.directory.owner(gone.id) is None
    finally:
        await pubsub.stop()
