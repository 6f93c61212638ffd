"""The wire's vocabulary: the client's constants block is held against ``wire.CLIENT_CONSTANTS``."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from fastapi_live import wire

CLIENT = Path(__file__).resolve().parent.parent / "static" / "fastapi-live.js"
_BLOCK = re.compile(r"^[ \t]*// ---- constants[^\n]*\n(?P<block>.*?)^[ \t]*// ----", re.S | re.M)
_CONST = re.compile(r"^[ \t]*const[ \t]+(?P<name>[A-Z][A-Z0-9_]*)[ \t]*=[ \t]*(?P<value>.*?);[ \t]*$", re.S | re.M)
_COMMENT = re.compile(r"(?:^|(?<=\s))//[^\n]*")
_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_DOM_LISTENER = re.compile(r'(?:add|remove)EventListener\(\s*"[a-z]+"')  # a DOM event's name ("error", "input"), not a wire name


def client_source() -> str:
    return CLIENT.read_text(encoding="utf-8")


def parse_literal(name: str, text: str) -> wire.ClientConstant:
    """A constant's value: a string literal, or an object literal of string values."""
    text = text.strip()
    if text.startswith("{"):
        as_json = re.sub(r",(\s*)}", r"\1}", re.sub(r"(?m)^(\s*)([A-Za-z_$][\w$]*)\s*:", r'\1"\2":', text))
        value = json.loads(as_json)
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return value
    elif text.startswith('"'):
        value = json.loads(text)
        if isinstance(value, str):
            return value
    raise AssertionError(
        f"the client's constants block may hold only literals\nExpected: a string or an object of strings for {name}\nGot: {text!r}"
    )


def parse_constants_block(source: str) -> tuple[dict[str, wire.ClientConstant], str]:
    """The constants block of ``fastapi-live.js`` by name, and the source after it."""
    match = _BLOCK.search(source)
    assert match is not None, "static/fastapi-live.js must open with a '// ---- constants' section, ended by the next '// ----' header"
    block = match.group("block")
    constants = {m.group("name"): parse_literal(m.group("name"), m.group("value")) for m in _CONST.finditer(block)}
    leftover = _COMMENT.sub("", _CONST.sub("", block)).strip()
    assert not leftover, f"the constants block holds only `const NAME = literal;` lines\nGot also: {leftover[:200]!r}"
    return constants, source[match.end("block") :]


def test_the_client_constants_block_matches_the_wire_module():
    constants, _ = parse_constants_block(client_source())
    expected = wire.CLIENT_CONSTANTS
    missing_in_client = sorted(set(expected) - set(constants))
    missing_in_wire = sorted(set(constants) - set(expected))
    different = {name: (constants[name], expected[name]) for name in set(constants) & set(expected) if constants[name] != expected[name]}
    assert not missing_in_client, f"static/fastapi-live.js lacks constants that fastapi_live/wire.py names: {missing_in_client}"
    assert not missing_in_wire, f"static/fastapi-live.js has constants that fastapi_live.wire.CLIENT_CONSTANTS lacks: {missing_in_wire}"
    assert not different, f"client and wire disagree (client value, wire value): {different}"


def test_the_client_body_names_wire_values_only_through_the_constants():
    constants, body = parse_constants_block(client_source())
    by_value: dict[str, str] = {}
    for name, value in constants.items():
        for text in value.values() if isinstance(value, dict) else [value]:
            by_value.setdefault(text, name)
    literals = [m.group(1) for m in _STRING.finditer(_DOM_LISTENER.sub("", _COMMENT.sub("", body)))]
    offenders = sorted({(text, by_value[text]) for text in literals if text in by_value})
    assert not offenders, f"string literals in static/fastapi-live.js that are wire names: use the constants instead: {offenders}"


def test_the_block_parser_sees_a_difference_in_either_direction():
    source = client_source()
    changed = source.replace('const CLASS_LOADING = "live-loading";', 'const CLASS_LOADING = "live-busy";\n    const EXTRA = "x";', 1)
    constants, _ = parse_constants_block(changed)
    assert constants["CLASS_LOADING"] == "live-busy" and constants["EXTRA"] == "x"
    with pytest.raises(AssertionError, match="may hold only literals"):
        parse_constants_block(source.replace('const ATTR_HOOK = "data-live-hook";', "const ATTR_HOOK = ATTR_TOKEN;", 1))


def test_every_binding_kind_has_a_dom_event_and_an_attribute():
    assert set(wire.DOM_EVENT_BINDINGS.values()) == set(wire.BINDING_KINDS)
    assert wire.CLIENT_CONSTANTS["BINDING_BY_DOM_EVENT"] == {
        "click": "data-live-click",
        "submit": "data-live-submit",
        "input": "data-live-change",
        "change": "data-live-change",
        "keydown": "data-live-keydown",
        "keyup": "data-live-keyup",
        "blur": "data-live-blur",
        "focus": "data-live-focus",
        "focusout": "data-live-blur",
        "focusin": "data-live-focus",
    }


def test_header_names_keep_the_case_the_client_sends():
    assert (wire.CLIENT_CONSTANTS["HEADER_TOKEN"], wire.CLIENT_CONSTANTS["HEADER_HX_REQUEST"]) == ("X-Live-Token", "HX-Request")


def test_the_testing_dom_names_wire_values_only_through_the_wire_module():
    import fastapi_live.testing._dom as dom

    names = {value: name for name, value in vars(wire).items() if name.isupper() and isinstance(value, str)}
    generic = {"value", "key"}  # HTML and DOM words the DOM uses as such (attribute names)
    tree = ast.parse(Path(dom.__file__).read_text(encoding="utf-8"))
    documented = (ast.Module, ast.FunctionDef, ast.ClassDef)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree) if isinstance(node, documented) and ast.get_docstring(node)}
    offenders = sorted(
        (node.lineno, node.value, names[node.value])
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names and node.value not in generic and id(node) not in docstrings
    )
    assert not offenders, f"string literals in fastapi_live/testing/_dom.py that are wire names: import them from fastapi_live.wire: {offenders}"
