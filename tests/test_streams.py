"""Streams: insert/delete/reset bookkeeping, forgotten once rendered, so items never pile up."""

from __future__ import annotations

import gc
import re
import tracemalloc
import weakref
from dataclasses import dataclass

import pytest
from jinja2 import TemplateSyntaxError

from fastapi_live import ConfigurationError, LiveError, LiveSocket, LiveView, SessionConfig
from fastapi_live.rendering import check_stream_item
from fastapi_live.streams import StreamOp
from fastapi_live.testing._dom import LiveDocument
from tests.support import stream_cases
from tests.support.harness import FrameReader, Harness, page_template
from tests.support.stream_cases import CASES

FEED = """<html>{% live_root %}
{% live_stream posts as post id="posts" tag="ul" %}<li id="{{ dom_id }}">{{ post.title }}</li>{% endlive_stream %}
{% endlive_root %}</html>"""


@dataclass
class Post:
    id: int
    title: str


@pytest.fixture
def socket() -> LiveSocket:
    return LiveSocket(view_name="Feed")


def test_an_insert_is_pending_until_taken(socket):
    post = Post(1, "one")
    socket.stream_insert("posts", post)
    assert socket._take_stream_ops() == {"posts": [StreamOp("insert", "posts-1", post, -1, None, False)]}
    assert socket._take_stream_ops() == {}


def test_the_default_dom_id_reads_id_from_dicts_and_objects(socket):
    socket.stream("posts", [{"id": 7, "title": "dict"}, Post(8, "object")])
    assert [op.dom_id for op in socket._take_stream_ops()["posts"]] == ["posts-7", "posts-8"]


def test_an_item_without_an_id_needs_stream_configure(socket):
    with pytest.raises(LiveError, match=r"^cannot compute a DOM id for an item of stream 'posts': it has no 'id'\n"
                       r"Configure one: socket\.stream_configure\(\"posts\", dom_id=lambda item: f\"posts-\{item\.key\}\"\)\n"
                       r"Got: \{'title': 'x'\}$"):
        socket.stream_insert("posts", {"title": "x"})


def test_stream_configure_sets_the_dom_id(socket):
    socket.stream_configure("posts", dom_id=lambda post: f"post-{post.id}")
    socket.stream_insert("posts", Post(3, "three"))
    assert socket._take_stream_ops()["posts"][0].dom_id == "post-3"


def test_stream_configure_after_an_insert_is_refused(socket):
    socket.stream_insert("posts", Post(1, "one"))
    with pytest.raises(ConfigurationError, match=r"^stream 'posts' is already in use: call stream_configure before inserting into it$"):
        socket.stream_configure("posts", dom_id=lambda post: f"post-{post.id}")


@pytest.mark.parametrize("bad", ["", None, 12])
def test_a_dom_id_function_must_return_a_non_empty_string(socket, bad):
    socket.stream_configure("posts", dom_id=lambda post: bad)
    with pytest.raises(LiveError, match=rf"^dom_id for stream 'posts' must return a non-empty string, got {bad!r}$"):
        socket.stream_insert("posts", Post(1, "one"))


def test_stream_with_reset_clears_before_inserting(socket):
    socket.stream("posts", [Post(1, "a"), Post(2, "b")], reset=True, at=0, limit=5)
    ops = socket._take_stream_ops()["posts"]
    assert [(op.kind, op.dom_id, op.at, op.limit) for op in ops] == [("reset", "", -1, None), ("insert", "posts-1", 0, 5), ("insert", "posts-2", 0, 5)]


def test_stream_with_reset_and_no_items_only_clears(socket):
    socket.stream("posts", [], reset=True)
    assert [op.kind for op in socket._take_stream_ops()["posts"]] == ["reset"]


def test_insert_options_are_recorded(socket):
    socket.stream_insert("posts", Post(1, "a"), at=0, limit=-10, update_only=True)
    (op,) = socket._take_stream_ops()["posts"]
    assert (op.at, op.limit, op.update_only) == (0, -10, True)


def test_delete_by_item_and_by_dom_id(socket):
    socket.stream_configure("posts", dom_id=lambda post: f"post-{post.id}")
    socket.stream_delete("posts", Post(4, "gone"))
    socket.stream_delete_by_dom_id("posts", "post-5")
    assert socket._take_stream_ops()["posts"] == [StreamOp("delete", "post-4"), StreamOp("delete", "post-5")]


def test_a_deleted_op_does_not_keep_the_item(socket):
    socket.stream_delete("posts", Post(4, "gone"))
    (op,) = socket._take_stream_ops()["posts"]
    assert op.item is None


def test_streams_are_separate_by_name(socket):
    socket.stream_insert("posts", Post(1, "a"))
    socket.stream_insert("comments", Post(1, "c"))
    ops = socket._take_stream_ops()
    assert {name: [op.dom_id for op in pending] for name, pending in ops.items()} == {"posts": ["posts-1"], "comments": ["comments-1"]}


def test_taking_the_ops_drops_the_socket_references_to_items(socket):
    class Item:
        def __init__(self, id: int) -> None:
            self.id = id

    item = Item(1)
    ref = weakref.ref(item)
    socket.stream_insert("posts", item)
    del item
    socket._take_stream_ops()
    gc.collect()
    assert ref() is None


# -- the first render and later patches ------------------------------------------------------------


class Feed(LiveView):
    def __init__(self, script=None):
        self.script = script or (lambda socket: None)

    async def mount(self, socket: LiveSocket) -> None:
        self.script(socket)


async def start(script) -> tuple[Harness, str]:
    harness = Harness(Feed(script), page_template(FEED))
    html = await harness.start()
    return harness, html


async def test_items_streamed_in_mount_are_in_the_first_html_in_order():
    def script(socket):
        socket.stream("posts", [Post(1, "one"), Post(2, "two")])
        socket.stream_insert("posts", Post(0, "zero"), at=0)

    harness, html = await start(script)
    async with harness:
        assert '<ul id="posts" data-live-region="stream" data-live-stream="posts" hx-morph-skip-children="">' in html
        assert '<li id="posts-0">zero</li><li id="posts-1">one</li><li id="posts-2">two</li></ul>' in html


async def test_the_first_html_applies_resets_deletes_replacements_update_only_and_limits():
    def script(socket):
        socket.stream("posts", [Post(1, "dropped by reset")])
        socket.stream("posts", [Post(2, "two"), Post(3, "three"), Post(4, "four")], reset=True)
        socket.stream_delete("posts", Post(3, ""))
        socket.stream_insert("posts", Post(2, "two, edited"))
        socket.stream_insert("posts", Post(9, "never shown"), update_only=True)
        socket.stream_insert("posts", Post(5, "five"), limit=2)

    harness, html = await start(script)
    async with harness:
        # An append with a positive limit keeps the first items (LiveView's rule): five is cut.
        assert '<li id="posts-2">two, edited</li><li id="posts-4">four</li></ul>' in html
        assert "three" not in html and "five" not in html and "never shown" not in html and "dropped" not in html


async def test_the_first_html_applies_a_negative_limit_from_the_end():
    def script(socket):
        socket.stream("posts", [Post(i, f"p{i}") for i in range(1, 5)])
        socket.stream_insert("posts", Post(0, "p0"), at=0, limit=-3)

    harness, html = await start(script)
    async with harness:
        assert '<ul id="posts" data-live-region="stream" data-live-stream="posts" hx-morph-skip-children="">' in html
        assert 'hx-morph-skip-children=""><li id="posts-2">p2</li><li id="posts-3">p3</li><li id="posts-4">p4</li></ul>' in html


async def test_later_inserts_are_sent_as_partials_not_kept():
    harness, _ = await start(None)
    async with harness:
        reader = harness.attach()
        await reader.next()  # the hello frame
        await harness.session.call(lambda socket: socket.stream_insert("posts", Post(1, "one"), at=0, limit=20))
        message = await reader.next()
        assert message["data"] == (
            '<hx-partial hx-target="#posts" hx-swap="liveStream at:0 limit:20"><li id="posts-1">one</li></hx-partial>'
        )
        assert harness.socket._stream_state()[1] == {"posts": []}


async def test_an_insert_into_a_stream_the_template_lacks_names_the_streams_it_has():
    harness, _ = await start(None)
    async with harness:
        with pytest.raises(LiveError, match=r"^Feed inserted into stream 'comments', but template 'page.html' has no "
                           r"\{% live_stream comments as item %\} container; streams on this page: \['posts'\]$"):
            await harness.session.call(lambda socket: socket.stream_insert("comments", Post(1, "c")))


# -- one set of stream cases: the first render and the testing DOM (the browser: tests/browser) -------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_stream_cases_in_the_first_render(case):
    """Ops made in mount show in the first HTML exactly as the client shows them later."""
    assert stream_cases.children(LiveDocument(stream_cases.first_render(case))) == case.expected_children()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_stream_cases_in_the_testing_dom(case):
    html, messages = stream_cases.initial_html_and_messages(case)
    document = LiveDocument(html)
    for message in messages:
        document.apply(message)
    assert stream_cases.children(document) == case.expected_children()


def test_the_stream_cases_cover_every_kind_of_operation():
    ops = [op for case in CASES for op in case.ops]
    inserts = [op for op in ops if isinstance(op, stream_cases.Insert)]
    assert {0, -1, 1} <= {op.at for op in inserts} and any(op.at >= 3 for op in inserts)
    assert {op.limit for op in inserts} >= {None, 0, 2, -2} and any(op.update_only for op in inserts)
    assert any(case.before for case in CASES) and any(case.after for case in CASES)
    assert any(isinstance(op, stream_cases.Delete) for op in ops) and any(isinstance(op, stream_cases.Reset) for op in ops)
    assert any(isinstance(op, stream_cases.Insert) and op.dom_id in case.items for case in CASES for op in case.ops)


@pytest.mark.parametrize("at", [-2, -10, 1.5, "0", True])
def test_an_insert_index_must_be_minus_one_zero_or_positive(socket, at):
    expected = r"^invalid at for stream 'posts': expected -1 \(append\), 0 \(prepend\) or a positive index\nGot: at="
    with pytest.raises(LiveError, match=expected + re.escape(repr(at)) + "$"):
        socket.stream_insert("posts", Post(1, "one"), at=at)


@pytest.mark.parametrize("limit", [1.5, "3", False])
def test_a_limit_must_be_an_int(socket, limit):
    expected = r"^invalid limit for stream 'posts': expected None, a positive int \(keep the first items\) or a negative one \(keep the last\)\nGot: limit="
    with pytest.raises(LiveError, match=expected + re.escape(repr(limit)) + "$"):
        socket.stream_insert("posts", Post(1, "one"), limit=limit)


# -- static children in a stream container --------------------------------------------------------------

STATICS_FEED = """<html>{% live_root %}
{% live_stream posts as post id="posts" tag="ul" %}<li id="posts-empty" class="only:block hidden">No {{ noun }} yet</li>
{% item %}<li id="{{ dom_id }}">{{ post.title }}</li>{% enditem %}<li id="posts-more">More</li>{% endlive_stream %}
{% endlive_root %}</html>"""


async def test_static_children_sit_around_the_items_in_the_first_render():
    def script(socket):
        socket.assign(noun="posts")
        socket.stream("posts", [Post(1, "one"), Post(2, "two")])

    harness = Harness(Feed(script), page_template(STATICS_FEED))
    async with harness:
        html = await harness.start()
        assert (
            '<ul id="posts" data-live-region="stream" data-live-stream="posts" hx-morph-skip-children="">'
            '<li id="posts-empty" class="only:block hidden">No posts yet</li>\n'
            '<!--live:items--><li id="posts-1">one</li><li id="posts-2">two</li><!--/live:items-->'
            '<li id="posts-more">More</li></ul>'
        ) in html


async def test_a_reset_swaps_in_the_static_children_around_no_items():
    harness = Harness(Feed(lambda socket: socket.assign(noun="posts")), page_template(STATICS_FEED))
    async with harness:
        await harness.start()
        reader = harness.attach()
        await reader.next()
        await harness.session.call(lambda socket: socket.assign(noun="news").stream("posts", [Post(3, "three")], reset=True))
        message = await reader.next_with("posts-3")
        assert message["data"].endswith(
            '<hx-partial hx-target="#posts" hx-swap="innerHTML"><li id="posts-empty" class="only:block hidden">No news yet</li>\n'
            '<!--live:items--><!--/live:items--><li id="posts-more">More</li></hx-partial>'
            '<hx-partial hx-target="#posts" hx-swap="liveStream at:-1"><li id="posts-3">three</li></hx-partial>'
        )


async def test_a_stream_without_static_children_has_no_markers_and_resets_to_nothing():
    harness, html = await start(lambda socket: socket.stream("posts", [Post(1, "one")]))
    async with harness:
        assert "<!--" not in html
        reader = harness.attach()
        await reader.next()
        await harness.session.call(lambda socket: socket.stream("posts", [], reset=True))
        assert (await reader.next())["data"] == '<hx-partial hx-target="#posts" hx-swap="innerHTML"></hx-partial>'


def test_a_stream_has_one_item_part():
    with pytest.raises(TemplateSyntaxError, match=r"^\{% live_stream posts %\} has two \{% item %\} parts: a stream has one item template$"):
        page_template(STATICS_FEED.replace("{% endlive_stream %}", '{% item %}<p id="{{ dom_id }}"></p>{% enditem %}{% endlive_stream %}'))


def test_an_item_part_must_be_closed():
    with pytest.raises(TemplateSyntaxError, match=r"'enditem'"):
        page_template(STATICS_FEED.replace("{% enditem %}", ""))


async def test_the_item_part_is_checked_for_its_dom_id_like_a_whole_body():
    harness = Harness(Feed(lambda socket: socket.stream_insert("posts", Post(1, "one"))), page_template(STATICS_FEED.replace('<li id="{{ dom_id }}">', "<li>")))
    async with harness:
        with pytest.raises(ConfigurationError, match=r"^stream 'posts' item rendered without its DOM id"):
            await harness.start()


# -- an item must carry its DOM id ----------------------------------------------------------------------

NO_ID_FEED = FEED.replace('<li id="{{ dom_id }}">', '<li class="post">')
MISSING_ID = (
    r"^stream 'posts' item rendered without its DOM id: the item template's top element must carry "
    r"id=\"\{\{ dom_id \}\}\", or the client cannot find the item again \(a later insert shows it twice, a delete misses it\)\n"
    r"Expected: a top element with id=\"posts-1\", e\.g\. \{% live_stream posts as post %\}<li id=\"\{\{ dom_id \}\}\">…</li>\{% endlive_stream %\}\n"
    r"Got: <li class=\"post\">one</li>$"
)


async def test_an_item_rendered_without_its_dom_id_fails_the_first_render_naming_the_fix():
    harness = Harness(Feed(lambda socket: socket.stream_insert("posts", Post(1, "one"))), page_template(NO_ID_FEED))
    async with harness:
        with pytest.raises(ConfigurationError, match=MISSING_ID):
            await harness.start()


async def test_an_item_rendered_without_its_dom_id_fails_a_later_insert_naming_the_fix():
    harness = Harness(Feed(), page_template(NO_ID_FEED))
    async with harness:
        await harness.start()
        with pytest.raises(ConfigurationError, match=MISSING_ID):
            await harness.session.call(lambda socket: socket.stream_insert("posts", Post(1, "one")))


@pytest.mark.parametrize(
    "item",
    [
        '<li id="{{ dom_id }}">{{ post.title }}</li>',
        '\n  <li class="post" data-n="1" id="{{ dom_id }}">{{ post.title }}</li>\n',
        "<li\n    id='{{ dom_id }}'>{{ post.title }}</li>",
        "<li id={{ dom_id }}>{{ post.title }}</li>",
        '<!-- one post --><li id="{{ dom_id }}" title="a > b">{{ post.title }}</li>',
    ],
)
async def test_the_dom_id_may_sit_anywhere_on_the_top_element(item):
    page = page_template(FEED.replace('<li id="{{ dom_id }}">{{ post.title }}</li>', item))
    harness = Harness(Feed(lambda socket: socket.stream_insert("posts", Post(1, "one"))), page)
    async with harness:
        assert "one" in await harness.start()
        await harness.session.call(lambda socket: socket.stream_insert("posts", Post(2, "two")))


@pytest.mark.parametrize(
    "item",
    [
        '<li><span id="{{ dom_id }}">{{ post.title }}</span></li>',  # on a child, not the top element
        '{{ post.title }} <li id="{{ dom_id }}"></li>',  # text first
        '<li data-id="{{ dom_id }}">{{ post.title }}</li>',
        '<li id="other-{{ dom_id }}">{{ post.title }}</li>',
    ],
)
async def test_a_dom_id_anywhere_but_on_the_top_element_is_refused(item):
    harness = Harness(Feed(), page_template(FEED.replace('<li id="{{ dom_id }}">{{ post.title }}</li>', item)))
    async with harness:
        await harness.start()
        with pytest.raises(ConfigurationError, match=r"^stream 'posts' item rendered without its DOM id"):
            await harness.session.call(lambda socket: socket.stream_insert("posts", Post(1, "one")))


def test_a_dom_id_that_needs_escaping_is_found_escaped():
    html = '<li id="a&amp;b&#39;c">x</li>'
    assert check_stream_item("posts", "post", "a&b'c", html) == html


# -- a remount's render -----------------------------------------------------------------------------------


async def remounted(script) -> Harness:
    """A session mounted as a remount mounts it: no first render, its stream attached at once."""
    harness = Harness(Feed(script), page_template(FEED))
    view = harness.session.view
    await harness.session.mount([], lambda socket: view.mount(socket), render=False)
    return harness


async def test_a_remounts_render_holds_the_fresh_items_and_lets_the_morph_replace_the_old_ones():
    harness = await remounted(lambda socket: socket.stream("posts", [Post(1, "one"), Post(2, "two")]).stream_delete("posts", Post(1, "")))
    async with harness:
        reader = FrameReader(harness.session.attach_remount())
        harness.readers.append(reader)
        message = await reader.next()
        assert message["event"] == "live:remount"
        assert '<ul id="posts" data-live-region="stream" data-live-stream="posts"><li id="posts-2">two</li></ul>' in message["data"]
        assert harness.socket._stream_state()[1] == {"posts": []}


async def test_a_later_resync_leaves_the_items_to_the_client():
    harness = await remounted(lambda socket: socket.stream("posts", [Post(1, "one")]))
    async with harness:
        harness.readers.append(FrameReader(harness.session.attach_remount()))
        resync = harness.session.patcher.resync(harness.socket)
        assert '<ul id="posts" data-live-region="stream" data-live-stream="posts" hx-morph-skip-children=""></ul>' in resync


async def test_stream_operations_before_a_remounts_render_wait_for_it():
    harness = await remounted(lambda socket: socket.stream("posts", [Post(1, "one")]))
    async with harness:
        # A message handled between the remount's mount and its stream: its frame is superseded
        # by the remount's render, which must still show what it streamed.
        await harness.session.call(lambda socket: socket.stream_insert("posts", Post(2, "two"), at=0))
        reader = FrameReader(harness.session.attach_remount())
        harness.readers.append(reader)
        message = await reader.next()
        assert '<li id="posts-2">two</li><li id="posts-1">one</li></ul>' in message["data"]


# -- memory -----------------------------------------------------------------------------------------


class Tracked:
    """A stream item that counts how many instances are alive."""

    alive = 0
    __slots__ = ("id", "title")

    def __init__(self, id: int) -> None:
        self.id = id
        self.title = f"Post number {id} " + "x" * 200
        Tracked.alive += 1

    def __del__(self) -> None:
        Tracked.alive -= 1


def insert_batch(start: int, size: int):
    def insert(socket: LiveSocket) -> None:
        socket.stream("posts", [Tracked(i) for i in range(start, start + size)])

    return insert


async def test_ten_thousand_items_do_not_grow_the_session_memory():
    batch, batches = 100, 100
    harness = Harness(Feed(), page_template(FEED), SessionConfig(replay_size=4))
    async with harness:
        await harness.start()
        session = harness.session
        tracemalloc.start()
        try:
            # Warm up caches (templates, the replay buffer at its full size) with the first batches.
            for n in range(5):
                await session.call(insert_batch(n * batch, batch))
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            for n in range(5, batches):
                await session.call(insert_batch(n * batch, batch))
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert session.last_frame_id == batches
        last = session.outbound.replay.newest.decode()
        assert last.count("<li id=") == batch and f'<li id="posts-{batch * batches - 1}">' in last
        assert Tracked.alive == 0, "stream items are still referenced after rendering"
        assert harness.socket._stream_state()[1] == {"posts": []}
        # 9,500 retained items would be over 2 MB; what may grow is bookkeeping only.
        assert after - before < 64 * 1024, f"session memory grew by {after - before} bytes over 9,500 items"
