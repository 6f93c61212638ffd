"""What a browser sends for an event: the bound element's form values and ``hx-vals``."""

# Follows htmx 4's request building (collectFormData: the element's form or its named
# descendants, the submitter, hx-include, then hx-vals) and the HTML rules for which
# controls a form submits (disabled, unchecked, selected options).

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from markupsafe import escape

from ..wire import ATTR_DISABLE_WITH, ATTR_TOUCHED, PARAM_UNUSED_PREFIX
from ._dom import LiveDocument, parse_attribute_object
from ._errors import LiveTestError

if TYPE_CHECKING:
    from selectolax.lexbor import LexborNode

Pairs = list[tuple[str, str]]

_LISTED = "button, fieldset, input, object, output, select, textarea"
_FORM_ASSOCIATED = frozenset({"button", "fieldset", "input", "object", "output", "select", "textarea", "img"})
_DISABLEABLE = frozenset({"button", "input", "select", "textarea", "optgroup", "option", "fieldset"})
_HAS_VALUE = frozenset({"input", "select", "textarea", "button", "option", "li", "meter", "progress", "output", "data", "param"})
_NOT_SUBMITTED_INPUTS = frozenset({"submit", "button", "reset", "image", "file"})
_KEY_FILTER = re.compile(r"""^\s*key\s*===?\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*$""")
_TRIGGER = re.compile(r"^\s*([^\s\[]+)(?:\[([^\]]*)\])?")


def js_string(value: Any) -> str:
    """``String(value)`` in JS: what ``FormData.set`` stores for a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ",".join("" if item is None else js_string(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)


def set_pair(pairs: Pairs, name: str, value: str) -> None:
    """``FormData.set``: the first entry called ``name`` takes ``value``, later ones go."""
    out: Pairs = []
    placed = False
    for key, current in pairs:
        if key != name:
            out.append((key, current))
        elif not placed:
            out.append((key, value))
            placed = True
    if not placed:
        out.append((name, value))
    pairs[:] = out


def element_type(node: LexborNode) -> str:
    """The DOM ``type`` property of a control."""
    tag = node.tag or ""
    if tag == "input":
        return (node.attrs.get("type") or "text").strip().lower() or "text"
    if tag == "button":
        kind = (node.attrs.get("type") or "submit").strip().lower()
        return kind if kind in ("submit", "reset", "button") else "submit"
    if tag == "select":
        return "select-multiple" if "multiple" in node.attrs else "select-one"
    if tag == "textarea":
        return "textarea"
    return ""


def is_disabled(node: LexborNode) -> bool:
    """The ``:disabled`` state: the element's own attribute or a disabled fieldset around it."""
    if node.tag in _DISABLEABLE and "disabled" in node.attrs:
        return True
    child = node
    parent = node.parent
    while parent is not None and parent.is_element_node:
        if parent.tag == "fieldset" and "disabled" in parent.attrs:
            legend = next((c for c in parent.iter() if c.is_element_node), None)
            if not (legend is not None and legend.tag == "legend" and _contains(legend, child)):
                return True
        if parent.tag == "optgroup" and node.tag == "option" and "disabled" in parent.attrs:
            return True
        child = parent
        parent = parent.parent
    return False


def _contains(ancestor: LexborNode, node: LexborNode) -> bool:
    current: LexborNode | None = node
    while current is not None:
        if current.mem_id == ancestor.mem_id:
            return True
        current = current.parent
    return False


def option_value(option: LexborNode) -> str:
    value = option.attrs.get("value")
    if value is not None:
        return value
    return " ".join(option.text(deep=True).split())


def selected_options(select: LexborNode) -> list[LexborNode]:
    options = [o for o in select.css("option")]
    chosen = [o for o in options if "selected" in o.attrs]
    if "multiple" in select.attrs:
        return chosen
    if chosen:
        return [chosen[-1]]
    size = select.attrs.get("size")
    if size is not None and size.strip().isdigit() and int(size) > 1:
        return []
    first = next((o for o in options if not is_disabled(o)), None)
    return [] if first is None else [first]


def control_value(node: LexborNode) -> str:
    """The DOM ``value`` property as the page was rendered (nothing is typed in tests)."""
    tag = node.tag
    if tag == "input":
        value = node.attrs.get("value")
        if value is None:
            return "on" if element_type(node) in ("checkbox", "radio") else ""
        return value
    if tag == "textarea":
        return node.text(deep=True).replace("\r\n", "\n").replace("\r", "\n")
    if tag == "select":
        options = selected_options(node)
        return option_value(options[0]) if options else ""
    if tag == "output":
        return node.text(deep=True)
    if tag == "option":
        return option_value(node)
    return node.attrs.get("value") or ""


def form_owner(document: LiveDocument, node: LexborNode) -> LexborNode | None:
    """htmx's ``elt.form || elt.closest("form")``."""
    if node.tag in _FORM_ASSOCIATED:
        form_id = node.attrs.get("form")
        if form_id is not None:
            owner = document.by_id(form_id)
            if owner is not None and owner.tag == "form":
                return owner
    return document.closest(node, lambda n: n.tag == "form")


def _owner_for_listing(document: LiveDocument, node: LexborNode) -> LexborNode | None:
    form_id = node.attrs.get("form")
    if form_id is not None:
        owner = document.by_id(form_id)
        return owner if owner is not None and owner.tag == "form" else None
    return document.closest(node.parent, lambda n: n.tag == "form")


def form_elements(document: LiveDocument, form: LexborNode) -> list[LexborNode]:
    """``form.elements``: listed controls owned by ``form``, in tree order."""
    return [n for n in document.select(_LISTED) if (owner := _owner_for_listing(document, n)) is not None and owner.mem_id == form.mem_id]


def form_data(document: LiveDocument, form: LexborNode, elements: list[LexborNode] | None = None) -> Pairs:
    """``new FormData(form)``: the entries a form submits, without a submitter.

    ``elements`` is ``form_elements(document, form)`` when the caller has it already.
    """
    pairs: Pairs = []
    for node in form_elements(document, form) if elements is None else elements:
        name = node.attrs.get("name")
        if not name or node.tag not in ("input", "select", "textarea") or is_disabled(node):
            continue
        if document.closest(node, lambda n: n.tag == "datalist") is not None:
            continue
        kind = element_type(node)
        if node.tag == "input" and kind in _NOT_SUBMITTED_INPUTS:
            continue
        if kind in ("checkbox", "radio"):
            if "checked" in node.attrs:
                pairs.append((name, control_value(node)))
        elif node.tag == "select":
            pairs.extend((name, option_value(o)) for o in selected_options(node) if not is_disabled(o))
        else:
            pairs.append((name, control_value(node)))
    return pairs


def field_names(document: LiveDocument, form: LexborNode) -> list[str]:
    """The names of the form's enabled controls, for checking a test's values."""
    names = []
    for node in form_elements(document, form):
        name = node.attrs.get("name")
        if name and not is_disabled(node) and name not in names:
            names.append(name)
    return names


def _collect_from(node: LexborNode, seen: set[int], pairs: Pairs) -> None:
    # htmx #et for a POST: a button alone, else the element's named controls.
    tag = node.tag or ""
    if tag == "button" or "-" in tag:
        candidates = [node]
    elif tag != "body":
        candidates = [n for n in node.css("[name]") if n.tag != "button"]
    else:
        candidates = []
    for control in candidates:
        name = control.attrs.get("name")
        if not name or is_disabled(control) or control.mem_id in seen:
            continue
        seen.add(control.mem_id)
        kind = element_type(control)
        if kind in ("checkbox", "radio"):
            if "checked" in control.attrs:
                pairs.append((name, control_value(control)))
        elif kind == "file":
            continue
        elif kind == "select-multiple":
            pairs.extend((name, option_value(o)) for o in selected_options(control))
        else:
            pairs.append((name, control_value(control)))


def hx_vals(document: LiveDocument, node: LexborNode) -> dict[str, Any]:
    """The ``hx-vals`` an element sends: its own, or the nearest ``hx-vals:inherited``."""
    raw = None
    for name in ("hx-vals", "hx-vals:inherited", "data-hx-vals", "data-hx-vals:inherited"):
        raw = node.attrs.get(name)
        if raw is not None:
            break
    if raw is None:
        ancestor = document.closest(node.parent, lambda n: "hx-vals:inherited" in n.attrs or "data-hx-vals:inherited" in n.attrs)
        if ancestor is not None:
            raw = ancestor.attrs.get("hx-vals:inherited") or ancestor.attrs.get("data-hx-vals:inherited")
    if raw is None:
        return {}
    if raw.strip().startswith(("js:", "javascript:")):
        raise LiveTestError(
            f"cannot evaluate hx-vals={raw!r}: the test client runs no JavaScript\n"
            "Expected: a JSON object, as live.click(..., name=value) writes"
        )
    try:
        return parse_attribute_object(raw)
    except ValueError as exc:
        raise LiveTestError(f"malformed hx-vals on the element: {exc}\nExpected: a JSON object\nGot: {raw!r}") from None


def request_params(document: LiveDocument, bound: LexborNode, submitter: LexborNode | None = None) -> Pairs:
    """The form body htmx builds for a POST from ``bound`` (before the client's additions)."""
    form = form_owner(document, bound)
    if submitter is None and form is not None and element_type(bound) == "submit":
        submitter = bound
    if form is not None:
        elements = form_elements(document, form)
        pairs = form_data(document, form, elements)
        seen = {n.mem_id for n in elements}
    else:
        pairs, seen = [], set()
        _collect_from(bound, seen, pairs)
    if submitter is not None:
        name = submitter.attrs.get("name")
        if name:
            pairs.append((name, control_value(submitter)))
            seen.add(submitter.mem_id)
    include = bound.attrs.get("hx-include") or bound.attrs.get("data-hx-include")
    if include:
        for selector in include.split(","):
            for node in document.select(selector.strip()):
                _collect_from(node, seen, pairs)
    for key, value in hx_vals(document, bound).items():
        set_pair(pairs, key, js_string(value))
    return pairs


def form_key(form: LexborNode) -> str:
    """What the test browser knows a form by across re-renders: its id."""
    return form.attrs.get("id") or ""


def touched_in_dom(document: LiveDocument) -> set[tuple[str, str]]:
    """``(form, name)`` of every control the server's form marks as touched (``ATTR_TOUCHED``)."""
    found = set()
    for node in document.select(f"[{ATTR_TOUCHED}]"):
        form = form_owner(document, node)
        name = node.attrs.get("name")
        if form is not None and name:
            found.add((form_key(form), name))
    return found


def add_unused_markers(document: LiveDocument, form: LexborNode, pairs: Pairs, touched: set[str], submitter: LexborNode | None = None) -> None:
    """fastapi-live.js addUnusedMarkers(): ``_unused_<name>`` for each field of ``form`` sent but
    not touched (by the user, ``touched``, or as the server's form says), unless only hidden
    inputs carry it or it is the submitter."""
    used: dict[str, bool] = {}
    hidden_only: dict[str, bool] = {}
    for node in form_elements(document, form):
        name = node.attrs.get("name")
        if not name or is_disabled(node):
            continue
        used[name] = used.get(name, False) or name in touched or ATTR_TOUCHED in node.attrs
        hidden_only[name] = hidden_only.get(name, True) and element_type(node) == "hidden"
    sent = {key for key, _ in pairs}
    submitter_name = submitter.attrs.get("name") if submitter is not None else None
    for name, was_used in used.items():
        if not was_used and not hidden_only[name] and name != submitter_name and name in sent:
            set_pair(pairs, PARAM_UNUSED_PREFIX + name, "")


_NOT_TEXT_INPUTS = frozenset({"checkbox", "radio", "file", "hidden", "submit", "image", "button", "reset"})


def is_text_control(node: LexborNode) -> bool:
    """What the submit lock makes read-only: a textarea, or an input one types into."""
    return node.tag == "textarea" or (node.tag == "input" and element_type(node) not in _NOT_TEXT_INPUTS)


def is_submit_button(node: LexborNode) -> bool:
    return (node.tag == "button" and element_type(node) == "submit") or (node.tag == "input" and element_type(node) in ("submit", "image"))


class FormLock:
    """fastapi-live.js's submit lock on the test DOM: from the submit until its reply has been
    applied, the form's text controls are read-only and its submit buttons disabled, showing
    their disable-with text. Nodes are never kept across DOM changes (a swap replaces them):
    the form is found again by its id, and a control is the one locked when it still reads as
    it was left."""

    def __init__(self, document: LiveDocument, form: LexborNode) -> None:
        self.form_id = form.attrs.get("id")
        self._locked: dict[int, tuple[str, bool, str | None]] = {}  # mem_id -> (html once locked, original disabled/readonly, label)
        self._lock(document, form)

    def holds(self, form: LexborNode) -> bool:
        return self.form_id is not None and form.attrs.get("id") == self.form_id

    def _form(self, document: LiveDocument) -> LexborNode | None:
        if self.form_id is None:
            return None
        node = document.by_id(self.form_id)
        return node if node is not None and node.tag == "form" else None

    def relock(self, document: LiveDocument) -> None:
        """Lock what a swap brought in while the submit is in flight (the browser's morph keeps the rest)."""
        form = self._form(document)
        if form is not None:
            self._lock(document, form)

    def _lock(self, document: LiveDocument, form: LexborNode) -> None:
        for node in form_elements(document, form):
            current = self._locked.get(node.mem_id)
            if current is not None and current[0] == node.html:
                continue
            if is_submit_button(node):
                text = node.attrs.get(ATTR_DISABLE_WITH) or form.attrs.get(ATTR_DISABLE_WITH)
                label = None
                if text is not None:
                    label = node.attrs.get("value") if node.tag == "input" else node.inner_html
                    if node.tag == "input":
                        node.attrs["value"] = text
                    else:
                        node.inner_html = str(escape(text))
                original = "disabled" in node.attrs
                node.attrs["disabled"] = ""
                self._locked[node.mem_id] = (node.html or "", original, label)
            elif is_text_control(node):
                original = "readonly" in node.attrs
                node.attrs["readonly"] = ""
                self._locked[node.mem_id] = (node.html or "", original, None)

    def release(self, document: LiveDocument) -> None:
        """Lift the lock from what the reply did not re-render (what it did holds the server's state)."""
        form = self._form(document)
        if form is None:
            return
        for node in form_elements(document, form):
            entry = self._locked.get(node.mem_id)
            if entry is None or entry[0] != node.html:
                continue
            _, original, label = entry
            attribute = "disabled" if is_submit_button(node) else "readonly"
            if not original:
                del node.attrs[attribute]
            if label is not None:
                if node.tag == "input":
                    node.attrs["value"] = label
                else:
                    node.inner_html = label


def has_value_property(node: LexborNode) -> bool:
    return (node.tag or "") in _HAS_VALUE


def key_filter(node: LexborNode, dom_event: str) -> str | None:
    """The key an ``hx-trigger`` like ``keydown[key=="Enter"]`` waits for, if any."""
    trigger = node.attrs.get("hx-trigger") or node.attrs.get("data-hx-trigger") or ""
    for spec in _split_triggers(trigger):
        match = _TRIGGER.match(spec)
        if match is None or match.group(1) != dom_event or not match.group(2):
            continue
        key = _KEY_FILTER.match(match.group(2))
        if key is not None:
            if key.group(1) is not None:
                return str(json.loads(f'"{key.group(1)}"'))
            return key.group(2).replace("\\'", "'")
    return None


def _split_triggers(trigger: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for char in trigger:
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in (part.strip() for part in parts) if p]
