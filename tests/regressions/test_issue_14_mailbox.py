"""Issue 14, item 2: a session's mailbox is bounded, and draining it never freezes the process.

10,000 messages queued for one session whose ``handle_info`` does 2 ms of work froze the
whole process for 34 s (a ``/ping`` waited 34 s): the drain, and the runner it runs in,
handled message after message without ever giving the event loop back. Now both yield
every couple of milliseconds, and past ``SessionConfig.mailbox_limit`` the session is closed
(logged once); its page's stream reconnects and remounts it afresh.
"""

from __future__ import annotations

import os

import httpx
import pytest

from tests.support.servers import SubprocessServer
from tests.support.sse import SSEReader, headers, open_page

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def busy():
    servers: list[SubprocessServer] = []

    def start(mailbox_limit: int) -> SubprocessServer:
        env = {"PYTHONPATH": ROOT_DIR, "BUSY_MAILBOX_LIMIT": str(mailbox_limit)}
        server = SubprocessServer("tests.support.views.busy:app", env=env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


async def test_other_requests_are_answered_while_one_session_drains_two_thousand_slow_messages(busy):
    server = busy(mailbox_limit=10_000)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        await open_page(client, "/counter")
        assert (await client.post("/flood", params={"n": 2_000})).status_code == 200
        ping = await client.get("/ping")
        # 2,000 × 2 ms is 4 s of work for that session; the ping did not wait for it.
        assert ping.json()["still_queued"] > 1_000, ping.json()


async def test_past_the_mailbox_limit_the_session_is_closed_once_and_its_page_remounts(busy):
    server = busy(mailbox_limit=100)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        _, token = await open_page(client, "/counter")
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            reader = SSEReader(stream)
            await reader.next()
            assert (await client.post("/flood", params={"n": 500})).status_code == 200
            with pytest.raises(EOFError):
                while True:
                    await reader.next(timeout=10)  # the session's stream ends
        assert (await client.get("/ping")).json()["sessions"] == 0
        records = [line for line in server.log().splitlines() if "mailbox_limit" in line]
        assert len(records) == 1, records
        assert "closed Busy session" in records[0] and "mailbox full (100 queued" in records[0] and "mailbox_limit=100" in records[0]
        # The reconnect finds the session gone and remounts the page: a fresh, consistent state.
        async with client.stream("GET", "/_live/stream", headers=headers(token)) as stream:
            message = await SSEReader(stream).next()
            assert message.event == "live:remount" and "Count: 0" in message.data
