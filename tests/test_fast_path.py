"""``Responding``: what the server awaits for a request the fast path serves — the endpoint, then
its response — behaves as the ``async def`` it stands in for would."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fastapi_live.endpoints import Responding


class Recorder:
    """An ASGI response that records what it was called with, what it saw, and how it ended."""

    def __init__(self, gate: asyncio.Future[None] | None = None, fail: Exception | None = None) -> None:
        self.gate = gate
        self.fail = fail
        self.called_with: tuple[Any, ...] | None = None
        self.seen: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called_with = (scope, receive, send)
        try:
            if self.gate is not None:
                await self.gate
            if self.fail is not None:
                raise self.fail
            self.seen.append("done")
        except BaseException as exc:
            self.seen.append(type(exc).__name__)
            raise
        finally:
            self.seen.append("finally")


async def _endpoint(response: Recorder, ready: asyncio.Future[None]) -> Recorder:
    await ready  # an endpoint that waits before it answers
    return response


async def test_the_endpoints_response_runs_with_the_requests_scope_receive_and_send() -> None:
    loop = asyncio.get_running_loop()
    ready, gate = loop.create_future(), loop.create_future()
    response = Recorder(gate)
    asgi = ({"type": "http"}, object(), object())
    task = loop.create_task(_awaiting(Responding(_endpoint(response, ready), asgi)))
    loop.call_soon(ready.set_result, None)
    await asyncio.wait_for(_until(lambda: response.called_with is not None), 5)
    assert response.called_with == asgi and not task.done()  # waiting on the gate, through Responding
    gate.set_result(None)
    assert await asyncio.wait_for(task, 5) == "returned"
    assert response.seen == ["done", "finally"]


async def test_a_cancelled_request_cancels_its_response_which_cleans_up() -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    ready.set_result(None)
    response = Recorder(loop.create_future())  # a stream: its gate never opens
    task = loop.create_task(_awaiting(Responding(_endpoint(response, ready), ({}, None, None))))
    await asyncio.wait_for(_until(lambda: response.called_with is not None), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert response.seen == ["CancelledError", "finally"]


async def test_a_cancel_before_the_endpoint_answers_never_runs_the_response() -> None:
    loop = asyncio.get_running_loop()
    response = Recorder()
    task = loop.create_task(_awaiting(Responding(_endpoint(response, loop.create_future()), ({}, None, None))))
    await asyncio.sleep(0)  # why: one turn, so the task waits inside the endpoint
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert response.called_with is None


async def test_what_the_response_raises_reaches_whoever_awaits_the_request() -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    ready.set_result(None)
    response = Recorder(fail=OSError("client gone"))
    with pytest.raises(OSError, match="client gone"):
        await Responding(_endpoint(response, ready), ({}, None, None))
    assert response.seen == ["OSError", "finally"]


def test_closing_the_awaiting_coroutine_closes_the_response() -> None:
    loop = asyncio.new_event_loop()
    try:
        ready = loop.create_future()
        ready.set_result(None)
        response = Recorder(loop.create_future())
        outer = _awaiting(Responding(_endpoint(response, ready), ({}, None, None)))
        assert outer.send(None) is response.gate  # through the endpoint into the response, waiting on its gate
        outer.close()
        assert response.seen == ["GeneratorExit", "finally"]
    finally:
        loop.close()


async def _awaiting(responding: Responding) -> str:
    await responding
    return "returned"


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0)  # why: the condition is met by the task on a later turn
