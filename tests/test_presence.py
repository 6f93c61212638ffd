"""Presence in one process: tracking, diffs to subscribers, lists, pauses while a page has no stream."""

from __future__ import annotations

from typing import Any

import pytest

from fastapi_live import LiveError, Presence, PresenceDiff
from fastapi_live.presence import REF, REF_PREV
from fastapi_live.pubsub.memory import MemoryPubSub
from fastapi_live.testing import LiveTestClient, live, render, render_hook
from tests.support.views.presence import make_app
from tests.support.waits import eventually


def test_a_diff_applies_joins_by_ref_and_removes_leaves() -> None:
    ann1, ann2, bob = {"name": "Ann", REF: "a1"}, {"name": "Ann", REF: "a2"}, {"name": "Bob", REF: "b1"}
    presences = {"ann": [ann1]}
    joined = PresenceDiff("room", joins={"ann": [ann2], "bob": [bob]}).apply(presences)
    assert joined == {"ann": [ann1, ann2], "bob": [bob]}
    assert presences == {"ann": [ann1]}, "apply returns a new mapping"
    assert PresenceDiff("room", joins={"ann": [ann2]}).apply(joined) == joined, "a join seen twice is one meta"
    left = PresenceDiff("room", leaves={"ann": [ann1], "bob": [bob], "cat": [{REF: "c1"}]}).apply(joined)
    assert left == {"ann": [ann2]}, "a key whose last meta left is gone; an unknown leave does nothing"


class Diffs:
    """A topic's listener that records its presence diffs."""

    def __init__(self) -> None:
        self.seen: list[PresenceDiff] = []

    def __call__(self, topic: str, message: Any) -> None:
        if isinstance(message, PresenceDiff):
            self.seen.append(message)


async def test_sessions_see_each_other_join_update_and_leave() -> None:
    app, live_router = make_app()
    async with LiveTestClient(app) as client:
        ann, _ = await live(client, "/room/lobby?user=ann")
        bob, html = await live(client, "/room/lobby?user=bob&mood=busy")
        assert 'data-key="ann">Ann (calm)' in html and 'data-key="bob">Bob (busy)' in html
        await eventually(lambda: 'data-key="bob">Bob (busy)' in render(ann))

        second_tab, _ = await live(client, "/room/lobby?user=ann&mood=sleepy")
        await eventually(lambda: 'data-key="ann">Ann (calm, sleepy)' in render(bob))
        listed = await live_router.presence.list("room:lobby")
        assert sorted(listed) == ["ann", "bob"] and len(listed["ann"]) == 2, listed
        assert [meta["mood"] for meta in listed["ann"]] == ["calm", "sleepy"], "one meta per tab, oldest first"

        await render_hook(bob, "mood", {"mood": "free"})
        await eventually(lambda: 'data-key="bob">Bob (free)' in render(ann))
        session = next(iter(live_router.manager.sessions.values()))  # ann's first tab
        update = session.view.diffs[-1]
        (joined,) = update.joins["bob"]
        (left,) = update.leaves["bob"]
        assert joined[REF_PREV] == left[REF] and joined[REF] != left[REF] and joined["mood"] == "free" and left["mood"] == "busy"

        await second_tab.close()
        await eventually(lambda: 'data-key="ann">Ann (calm)' in render(bob))
        await render_hook(bob, "leave", {})
        await eventually(lambda: "Bob" not in render(ann))
        assert list(await live_router.presence.list("room:lobby")) == ["ann"]
        await ann.close()
        await bob.close()
        assert await live_router.presence.list("room:lobby") == {}


async def test_a_page_that_only_watches_lists_without_being_listed() -> None:
    app, live_router = make_app()
    async with LiveTestClient(app) as client:
        watcher, html = await live(client, "/room/hall")
        assert "<li" not in html
        ann, _ = await live(client, "/room/hall?user=ann")
        await eventually(lambda: 'data-key="ann">Ann (calm)' in render(watcher))
        assert list(await live_router.presence.list("room:hall")) == ["ann"]
        await ann.close()
        await watcher.close()


async def test_a_page_without_a_stream_leaves_after_the_grace_and_joins_again_with_a_new_ref() -> None:
    pubsub = MemoryPubSub()
    presence = Presence(pubsub, grace=0.05)
    diffs = Diffs()
    await pubsub.subscribe("room", diffs)
    ref = await presence.track("session-1", "room", "ann", {"name": "Ann"})
    assert [d.joins for d in diffs.seen] == [{"ann": [{"name": "Ann", REF: ref}]}]

    presence.pause("session-1")
    presence.resume("session-1")  # back within the grace: nobody sees it leave
    assert (await presence.list("room"))["ann"][0][REF] == ref
    assert not presence._paused

    presence.pause("session-1")
    await eventually(lambda: len(diffs.seen) == 2)
    assert diffs.seen[1].leaves == {"ann": [{"name": "Ann", REF: ref}]}
    assert await presence.list("room") == {}
    await presence.track("session-1", "room", "ann-2", {"name": "Ann"})  # tracked while paused: joins with the stream
    assert len(diffs.seen) == 2 and await presence.list("room") == {}

    presence.resume("session-1")
    await eventually(lambda: len(diffs.seen) == 3)
    (again,) = diffs.seen[2].joins["ann"]
    assert again[REF] != ref and sorted(diffs.seen[2].joins) == ["ann", "ann-2"]
    assert sorted(await presence.list("room")) == ["ann", "ann-2"]

    presence.forget("session-1")
    await eventually(lambda: len(diffs.seen) == 4)
    assert sorted(diffs.seen[3].leaves) == ["ann", "ann-2"]
    await presence.stop()


async def test_stop_announces_the_leaves_of_every_entry_left() -> None:
    pubsub = MemoryPubSub()
    presence = Presence(pubsub)
    diffs = Diffs()
    await pubsub.subscribe("room", diffs)
    await presence.track("s1", "room", "ann", {})
    await presence.track("s2", "room", "bob", {})
    await presence.stop()
    assert sorted(key for diff in diffs.seen for key in diff.leaves) == ["ann", "bob"]
    assert await presence.list("room") == {}


async def test_mistakes_are_refused_with_what_to_do() -> None:
    presence = Presence(MemoryPubSub())
    await presence.track("s1", "room", "ann", {"name": "Ann"})
    with pytest.raises(LiveError, match=r"already tracked: socket.track\('room', 'ann', ...\) was called before .* socket.update_presence"):
        await presence.track("s1", "room", "ann", {})
    with pytest.raises(LiveError, match=r"invalid meta for socket.track\('room', 'bob', ...\): it must be JSON .* Got: \{'at': <object"):
        await presence.track("s1", "room", "bob", {"at": object()})
    with pytest.raises(LiveError, match=r"invalid key for socket.track\('room', ...\): expected a non-empty str \(one per user\), got 7"):
        await presence.track("s1", "room", 7, {})  # type: ignore[arg-type]
    with pytest.raises(LiveError, match=r"not tracked: socket.update_presence\('room', 'cat', ...\) needs socket.track"):
        await presence.update("s1", "room", "cat", {})
    with pytest.raises(LiveError, match=r"invalid grace for Presence: expected a number of seconds >= 0, got -1"):
        Presence(MemoryPubSub(), grace=-1)
    await presence.untrack("s1", "room", "nobody")  # untracking what is not tracked does nothing
    await presence.stop()


async def test_a_join_on_a_topic_with_a_thousand_subscribers_is_one_publish() -> None:
    class CountingPubSub(MemoryPubSub):
        publishes = 0

        async def publish(self, topic: str, message: Any) -> int | None:
            self.publishes += 1
            return await super().publish(topic, message)

    pubsub = CountingPubSub()
    presence = Presence(pubsub)
    listeners = [Diffs() for _ in range(1000)]
    for listener in listeners:
        await pubsub.subscribe("crowd", listener)
    await presence.track("s1", "crowd", "ann", {})
    assert pubsub.publishes == 1
    assert all(len(listener.seen) == 1 for listener in listeners)
    await presence.stop()
