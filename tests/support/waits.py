"""Waiting on a condition, with a deadline, where the state offers nothing to await."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 10.0) -> None:
    """Return once ``check()`` is true (it may be async); ``TimeoutError`` after ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if isinstance(result, Awaitable):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)  # why: polling state that offers nothing to wait on
