"""LiveComponents through the real endpoints: lifecycle, targeting, per-component change tracking,
send_update, components in streams, async work in components, and the clear errors."""

from __future__ import annotations

import logging

import pytest

from fastapi_live import CapturedSocketError, ConfigurationError
from fastapi_live.testing import (
    EventFailedError,
    LiveTestError,
    assert_reply,
    component_assigns,
    element,
    has_element,
    live,
    render_async,
    render_click,
    render_hook,
    send_info,
    send_update,
)
from tests.support.live_client import live_page, partials
from tests.support.views import components as views
from tests.support.views.components import Card, Item, Row, make_app


@pytest.fixture
def app():
    return make_app()[0]


@pytest.fixture
def served(serve):
    return serve(make_app()[0])


# -- lifecycle -----------------------------------------------------------------------------------


async def test_mount_runs_once_then_update_with_the_parents_assigns(app):
    views.LOG.clear()
    view, _ = await live(app, "/cards?n=2")
    assert views.LOG == ["mount", "update 1", "mount", "update 2"]
    assert component_assigns(view, Card, 1).item == Item(1, "Card 1")
    assert component_assigns(view, Card, 1).id == 1
    views.LOG.clear()
    await render_click(view, "rename", {"id": 2, "title": "Renamed"})
    # The region re-rendered both cards, but only the card whose passed assigns changed was updated.
    assert views.LOG == ["update 2"]
    assert element(view, "#card-2 h3").text() == "Renamed"
    await view.close()


async def test_a_components_state_survives_its_parents_re_render(app):
    view, _ = await live(app, "/cards")
    await render_click(element(view, "#card-1 button.toggle"))
    await render_click(view, "rename", {"id": 1, "title": "Still open"})
    assert component_assigns(view, Card, 1).open is True
    assert "open" in element(view, "#card-1").attributes["class"]
    assert element(view, "#card-1 h3").text() == "Still open"
    await view.close()


async def test_a_component_the_parent_stops_rendering_is_dropped(app):
    view, _ = await live(app, "/cards")
    await render_click(view, "remove", {"id": 2})
    assert not has_element(view, "#card-2")
    with pytest.raises(Exception, match=r"no Card with id=2\nExpected one of: 1, 3"):
        component_assigns(view, Card, 2)
    await view.close()


# -- targeting and change tracking -------------------------------------------------------------------


async def test_an_event_inside_a_component_reaches_it_and_only_its_fragment_is_sent(served):
    async with live_page(served, "/cards?n=50") as page:
        cid = page.html.split('id="card-7"')[0].rsplit('data-live-component="', 1)[1].split('"')[0]
        response = await page.event("toggle", _live_component=cid)
        assert response.status_code == 200
        fragments = partials(response.text)
        assert [target for target, _, _ in fragments] == ["card-7"]
        assert "Close" in fragments[0][2] and "1 clicks" in fragments[0][2]


async def test_default_and_explicit_targets(app):
    view, _ = await live(app, "/cards")
    await render_click(element(view, "#card-3 button.mine"))  # target=myself
    assert component_assigns(view, Card, 3).clicks == 1
    await render_click(element(view, "#card-3 button.page"))  # target="#live-root": the page's view
    assert view.assigns.clicks == 1
    assert element(view, "#page-clicks").text() == "1 page clicks"
    assert component_assigns(view, Card, 3).clicks == 1
    await view.close()


async def test_a_target_that_matches_nothing_is_a_clear_toolkit_error(app):
    view, _ = await live(app, "/cards")
    with pytest.raises(LiveTestError, match=r"target='#nowhere' matches no element on the page, so the browser sends nothing \(L013\)"):
        await render_click(element(view, "#card-1 button.lost"))
    assert component_assigns(view, Card, 1).clicks == 0
    await view.close()


async def test_an_event_for_a_component_that_is_gone_is_a_clear_404(served):
    async with live_page(served, "/cards") as page:
        response = await page.event("toggle", _live_component="c999")
        assert response.status_code == 404
        assert "component 'c999', which is not on this page" in response.text


async def test_a_component_handler_that_raises_rolls_back_and_the_page_lives(app, caplog):
    view, _ = await live(app, "/cards")
    with caplog.at_level(logging.ERROR, "fastapi_live"), pytest.raises(EventFailedError):
        await render_click(element(view, "#card-1 button.boom"))
    assert component_assigns(view, Card, 1).open is False
    await render_click(element(view, "#card-1 button.toggle"))
    assert component_assigns(view, Card, 1).open is True
    await view.close()


async def test_a_js_hook_inside_a_component_pushes_to_it(app):
    view, _ = await live(app, "/cards")
    await render_hook(element(view, "#card-2"), "hooked", {"width": 640})
    assert_reply(view, {"seen": 640})
    assert element(view, "#card-2 .note").text() == "width 640"
    await view.close()


# -- send_update ------------------------------------------------------------------------------------


async def test_send_update_from_the_page_a_component_handle_info_and_the_toolkit(app):
    view, _ = await live(app, "/cards")
    await render_click(view, "poke", {"id": 2})
    assert element(view, "#card-2 .note").text() == "poked by the page"
    await render_click(element(view, "#card-1 button.toggle"))
    await send_info(view, ("note", 3, "from handle_info"))
    assert element(view, "#card-3 .note").text() == "from handle_info"
    await send_update(view, Card, 1, note="from the test")
    assert component_assigns(view, Card, 1).note == "from the test"
    assert component_assigns(view, Card, 1).open is True  # its own state stays
    assert element(view, "#card-1 .note").text() == "from the test"
    await view.close()


async def test_send_update_from_a_component_to_another(served):
    async with live_page(served, "/cards") as page:
        cid = page.html.split('id="card-1"')[0].rsplit('data-live-component="', 1)[1].split('"')[0]
        response = await page.event("poke-sibling", _live_component=cid, id=3)
        fragments = partials(response.text)
        assert [target for target, _, _ in fragments] == ["card-3"]
        assert "poked by 1" in fragments[0][2]


async def test_send_update_to_a_component_not_on_the_page_warns_and_drops(app, caplog):
    view, _ = await live(app, "/cards")
    with caplog.at_level(logging.WARNING, "fastapi_live"):
        await render_click(view, "poke", {"id": 99})
    assert "send_update(Card, id=99): no such component" in caplog.text
    await view.close()


def test_send_update_needs_a_component_class():
    from fastapi_live import LiveSocket

    with pytest.raises(Exception, match=r"send_update\(\) needs a LiveComponent class"):
        LiveSocket().send_update(object, id=1)


# -- async in components ----------------------------------------------------------------------------


async def test_assign_async_in_a_component_fills_its_own_assigns(app):
    view, _ = await live(app, "/cards")
    await render_click(element(view, "#card-2 button.load"))
    await render_async(view)
    assert component_assigns(view, Card, 2).total.result == 42
    assert element(view, "#card-2 .total").text() == "42"
    assert "total" not in view.assigns
    await view.close()


async def test_start_async_in_a_component_reaches_its_handle_async(app):
    view, _ = await live(app, "/cards")
    await render_click(element(view, "#card-1 button.start"))
    await render_async(view)
    assert element(view, "#card-1 .note").text() == "double 10"
    await render_click(element(view, "#card-1 button.start-fail"))
    await render_async(view)
    assert element(view, "#card-1 .note").text() == "failed: no luck with 5"
    await view.close()


async def test_the_critical_rule_holds_in_components(app, caplog):
    view, _ = await live(app, "/cards")
    with caplog.at_level(logging.WARNING, "fastapi_live"), pytest.raises(EventFailedError) as failed:
        await render_click(element(view, "#card-1 button.capture"))
    assert isinstance(failed.value.__cause__, CapturedSocketError)
    assert "start_async() was given" in str(failed.value.__cause__) and "Instead of:" in str(failed.value.__cause__)
    await view.close()


# -- streams ----------------------------------------------------------------------------------------


async def test_components_in_a_stream_keep_state_until_their_item_is_deleted(app):
    view, html = await live(app, "/feed")
    assert 'id="row-2"' in html
    await render_click(element(view, "#row-2 button", text="Edit"))
    assert has_element(view, "#row-2 input")
    assert component_assigns(view, Row, 2).editing is True
    # The stream keeps no items: a re-insert updates the component, whose own state stays.
    await render_click(view, "insert", {"id": 2, "title": "Second"})
    assert component_assigns(view, Row, 2).item.title == "Second"
    assert component_assigns(view, Row, 2).editing is True
    await render_click(view, "delete", {"id": 2})
    assert not has_element(view, "#row-2")
    with pytest.raises(Exception, match="no Row with id=2"):
        component_assigns(view, Row, 2)
    await render_click(view, "insert", {"id": 2, "title": "Back"})
    assert component_assigns(view, Row, 2).editing is False  # a fresh component: mounted again
    await view.close()


# -- errors -----------------------------------------------------------------------------------------


async def test_a_duplicate_id_names_both_places(app):
    with pytest.raises(Exception) as raised:
        await live(app, "/twice")
    text = str(raised.value) + repr(getattr(raised.value, "__cause__", ""))
    assert "Row id=1 is rendered twice on one page: at component_twice.html, line 3 and at component_twice.html, line 4" in text


async def test_a_component_mount_that_waits_is_refused_with_the_fix(app):
    with pytest.raises(Exception) as raised:
        await live(app, "/waits")
    text = str(raised.value) + repr(getattr(raised.value, "__cause__", ""))
    assert "Waits.mount() waited on something" in text
    assert "assign_async" in text


def test_an_id_is_required():
    from fastapi_live.components import ComponentRegistry

    registry = ComponentRegistry(None, None)  # type: ignore[arg-type]
    registry.begin(0)
    with pytest.raises(ConfigurationError, match=r"\{% live_component Card %\} at x.html, line 1 needs an id"):
        registry.render_tag(Card, "Card", {"item": 1}, "x.html, line 1", None, None)


async def test_unknown_component_event_lists_its_events(app):
    view, _ = await live(app, "/cards")
    with pytest.raises(EventFailedError, match="unknown event 'nope' for component Card"):
        await render_click(element(view, "#card-1 button.nope"))
    await view.close()


def test_the_sync_toolkit_reads_component_assigns_and_sends_updates():
    from fastapi_live.testing import sync

    with sync.SyncLiveTestClient(make_app()[0]) as client:
        view, _ = sync.live(client, "/cards")
        sync.render_click(sync.element(view, "#card-2 button.toggle"))
        assert sync.component_assigns(view, Card, 2).open is True
        html = sync.send_update(view, Card, 2, note="from a sync test")
        assert "from a sync test" in html
        assert sync.component_assigns(view, Card, 2).open is True
        view.close()


async def test_components_inside_components_keep_state_and_go_with_their_parent():
    from tests.support.views.components import Leaf, make_nested_app

    view, _ = await live(make_nested_app(), "/panels")
    await render_click(element(view, "#leaf-a-1 button"))  # the leaf's own event, not the panel's
    assert component_assigns(view, Leaf, "a-1").lit is True
    await render_click(element(view, "#panel-a button.more"))  # the panel re-renders: its leaves stay
    assert component_assigns(view, Leaf, "a-1").lit is True
    assert has_element(view, "#leaf-a-2") and "lit" in element(view, "#leaf-a-1").attributes["class"]
    await render_click(element(view, "#panel-a button.fewer"))
    await render_click(element(view, "#panel-a button.fewer"))
    assert not has_element(view, "#leaf-a-1")
    with pytest.raises(LiveTestError, match=r"no Leaf with id='a-1'\nExpected one of: 'a-0'"):
        component_assigns(view, Leaf, "a-1")
    await view.close()
