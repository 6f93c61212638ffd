"""``JS``: chains of client-side commands, their wire form, and the bindings and socket that carry them."""

from __future__ import annotations

import json

import pytest
from markupsafe import Markup

from fastapi_live import JS, ConfigurationError, LiveError, LiveSocket
from fastapi_live.helpers import TemplateHelpers


def commands(js: JS) -> list:
    return json.loads(js.to_json())


def test_a_chain_is_immutable_and_renders_as_the_json_the_client_reads():
    menu = JS().toggle("#menu")
    chained = menu.toggle_attribute("aria-expanded", "true", "false", to="#menu-button")
    assert commands(menu) == [["toggle", {"to": "#menu"}]]
    assert commands(chained) == [
        ["toggle", {"to": "#menu"}],
        ["toggle_attribute", {"to": "#menu-button", "name": "aria-expanded", "value": "true", "alt": "false"}],
    ]
    assert chained.__html__() == Markup(
        "[[&#34;toggle&#34;,{&#34;to&#34;:&#34;#menu&#34;}],[&#34;toggle_attribute&#34;,{&#34;to&#34;:&#34;#menu-button&#34;,"
        "&#34;name&#34;:&#34;aria-expanded&#34;,&#34;value&#34;:&#34;true&#34;,&#34;alt&#34;:&#34;false&#34;}]]"
    )
    assert JS().show("#a") == JS().show("#a") and hash(JS().show("#a")) == hash(JS().show("#a"))
    assert not JS() and JS().hide()


def test_every_command_and_its_arguments():
    js = (
        JS()
        .show("#a", transition=("ease-out duration-200", "opacity-0", "opacity-100"), time=300, display="flex")
        .hide(transition="fade-out")
        .add_class("open active", to="#b")
        .remove_class(["closed"], to="closest .card")
        .toggle_class("on")
        .set_attribute("aria-busy", "true")
        .remove_attribute("disabled", to="find button")
        .toggle_attribute("open")
        .transition("shake", to="#c", time=500)
        .focus("#d")
        .focus_first("#dialog")
        .dispatch("copied", detail={"id": 1}, bubbles=False)
        .push("select", id=3, tag="x", skip=None)
    )
    assert commands(js) == [
        ["show", {"to": "#a", "transition": ["ease-out duration-200", "opacity-0", "opacity-100"], "time": 300, "display": "flex"}],
        ["hide", {"transition": "fade-out"}],
        ["add_class", {"to": "#b", "names": ["open", "active"]}],
        ["remove_class", {"to": "closest .card", "names": ["closed"]}],
        ["toggle_class", {"names": ["on"]}],
        ["set_attribute", {"name": "aria-busy", "value": "true"}],
        ["remove_attribute", {"to": "find button", "name": "disabled"}],
        ["toggle_attribute", {"name": "open", "value": ""}],
        ["transition", {"to": "#c", "transition": "shake", "time": 500}],
        ["focus", {"to": "#d"}],
        ["focus_first", {"to": "#dialog"}],
        ["dispatch", {"event": "copied", "detail": {"id": 1}, "bubbles": False}],
        ["push", {"event": "select", "value": {"id": 3, "tag": "x"}}],
    ]


def test_repr_reads_as_the_code_that_built_it():
    assert repr(JS().show("#menu", transition="fade-in").add_class("open", to="#b").push("inc", by=2)) == (
        "JS().show('#menu', transition='fade-in').add_class('open', to='#b').push('inc', by=2)"
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: JS().show(3), r"^JS\.show\(\): to is a CSS selector\nExpected: a selector such as '#menu'"),
        (lambda: JS().hide("#a", time=-1), r"^JS\.hide\(\): time is in milliseconds\nExpected: an int >= 0\nGot: -1$"),
        (lambda: JS().add_class(""), r"^JS\.add_class\(\): the classes are names"),
        (lambda: JS().set_attribute("aria expanded", "x"), r"^JS\.set_attribute\(\): name must be a non-empty name"),
        (lambda: JS().set_attribute("title", 3), r"^JS\.set_attribute\(\): value is an attribute's value\nExpected: a str\nGot: 3$"),
        (lambda: JS().show(transition=("a", "b")), r"^JS\.show\(\): a transition is classes, or three sets of them"),
        (lambda: JS().transition(None), r"^JS\.transition\(\) needs the classes to apply"),
        (lambda: JS().dispatch("x", detail=object()), r"^JS\.dispatch\(\): detail is sent to the browser as JSON"),
        (lambda: JS().push("save", tags=["a"]), r"^JS\.push\('save'\): the value of 'tags' is sent as a form param, so it must be a plain value"),
        (lambda: JS().push(""), r"^JS\.push\(\): event must be a non-empty name"),
    ],
)
def test_malformed_commands_are_refused_at_once(build, message):
    with pytest.raises(ConfigurationError, match=message):
        build()


@pytest.fixture
def helpers() -> TemplateHelpers:
    return TemplateHelpers("/_live/event", "/_live/static")


def test_a_chain_binding_runs_in_the_browser_with_no_request(helpers):
    html = helpers.click(helpers.js.toggle("#menu"))
    assert html == Markup('data-live-click="[[&#34;toggle&#34;,{&#34;to&#34;:&#34;#menu&#34;}]]"')
    assert "hx-post" not in html
    assert 'data-live-key="Escape"' in helpers.keydown(helpers.js.hide("#dialog"), key="Escape")
    assert 'hx-vals="{&#34;id&#34;: 3}"' in helpers.click(helpers.js.push("select"), id=3)
    assert helpers.js == JS()


def test_a_form_may_run_a_chain_on_submit_and_send_its_changes(helpers):
    html = helpers.form(change="validate", submit=helpers.js.push("save").hide("#form-help"))
    assert 'data-live-change="validate"' in html and 'data-live-submit="[[&#34;push&#34;' in html
    assert 'hx-trigger="input"' in html
    assert "hx-post" not in helpers.form(submit=helpers.js.hide("#x"))


def test_chain_bindings_refuse_what_only_server_events_take(helpers):
    with pytest.raises(ConfigurationError, match=r"^live\.change\(\): debounce and throttle apply to events sent to the server"):
        helpers.change(helpers.js.hide("#x"), debounce=100)
    with pytest.raises(ConfigurationError, match=r"^live\.click\(\) got an empty live\.js chain"):
        helpers.click(helpers.js)


def test_the_server_runs_commands_with_exec_js():
    socket = LiveSocket(view_name="Page")
    socket.exec_js(JS().show("#dialog").focus_first("#dialog"))
    _, ops = socket._take_changes()
    assert [(op.kind, op.payload) for op in ops] == [("js", [["show", {"to": "#dialog"}], ["focus_first", {"to": "#dialog"}]])]


@pytest.mark.parametrize(
    ("js", "message"),
    [
        (JS().hide(), r"^socket\.exec_js\(\): JS\.hide\(\) needs a selector when the server runs it"),
        (JS().push("save"), r"^socket\.exec_js\(\): a push sends an event to the server, which is where this runs"),
    ],
)
def test_exec_js_needs_selectors_and_no_push(js, message):
    with pytest.raises(ConfigurationError, match=message):
        LiveSocket(view_name="Page").exec_js(js)


def test_exec_js_takes_a_chain():
    with pytest.raises(LiveError, match=r"^socket\.exec_js\(\) runs client-side commands"):
        LiveSocket(view_name="Page").exec_js("show #x")  # type: ignore[arg-type]
