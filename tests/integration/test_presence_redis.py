"""Presence across processes through a real Redis and a real Redis Cluster: one list everywhere,
dead processes reaped within the bound, blips debounced, a join is one publish."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fastapi_live import Presence, PresenceDiff
from fastapi_live.presence import REF, RedisPresenceStore
from fastapi_live.pubsub.redis import RedisPubSub
from fastapi_live.pubsub.redis_cluster import RedisClusterPubSub, is_cluster_url
from tests.support.proxy import RoundRobinProxy
from tests.support.servers import RedisProcess
from tests.support.waits import eventually

pytestmark = pytest.mark.redis
single = pytest.mark.parametrize("backend", ["redis"], indirect=True)  # through a TCP proxy to one server
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Diffs:
    """A topic's listener: records presence diffs, and the markers tests publish after them."""

    def __init__(self) -> None:
        self.seen: list[PresenceDiff] = []
        self.markers: list[str] = []

    def __call__(self, topic: str, message: Any) -> None:
        if isinstance(message, PresenceDiff):
            self.seen.append(message)
        elif isinstance(message, str):
            self.markers.append(message)

    def keys(self, kind: str) -> list[str]:
        return sorted(key for diff in self.seen for key, metas in getattr(diff, kind).items() for _ in metas)


@dataclass
class Node:
    """One process's presence: its PubSub and its Presence over a Redis store."""

    pubsub: RedisPubSub
    presence: Presence

    @property
    def store(self) -> RedisPresenceStore:
        store = self.presence.store
        assert isinstance(store, RedisPresenceStore)
        return store


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def node(any_redis_url: str, prefix: str) -> AsyncIterator[Callable[..., Any]]:
    """``await node(url=None)``: a started process-like pair on its own names, stopped after the test."""
    made: list[Node] = []

    async def factory(url: str | None = None) -> Node:
        url = url or any_redis_url
        backend = RedisClusterPubSub if is_cluster_url(url) else RedisPubSub
        pubsub = backend(url, channel_prefix=prefix, client_name=f"test-{uuid.uuid4().hex[:8]}", backoff_max=0.2)
        await pubsub.start()
        presence = Presence(pubsub, RedisPresenceStore(pubsub.client(), prefix=prefix))
        await presence.start()
        made.append(Node(pubsub, presence))
        return made[-1]

    yield factory
    for each in reversed(made):
        await each.presence.stop()
        await each.pubsub.stop()


async def marker(sender: Node, topic: str, diffs: Diffs) -> None:
    """Publish a marker from ``sender`` and wait for it: every diff ``sender`` published before has arrived."""
    text = f"marker-{uuid.uuid4().hex}"
    await sender.pubsub.publish(topic, text)
    await eventually(lambda: text in diffs.markers, timeout=5)


async def test_every_process_sees_the_same_list_and_each_others_diffs(node: Callable[..., Any]) -> None:
    a, b = await node(), await node()
    on_b = Diffs()
    await b.pubsub.subscribe("room", on_b)
    ann = await a.presence.track("s1", "room", "ann", {"name": "Ann"})
    await b.presence.track("s2", "room", "bob", {"name": "Bob"})
    await a.presence.track("s3", "room", "ann", {"name": "Ann", "tab": 2})
    await eventually(lambda: on_b.keys("joins") == ["ann", "ann", "bob"])
    listed_a, listed_b = await a.presence.list("room"), await b.presence.list("room")
    assert listed_a == listed_b
    assert listed_a["ann"][0][REF] == ann and len(listed_a["ann"]) == 2 and len(listed_a["bob"]) == 1

    await a.presence.untrack("s1", "room", "ann")
    await eventually(lambda: on_b.keys("leaves") == ["ann"])
    assert [meta.get("tab") for meta in (await b.presence.list("room"))["ann"]] == [2]
    await a.presence.stop()  # a clean stop: its entries leave at once, announced
    await eventually(lambda: on_b.keys("leaves") == ["ann", "ann"])
    assert list(await b.presence.list("room")) == ["bob"]


async def test_a_list_of_ten_thousand_users_comes_back_whole(node: Callable[..., Any]) -> None:
    a = await node()
    for n in range(10_000):
        await a.store.put("crowd", f"user-{n}", {"name": f"User {n}", REF: f"r{n}"})
    listed = await a.presence.list("crowd")
    assert len(listed) == 10_000 and listed["user-9999"] == [{"name": "User 9999", REF: "r9999"}]


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    server = RedisProcess().start()
    yield server
    server.stop()


async def command_calls(pubsub: RedisPubSub, *commands: str) -> dict[str, int]:
    """How often each command ran on the server (on every master of a cluster), from INFO commandstats."""
    client = pubsub.client()
    if isinstance(pubsub, RedisClusterPubSub):
        await client.initialize()
        per_node = [await client.info("commandstats", target_nodes=node) for node in client.get_primaries()]
    else:
        per_node = [await client.info("commandstats")]
    return {command: sum(int(stats.get(f"cmdstat_{command}", {}).get("calls", 0)) for stats in per_node) for command in commands}


async def test_a_join_on_a_topic_with_a_thousand_subscribers_costs_one_publish(node: Callable[..., Any], backend: str, request: Any) -> None:
    # a Redis of this test's own (a cluster's shards see no other test meanwhile: one per test worker)
    url = request.getfixturevalue("own_redis").url if backend == "redis" else None
    a, b = await node(url), await node(url)
    listeners = [Diffs() for _ in range(1000)]
    for n, listener in enumerate(listeners):
        await (a if n % 2 else b).pubsub.subscribe("crowd", listener)
    publish = "spublish" if backend == "cluster" else "publish"
    before = await command_calls(a.pubsub, publish, "hset", "sadd")
    await a.presence.track("s1", "crowd", "ann", {"name": "Ann"})
    await eventually(lambda: all(listener.keys("joins") == ["ann"] for listener in listeners))
    after = await command_calls(a.pubsub, publish, "hset", "sadd")
    assert after[publish] - before[publish] == 1, "one publish for 1,000 subscribers in 2 processes"
    assert after["hset"] - before["hset"] == 1
    assert after["sadd"] - before["sadd"] <= 1


async def test_a_sigkilled_process_leaves_every_list_within_the_bound(node: Callable[..., Any], any_redis_url: str, prefix: str) -> None:
    b = await node()
    diffs = Diffs()
    await b.pubsub.subscribe("room", diffs)
    env = {**os.environ, "PYTHONPATH": ROOT_DIR}
    command = [sys.executable, "-m", "tests.support.presence_child", any_redis_url, prefix, "room", "ann", "bob"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert await asyncio.to_thread(child.stdout.readline) == b"tracking\n"
        assert sorted(await b.presence.list("room")) == ["ann", "bob"]
        await b.presence.track("s1", "room", "cat", {"name": "Cat"})
        child.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        child.wait()
        await eventually(lambda: diffs.keys("leaves") == ["ann", "bob"], timeout=10)
        leaves_after = time.monotonic() - killed
        assert list(await b.presence.list("room")) == ["cat"]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    print(f"\nleaves of a SIGKILLed process sent {leaves_after:.2f} s after the kill (bound: ttl 3 s + heartbeat 0.5 s)")
    assert leaves_after <= 5.0


@pytest.fixture
def redis_proxy(redis_server_url: str) -> Iterator[RoundRobinProxy]:
    port = int(redis_server_url.rsplit(":", 1)[1].split("/")[0])
    proxy = RoundRobinProxy([port]).start()
    yield proxy
    proxy.stop()


@single
async def test_a_blip_shorter_than_the_ttl_sends_no_leave_and_no_join(
    node: Callable[..., Any], redis_proxy: RoundRobinProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fastapi_live.presence")
    a, b = await node(redis_proxy.url.replace("http://", "redis://") + "/0"), await node()
    diffs = Diffs()
    await b.pubsub.subscribe("room", diffs)
    for n, key in enumerate(["ann", "bob", "cat"]):
        await a.presence.track(f"s{n}", "room", key, {"name": key})
    await eventually(lambda: diffs.keys("joins") == ["ann", "bob", "cat"])
    refs = {key: metas[0][REF] for key, metas in (await b.presence.list("room")).items()}

    redis_proxy.cut()
    cut_at = time.monotonic()
    await eventually(lambda: a.store._outage_since is not None, timeout=5)
    await eventually(lambda: time.monotonic() - cut_at >= 1.2)  # the blip lasts 1.2 s: Redis stays unreachable meanwhile
    redis_proxy.restore()
    beats = a.store.beats
    await eventually(lambda: a.store.beats > beats, timeout=5)  # a's heartbeat is back: nobody may claim it now
    ticks = b.store.ticks
    await eventually(lambda: b.store.ticks >= ticks + 2, timeout=5)  # b ran its reaper since
    await eventually(lambda: a.pubsub.connected, timeout=5)
    await marker(a, "room", diffs)
    await marker(b, "room", diffs)

    assert len(diffs.seen) == 3, [(d.joins, d.leaves) for d in diffs.seen[3:]]
    assert {key: metas[0][REF] for key, metas in (await b.presence.list("room")).items()} == refs
    records = [r.getMessage() for r in caplog.records if r.name == "fastapi_live.presence" and r.levelno >= logging.INFO]
    assert len(records) == 2 and "cannot reach Redis" in records[0] and "reaches Redis again" in records[1], records


@single
async def test_an_outage_past_the_ttl_is_one_leave_and_one_join_per_entry(node: Callable[..., Any], redis_proxy: RoundRobinProxy) -> None:
    a, b = await node(redis_proxy.url.replace("http://", "redis://") + "/0"), await node()
    diffs = Diffs()
    await b.pubsub.subscribe("room", diffs)
    for n, key in enumerate(["ann", "bob", "cat"]):
        await a.presence.track(f"s{n}", "room", key, {"name": key})
    await eventually(lambda: diffs.keys("joins") == ["ann", "bob", "cat"])

    redis_proxy.cut()
    await eventually(lambda: diffs.keys("leaves") == ["ann", "bob", "cat"], timeout=10)  # b reaped a
    assert await b.presence.list("room") == {}
    await a.presence.track("s9", "room", "dan", {"name": "dan"})  # tracked during the outage
    redis_proxy.restore()
    await eventually(lambda: diffs.keys("joins").count("dan") >= 1 and diffs.keys("joins").count("ann") == 2, timeout=10)
    ticks = a.store.ticks
    await eventually(lambda: a.store.ticks >= ticks + 2, timeout=5)
    await marker(a, "room", diffs)
    assert diffs.keys("leaves") == ["ann", "bob", "cat"]
    assert diffs.keys("joins") == ["ann", "ann", "bob", "bob", "cat", "cat", "dan"]
    assert sorted(await b.presence.list("room")) == ["ann", "bob", "cat", "dan"]
