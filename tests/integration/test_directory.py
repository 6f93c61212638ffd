"""The session directory on a real Redis and a real Redis Cluster: claims, owners, releases."""

from __future__ import annotations

import uuid

import pytest

from fastapi_live.cluster import RedisDirectory, directory_key
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
