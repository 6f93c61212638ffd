"""The render-to-patch step: text patches for a region whose change is one text node."""

from __future__ import annotations

import re

import pytest

from fastapi_live import EventError, LiveSocket, LiveView, event
from fastapi_live.patches import TEXT_PATCH_MAX, text_change, text_checksum
from fastapi_live.wire import REFRESH_EVENT
from tests.support.harness import Harness, page_template

CARD = '<h2>Metric 3</h2><p class="value">{value}</p><p class="note">{note}</p><ul class="tags"><li>ops</li></ul>'


def card(value: str = "0", note: str = "steady") -> str:
    return CARD.format(value=value, note=note)


def test_one_changed_text_node_is_a_text_patch_with_its_index_and_the_old_texts_checksum():
    assert text_change(card("0"), card("1")) == (1, "1", text_checksum(["Metric 3", "0", "steady", "ops"]))
    assert text_change(card(note="steady"), card(note="cloudy"))[:2] == (2, "cloudy")


def test_the_new_text_goes_as_the_html_the_template_made_and_the_checksum_is_of_the_dom_text():
    index, text, checksum = text_change(card(note="a &amp; b"), card(note="c &lt; d")) or (0, "", "")
    assert (index, text) == (2, "c &lt; d")
    assert checksum == text_checksum(["Metric 3", "0", "a & b", "ops"])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (card("0"), card("0")),  # nothing changed
        (card("0", "steady"), card("1", "cloudy")),  # two text nodes
        (card(), card().replace('class="note"', 'class="alert"')),  # an attribute
        (card(), card().replace("<li>ops</li>", "<li>ops</li><li>new</li>")),  # an element more
        (card(note="steady"), card(note="")),  # a text node goes
        ("<p></p>", "<p>now</p>"),  # a text node comes
        ("<table><tr><td>a</td></tr> </table>", "<table><tr><td>a</td></tr>x</table>"),  # white space on one side
        ("<p>a < b</p>", "<p>a < c</p>"),  # a "<" that opens no tag
        ("<textarea>a</textarea>", "<textarea>b</textarea>"),  # raw text elements
        ("<script>let a = 1</script>", "<script>let a = 2</script>"),
        ("<pre>\na</pre>", "<pre>\nb</pre>"),  # the parser drops the leading newline
        ('<div data-live-hook="Chart">1</div>', '<div data-live-hook="Chart">2</div>'),  # a hook may change its DOM
        ('<ul data-live-stream="posts">x</ul>', '<ul data-live-stream="posts">y</ul>'),  # stream items come beside the render
        ("<p>" + "a" * TEXT_PATCH_MAX + "</p>", "<p>" + "b" * TEXT_PATCH_MAX + "</p>"),  # too large to keep
    ],
)
def test_anything_but_one_plain_text_node_changed_goes_whole(old, new):
    assert text_change(old, new) is None


def test_quoted_attributes_may_hold_angle_brackets():
    assert text_change('<a title="x>y">1</a>', '<a title="x>y">2</a>') == (0, "2", text_checksum(["1"]))


def test_the_checksum_is_written_in_letters_so_htmx_reads_it_as_a_string():
    for texts in (["0"], ["Metric 3", "1"], ["é", "𝄞"], []):
        assert re.fullmatch(r"[a-z]{1,7}", text_checksum(texts))


PAGE = """<html>{% live_root %}
{% region "count" tag="p" %}Count: <b>{{ count }}</b>{% endregion %}
{% region "outer" %}Outer {{ outer }}{% region "inner" %}Inner {{ inner }}{% endregion %}{% endregion %}
{% endlive_root %}</html>"""


class Counter(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(count=0, outer=0, inner=0)

    @event("inc")
    async def inc(self, socket: LiveSocket, key: str = "count") -> None:
        socket.update(key, lambda n: n + 1)


def text_patch(html: str) -> re.Match[str] | None:
    return re.search(r'<hx-partial id="([^"]+)" hx-swap="liveText v:(\d+) b:(\d+) n:(\d+) h:([a-z]+)">([^<]*)</hx-partial>', html)


async def test_a_regions_first_change_is_a_text_patch_against_the_first_render_and_so_are_its_later_ones():
    async with Harness(Counter(), page_template(PAGE)) as harness:
        await harness.start()
        first, _ = await harness.session.handle_event("inc", {})
        patch = text_patch(first)  # the page keeps nothing: the count it was shown (0) renders what it shows
        assert patch is not None and patch.groups() == ("count", "1", "0", "1", text_checksum(["Count: ", "0"]), "1")
        second, _ = await harness.session.handle_event("inc", {})
        patch = text_patch(second)
        assert patch is not None and patch.groups() == ("count", "2", "1", "1", text_checksum(["Count: ", "1"]), "2")
        third, _ = await harness.session.handle_event("inc", {})
        assert (patch := text_patch(third)) is not None and patch.group(2, 3, 6) == ("3", "2", "3")


LIST_PAGE = """<html>{% live_root %}{% region "items" tag="p" %}Items: {{ items | join(", ") }}{% endregion %}{% endlive_root %}</html>"""


class Items(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(items=["a"])

    @event("add")
    async def add(self, socket: LiveSocket) -> None:
        socket.assigns["items"].append("b")  # changed in place: what the page was shown is not known
        socket.mark_changed("items")


async def test_a_first_change_goes_whole_when_what_the_page_was_shown_is_not_known():
    async with Harness(Items(), page_template(LIST_PAGE)) as harness:
        await harness.start()
        first, _ = await harness.session.handle_event("add", {})
        assert text_patch(first) is None and 'hx-target="#items" hx-swap="outerMorph"' in first and "Items: a, b" in first
        second, _ = await harness.session.handle_event("add", {})
        assert (patch := text_patch(second)) is not None and patch.group(6) == "Items: a, b, b"  # kept from the first


NOTE_PAGE = """<html>{% live_root %}
{% region "count" tag="p" %}{{ count }}{% endregion %}
{% region "note" tag="p" %}{{ note }} / {{ count2 }}{% endregion %}
{% endlive_root %}</html>"""


class Noted(LiveView):
    async def mount(self, socket: LiveSocket) -> None:
        socket.assign(count=0, note="quiet", count2=0)
        socket.attach_hook("note", "after_render", lambda s: s.assign(note="busy"))  # kept, not rendered

    @event("inc")
    async def inc(self, socket: LiveSocket, key: str = "count") -> None:
        socket.update(key, lambda n: n + 1)


async def test_a_first_change_is_patched_against_what_the_page_shows_not_what_an_after_render_hook_assigned():
    async with Harness(Noted(), page_template(NOTE_PAGE)) as harness:
        await harness.start()
        await harness.session.handle_event("inc", {})  # renders "count"; the hook assigns note="busy" unrendered
        reply, _ = await harness.session.handle_event("inc", {"key": "count2"})
        patch = text_patch(reply)
        assert patch is not None and patch.groups() == ("note", "2", "0", "0", text_checksum(["quiet / 0"]), "busy / 1")


async def test_a_region_rendered_with_its_outer_one_goes_whole_next():
    async with Harness(Counter(), page_template(PAGE)) as harness:
        await harness.start()
        await harness.session.handle_event("inc", {"key": "inner"})  # the inner region: kept
        await harness.session.handle_event("inc", {"key": "outer"})  # the outer one renders the inner one afresh
        reply, _ = await harness.session.handle_event("inc", {"key": "inner"})
        assert 'hx-target="#inner" hx-swap="outerMorph"' in reply


async def test_a_refresh_sends_the_region_whole_and_after_a_text_mismatch_always_whole():
    async with Harness(Counter(), page_template(PAGE)) as harness:
        await harness.start()
        session = harness.session
        await session.handle_event("inc", {})
        crossed, _ = await session.handle_event(REFRESH_EVENT, {"id": "count", "why": "version"})
        assert 'hx-target="#count" hx-swap="outerMorph"' in crossed and "<b>1</b>" in crossed
        after_crossing, _ = await session.handle_event("inc", {})
        assert text_patch(after_crossing) is not None  # frames that crossed: text patches again
        changed, _ = await session.handle_event(REFRESH_EVENT, {"id": "count", "why": "text"})
        assert 'hx-target="#count"' in changed and "<b>2</b>" in changed
        for _ in range(2):
            reply, _ = await session.handle_event("inc", {})
            assert text_patch(reply) is None and 'hx-target="#count" hx-swap="outerMorph"' in reply


async def test_a_refresh_of_no_region_of_the_page_is_refused():
    async with Harness(Counter(), page_template(PAGE)) as harness:
        await harness.start()
        expected = r"invalid params for live:refresh: expected \{'id': <a region of 'page.html'>, 'why': 'text' or 'version'\}, got \{'id': 'nope'\}"
        with pytest.raises(EventError, match=expected):
            await harness.session.handle_event(REFRESH_EVENT, {"id": "nope"})


async def test_after_a_resync_a_change_is_patched_against_the_resync():
    async with Harness(Counter(), page_template(PAGE)) as harness:
        await harness.start()
        await harness.session.handle_event("inc", {"key": "outer"})
        await harness.session.handle_event("inc", {})
        harness.session.patcher.resync(harness.session.socket)  # the page gets every region afresh, at version 2
        reply, _ = await harness.session.handle_event("inc", {})
        patch = text_patch(reply)
        assert patch is not None and patch.groups() == ("count", "3", "2", "1", text_checksum(["Count: ", "1"]), "2")
