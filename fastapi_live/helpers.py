"""``live`` in templates: the helpers that write event bindings as plain htmx attributes."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

from . import forms
from .commands import JS
from .exceptions import ConfigurationError
from .uploads import UploadTags
from .wire import (
    ATTR_AUTO_RECOVER,
    ATTR_CONFIG,
    ATTR_DISABLE_WITH,
    ATTR_HOOK,
    ATTR_KEY,
    ATTR_LINK,
    ATTR_LINK_STATE,
    ATTR_TARGET,
    LINK_NAVIGATE,
    LINK_PATCH,
    LINK_STATE_REPLACE,
    SWAP_NONE,
    binding_attribute,
    markup_attrs,
)

Event = str | JS
"""What a binding does: send the named event to the server, or run a ``JS`` chain in the browser."""
_EMPTY_JS = JS()


def _timing(debounce: int | str | None, throttle: int | str | None) -> str:
    def interval(value: int | str) -> str:
        return f"{value}ms" if isinstance(value, int) else str(value)

    if debounce is not None and throttle is not None:
        raise ConfigurationError("use debounce or throttle, not both")
    if debounce is not None:
        return f" delay:{interval(debounce)}"
    if throttle is not None:
        return f" throttle:{interval(throttle)}"
    return ""


def _disable_with_text(text: Any) -> str:
    if not isinstance(text, str) or not text:
        raise ConfigurationError(
            f"disable_with is the text a submit button shows while the submit is in flight\nExpected: a non-empty string such as 'Saving…'\nGot: {text!r}"
        )
    return text


_JSON_PLAIN = frozenset({str, int, bool, type(None)})  # values whose JSON depends on nothing but their value


def target_selector(target: Any, kind: str) -> str:
    """A binding's ``target=``: a component's ``myself`` or a CSS selector, as the client reads it.

    Inside a component, events go to that component by default; ``target=`` sends them to the
    component holding what the selector matches (or to the page's view when no component does).
    """
    selector = getattr(target, "live_selector", None)
    if isinstance(selector, str):
        return selector
    if isinstance(target, str) and target.strip():
        return target
    raise ConfigurationError(
        f"live.{kind}(target=...) names where the event goes\n"
        f"Expected: myself (inside a component), or a CSS selector such as '#todo-3' or '#live-root' (the page's view)\nGot: {target!r}"
    )


class TemplateHelpers(UploadTags):
    """``live`` in templates: event bindings rendered as htmx attributes.

    ``<button {{ live.click("inc", by=2) }}>`` renders
    ``data-live-click="inc" hx-post="/_live/event" hx-trigger="click" hx-vals='{"by": 2}' …``:
    view-source shows plain htmx. ``static/fastapi-live.js`` adds the page token and
    names the event from the ``data-live-*`` attribute matching the DOM event.
    """

    def __init__(
        self,
        event_url: str,
        static_url: str,
        client_config: Mapping[str, Any] | None = None,
        *,
        upload_url: str | None = None,
        resolve: Callable[[str], object | None] | None = None,
    ) -> None:
        self.event_url = event_url
        self.upload_url = upload_url or event_url.rsplit("/", 1)[0] + "/upload"
        self.static_url = static_url
        self.client_config = dict(client_config or {})
        self._resolve = resolve  # a path -> this router's live page serving it, or None
        self._links: dict[tuple[str, str, bool], Markup] = {}
        self._bindings: dict[tuple[str, str, str, str, str | None, str | None], Markup] = {}
        self._vals: dict[tuple[tuple[str, type[Any], Any], ...], str] = {}
        self._scripts: tuple[dict[str, Any], Markup] | None = None

    def _binding(
        self, kind: str, event: Event, trigger: str, values: Mapping[str, Any], sync: str = "queue all", disable_with: str | None = None, key: str | None = None
    ) -> Markup:
        target = None
        if "target" in values:  # where the event goes: a component (``myself``) or a CSS selector
            values = dict(values)
            target = target_selector(values.pop("target"), kind)
        if isinstance(event, JS):
            markup = self._chain_binding(kind, event, trigger, values, disable_with, key)
        else:
            if not isinstance(event, str) or not event:
                raise ConfigurationError(f"live.{kind}() needs an event name or a live.js chain, got {event!r}")
            vals = self._vals_json(values) if values else None
            # Pages render the same bindings over and over: build each one once.
            cache_key = (kind, event, trigger, sync, vals, disable_with)
            cache = self._bindings
            cached = cache.get(cache_key)
            if cached is None:
                if len(cache) > 4096:
                    cache.clear()
                cached = cache[cache_key] = self._build_binding(kind, event, trigger, sync, vals, disable_with)
            markup = cached
        if target is not None:
            markup = Markup(f"{markup} {markup_attrs([(ATTR_TARGET, target)])}")
        return markup

    def _vals_json(self, values: Mapping[str, Any]) -> str:
        """``values`` as the binding's JSON, made once per distinct set of plain values."""
        # The type is part of the key: 1, 1.0 and True are equal keys but not the same JSON.
        key = tuple((name, type(value), value) for name, value in values.items())
        if not all(kind in _JSON_PLAIN for _, kind, _ in key):
            return json.dumps(values, default=str)
        cache = self._vals
        text = cache.get(key)
        if text is None:
            if len(cache) > 4096:
                cache.clear()
            text = cache[key] = json.dumps(values, default=str)
        return text

    def _build_binding(self, kind: str, event: str, trigger: str, sync: str, vals: str | None, disable_with: str | None) -> Markup:
        attrs: list[tuple[str, str | None]] = [
            (binding_attribute(kind), event),
            ("hx-post", self.event_url),
            ("hx-trigger", trigger),
            ("hx-swap", SWAP_NONE),
            ("hx-sync", f"this:{sync}"),
        ]
        if vals is not None:
            attrs.append(("hx-vals", vals))
        if disable_with is not None:
            attrs.append((ATTR_DISABLE_WITH, _disable_with_text(disable_with)))
        return markup_attrs(attrs)

    def _chain_binding(self, kind: str, js: JS, trigger: str, values: Mapping[str, Any], disable_with: str | None, key: str | None) -> Markup:
        # A chain runs in the browser: no htmx request unless it pushes (fastapi-live.js sends those).
        if not js:
            raise ConfigurationError(f"live.{kind}() got an empty live.js chain\nExpected: a chain with commands, e.g. live.js.toggle('#menu')\nGot: {js!r}")
        if " delay:" in trigger or " throttle:" in trigger:
            raise ConfigurationError(
                f"live.{kind}(): debounce and throttle apply to events sent to the server; a live.js chain runs at once\n"
                f"Expected: live.{kind}(live.js...) without debounce= or throttle=\nGot: {js!r}"
            )
        attrs: list[tuple[str, str | None]] = [(binding_attribute(kind), js.to_json())]
        if key is not None:
            attrs.append((ATTR_KEY, key))
        if values:
            attrs.append(("hx-vals", json.dumps(values, default=str)))
        if disable_with is not None:
            attrs.append((ATTR_DISABLE_WITH, _disable_with_text(disable_with)))
        return markup_attrs(attrs)

    @property
    def js(self) -> JS:
        """An empty chain of client-side commands (LiveView's ``JS``) to bind to any event.

        ``<button {{ live.click(live.js.toggle("#menu").toggle_attribute("aria-expanded", "true", "false")) }}>``
        """
        return _EMPTY_JS

    def click(self, event: Event, /, **values: Any) -> Markup:
        """A click sends ``event`` with ``values`` as params (LiveView's ``phx-click`` + ``phx-value-*``)."""
        return self._binding("click", event, "click", values)

    def change(self, event: Event, /, *, debounce: int | str | None = None, throttle: int | str | None = None, **values: Any) -> Markup:
        """On a form or input: each change sends ``event`` with the form's values."""
        return self._binding("change", event, "input" + _timing(debounce, throttle), values, "queue last")

    def submit(self, event: Event, /, *, disable_with: str | None = None, **values: Any) -> Markup:
        """On a form: submitting sends ``event`` with the form's values (LiveView's ``phx-submit``).

        Until the reply has been applied the form is locked: its inputs are read-only, its submit
        buttons disabled (showing ``disable_with``, e.g. ``"Saving…"``), a second submit is
        dropped; then every control the reply re-rendered takes the server's value, even the
        focused one.
        """
        return self._binding("submit", event, "submit", values, disable_with=disable_with)

    def form(
        self,
        *,
        change: Event | None = None,
        submit: Event | None = None,
        recover: str | None = None,
        debounce: int | str | None = None,
        throttle: int | str | None = None,
        disable_with: str | None = None,
        target: Any = None,
    ) -> Markup:
        """Bind a form's change and submit events (and its auto-recover event) at once;
        ``disable_with`` is its submit buttons' text while a submit is in flight (see ``submit``);
        ``target`` sends them to a component (``myself``, or a CSS selector inside one)."""
        if change is None and submit is None:
            raise ConfigurationError("live.form() needs change=, submit= or both")
        if target is not None:
            return Markup(f"{self.form(change=change, submit=submit, recover=recover, debounce=debounce, throttle=throttle, disable_with=disable_with)} "
                          f"{markup_attrs([(ATTR_TARGET, target_selector(target, 'form'))])}")
        triggers = []
        attrs: list[tuple[str, str | None]] = []
        for kind, event, trigger in (("change", change, "input" + _timing(debounce, throttle)), ("submit", submit, "submit")):
            if isinstance(event, JS):
                attrs.append((binding_attribute(kind), event.to_json()))  # run by the client, as live.click(live.js...)
            elif event is not None:
                if not isinstance(event, str) or not event:
                    raise ConfigurationError(f"live.form({kind}=...) needs an event name or a live.js chain, got {event!r}")
                attrs.append((binding_attribute(kind), event))
                triggers.append(trigger)
        if recover is not None:
            attrs.append((ATTR_AUTO_RECOVER, recover))
        if triggers:
            attrs += [("hx-post", self.event_url), ("hx-trigger", ", ".join(triggers)), ("hx-swap", SWAP_NONE), ("hx-sync", "this:queue all")]
        if disable_with is not None:
            attrs.append((ATTR_DISABLE_WITH, _disable_with_text(disable_with)))
        return markup_attrs(attrs)

    def disable_with(self, text: str) -> Markup:
        """On a submit button: its text while its form's submit is in flight.

        ``<button type="submit" {{ live.disable_with("Saving…") }}>Save</button>``
        """
        return markup_attrs([(ATTR_DISABLE_WITH, _disable_with_text(text))])

    def keydown(self, event: Event, /, *, key: str | None = None, **values: Any) -> Markup:
        """A key press sends ``event`` with ``key`` (and the input's value); ``key=`` filters."""
        trigger = "keydown" if key is None else f"keydown[key=={json.dumps(key)}]"
        return self._binding("keydown", event, trigger, values, key=key)

    def keyup(self, event: Event, /, *, key: str | None = None, **values: Any) -> Markup:
        """Like ``keydown``, on key release."""
        trigger = "keyup" if key is None else f"keyup[key=={json.dumps(key)}]"
        return self._binding("keyup", event, trigger, values, key=key)

    def blur(self, event: Event, /, **values: Any) -> Markup:
        """Losing focus sends ``event``."""
        return self._binding("blur", event, "blur", values)

    def focus(self, event: Event, /, **values: Any) -> Markup:
        """Gaining focus sends ``event``."""
        return self._binding("focus", event, "focus", values)

    def patch(self, url: str, /, *, replace: bool = False) -> Markup:
        """On an ``<a>``: a link to this page with other params (LiveView's ``<.link patch>``).

        Renders a plain ``href`` (so it works without JS and opens in a new tab with a modifier
        key); with JS a click patches the page: ``handle_params`` runs, only changed regions
        come back, the URL and history change. ``replace=True`` replaces the history entry.

        ``<a {{ live.patch("?tab=settings") }}>Settings</a>``
        """
        return self._link(LINK_PATCH, url, replace)

    def navigate(self, url: str, /, *, replace: bool = False) -> Markup:
        """On an ``<a>``: a link to another live page of this router (LiveView's ``<.link navigate>``).

        With JS the page it leads to mounts and replaces this one without a full page load;
        a URL no live page of this router serves renders a plain link (a full load).

        ``<a {{ live.navigate("/dashboard/acme") }}>Dashboard</a>``
        """
        kind = LINK_NAVIGATE
        if self._resolve is not None and isinstance(url, str) and self._resolve(urlsplit(url).path or "/") is None and not url.startswith(("?", "#")):
            kind = ""  # not a live page here: a plain link
        return self._link(kind, url, replace)

    def _link(self, kind: str, url: str, replace: bool) -> Markup:
        if not isinstance(url, str) or not url:
            raise ConfigurationError(f"live.{kind or 'navigate'}() needs a URL, got {url!r}")
        key = (kind, url, replace)
        markup = self._links.get(key)
        if markup is None:
            if len(self._links) > 4096:
                self._links.clear()
            attrs: list[tuple[str, str | None]] = [("href", url)]
            if kind:
                attrs.append((ATTR_LINK, kind))
                if replace:
                    attrs.append((ATTR_LINK_STATE, LINK_STATE_REPLACE))
            markup = self._links[key] = markup_attrs(attrs)
        return markup

    def hook(self, name: str) -> Markup:
        """Attach the JS hook ``name`` (registered in ``window.LiveHooks``) to this element."""
        return markup_attrs([(ATTR_HOOK, name)])

    # -- form fields (forms.py renders them) -------------------------------------------------------
    def input(self, field: forms.FormField, type: str = "text", *, label: forms.Label = None, error: bool = True, **attrs: Any) -> Markup:
        """A form field's ``<input>``: its value, ``name``, ``id``, its error once the field is
        touched (or after a submit), ``aria-invalid`` and ``aria-describedby``; ``label=`` adds
        its ``<label>``. Other keywords are attributes (``class_="wide"``, ``autocomplete="off"``).

        ``{{ live.input(form.email, type="email", label="Email") }}``
        """
        return forms.render_input(field, type, label=label, error=error, **attrs)

    def textarea(self, field: forms.FormField, *, label: forms.Label = None, error: bool = True, **attrs: Any) -> Markup:
        """A form field's ``<textarea>``, as ``live.input``."""
        return forms.render_textarea(field, label=label, error=error, **attrs)

    def select(
        self,
        field: forms.FormField,
        options: forms.Options,
        *,
        label: forms.Label = None,
        prompt: str | None = None,
        multiple: bool = False,
        error: bool = True,
        **attrs: Any,
    ) -> Markup:
        """A form field's ``<select>``: ``options`` are values, ``(value, text)`` pairs or a mapping.

        ``{{ live.select(form.plan, [("free", "Free"), ("pro", "Pro")], prompt="Choose a plan") }}``
        """
        return forms.render_select(field, options, label=label, prompt=prompt, multiple=multiple, error=error, **attrs)

    def checkbox(self, field: forms.FormField, *, label: forms.Label = None, error: bool = True, value: str = "true", **attrs: Any) -> Markup:
        """A form field's checkbox (with a hidden ``false``, so unchecking it is sent too)."""
        return forms.render_checkbox(field, label=label, error=error, value=value, **attrs)

    def label(self, field: forms.FormField, text: str | None = None, **attrs: Any) -> Markup:
        """A ``<label for=...>`` of a form field (its text: ``text`` or the field's label)."""
        return forms.render_label(field, text, **attrs)

    def error(self, field: forms.FormField, **attrs: Any) -> Markup:
        """A form field's error element (``id`` is the field's ``error_id``): empty until the field is touched."""
        return forms.render_error(field, **attrs)

    def field(self, field: forms.FormField) -> Markup:
        """A hand-written control's attributes from a form field: ``id``, ``name``, whether it is
        touched, ``aria-invalid`` and ``aria-describedby`` (the value is yours to write).

        ``<input {{ live.field(form.email) }} value="{{ form.email.html_value }}">``
        """
        return forms.render_field_attrs(field)

    def scripts(self) -> Markup:
        """The client: htmx 4, its SSE extension and fastapi-live.js, with the client config."""
        cached = self._scripts
        if cached is not None and cached[0] == self.client_config:
            return cached[1]
        config = html.escape(json.dumps(self.client_config), quote=True)
        markup = Markup(
            f'<script src="{self.static_url}/vendor/htmx.min.js"></script>\n'
            f'<script src="{self.static_url}/vendor/hx-sse.min.js"></script>\n'
            f'<script src="{self.static_url}/fastapi-live.js" {ATTR_CONFIG}="{config}"></script>'
        )
        self._scripts = (dict(self.client_config), markup)
        return markup
