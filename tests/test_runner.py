"""The runner: many short coroutines back to back in one task, each as if in its own."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time

import pytest

from fastapi_live.runner import Runner
from tests.support.waits import eventually

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


async def settled(runner: Runner, done: asyncio.Event) -> None:
    await asyncio.wait_for(done.wait(), 5)
    assert runner.queued == 0


async def test_coroutines_that_never_wait_run_in_order_in_one_task():
    runner = Runner()
    seen: list[tuple[int, asyncio.Task[object] | None]] = []
    done = asyncio.Event()

    def starter(n: int):
        async def run() -> None:
            seen.append((n, asyncio.current_task()))
            if n == 99:
                done.set()

        return run

    for n in range(100):
        runner.submit(starter(n))
    assert seen == []  # nothing runs on the submitter's turn
    await settled(runner, done)
    assert [n for n, _ in seen] == list(range(100))
    assert len({id(task) for _, task in seen}) == 1
    assert seen[0][1] is not asyncio.current_task()


async def test_a_coroutine_that_waits_keeps_its_task_and_does_not_hold_up_the_rest():
    runner = Runner()
    gate = asyncio.Event()
    tasks: dict[str, list[asyncio.Task[object] | None]] = {"slow": [], "fast": []}
    fast_done, slow_done = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        tasks["slow"].append(asyncio.current_task())
        await gate.wait()
        tasks["slow"].append(asyncio.current_task())
        slow_done.set()

    async def fast() -> None:
        tasks["fast"].append(asyncio.current_task())
        fast_done.set()

    runner.submit(slow)
    runner.submit(fast)
    await asyncio.wait_for(fast_done.wait(), 5)  # ran while slow still waits
    assert not slow_done.is_set()
    gate.set()
    await asyncio.wait_for(slow_done.wait(), 5)
    assert tasks["slow"][0] is tasks["slow"][1]  # one task from start to end
    assert tasks["fast"][0] is not tasks["slow"][0]


async def test_timeouts_inside_a_waiting_coroutine_cancel_that_coroutine_only():
    runner = Runner()
    outcome: list[str] = []
    done = asyncio.Event()

    async def bounded() -> None:
        try:
            async with asyncio.timeout(0.05):
                await asyncio.Event().wait()
        except TimeoutError:
            outcome.append("timed out")
        done.set()

    runner.submit(bounded)
    await asyncio.wait_for(done.wait(), 5)
    assert outcome == ["timed out"]
    this = asyncio.current_task()
    assert this is not None and this.cancelling() == 0  # the timeout never touched the submitter


async def test_each_coroutine_gets_its_own_copy_of_the_context():
    runner = Runner()
    seen: list[str] = []
    done = asyncio.Event()
    request_id.set("submitter")

    async def first() -> None:
        seen.append(request_id.get())
        request_id.set("first")

    async def second() -> None:
        seen.append(request_id.get())
        done.set()

    runner.submit(first)
    runner.submit(second)
    await settled(runner, done)
    assert seen == ["submitter", "submitter"]
    assert request_id.get() == "submitter"


async def test_a_context_change_after_a_wait_stays_with_its_coroutine():
    runner = Runner()
    seen: list[str] = []
    done = asyncio.Event()

    async def waits() -> None:
        request_id.set("mine")
        await asyncio.sleep(0)  # why: one suspension is the point: the change must survive it
        seen.append(request_id.get())
        done.set()

    runner.submit(waits)
    await settled(runner, done)
    assert seen == ["mine"]


async def test_a_failing_coroutine_is_logged_and_the_others_still_run(caplog):
    runner = Runner("test runner")
    done = asyncio.Event()

    async def broken() -> None:
        raise ValueError("boom")

    async def broken_later() -> None:
        await asyncio.sleep(0)  # why: it must fail after a wait, in the task it kept
        raise ValueError("boom after a wait")

    async def fine() -> None:
        done.set()

    with caplog.at_level(logging.ERROR, logger="fastapi_live"):
        runner.submit(broken)
        runner.submit(broken_later)
        runner.submit(fine)
        await settled(runner, done)
        await eventually(lambda: len(caplog.records) == 2)
    assert sorted(str(record.exc_info[1]) for record in caplog.records if record.exc_info) == ["boom", "boom after a wait"]


async def test_cancelling_a_waiting_coroutines_task_cancels_that_coroutine():
    runner = Runner()
    started, cleaned = asyncio.Event(), asyncio.Event()
    holder: list[asyncio.Task[object] | None] = []

    async def waits_forever() -> None:
        holder.append(asyncio.current_task())
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    runner.submit(waits_forever)
    await asyncio.wait_for(started.wait(), 5)
    task = holder[0]
    assert task is not None
    task.cancel()
    await asyncio.wait_for(cleaned.wait(), 5)
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_long_run_of_coroutines_that_never_wait_gives_the_loop_back_every_few_milliseconds():
    runner = Runner()
    done: list[int] = []

    def starter(n: int):
        async def run() -> None:
            until = time.perf_counter() + 0.001
            while time.perf_counter() < until:
                pass
            done.append(n)

        return run

    for n in range(300):
        runner.submit(starter(n))
    seen_by_others: list[int] = []
    asyncio.get_running_loop().call_soon(lambda: seen_by_others.append(len(done)))
    await eventually(lambda: len(done) == 300)
    # 300 ms of work, yet another callback ran within its first few milliseconds.
    assert seen_by_others and seen_by_others[0] < 30, seen_by_others
    assert done == list(range(300))
