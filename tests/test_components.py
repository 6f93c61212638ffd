"""Unit tests of components.py: running mount/update inline, resolving a tag's class, the
component's marker on its top element, what a component socket refuses, and target=."""

from __future__ import annotations

import asyncio

import pytest
from jinja2 import DictLoader, Environment

from fastapi_live import ComponentSocket, ConfigurationError, LiveComponent, LiveError, LiveSocket
from fastapi_live.components import ComponentRef, ComponentRegistry, resolve_component, run_inline
from fastapi_live.helpers import TemplateHelpers, target_selector
from fastapi_live.rendering import LiveExtension


class Plain(LiveComponent):
    template = "plain.html"


class Twin(LiveComponent):
    template = "plain.html"


def _other_twin() -> type[LiveComponent]:
    class Twin(LiveComponent):  # the same name, another class
        template = "plain.html"

    return Twin


def test_run_inline_returns_the_value_of_a_coroutine_that_does_not_wait():
    async def quick() -> int:
        return 7

    assert run_inline(quick(), "X.mount()") == 7
    assert run_inline(5, "X.mount()") == 5


def test_run_inline_refuses_a_coroutine_that_waits_and_shows_the_fix():
    class Suspend:
        def __await__(self):  # what awaiting I/O does: the coroutine suspends
            yield

    async def slow() -> None:
        await Suspend()

    with pytest.raises(ConfigurationError, match=r"(?s)X.update\(\) waited on something.*Instead of:.*assign_async"):
        run_inline(slow(), "X.update()")


def test_resolve_component_by_name_by_class_and_the_errors():
    assert resolve_component(None, "Plain") is Plain
    assert resolve_component(Plain, "Whatever") is Plain
    with pytest.raises(ConfigurationError, match=r"no LiveComponent subclass is named 'Missing'"):
        resolve_component(None, "Missing")
    other = _other_twin()
    with pytest.raises(ConfigurationError, match=r"(?s)several LiveComponent subclasses are named 'Twin'.*templates.env.globals\[\"Twin\"\] = Twin"):
        resolve_component(None, "Twin")
    assert resolve_component(other, "Twin") is other


def registry(source: str) -> ComponentRegistry:
    environment = Environment(loader=DictLoader({"plain.html": source}), extensions=[LiveExtension], autoescape=True)
    return ComponentRegistry(environment, TemplateHelpers("/_live/event", "/_live/static"))


def test_the_top_element_gets_the_marker_and_an_id_when_it_has_none():
    components = registry("<div class='x'>{{ label }}</div>")
    components.begin(4)
    html = components.render_tag(Plain, "Plain", {"id": 9, "label": "hi"}, "t.html, line 1", None, None)
    assert html == '<div data-live-component="c1" data-live-v="4" id="plain-9" class=\'x\'>hi</div>'
    entry = components.get(Plain, 9)
    assert entry is not None and entry.dom_id == "plain-9"
    assert entry.socket.assigns.label == "hi" and entry.socket.assigns.id == 9


def test_its_own_id_is_kept_and_a_render_without_an_element_is_refused():
    components = registry('<li id="row-{{ id }}">x</li>')
    components.begin(0)
    components.render_tag(Plain, "Plain", {"id": 3}, "t.html, line 1", None, None)
    assert components.get(Plain, 3).dom_id == "row-3"  # type: ignore[union-attr]
    empty = registry("just text")
    empty.begin(0)
    with pytest.raises(ConfigurationError, match=r"rendered no top element"):
        empty.render_tag(Plain, "Plain", {"id": 1}, "t.html, line 1", None, None)


def test_an_unchanged_component_reuses_its_html():
    components = registry("<p>{{ n }}</p>")
    components.begin(0)
    first = components.render_tag(Plain, "Plain", {"id": 1, "n": 1}, "t.html, line 1", None, None)
    components.begin(1)
    assert components.render_tag(Plain, "Plain", {"id": 1, "n": 1}, "t.html, line 1", None, None) is not None
    entry = components.get(Plain, 1)
    assert entry is not None and entry.html == first  # the version of its last render, not re-rendered


def test_a_component_socket_refuses_streams_and_pubsub():
    socket = ComponentSocket("Plain", "c1", LiveSocket(runtime=object()))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"component Plain called stream_insert\('rows'\): streams belong to the page"):
        socket.stream_insert("rows", {"id": 1})
    with pytest.raises(LiveError, match=r"component Plain cannot subscribe to 'news': a component has no mailbox of its own"):
        asyncio.run(socket.subscribe("news"))


def test_target_selectors():
    assert target_selector(ComponentRef("c4"), "click") == '[data-live-component="c4"]'
    assert target_selector("#todo-3", "click") == "#todo-3"
    with pytest.raises(ConfigurationError, match=r"live.click\(target=...\) names where the event goes"):
        target_selector(3, "click")
    helpers = TemplateHelpers("/_live/event", "/_live/static")
    assert 'data-live-target="#live-root"' in helpers.click("save", target="#live-root")
    assert "target" not in helpers.click("save", target="#x").split("hx-vals")[-1] or "hx-vals" not in helpers.click("save", target="#x")


def test_the_page_analysis_knows_whether_it_renders_components():
    from fastapi_live.rendering import PageTemplate

    sources = {
        "with.html": "{% live_root %}<ul>{% include 'row.html' %}</ul>{% endlive_root %}",
        "row.html": "{% live_component Plain id=1 %}",
        "without.html": "{% live_root %}<p>{{ n }}</p>{% endlive_root %}",
        "plain.html": "<p>x</p>",
    }
    environment = Environment(loader=DictLoader(sources), extensions=[LiveExtension], autoescape=True)
    assert PageTemplate(environment, "with.html").uses_components is True  # through a literal include
    assert PageTemplate(environment, "without.html").uses_components is False


def test_a_forms_target():
    helpers = TemplateHelpers("/_live/event", "/_live/static")
    bound = helpers.form(change="validate", submit="save", target=ComponentRef("c2"))
    assert 'data-live-change="validate"' in bound and 'data-live-target="[data-live-component=&#34;c2&#34;]"' in bound
