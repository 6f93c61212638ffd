"""Client-side commands (``live.js``) on the test DOM, as fastapi-live.js runs them.

No JavaScript runs in tests: focus, transitions and dispatched DOM events do nothing here, and
visibility is what the element's ``style`` and ``hidden`` attribute say (no stylesheet is read).
What changes an element's classes, attributes or visibility sticks to it across swaps, as in
the browser; the test DOM follows an element by its id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..wire import DISPLAY_HIDDEN, DISPLAY_SHOWN, JS_COMMANDS
from ._dom import LiveDocument
from ._errors import LiveTestError

if TYPE_CHECKING:
    from selectolax.lexbor import LexborNode

Command = tuple[str, dict[str, Any]]
PUSH = "push"
_NO_OP = frozenset({"transition", "focus", "focus_first", "dispatch"})


def chain_of(value: str | None) -> list[Command] | None:
    """The commands a binding's value holds, or ``None`` when it names an event."""
    if value is None or not value.lstrip().startswith("["):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        raise LiveTestError(f"malformed live.js commands in a binding\nExpected: the JSON list live.js renders\nGot: {value[:200]!r}") from None
    commands: list[Command] = []
    for entry in parsed if isinstance(parsed, list) else [None]:
        if not (isinstance(entry, list) and len(entry) == 2 and entry[0] in JS_COMMANDS and isinstance(entry[1], dict)):
            raise LiveTestError(f"malformed live.js command in a binding\nExpected one of: {', '.join(JS_COMMANDS)} with its arguments\nGot: {entry!r}")
        commands.append((entry[0], entry[1]))
    return commands


@dataclass(slots=True)
class Sticky:
    """What commands changed on one element, re-applied after each swap."""

    add: dict[str, None] = field(default_factory=dict)  # ordered sets: classes go in in the order added
    remove: dict[str, None] = field(default_factory=dict)
    attrs: dict[str, str | None] = field(default_factory=dict)
    display: str | None = None


class CommandRunner:
    """Runs the DOM commands of chains on a view's document and keeps them sticky."""

    def __init__(self, document: LiveDocument) -> None:
        self.document = document
        self._sticky: dict[str, Sticky] = {}

    def run(self, source: LexborNode | None, commands: list[Command]) -> None:
        for name, args in commands:
            if name == PUSH or name in _NO_OP:
                continue
            for node in self._targets(source, args.get("to")):
                self._run(name, node, args)

    def reapply(self) -> None:
        """After a swap: what commands changed stays (fastapi-live.js applySticky)."""
        for dom_id, state in self._sticky.items():
            node = self.document.by_id(dom_id)
            if node is not None:
                _apply(node, state)

    def _targets(self, source: LexborNode | None, to: Any) -> list[LexborNode]:
        if to is None:
            return [source] if source is not None else []
        selector = str(to).strip()
        if source is not None and selector.startswith("closest "):
            found = self.document.closest(source, lambda n: n.mem_id in {m.mem_id for m in self.document.select(selector[8:])})
            return [found] if found is not None else []
        if source is not None and selector.startswith("find "):
            first = source.css_first(selector[5:])
            return [first] if first is not None else []
        return self.document.select(selector)

    def _state(self, node: LexborNode) -> Sticky:
        dom_id = node.attrs.get("id")
        if not dom_id:
            return Sticky()  # nothing to follow it by across swaps: it changes, but does not stick
        return self._sticky.setdefault(dom_id, Sticky())

    def _run(self, name: str, node: LexborNode, args: dict[str, Any]) -> None:
        state = self._state(node)
        if name in ("show", "hide", "toggle"):
            shown = name == "show" or (name == "toggle" and not is_visible(self.document, node))
            display = str(args.get("display") or DISPLAY_SHOWN) if shown else DISPLAY_HIDDEN
            state.display = display
            _set_display(node, display)
        elif name in ("add_class", "remove_class", "toggle_class"):
            for css in args.get("names") or []:
                present = css in (node.attrs.get("class") or "").split()
                adding = name == "add_class" or (name == "toggle_class" and not present)
                (state.add if adding else state.remove)[css] = None
                (state.remove if adding else state.add).pop(css, None)
            _apply(node, Sticky(add=state.add, remove=state.remove))
        elif name in ("set_attribute", "remove_attribute", "toggle_attribute"):
            attribute = str(args.get("name"))
            value: str | None
            if name == "set_attribute":
                value = str(args.get("value", ""))
            elif name == "remove_attribute":
                value = None
            elif args.get("alt") is None:
                value = None if attribute in node.attrs else str(args.get("value", ""))
            else:
                value = str(args["alt"]) if node.attrs.get(attribute) == str(args.get("value", "")) else str(args.get("value", ""))
            state.attrs[attribute] = value
            _apply(node, Sticky(attrs={attribute: value}))


def is_visible(document: LiveDocument, node: LexborNode) -> bool:
    """Whether an element shows, as far as its ``style`` and ``hidden`` (and its ancestors') tell."""
    current: LexborNode | None = node
    while current is not None and current.is_element_node:
        display = _style(current).get("display")
        if display == DISPLAY_HIDDEN or ("hidden" in current.attrs and display is None):
            return False
        current = current.parent
    return True


def _style(node: LexborNode) -> dict[str, str]:
    rules: dict[str, str] = {}
    for part in (node.attrs.get("style") or "").split(";"):
        name, colon, value = part.partition(":")
        if colon and name.strip():
            rules[name.strip().lower()] = value.strip()
    return rules


def _set_display(node: LexborNode, display: str) -> None:
    rules = _style(node)
    rules["display"] = display
    node.attrs["style"] = "; ".join(f"{name}: {value}" for name, value in rules.items())


def _apply(node: LexborNode, state: Sticky) -> None:
    classes = [css for css in (node.attrs.get("class") or "").split() if css not in state.remove]
    classes += [css for css in state.add if css not in classes]
    if classes or "class" in node.attrs:
        node.attrs["class"] = " ".join(classes)
    for name, value in state.attrs.items():
        if value is None:
            if name in node.attrs:
                del node.attrs[name]
        else:
            node.attrs[name] = value
    if state.display is not None and _style(node).get("display") != state.display:
        _set_display(node, state.display)
