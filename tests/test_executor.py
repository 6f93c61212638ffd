"""The sync executor: bounded threads, lanes taken in turn, connected sessions first."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from fastapi_live import ConfigurationError
from fastapi_live.executor import SyncExecutor, default_threads
from tests.support.waits import eventually

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


@pytest.fixture
def executor():
    executor = SyncExecutor(threads=1, unconnected_threads=1)
    yield executor
    executor.shutdown()


def recorder(order: list[str], name: str, gate: threading.Event | None = None):
    def job() -> str:
        if gate is not None:
            gate.wait(10)
        order.append(name)
        return name

    return job


async def test_a_lane_with_many_jobs_delays_another_lane_by_one_job_at_most(executor):
    busy, other = executor.lane(), executor.lane()
    busy.connect()
    other.connect()
    order: list[str] = []
    gate = threading.Event()
    many = [asyncio.create_task(busy.run(recorder(order, f"busy-{n}", gate if n == 0 else None))) for n in range(20)]
    await eventually(lambda: executor.waiting == 19)
    one = asyncio.create_task(other.run(recorder(order, "other")))
    await eventually(lambda: executor.waiting == 20)
    gate.set()
    await asyncio.gather(*many, one)
    assert order.index("other") == 2, order  # busy-0 ran; busy-1's turn came before "other" queued
    assert [name for name in order if name.startswith("busy")] == [f"busy-{n}" for n in range(20)]


async def test_connected_lanes_go_before_unconnected_ones(executor):
    flood, user = executor.lane(), executor.lane()
    order: list[str] = []
    gate = threading.Event()
    first = asyncio.create_task(flood.run(recorder(order, "flood-0", gate)))
    rest = [asyncio.create_task(flood.run(recorder(order, f"flood-{n}"))) for n in range(1, 5)]
    await eventually(lambda: executor.running == 1)
    user.connect()
    mine = asyncio.create_task(user.run(recorder(order, "user")))
    await asyncio.sleep(0)  # why: let it queue behind the running job
    gate.set()
    await asyncio.gather(first, *rest, mine)
    assert order[:2] == ["flood-0", "user"]


async def test_unconnected_sessions_hold_at_most_their_share_of_the_threads():
    executor = SyncExecutor(threads=4, unconnected_threads=2)
    gate = threading.Event()
    try:
        order: list[str] = []
        flood = [asyncio.create_task(executor.lane().run(recorder(order, f"flood-{n}", gate))) for n in range(10)]
        await eventually(lambda: executor.waiting == 8)  # every job was queued; dispatching is synchronous
        assert executor.running == 2 and executor.running_unconnected == 2 and executor.waiting == 8
        user = executor.lane()
        user.connect()
        assert await asyncio.wait_for(user.run(lambda: "at once"), 5) == "at once"
        # A waiting lane whose stream connects moves ahead and gets a free thread.
        late = executor.lane()
        waiting = asyncio.create_task(late.run(lambda: "promoted"))
        await asyncio.sleep(0)  # why: let it queue
        assert not waiting.done()
        late.connect()
        assert await asyncio.wait_for(waiting, 5) == "promoted"
        gate.set()
        await asyncio.gather(*flood)
    finally:
        gate.set()
        executor.shutdown()


async def test_a_cancelled_job_that_has_not_started_never_runs(executor):
    lane = executor.lane()
    gate = threading.Event()
    order: list[str] = []
    running = asyncio.create_task(lane.run(recorder(order, "first", gate)))
    queued = asyncio.create_task(lane.run(recorder(order, "cancelled")))
    await eventually(lambda: executor.waiting == 1)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert executor.waiting == 0
    gate.set()
    await running
    assert order == ["first"]


async def test_results_exceptions_and_context_come_back(executor):
    lane = executor.lane()
    request_id.set("req-7")
    assert await lane.run(lambda: request_id.get()) == "req-7"

    def boom() -> None:
        raise ValueError("from the thread")

    with pytest.raises(ValueError, match="from the thread"):
        await lane.run(boom)
    assert executor.running == 0


def test_the_defaults_and_bad_sizes():
    executor = SyncExecutor()
    assert executor.threads == default_threads() and executor.unconnected_threads == max(1, default_threads() // 2)
    with pytest.raises(ConfigurationError, match=r"^SessionConfig\.sync_threads must be a whole number of at least 1"):
        SyncExecutor(threads=0)
    with pytest.raises(ConfigurationError, match=r"^SessionConfig\.unconnected_sync_threads must be a whole number from 1 to sync_threads \(4\)"):
        SyncExecutor(threads=4, unconnected_threads=5)
