"""The Redis PubSub backends against a real Redis and a real Redis Cluster: two instances stand
for two processes. Tests of the plain server's internals (CLIENT LIST, PUBSUB CHANNELS, its
faults) run on one server; the cluster's own (connections per shard, failover) are at the end."""

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
from fastapi_live.pubsub.redis_cluster import RedisClusterPubSub, is_cluster_url
from tests.support.servers import RedisProcess
from tests.support.waits import eventually

pytestmark = pytest.mark.redis

LOGGER = "fastapi_live.pubsub"
single = pytest.mark.parametrize("backend", ["redis"], indirect=True)  # about one server's internals


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
async def make(any_redis_url: str, prefix: str) -> AsyncIterator[Callable[..., RedisPubSub]]:
    """``make(**options)``: a RedisPubSub (or RedisClusterPubSub) on the shared Redis, stopped after the test."""
    created: list[RedisPubSub] = []

    def factory(url: str | None = None, **options: Any) -> RedisPubSub:
        options.setdefault("channel_prefix", prefix)
        options.setdefault("client_name", f"test-{uuid.uuid4().hex[:8]}")
        url = url or any_redis_url
        pubsub = (RedisClusterPubSub if is_cluster_url(url) else RedisPubSub)(url, **options)
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


@single
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


@single
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
    with pytest.raises(LiveError, match=r"cannot subscribe on a stopped Redis(Cluster)?PubSub: expected start\(\) before subscribe\(\), got"):
        await a.subscribe("early", Inbox())
    with pytest.raises(LiveError, match=r"cannot publish on a stopped Redis(Cluster)?PubSub"):
        await a.publish("early", 2)

    await a.start()  # listeners stay registered: their channels are subscribed again
    await eventually(lambda: a.connected)
    await b.publish("early", 3)
    await inbox.wait_for_message(3)


async def test_create_pubsub_returns_a_working_redis_backend(any_redis_url: str, backend: str) -> None:
    pubsub = create_pubsub(any_redis_url)
    assert type(pubsub) is (RedisClusterPubSub if backend == "cluster" else RedisPubSub)
    await pubsub.start()
    inbox = Inbox()
    await pubsub.subscribe(f"create-{uuid.uuid4().hex}", inbox)
    await pubsub.stop()


async def test_pool_options_in_the_url_are_fine(make: Callable[..., RedisPubSub], any_redis_url: str) -> None:
    a = make(f"{any_redis_url}{'&' if '?' in any_redis_url else '?'}max_connections=4&socket_timeout=3&health_check_interval=30")
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
    with pytest.raises(LiveError, match=r"a Redis Cluster has database 0 only. Expected: redis://host:port/0\?cluster=true. Got: 'redis://h:7000/3\?cluster=true'"):
        RedisClusterPubSub("redis://h:7000/3?cluster=true")
    assert is_cluster_url("redis://h:7000/0?cluster=true") and is_cluster_url("redis://h:7000?Cluster=YES".replace("Cluster", "cluster"))
    assert not is_cluster_url("redis://h:7000/0?cluster=false") and not is_cluster_url("redis://h:7000/0")


# -- bad input from Redis ----------------------------------------------------------------------


@single
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


@single
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


@single
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


# -- Redis Cluster: sharded pub/sub --------------------------------------------------------------
cluster_only = pytest.mark.parametrize("backend", ["cluster"], indirect=True)


@cluster_only
async def test_one_pubsub_connection_per_shard_not_per_topic(make: Callable[..., RedisPubSub]) -> None:
    a, b = make(), make()
    assert isinstance(a, RedisClusterPubSub)
    inboxes = [Inbox() for _ in range(1000)]
    removers = [await a.subscribe(f"user:{n % 100}", inbox) for n, inbox in enumerate(inboxes)]
    shards = {a.shard_of(f"user:{n}") for n in range(100)}
    assert len(shards) == 3, "100 topics hash to every shard"
    counts = await a.connection_counts()
    assert counts["pubsub"] == 3 and counts["shards"] == 3, counts

    for n in (0, 7, 42):
        await b.publish(f"user:{n}", f"hello {n}")
    for n in (0, 7, 42):
        for inbox in inboxes[n::100]:
            await inbox.wait_for_message(f"hello {n}")
    assert sum(len(inbox.messages) for inbox in inboxes) == 30

    for remove in removers:
        remove()

    async def closed() -> bool:
        return (await a.connection_counts())["pubsub"] == 0

    await eventually(closed, timeout=5)  # a shard left without channels closes its connection


@pytest.fixture
def failover_cluster() -> Iterator[Any]:
    from tests.support.servers import RedisClusterProcess

    cluster = RedisClusterProcess(masters=3, replicas=1, node_timeout_ms=1000).start()
    yield cluster
    cluster.stop()


async def test_a_master_killed_under_traffic_fails_over_and_delivery_resumes(
    failover_cluster: Any, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    url = failover_cluster.url
    a = RedisClusterPubSub(url, channel_prefix=prefix, client_name="failover-a", backoff_max=0.5)
    b = RedisClusterPubSub(url, channel_prefix=prefix, client_name="failover-b", backoff_max=0.5)
    try:
        topics = [f"t{n}" for n in range(30)]
        inboxes = {topic: Inbox() for topic in topics}
        for topic in topics:
            await a.subscribe(topic, inboxes[topic])
        victim = a.shard_of(topics[0])
        assert victim is not None
        on_victim = [topic for topic in topics if a.shard_of(topic) == victim]
        accepted: dict[str, list[int]] = {topic: [] for topic in topics}
        refused: dict[str, int] = dict.fromkeys(topics, 0)
        seq = 0

        async def publish_round() -> bool:
            """One message to every topic; whether Redis accepted them all."""
            nonlocal seq
            seq += 1
            all_accepted = True
            for topic in topics:
                if await b.publish(topic, seq) is None:
                    refused[topic] += 1  # Redis could not be asked: the message reached b's own subscribers only
                    all_accepted = False
                else:
                    accepted[topic].append(seq)
            return all_accepted

        for _ in range(20):
            await publish_round()
        await eventually(lambda: all(len(inbox.messages) == 20 for inbox in inboxes.values()))

        failover_cluster.kill(int(victim.rsplit(":", 1)[1]))
        killed_at = time.monotonic()
        # traffic goes on through the failover, until the promoted replica delivers again
        while not await publish_round() or a.shard_of(on_victim[0]) == victim or not a.connected or seq < 60:
            await asyncio.sleep(0.02)  # why: pacing the publishes (~50 rounds a second) across the failover
            assert time.monotonic() - killed_at < 30, "the cluster did not fail over within 30 s"
        resumed_at = seq
        for _ in range(20):
            await publish_round()
        last = seq
        await eventually(lambda: all(last in inbox.messages for inbox in inboxes.values()), timeout=10)

        lost = {topic: len(set(accepted[topic]) - set(inboxes[topic].messages)) for topic in topics}
        on_others = [topic for topic in topics if topic not in on_victim]
        assert sum(lost[topic] for topic in on_others) == 0, "the shards that kept their master lost nothing"
        assert all(inboxes[topic].messages == sorted(set(inboxes[topic].messages)) for topic in topics), "no duplicates, in order"
        assert a.shard_of(on_victim[0]) != victim
        counts = await a.connection_counts()
        assert counts["pubsub"] == 3 and counts["shards"] == 3, counts
        records = outage_records(caplog)  # a and b (two processes) each log the outage once, then its end
        assert sorted(level for level, _ in records) == ["INFO", "INFO", "WARNING", "WARNING"], records
        never_arrived = sum(seq - len(inboxes[topic].messages) for topic in topics)
        assert never_arrived == sum(refused.values()) + sum(lost.values())
        print(
            f"\nfailover: delivery resumed {time.monotonic() - killed_at:.1f} s after the kill (round {resumed_at}); "
            f"{len(on_victim)} of {len(topics)} topics on the killed shard; {seq * len(topics)} messages published, "
            f"{never_arrived} lost (at-most-once): {sum(refused.values())} refused while the shard had no master "
            f"({sum(refused[t] for t in on_others)} of them on other shards), {sum(lost.values())} accepted by Redis but not delivered"
        )
    finally:
        await a.stop()
        await b.stop()
