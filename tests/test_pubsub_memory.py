"""The in-process PubSub backend and the LocalFanout both backends share."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fastapi_live.pubsub import create_pubsub
from fastapi_live.pubsub.memory import LocalFanout, MemoryPubSub


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []

    def __call__(self, topic: str, message: Any) -> None:
        self.received.append((topic, message))


async def test_publish_reaches_every_subscriber_of_the_topic_only() -> None:
    pubsub = MemoryPubSub()
    await pubsub.start()
    first, second, other = Inbox(), Inbox(), Inbox()
    await pubsub.subscribe("news", first)
    await pubsub.subscribe("news", second)
    await pubsub.subscribe("sports", other)
    message = {"headline": "hi"}
    await pubsub.publish("news", message)
    assert first.received == [("news", message)] and second.received == [("news", message)]
    assert other.received == []
    assert first.received[0][1] is message  # in-process: the same object, no serialization
    await pubsub.stop()


async def test_unsubscribe_stops_delivery_and_is_idempotent() -> None:
    pubsub = MemoryPubSub()
    inbox = Inbox()
    unsubscribe = await pubsub.subscribe("news", inbox)
    await pubsub.publish("news", 1)
    unsubscribe()
    unsubscribe()
    await pubsub.publish("news", 2)
    assert inbox.received == [("news", 1)]
    assert pubsub.fanout.topics() == []
    assert pubsub.fanout.listener_count() == 0


async def test_the_same_listener_twice_is_two_subscriptions() -> None:
    pubsub = MemoryPubSub()
    inbox = Inbox()
    first = await pubsub.subscribe("news", inbox)
    await pubsub.subscribe("news", inbox)
    first()
    await pubsub.publish("news", "x")
    assert inbox.received == [("news", "x")]


async def test_publish_without_subscribers_is_fine() -> None:
    await MemoryPubSub().publish("nobody", "x")


async def test_a_raising_listener_does_not_starve_the_others(caplog: pytest.LogCaptureFixture) -> None:
    pubsub = MemoryPubSub()
    before, after = Inbox(), Inbox()

    def broken(topic: str, message: Any) -> None:
        raise RuntimeError("boom")

    await pubsub.subscribe("news", before)
    await pubsub.subscribe("news", broken)
    await pubsub.subscribe("news", after)
    with caplog.at_level(logging.ERROR, logger="fastapi_live.pubsub"):
        await pubsub.publish("news", "x")
    assert before.received == [("news", "x")] and after.received == [("news", "x")]
    assert [record.message for record in caplog.records] == ["pubsub listener failed for topic 'news'"]


async def test_a_listener_removed_during_delivery_is_not_called() -> None:
    pubsub = MemoryPubSub()
    late = Inbox()
    removers: list[Any] = []

    def first(topic: str, message: Any) -> None:
        removers[0]()

    await pubsub.subscribe("news", first)
    removers.append(await pubsub.subscribe("news", late))
    await pubsub.publish("news", "x")
    assert late.received == []


async def test_a_listener_added_during_delivery_gets_the_next_message() -> None:
    pubsub = MemoryPubSub()
    late = Inbox()
    added: list[Any] = []

    def first(topic: str, message: Any) -> None:
        if not added:
            added.append(pubsub.fanout.add("news", late))

    await pubsub.subscribe("news", first)
    await pubsub.publish("news", 1)
    await pubsub.publish("news", 2)
    assert late.received == [("news", 2)]


def test_fanout_reports_first_listener_and_empty_topics() -> None:
    emptied: list[str] = []

    fanout = LocalFanout(on_empty=emptied.append)
    remove_a, first_a = fanout.add("t", Inbox())
    remove_b, first_b = fanout.add("t", Inbox())
    assert (first_a, first_b) == (True, False)
    assert fanout.listener_count("t") == 2 and fanout.listener_count() == 2
    remove_a()
    assert emptied == []
    remove_b()
    remove_b()
    assert emptied == ["t"]
    assert fanout.topics() == [] and fanout.listener_count("t") == 0
    _, first_again = fanout.add("t", Inbox())
    assert first_again is True


def test_deliver_returns_how_many_listeners_were_called() -> None:
    fanout = LocalFanout()
    fanout.add("t", Inbox())
    fanout.add("t", Inbox())
    assert fanout.deliver("t", "x") == 2
    assert fanout.deliver("other", "x") == 0


def test_create_pubsub_picks_the_backend_from_the_url() -> None:
    from fastapi_live.pubsub.redis import RedisPubSub

    assert isinstance(create_pubsub(None), MemoryPubSub)
    assert isinstance(create_pubsub(""), MemoryPubSub)
    assert isinstance(create_pubsub("redis://127.0.0.1:6379/0"), RedisPubSub)
    assert isinstance(create_pubsub("rediss://127.0.0.1:6379/0"), RedisPubSub)
