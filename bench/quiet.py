"""Other work on the machine skews every figure: wait for quiet, and measure what others used."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import psutil  # type: ignore[import-untyped]  # no stubs installed

_TICKS = os.sysconf("SC_CLK_TCK")


def _system() -> tuple[float, float]:
    """(busy, total) CPU-seconds of the whole machine since boot."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user/nice
    return (total - idle) / _TICKS, total / _TICKS


def _own() -> float:
    """CPU-seconds of this process, its reaped children (servers, browser) and local Redis servers."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system + _redis()


def _redis() -> float:
    # The Redis fan-out uses the machine's redis-server: its CPU is part of that benchmark.
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "redis-server":
            with contextlib.suppress(psutil.Error):
                cpu = process.cpu_times()
                total += cpu.user + cpu.system
    return total


async def busy_fraction(seconds: float = 1.0) -> float:
    """Share of the machine's CPU used by others over ``seconds`` (this process idles meanwhile)."""
    busy0, total0 = _system()
    own0 = _own()
    await asyncio.sleep(seconds)
    busy1, total1 = _system()
    own1 = _own()
    return max(0.0, (busy1 - busy0 - (own1 - own0)) / max(total1 - total0, 1e-9))


async def wait_for_quiet(*, threshold: float = 0.10, max_wait: float = 60.0, sample: float = 1.0) -> float:
    """Wait (at most ``max_wait`` seconds) until others use under ``threshold`` of the CPU over ``sample``
    seconds; returns the last reading."""
    deadline = time.monotonic() + max_wait
    reading = await busy_fraction(sample)
    while reading >= threshold and time.monotonic() < deadline:
        reading = await busy_fraction(sample)
    return reading


class ForeignLoad:
    """CPU used by other processes between ``start`` and ``stop``, as a share of the machine.

    "Ours" is this process, every descendant (servers, Chromium and its helpers, sampled
    every quarter second while they live) and local Redis servers.
    """

    def __init__(self) -> None:
        self.busy0 = self.total0 = self.self0 = self.redis0 = 0.0
        self._descendants: dict[tuple[int, float], float] = {}
        self._initial: dict[tuple[int, float], float] = {}
        self._sampler: asyncio.Task[None] | None = None

    def _sample(self) -> dict[tuple[int, float], float]:
        seen: dict[tuple[int, float], float] = {}
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                cpu = child.cpu_times()
                seen[(child.pid, child.create_time())] = cpu.user + cpu.system
        return seen

    async def _keep_sampling(self) -> None:
        while True:
            self._descendants.update(self._sample())
            await asyncio.sleep(0.25)

    def start(self) -> ForeignLoad:
        self.busy0, self.total0 = _system()
        times = os.times()
        self.self0 = times.user + times.system
        self.redis0 = _redis()
        self._initial = self._sample()
        self._sampler = asyncio.get_running_loop().create_task(self._keep_sampling())
        return self

    def stop(self) -> float:
        if self._sampler is not None:
            self._sampler.cancel()
        self._descendants.update(self._sample())
        busy1, total1 = _system()
        times = os.times()
        own = times.user + times.system - self.self0 + _redis() - self.redis0
        own += sum(cpu - self._initial.get(key, 0.0) for key, cpu in self._descendants.items())
        return max(0.0, (busy1 - self.busy0 - own) / max(total1 - self.total0, 1e-9))
