"""Client-side commands (live.js) through fastapi_live.testing: DOM commands change the test DOM
and stick across patches; a push sends its event; the server's exec_js runs too."""

from __future__ import annotations

import pytest

from fastapi_live.testing import element, live, render_click, render_keydown
from tests.support.views.commands import make_app


@pytest.fixture
def app():
    return make_app()


def shown(view, selector: str) -> bool:
    return "display: none" not in element(view, selector).attributes.get("style", "")


async def test_a_toggle_changes_the_dom_and_sends_nothing(app):
    view, _ = await live(app, "/menu")
    await render_click(view, "#menu-button")
    assert shown(view, "#menu")
    assert element(view, "#menu-button").attributes["aria-expanded"] == "true"
    await render_click(view, "#menu-button")
    assert not shown(view, "#menu")
    assert element(view, "#menu-button").attributes["aria-expanded"] == "false"
    assert view.assigns.ticks == 0


async def test_commands_stick_across_a_patch(app):
    view, _ = await live(app, "/menu")
    await render_click(view, "#menu-button")
    await render_click(view, "#highlight")
    await render_click(view, "#tick")
    assert element(view, "#card").text() == "Card 1"
    assert element(view, "#card").attributes["class"] == "highlight"
    assert shown(view, "#menu") and element(view, "#menu-button").attributes["aria-expanded"] == "true"


async def test_a_push_sends_its_event_with_its_values(app):
    view, _ = await live(app, "/menu")
    await render_click(view, "#push")
    assert element(view, "#ticks").text() == "Ticks: 2"
    assert "pushed" in element(view, "#push").attributes["class"]


async def test_a_key_filtered_chain(app):
    view, _ = await live(app, "/menu")
    await render_click(view, "#menu-button")
    await render_keydown(view, "#menu-search", {"key": "a"})
    assert shown(view, "#menu")
    await render_keydown(view, "#menu-search", {"key": "Escape"})
    assert not shown(view, "#menu")
    assert element(view, "#menu-button").attributes["aria-expanded"] == "false"


async def test_exec_js_from_the_server(app):
    view, _ = await live(app, "/menu")
    await render_click(view, "#reveal")
    assert shown(view, "#secret") and "revealed" in element(view, "#secret").attributes["class"]
