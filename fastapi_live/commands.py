"""Client-side commands (LiveView's ``JS``): chains of DOM changes the browser runs with no round trip,
bound to any event (``live.click(live.js.toggle("#menu"))``) or sent from the server (``socket.exec_js``).

A chain is an immutable value: each method returns a new chain with one more command. It renders as
the JSON list the client reads (``[["toggle", {"to": "#menu"}]]``), escaped for an attribute.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from markupsafe import Markup, escape

from .exceptions import ConfigurationError
from .wire import DISPLAY_SHOWN, JS_COMMANDS

Transition = str | tuple[str, str, str] | None
"""A transition: classes applied for ``time`` ms (``"fade-in"``), or LiveView's three sets of classes,
``("transition-opacity duration-200", "opacity-0", "opacity-100")``: while running, at the start, at the end."""

DEFAULT_TIME = 200
_COMMANDS = frozenset(JS_COMMANDS)
_SCALARS = (str, int, float, bool)
_DEFAULTS: dict[str, Any] = {"time": DEFAULT_TIME, "display": DISPLAY_SHOWN}
_NO_DEFAULT: Any = object()


class JS:
    """A chain of client-side commands, LiveView's ``JS``. In templates, ``live.js`` starts one.

    >>> JS().show("#menu", transition="fade-in").add_class("open", to="#menu-button")
    JS().show('#menu', transition='fade-in').add_class('open', to='#menu-button')

    ``to`` is a CSS selector, or one of htmx's relative ones (``closest .card``, ``find input``,
    ``next``, ``previous``); without it a command acts on the element the binding is on. Commands
    that change an element's classes, attributes or visibility stick to it: a server patch of the
    element keeps them (LiveView's sticky operations).
    """

    __slots__ = ("_ops",)

    def __init__(self, ops: Iterable[tuple[str, dict[str, Any]]] = ()) -> None:
        self._ops: tuple[tuple[str, dict[str, Any]], ...] = tuple(ops)

    # -- visibility ---------------------------------------------------------------------------------
    def show(self, to: str | None = None, *, transition: Transition = None, time: int = DEFAULT_TIME, display: str = DISPLAY_SHOWN) -> JS:
        """Show the element(s), with ``display`` (``"flex"`` for a flex box), after an optional transition."""
        return self._add(
            "show", to=_selector("show", to), transition=_transition("show", transition), time=_time("show", time), display=_word("show", "display", display)
        )

    def hide(self, to: str | None = None, *, transition: Transition = None, time: int = DEFAULT_TIME) -> JS:
        """Hide the element(s) (``display: none``), once the optional transition has run."""
        return self._add("hide", to=_selector("hide", to), transition=_transition("hide", transition), time=_time("hide", time))

    def toggle(
        self,
        to: str | None = None,
        *,
        transition_in: Transition = None,
        transition_out: Transition = None,
        time: int = DEFAULT_TIME,
        display: str = DISPLAY_SHOWN,
    ) -> JS:
        """Show the element(s) when hidden, hide them when shown."""
        return self._add(
            "toggle",
            to=_selector("toggle", to),
            transition_in=_transition("toggle", transition_in),
            transition_out=_transition("toggle", transition_out),
            time=_time("toggle", time),
            display=_word("toggle", "display", display),
        )

    # -- classes and attributes -----------------------------------------------------------------------
    def add_class(self, names: str | Sequence[str], to: str | None = None, *, transition: Transition = None, time: int = DEFAULT_TIME) -> JS:
        """Add CSS classes (``"open active"`` or a list)."""
        return self._class_op("add_class", names, to, transition, time)

    def remove_class(self, names: str | Sequence[str], to: str | None = None, *, transition: Transition = None, time: int = DEFAULT_TIME) -> JS:
        """Remove CSS classes."""
        return self._class_op("remove_class", names, to, transition, time)

    def toggle_class(self, names: str | Sequence[str], to: str | None = None, *, transition: Transition = None, time: int = DEFAULT_TIME) -> JS:
        """Add each class the element lacks, remove each it has."""
        return self._class_op("toggle_class", names, to, transition, time)

    def set_attribute(self, name: str, value: str, to: str | None = None) -> JS:
        """Set an attribute: ``set_attribute("aria-expanded", "true", to="#menu-button")``."""
        return self._add(
            "set_attribute", to=_selector("set_attribute", to), name=_word("set_attribute", "name", name), value=_text("set_attribute", "value", value)
        )

    def remove_attribute(self, name: str, to: str | None = None) -> JS:
        """Remove an attribute."""
        return self._add("remove_attribute", to=_selector("remove_attribute", to), name=_word("remove_attribute", "name", name))

    def toggle_attribute(self, name: str, value: str = "", alt: str | None = None, to: str | None = None) -> JS:
        """Without ``alt``, add the attribute (with ``value``) when absent and remove it when present
        (``toggle_attribute("open")``); with ``alt``, switch it between ``value`` and ``alt``
        (``toggle_attribute("aria-expanded", "true", "false")``)."""
        return self._add(
            "toggle_attribute",
            to=_selector("toggle_attribute", to),
            name=_word("toggle_attribute", "name", name),
            value=_text("toggle_attribute", "value", value),
            alt=None if alt is None else _text("toggle_attribute", "alt", alt),
        )

    # -- everything else --------------------------------------------------------------------------------
    def transition(self, classes: Transition, to: str | None = None, *, time: int = DEFAULT_TIME) -> JS:
        """Run a transition on the element(s): its classes are applied for ``time`` ms."""
        if classes is None:
            raise ConfigurationError("JS.transition() needs the classes to apply\nExpected: 'shake' or ('transition-all', 'scale-95', 'scale-100')\nGot: None")
        return self._add("transition", to=_selector("transition", to), transition=_transition("transition", classes), time=_time("transition", time))

    def focus(self, to: str | None = None) -> JS:
        """Focus the element."""
        return self._add("focus", to=_selector("focus", to))

    def focus_first(self, to: str | None = None) -> JS:
        """Focus the first focusable element inside the element (a dialog's first field)."""
        return self._add("focus_first", to=_selector("focus_first", to))

    def dispatch(self, event: str, to: str | None = None, *, detail: Any = None, bubbles: bool = True) -> JS:
        """Dispatch a DOM event (``detail`` must be JSON) on the element(s), e.g. for a JS hook or ``window`` listener."""
        if not isinstance(bubbles, bool):
            raise ConfigurationError(f"JS.dispatch(): bubbles is True or False\nExpected: a bool\nGot: {bubbles!r}")
        _json("dispatch", "detail", detail)
        return self._add("dispatch", to=_selector("dispatch", to), event=_word("dispatch", "event", event), detail=detail, bubbles=None if bubbles else False)

    def push(self, event: str, /, **values: Any) -> JS:
        """Send ``event`` to the server with ``values`` as params, on top of what the element
        sends (its form's fields, its ``live.click(..., name=value)`` values).

        >>> live.js.push("select", id=3).add_class("selected")
        """
        for key, value in values.items():
            if value is not None and not isinstance(value, _SCALARS):
                raise ConfigurationError(
                    f"JS.push({event!r}): the value of {key!r} is sent as a form param, so it must be a plain value\n"
                    f"Expected one of: str, int, float, bool\nGot: {value!r}"
                )
        kept = {key: value for key, value in values.items() if value is not None}
        return self._add("push", event=_word("push", "event", event), value=kept or None)

    # -- as a value ---------------------------------------------------------------------------------
    @property
    def ops(self) -> tuple[tuple[str, dict[str, Any]], ...]:
        """The commands, in order: ``(name, arguments)`` pairs."""
        return self._ops

    def to_json(self) -> str:
        """The chain as the client reads it."""
        return json.dumps([[name, args] for name, args in self._ops], separators=(",", ":"), ensure_ascii=False)

    def __html__(self) -> Markup:
        return Markup(escape(self.to_json()))

    def __str__(self) -> str:
        return self.to_json()

    def __bool__(self) -> bool:
        return bool(self._ops)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JS) and other._ops == self._ops

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        calls = []
        for name, args in self._ops:
            shown = dict(args)
            positional = []
            if name in ("add_class", "remove_class", "toggle_class"):
                positional.append(repr(" ".join(shown.pop("names"))))
            elif name in ("set_attribute", "remove_attribute", "toggle_attribute"):
                positional.append(repr(shown.pop("name")))
                if "value" in shown:
                    positional.append(repr(shown.pop("value")))
            elif name in ("push", "dispatch"):
                positional.append(repr(shown.pop("event")))
            elif "to" in shown:
                positional.append(repr(shown.pop("to")))
            if name == "push":
                shown.update(shown.pop("value", None) or {})
            calls.append(f".{name}({', '.join([*positional, *(f'{key}={value!r}' for key, value in shown.items())])})")
        return "JS()" + "".join(calls)

    # -- building ----------------------------------------------------------------------------------
    def _class_op(self, name: str, names: str | Sequence[str], to: str | None, transition: Transition, time: int) -> JS:
        return self._add(name, to=_selector(name, to), names=_class_names(name, names), transition=_transition(name, transition), time=_time(name, time))

    def _add(self, command: str, /, **args: Any) -> JS:
        if command not in _COMMANDS:  # pragma: no cover - reason: every builder names a command of wire.JS_COMMANDS
            raise ConfigurationError(f"unknown client command {command!r}")
        # Defaults are left out: the client has them too, and attributes stay short.
        kept = {key: value for key, value in args.items() if value is not None and _DEFAULTS.get(key, _NO_DEFAULT) != value}
        return JS((*self._ops, (command, kept)))


def require_selectors(js: JS, where: str) -> None:
    """Commands run from the server have no element to act on by default: each needs ``to``."""
    for name, args in js.ops:
        if name == "push":
            raise ConfigurationError(
                f"{where}: a push sends an event to the server, which is where this runs\n"
                "Expected: DOM commands only (show, hide, add_class, ...); call the handler's code directly instead of pushing to it\n"
                f"Got: {js!r}"
            )
        if "to" not in args:
            raise ConfigurationError(
                f"{where}: JS.{name}() needs a selector when the server runs it: there is no element it was bound to\n"
                f"Expected: JS().{name}('#some-id')\nGot: {js!r}"
            )


def _selector(command: str, to: Any) -> str | None:
    if to is None:
        return None
    if not isinstance(to, str) or not to.strip():
        raise ConfigurationError(
            f"JS.{command}(): to is a CSS selector\nExpected: a selector such as '#menu' or 'closest .card', or None for the bound element\nGot: {to!r}"
        )
    return to


def _time(command: str, time: Any) -> int:
    if isinstance(time, bool) or not isinstance(time, int) or time < 0:
        raise ConfigurationError(f"JS.{command}(): time is in milliseconds\nExpected: an int >= 0\nGot: {time!r}")
    return time


def _word(command: str, what: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(char.isspace() for char in value):
        raise ConfigurationError(f"JS.{command}(): {what} must be a non-empty name\nExpected: a string without spaces\nGot: {value!r}")
    return value


def _text(command: str, what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"JS.{command}(): {what} is an attribute's value\nExpected: a str\nGot: {value!r}")
    return value


def _class_names(command: str, names: Any) -> list[str]:
    found = names.split() if isinstance(names, str) else list(names) if isinstance(names, (list, tuple)) else None
    if not found or not all(isinstance(name, str) and name and not any(c.isspace() for c in name) for name in found):
        raise ConfigurationError(f"JS.{command}(): the classes are names\nExpected: 'open active' or ['open', 'active']\nGot: {names!r}")
    return found


def _transition(command: str, transition: Any) -> str | list[str] | None:
    if transition is None:
        return None
    if isinstance(transition, str) and transition.split():
        return transition
    if isinstance(transition, (tuple, list)) and len(transition) == 3 and all(isinstance(part, str) for part in transition):
        return list(transition)
    raise ConfigurationError(
        f"JS.{command}(): a transition is classes, or three sets of them\n"
        "Expected: 'fade-in' or ('transition-opacity duration-200', 'opacity-0', 'opacity-100')\n"
        f"Got: {transition!r}"
    )


def _json(command: str, what: str, value: Any) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"JS.{command}(): {what} is sent to the browser as JSON\nExpected: JSON values (dict, list, str, numbers, bool, None)\nGot: {value!r}"
        ) from None
