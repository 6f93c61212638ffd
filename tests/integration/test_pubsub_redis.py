"""The Redis PubSub backend against a real Redis: two instances stand for two processes."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from redis.asyncio import Redis

from fastapi_live.exceptions import LiveError
from fastapi_live.pubsub import create_pubsub
from fastapi_live.pubsub._codec import MessageEncodeError, encode
from fastapi_live.pubsub.redis import RedisPubSub
from tests.support.servers import RedisProcess
from tests.support.waits import eventually

pytestmark = pytest.mark.redis

LOGGER = "fastapi_live.pubsub"


class Kind(enum.Enum):
    MENTION = "mention"
    REPLY = "reply"


class Sender(BaseModel):
    name: str
    joined: datetime.date


@dataclasses.dataclass(frozen=True)
class Notice:
    id: int
    text: str
    kind: Kind
    sender: Sender
    span: tuple[int, int] = (0, 0)


class Inbox:
    """A listener that records messages and lets a test wait for a condition on them."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, topic: str, message: Any) -> None:
        self.messages.append(message)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self.messages):
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_message(self, message: Any, timeout: float = 5.0) -> None:
        await self.wait_for(lambda messages: message in messages, timeout)


def outage_records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (record.levelname, record.getMessage())
        for record in caplog.records
        if record.name == LOGGER and record.levelno >= logging.INFO and "reachable" in record.getMessage()
    ]


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def redis_client(redis_server_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def make(redis_server_url: str, prefix: str) -> AsyncIterator[Callable[..., RedisPubSub]]:
    """``make(**options)``: a RedisPubSub on the shared Redis, stopped after the test."""
    created: list[RedisPubSub] = []

    def factory(url: str | None = None, **options: Any) -> RedisPubSub:
        options.setdefault("channel_prefix", prefix)
        options.setdefault("client_name", f"test-{uuid.uuid4().hex[:8]}")
        pubsub = RedisPubSub(url or redis_server_url, **options)
        created.append(pubsub)
        return pubsub

    yield factory
    for pubsub in created:
        await pubsub.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    server = RedisProcess().start()
    yield server
    server.stop()


# -- delivery ----------------------------------------------------------------------------------


async def test_publish_reaches_subscribers_in_both_processes_exactly_once(make: Callable[..., RedisPubSub]) -> None:
    a, b = make(), make()
    await a.start()
    await b.start()
    on_a, on_b = Inbox(), Inbox()
    await a.subscribe("news", on_a)
    await b.subscribe("news", on_b)

    await a.publish("news", {"n": 1})
    await b.publish("news", {"n": 2})
    await a.publish("news", "end")  # Redis keeps one publisher's order: a duplicate would come before this
    for inbox in (on_a, on_b):
        await inbox.wait_for_message("end")
        assert inbox.messages in ([{"n": 1}, {"n": 2}, "end"], [{"n": 2}, {"n": 1}, "end"])
    assert on_a.messages[0] is not on_b.messages[0]


async def test_local_only_subscriber_gets_its_own_publish_once(make: Callable[..., RedisPubSub]) -> None:
    a = make()
    inbox = Inbox()
    await a.subscribe("solo", inbox)
    for n in range(20):
        await a.publish("solo", n)
    await a.publish("solo", "end")
    await inbox.wait_for_message("end")
    assert inbox.messages == [*range(20), "end"]


async def test_dataclasses_and_models_arrive_as_instances(make: Callable[..., RedisPubSub]) -> None:
    a, b = make(), make()
    inbox = Inbox()
    await b.subscribe("notices", inbox)
    notice = Notice(1, "hi", Kind.MENTION, Sender(name="ann", joined=datetime.date(2024, 1, 2)), (3, 4))
    await a.publish("notices", notice)
    await a.publish("notices", Sender(name="bob", joined=datetime.date(2023, 5, 6)))
    await a.publish("notices", {"ids": (1, 2), "when": datetime.datetime(2024, 1, 2, 3, 4)})
    await inbox.wait_for(lambda messages: len(messages) == 3)

    received, sender, mapping = inbox.messages
    assert type(received) is Notice and received == notice
    assert type(received.sender) is Sender and type(received.kind) is Kind and type(received.span) is tuple
    assert type(sender) is Sender and sender.name == "bob"
    assert mapping == {"ids": (1, 2), "when": datetime.datetime(2024, 1, 2, 3, 4)}


async def test_publish_refuses_a_message_the_codec_cannot_carry(make: Callable[..., RedisPubSub]) -> None:
    a = make()
    expected = r"cannot publish message\['handler'\]: a builtin_function_or_method cannot .* Expected one of: .* Got: <built-in function print>"
    with pytest.raises(MessageEncodeError, match=expected):
        await a.publish("news", {"handler": print})


async def test_plain_endpoint_publish_from_a_fresh_instance(make: Callable[..., RedisPubSub]) -> None:
    # a process that only publishes (an API endpoint) never opens a pub/sub connection
    listener, publisher = make(), make()
    inbox = Inbox()
    await listener.subscribe("api", inbox)
    await publisher.publish("api", {"user": "ann", "message": "hello"})
    await inbox.wait_for_message({"user": "ann", "message": "hello"})
    assert (await publisher.connection_counts())["pubsub"] == 0


# -- one connection, subscribe / unsubscribe ---------------------------------------------------


async def test_a_thousand_local_subscriptions_use_one_pubsub_connection(
    make: Callable[..., RedisPubSub], redis_client: Redis, prefix: str
) -> None:
    a = make()
    inboxes = [Inbox() for _ in range(1000)]
    started = time.perf_counter()
    removers = await asyncio.gather(*(a.subscribe(f"user:{n % 100}", inbox) for n, inbox in enumerate(inboxes)))
    elapsed = time.perf_counter() - started

    clients = await redis_client.client_list()
    assert [client["name"] for client in clients].count(a.pubsub_client_name) == 1
    counts = await a.connection_counts()
    assert counts["pubsub"] == 1
    assert counts["publish"] == 1  # the CLIENT LIST just now; publishing shares that pool
    numsub = dict(await redis_client.pubsub_numsub(*(f"{prefix}user:{n}" for n in range(100))))
    assert set(numsub.values()) == {1}
    assert elapsed < 5, f"1000 subscriptions took {elapsed:.2f} s"

    await a.publish("user:7", "hello 7")
    for n in range(7, 1000, 100):
        await inboxes[n].wait_for_message("hello 7")
    assert all(inbox.messages == [] for n, inbox in enumerate(inboxes) if n % 100 != 7)
    for remove in removers:
        remove()
    await eventually(_no_channels(redis_client, prefix))


def _no_channels(client: Redis, prefix: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not await client.pubsub_channels(f"{prefix}*")

    return check


async def test_last_unsubscribe_unsubscribes_the_channel(make: Callable[..., RedisPubSub], redis_client: Redis, prefix: str) -> None:
    a = make()
    channel = f"{prefix}room"
    remove_first = await a.subscribe("room", Inbox())
    remove_second = await a.subscribe("room", Inbox())
    assert await redis_client.pubsub_channels(f"{prefix}*") == [channel]

    remove_first()
    await a.subscribe("barrier", Inbox())  # returns after Redis confirmed it: any UNSUBSCRIBE sent before is done
    assert channel in await redis_client.pubsub_channels(f"{prefix}*")

    remove_second()
    await eventually(_lacks_channel(redis_client, prefix, channel), timeout=5)
    assert a.fanout.topics() == ["barrier"]


def _lacks_channel(client: Redis, prefix: str, channel: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return channel not in await client.pubsub_channels(f"{prefix}*")

    return check


async def test_resubscribing_at_once_keeps_the_channel(make: Callable[..., RedisPubSub]) -> None:
    a, b = make(), make()
    remove = await a.subscribe("flap", Inbox())
    remove()
    inbox = Inbox()
    await a.subscribe("flap", inbox)  # UNSUBSCRIBE and SUBSCRIBE may both be in flight: wait for the last
    await b.publish("flap", "still here")
    await inbox.wait_for_message("still here")


async def test_subscribing_before_start_and_restarting(make: Callable[..., RedisPubSub]) -> None:
    a, b = make(), make()
    inbox = Inbox()
    await a.subscribe("early", inbox)  # starts the reader lazily
    assert a.connected
    await b.publish("early", 1)
    await inbox.wait_for_message(1)

    await a.stop()
    assert not a.connected
    with pytest.raises(LiveError, match=r"cannot subscribe on a stopped RedisPubSub: expected start\(\) before subscribe\(\), got"):
        await a.subscribe("early", Inbox())
    with pytest.raises(LiveError, match=r"cannot publish on a stopped RedisPubSub"):
        await a.publish("early", 2)

    await a.start()  # listeners stay registered: their channels are subscribed again
    await eventually(lambda: a.connected)
    await b.publish("early", 3)
    await inbox.wait_for_message(3)


async def test_create_pubsub_returns_a_working_redis_backend(redis_server_url: str) -> None:
    pubsub = create_pubsub(redis_server_url)
    assert isinstance(pubsub, RedisPubSub)
    await pubsub.start()
    inbox = Inbox()
    await pubsub.subscribe(f"create-{uuid.uuid4().hex}", inbox)
    await pubsub.stop()


async def test_pool_options_in_the_url_are_fine(make: Callable[..., RedisPubSub], redis_server_url: str) -> None:
    a = make(f"{redis_server_url}?max_connections=4&socket_timeout=3&health_check_interval=30")
    inbox = Inbox()
    await a.subscribe("pool", inbox)
    assert a.connected
    await a.publish("pool", "x")
    await inbox.wait_for_message("x")


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(LiveError, match=r"invalid Redis URL for RedisPubSub: .* Expected one of: redis://.* Got: 'http://x'"):
        RedisPubSub("http://x")
    with pytest.raises(LiveError, match=r"invalid client_name for RedisPubSub: expected a non-empty name without spaces, got 'a b'"):
        RedisPubSub("redis://127.0.0.1", client_name="a b")
    with pytest.raises(LiveError, match=r"invalid backoff_max for RedisPubSub: expected a number of seconds > 0, got 0"):
        RedisPubSub("redis://127.0.0.1", backoff_max=0)


# -- bad input from Redis ----------------------------------------------------------------------


async def test_undecodable_messages_are_logged_once_per_kind_and_dropped(
    make: Callable[..., RedisPubSub], redis_client: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    a, b = make(), make()
    inbox = Inbox()
    await a.subscribe("feed", inbox)
    channel = f"{prefix}feed"
    evil = {"v": 1, "origin": "x", "seq": 1, "message": {"$": "dataclass", "type": "os:system", "value": {}}}
    for _ in range(3):
        await redis_client.publish(channel, "not json")
        await redis_client.publish(channel, encode({"x": 1}, origin="x", seq=1).replace(b'"v":1', b'"v":9'))
        await redis_client.publish(channel, json.dumps(evil))
    await b.publish("feed", "valid")
    await inbox.wait_for_message("valid")

    assert inbox.messages == ["valid"]
    warnings = [record.getMessage() for record in caplog.records if record.name == LOGGER and record.levelno == logging.WARNING]
    assert len(warnings) == 3, warnings
    assert any("expected a JSON envelope" in text for text in warnings)
    assert any("unsupported envelope version" in text for text in warnings)
    assert any("refused to decode 'os:system' as a dataclass" in text for text in warnings)
    assert all("further ones are logged at DEBUG" in text for text in warnings)
    debug = [record for record in caplog.records if record.name == LOGGER and record.levelno == logging.DEBUG and "dropped" in record.getMessage()]
    assert len(debug) == 6


# -- faults ------------------------------------------------------------------------------------


async def test_redis_outage_local_delivery_continues_and_subscriptions_come_back(
    own_redis: RedisProcess, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    a = RedisPubSub(own_redis.url, channel_prefix=prefix, client_name="fault-a")
    others: list[RedisPubSub] = []
    try:
        inbox = Inbox()
        await a.subscribe("alerts", inbox)
        await a.publish("alerts", "before")
        await inbox.wait_for_message("before")

        own_redis.stop()
        down_at = time.monotonic()
        await eventually(lambda: not a.connected, timeout=5)
        sent = 0
        while time.monotonic() - down_at < 5:
            sent += 1
            await a.publish("alerts", f"during {sent}")  # never raises while Redis is down
            await inbox.wait_for_message(f"during {sent}", timeout=1)  # local delivery goes on
            await asyncio.sleep(0.1)  # why: pacing publishes across the 5 s outage
        late = Inbox()
        await asyncio.wait_for(a.subscribe("late", late), timeout=1)  # does not wait for Redis to come back

        own_redis.start()  # the same port, an empty server: it knows none of our subscriptions
        back_at = time.monotonic()
        await eventually(lambda: a.connected, timeout=10)
        restore_seconds = time.monotonic() - back_at

        other = RedisPubSub(own_redis.url, channel_prefix=prefix, client_name="fault-other")
        others.append(other)
        await other.publish("alerts", "after")
        await other.publish("late", "late after")
        await inbox.wait_for_message("after")
        await late.wait_for_message("late after")
        await a.publish("alerts", "end")
        await inbox.wait_for_message("end")

        assert inbox.messages == ["before", *(f"during {n}" for n in range(1, sent + 1)), "after", "end"]
        assert sent >= 20
        assert (await a.connection_counts())["pubsub"] == 1
        records = outage_records(caplog)
        assert [level for level, _ in records] == ["WARNING", "INFO"], records
        assert "is unreachable" in records[0][1] and "is reachable again after" in records[1][1]
        print(f"\nsubscriptions restored {restore_seconds:.2f} s after Redis came back; {sent} local publishes during the outage")
        assert restore_seconds < 5
    finally:
        await a.stop()
        for other in others:
            await other.stop()


async def test_a_killed_pubsub_connection_is_replaced(
    make: Callable[..., RedisPubSub], redis_client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    a, b = make(backoff_initial=0.05), make()
    inbox = Inbox()
    await a.subscribe("kill", inbox)
    ids = [client["id"] for client in await redis_client.client_list() if client["name"] == a.pubsub_client_name]
    assert len(ids) == 1
    await redis_client.execute_command("CLIENT", "KILL", "ID", ids[0])
    await a.publish("kill", "local")
    await inbox.wait_for_message("local")
    await eventually(lambda: a.connected, timeout=5)
    await b.publish("kill", "remote")
    await a.publish("kill", "end")
    await inbox.wait_for_message("end")
    assert inbox.messages == ["local", "remote", "end"]
    assert [level for level, _ in outage_records(caplog)] == ["WARNING", "INFO"]


async def test_a_silent_redis_is_detected_by_the_health_check(
    make: Callable[..., RedisPubSub], own_redis: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    a, b = make(own_redis.url, health_check_interval=0.2, backoff_initial=0.05), make(own_redis.url)
    inbox = Inbox()
    await a.subscribe("quiet", inbox)
    async with Redis.from_url(own_redis.url) as admin:  # a server of our own: pausing it stalls no other test
        await admin.execute_command("CLIENT", "PAUSE", 1000, "ALL")  # Redis stops answering, sockets stay open
    await eventually(lambda: not a.connected, timeout=5)
    await eventually(lambda: a.connected, timeout=10)
    await b.publish("quiet", "back")
    await inbox.wait_for_message("back")
    records = outage_records(caplog)
    assert [level for level, _ in records] == ["WARNING", "INFO"], records
    assert "no reply to PING within 0.2 s" in records[0][1]


async def test_stop_while_redis_is_unreachable_is_clean(prefix: str) -> None:
    from tests.support.servers import free_port

    a = RedisPubSub(f"redis://127.0.0.1:{free_port()}/0", channel_prefix=prefix, backoff_initial=0.05)
    inbox = Inbox()
    await asyncio.wait_for(a.subscribe("nowhere", inbox), timeout=2)
    await a.publish("nowhere", "local")  # Redis never answered: delivered locally, no exception
    assert inbox.messages == ["local"]
    await a.stop()
