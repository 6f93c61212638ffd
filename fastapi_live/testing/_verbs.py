"""The testing verbs (``live``, ``render_click``, ``render_async``, ...), async flavour."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import urlencode

from fastapi import FastAPI
from pydantic import BaseModel

from ..components import LiveComponent
from ..pubsub.memory import MemoryPubSub
from ..router import LiveRouter, OnMount
from ..socket import Assigns, ClientOp
from ..wire import ATTR_KEY, ATTR_LINK, ATTR_LINK_STATE, LINK_PATCH, LINK_STATE_REPLACE, NAVIGATE_HEADER, OP_NAVIGATE, PARAM_COMPONENT
from ._client import LiveTestClient, live_routers
from ._commands import PUSH, Command, chain_of
from ._dom import ATTR_HOOK, describe
from ._errors import LiveRedirect, LiveTestError
from ._forms import (
    Pairs,
    add_unused_markers,
    control_value,
    element_type,
    field_names,
    form_elements,
    form_owner,
    has_value_property,
    hx_vals,
    is_disabled,
    is_text_control,
    js_string,
    key_filter,
    request_params,
    set_pair,
)
from ._view import Element, FormElement, LiveTestView, open_view

if TYPE_CHECKING:
    from selectolax.lexbor import LexborNode

DEFAULT_TIMEOUT = 5.0
"""Seconds ``live``, ``render_async`` and the event verbs wait for the server."""
ASSERT_TIMEOUT = 1.0
"""Seconds ``assert_push_event`` and ``assert_redirect`` wait for what they expect."""

Values = Mapping[str, Any] | BaseModel
_MISSING: Any = object()
_BUBBLING = frozenset({"click", "change", "submit", "keydown", "keyup"})
_SELECTOR_HINT = re.compile(r"^[#.\[]|[\s>+~:\[]")


def _client_for(app_or_client: Any, verb: str) -> tuple[LiveTestClient, bool]:
    if isinstance(app_or_client, LiveTestClient):
        return app_or_client, False
    if isinstance(app_or_client, (LiveTestView, Element)) or not callable(app_or_client):
        raise LiveTestError(
            f"{verb}() needs the app to open the page in\nExpected: an ASGI app (e.g. your FastAPI app) or a LiveTestClient\nGot: {app_or_client!r}"
        )
    return LiveTestClient(app_or_client, lifespan=False), True


async def live(app_or_client: Any, path: str, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[LiveTestView, str]:
    """Open the live page at ``path``: returns the view and the HTML the page was first rendered with.

    ``app_or_client`` is your ASGI app (a fresh browser each call) or a ``LiveTestClient``
    (shared cookies, the app's lifespan). The page, its stream and its events go through
    the same endpoints as in production. A page that redirects raises ``LiveRedirect``.

    >>> view, html = await live(app, "/dashboard/acme")
    >>> assert "Loading organization..." in html
    """
    client, owned = _client_for(app_or_client, "live")
    return await open_view(client, path, timeout=timeout, owns_client=owned)


async def live_isolated(
    app_or_client: Any,
    view: Any,
    *,
    template: str | None = None,
    params: Mapping[str, Any] | None = None,
    on_mount: Sequence[OnMount] = (),
    templates: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[LiveTestView, str]:
    """Mount a ``LiveView`` (or an async mount function) that no route serves.

    The view gets a router of its own, using the app's templates, PubSub and dependency
    overrides (or ``templates=`` when the app has no ``LiveRouter``); ``params`` become
    its query parameters, so ``mount`` receives them; ``on_mount`` hooks are the only ones run.

    >>> view, html = await live_isolated(app, Counter, template="counter.html", params={"start": 5})
    """
    client, owned = _client_for(app_or_client, "live_isolated")
    routers = live_routers(client.app)
    source = routers[0] if routers else None
    environment = templates if templates is not None else (source.environment if source is not None else None)
    if environment is None:
        raise LiveTestError(
            "live_isolated() needs templates: the app has no LiveRouter to take them from\n"
            "Expected: live_isolated(app, View, templates=Jinja2Templates(directory=...))\n"
            f"Got: {client.app!r} with no LiveRouter"
        )
    router = LiveRouter(
        templates=environment,
        secret_key=secrets.token_hex(16),
        on_mount=on_mount,
        pubsub=source.pubsub if source is not None else MemoryPubSub(),
        config=source.config if source is not None else None,
    )
    router.page("/", template=template)(view)
    isolated = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    isolated.include_router(router)
    overrides = getattr(client.app, "dependency_overrides", None)
    if isinstance(overrides, dict):
        isolated.dependency_overrides = overrides
    # The same browser: the isolated app's client shares this one's cookie jar.
    isolated_client = LiveTestClient(isolated, base_url=client._origin, lifespan=False, cookies=client.cookies.jar)
    query = urlencode(list(params.items()), doseq=True) if params else ""
    cleanups = [router.manager.close_all, *([client.aclose] if owned else [])]
    opened, html = await open_view(isolated_client, "/" + (f"?{query}" if query else ""), timeout=timeout, owns_client=True, cleanups=cleanups)
    opened._redirect_client = client
    return opened, html


def render(target: LiveTestView | Element) -> str:
    """The HTML the browser shows now: the live container, or one element.

    >>> assert "Count: 3" in render(view)
    """
    if isinstance(target, Element):
        target.view._raise_stream_errors()
        return target.resolve().html or ""
    target._raise_stream_errors()
    return target._html()


async def render_async(view: LiveTestView, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Wait for every ``assign_async`` / ``start_async`` / ``stream_async`` task of the view,
    then return its HTML with their updates applied.

    >>> html = await render_async(view)
    >>> assert "Acme Corp" in html
    """
    view._require_usable("render_async")
    session = await view._live_session(timeout)
    try:
        await asyncio.wait_for(session.wait_idle(), timeout)
    except TimeoutError:
        pending = session.tasks.labels()
        raise LiveTestError(
            f"render_async({view.view_name}) timed out after {timeout} s with tasks still running: "
            f"{', '.join(pending) or '(none; the session is still handling messages)'}\n"
            "Expected: every assign_async / start_async / stream_async task to finish\n"
            f"Got: still pending: {pending}. Raise the limit with render_async(view, timeout=...) if they are just slow"
        ) from None
    await view._sync(timeout)
    return view._html()


def element(view: LiveTestView, selector: str, text: str | re.Pattern[str] | None = None) -> Element:
    """The one element of the view matching ``selector`` (and containing ``text``, a string or regex).

    Raises ``LiveTestError`` unless exactly one element matches; it is looked up again
    each time it is used, so it follows the page as it changes.

    >>> html = await render_click(element(view, "button", text="Dismiss"))
    """
    found = Element(view, selector, text)
    found.resolve()
    return found


def form(view: LiveTestView, selector: str, values: Values | None = None) -> FormElement:
    """The one form of the view matching ``selector``, with ``values`` to type into it (a mapping
    or a pydantic model; each must be a field of the form, as a user can only type into those).

    >>> settings = form(view, "#settings-form", Settings(name="Ada", email="ada@example.com"))
    >>> html = await render_submit(settings)
    >>> settings.errors, settings.touched
    ({}, frozenset({'name', 'email'}))
    """
    if not isinstance(view, LiveTestView):
        raise LiveTestError(f"form() takes the view the form is on\nExpected: form(view, '#settings-form', {{...}})\nGot: {view!r}")
    typed = _typed_values(values, "form")
    found = FormElement(view, selector, typed)
    node = found.resolve()
    if node.tag != "form":
        raise LiveTestError(f"form(view, {selector!r}) matched an element that is not a form\nExpected: a <form>\nGot: {describe(node, 100)}")
    names = field_names(view._document, node)
    for key in typed:
        if key not in names:
            raise LiveTestError(f"form(): {describe(node, 80)} has no field {key!r}\nExpected one of: {', '.join(names) or '(no fields)'}\nGot: {key!r}")
    return found


def has_element(target: LiveTestView | Element, selector: str | None = None, text: str | re.Pattern[str] | None = None) -> bool:
    """Whether the page shows an element matching ``selector`` (and ``text``).

    >>> assert has_element(view, "#post-3")
    """
    if isinstance(target, Element):
        return bool(target.nodes())
    if selector is None:
        raise LiveTestError("has_element(view, selector) needs a selector\nExpected: has_element(view, '#post-1')\nGot: None")
    return bool(Element(target, selector, text).nodes())


# ------------------------------------------------------------------------------------------------
# Events
# ------------------------------------------------------------------------------------------------


def _looks_like_selector(text: str) -> bool:
    return bool(_SELECTOR_HINT.search(text))


def _node_or_event(view: LiveTestView, text: str, verb: str) -> LexborNode | None:
    try:
        found = view._document.select(text, view._document.root())
    except LiveTestError:
        return None  # not a CSS selector: an event name
    if not found:
        return None
    if len(found) > 1:
        raise LiveTestError(
            f"{verb}(view, {text!r}) matched {len(found)} elements\n"
            "Expected: a selector matching exactly one element (or an event name matching none); "
            "use element(view, selector, text=...) to pick one\n"
            f"Got: {', '.join(describe(n, 80) for n in found[:5])}"
        )
    return found[0]


def _binding(view: LiveTestView, node: LexborNode, kind: str) -> LexborNode | None:
    attribute = f"data-live-{kind}"
    if kind in _BUBBLING:
        return view._document.closest(node, lambda n: attribute in n.attrs)
    return node if attribute in node.attrs else None


def _field_named(view: LiveTestView, form: LexborNode, name: str) -> LexborNode | None:
    return next((n for n in form_elements(view._document, form) if n.attrs.get("name") == name and not is_disabled(n)), None)


def _set_value(pairs: Pairs, key: str, value: Any) -> None:
    if isinstance(value, (list, tuple)):
        pairs[:] = [pair for pair in pairs if pair[0] != key]
        pairs.extend((key, js_string(item)) for item in value)
    elif isinstance(value, Mapping):
        raise LiveTestError(
            f"the value for {key!r} is a mapping, but a form sends strings\nExpected: a string, number, boolean or a list of them\nGot: {value!r}"
        )
    else:
        set_pair(pairs, key, js_string(value))


def _check_fields(view: LiveTestView, form: LexborNode, bound: LexborNode, values: Mapping[str, Any], verb: str) -> None:
    allowed = [*field_names(view._document, form), *hx_vals(view._document, bound), "_target"]
    for key in values:
        if key not in allowed:
            raise LiveTestError(
                f"{verb}(): {describe(form, 80)} has no field {key!r}\nExpected one of: {', '.join(a for a in allowed if a != '_target')}\nGot: {key!r}"
            )
        control = _field_named(view, form, key)
        if control is not None and is_text_control(control) and "readonly" in control.attrs:
            why = "its form's submit is in flight (the form is locked until the reply lands)" if view._is_locked(form) else "it is rendered readonly"
            raise LiveTestError(
                f"{verb}(): nothing can be typed into the field {key!r}: {why}\n"
                f"Expected: a field the user can type into{'; await the render_submit first' if view._is_locked(form) else ''}\n"
                f"Got: {describe(control, 100)}"
            )


def _check_required(view: LiveTestView, bound: LexborNode, submitter: LexborNode | None, pairs: Pairs, event: str, verb: str) -> None:
    # htmx validates the form before a request from a <form> (hx-validate defaults to true there).
    setting = bound.attrs.get("hx-validate")
    if setting is not None:
        validate = setting == "true"
    else:
        validate = bound.tag == "form" and "novalidate" not in bound.attrs and not (submitter is not None and "formnovalidate" in submitter.attrs)
    form = form_owner(view._document, bound)
    if not validate or form is None:
        return
    sent: dict[str, list[str]] = {}
    for key, value in pairs:
        sent.setdefault(key, []).append(value)
    for control in form_elements(view._document, form):
        name = control.attrs.get("name")
        if not name or "required" not in control.attrs or is_disabled(control) or control.tag not in ("input", "select", "textarea"):
            continue
        if control.tag == "input" and element_type(control) in ("hidden", "submit", "button", "reset", "image"):
            continue
        if not any(value != "" for value in sent.get(name, [])):
            raise LiveTestError(
                f"{verb}(): the browser would not send {event!r}: the required field {name!r} is empty\n"
                f"Expected: a value for every required field of {describe(form, 60)}, or novalidate on the form\n"
                f"Got: {dict(sent)!r}"
            )


async def _follow_link(view: LiveTestView, link: LexborNode, timeout: float) -> str:
    """fastapi-live.js on a click on a ``live.patch`` / ``live.navigate`` link."""
    href = link.attrs.get("href") or ""
    replace = link.attrs.get(ATTR_LINK_STATE) == LINK_STATE_REPLACE
    if link.attrs.get(ATTR_LINK) == LINK_PATCH:
        return await view._patch(href, replace=replace, timeout=timeout)
    # A navigation leaves the page: follow_redirect(view) opens the page it leads to.
    view._redirect = ClientOp(OP_NAVIGATE, view._resolve(href), {"replace": replace})
    view._changes.notify()
    return view._html()


async def _from_node(view: LiveTestView, kind: str, verb: str, node: LexborNode, values: Mapping[str, Any], timeout: float) -> str:
    document = view._document
    if kind == "click" and _binding(view, node, "click") is None:
        link = document.closest(node, lambda n: n.tag == "a" and ATTR_LINK in n.attrs)
        if link is not None:
            return await _follow_link(view, link, timeout)
    submitter: LexborNode | None = None
    event_target = node
    form: LexborNode | None = None
    if kind == "submit":
        owner = form_owner(document, node)
        if node.tag == "form":
            form = node
        elif element_type(node) == "submit" and owner is not None:
            form, submitter = owner, node
        else:
            raise LiveTestError(f"{verb}() needs a form or a submit button\nExpected: element(view, 'form#settings')\nGot: {describe(node)}")
        event_target = form
    elif kind == "change" and node.tag == "form":
        form = node
        typed = next((f for f in (_field_named(view, node, key) for key in reversed(list(values))) if f is not None), None)
        event_target = typed or node
    bound = _binding(view, event_target, kind)
    if bound is None:
        where = "on the element itself (the event does not bubble)" if kind not in _BUBBLING else "on the element or an ancestor"
        raise LiveTestError(
            f"{verb}(): {describe(event_target, 100)} has no {kind} binding\n"
            f"Expected: a data-live-{kind} attribute {where}, as {{{{ live.{kind}(...) }}}} writes\n"
            f"Got: none"
        )
    event = bound.attrs.get(f"data-live-{kind}") or ""
    chain = chain_of(event)
    if kind == "submit" and form is not None and view._is_locked(form):
        return view._html()  # in flight already: the browser drops a second submit (a double click submits once)
    if form is None and kind == "change":
        form = form_owner(document, bound)
    if form is not None and kind in ("change", "submit"):
        _check_fields(view, form, bound, values, verb)
    pairs = request_params(document, bound, submitter)
    own_name = bound.attrs.get("name")
    if own_name and has_value_property(bound) and form_owner(document, bound) is None and all(k != own_name for k, _ in pairs):
        # fastapi-live.js: a bound input outside a form still sends its own value.
        set_pair(pairs, own_name, control_value(bound))
    if kind in ("keydown", "keyup"):
        wanted = bound.attrs.get(ATTR_KEY) if chain is not None else key_filter(bound, kind)
        key = values.get("key", wanted)
        if key is None:
            raise LiveTestError(f"{verb}() needs the key that was pressed\nExpected: {verb}(..., {{'key': 'Enter'}})\nGot: {dict(values)!r}")
        if wanted is not None and js_string(key) != wanted:
            return view._html()  # the trigger's key filter ignores other keys: nothing is sent
        set_pair(pairs, "key", js_string(key))
        if has_value_property(bound):
            set_pair(pairs, "value", control_value(bound))
    if kind == "change" and event_target.attrs.get("name") and (form is None or event_target.mem_id != form.mem_id):
        set_pair(pairs, "_target", event_target.attrs.get("name") or "")
    for key, value in values.items():
        _set_value(pairs, key, value)
    owner = form_owner(document, bound)
    if owner is not None:
        # fastapi-live.js: typing touches a field, a submit touches them all; every event from a
        # form names the fields not touched yet.
        touched = view.touched_fields(owner)
        if kind == "submit":
            touched.update(field_names(document, owner))
        elif kind == "change":
            touched.update(key for key in values if key in field_names(document, owner))
            if event_target.attrs.get("name"):
                touched.add(event_target.attrs.get("name") or "")
        add_unused_markers(document, owner, pairs, touched, submitter)
    _check_required(view, bound, submitter, pairs, event, verb)
    # fastapi-live.js loadingElements(): the element (the input typed into, the submitter), its form.
    element = submitter or bound if kind == "submit" else event_target if kind == "change" else bound
    loading = [node for node in (element, owner, bound if bound.tag == "form" else None) if node is not None]
    unique = list({node.mem_id: node for node in loading}.values())
    if chain is not None:
        return await _run_chain(view, kind, chain, bound, pairs, unique, form if kind == "submit" else None, timeout)
    with view._in_flight(kind, unique, lock=form if kind == "submit" else None):
        return await view._post_event(event, form=pairs, source=bound, timeout=timeout)


async def _run_chain(
    view: LiveTestView, kind: str, chain: list[Command], bound: LexborNode, pairs: Pairs, loading: list[LexborNode], lock: LexborNode | None, timeout: float
) -> str:
    """fastapi-live.js execCommands(): DOM commands change the test DOM at once, in order; each push
    sends its event (with what the element sends, its own values on top), and its reply lands after."""
    view._commands.run(bound, chain)
    source: LexborNode | None = bound
    for name, args in chain:
        if name != PUSH:
            continue
        sent = list(pairs)
        for key, value in (args.get("value") or {}).items():
            set_pair(sent, key, js_string(value))
        with view._in_flight(kind, loading, lock=lock):
            await view._post_event(str(args.get("event")), form=sent, source=source, timeout=timeout)
        # The reply may have replaced the element: later pushes go without it (the browser's are all sent already).
        source, loading, lock = None, [], None
    return view._html()


def _typed_values(values: Any, verb: str) -> dict[str, Any]:
    """The values a test types: a mapping, or a pydantic model (its fields as a form sends them)."""
    if values is None:
        return {}
    if isinstance(values, BaseModel):
        dumped = values.model_dump(mode="json")
        return {key: "" if value is None else value for key, value in dumped.items()}
    if isinstance(values, Mapping):
        return dict(values)
    raise LiveTestError(
        f"{verb}() takes the values typed as a mapping or a pydantic model\nExpected: {{'email': 'ada@example.com'}} or Settings(...)\nGot: {values!r}"
    )


async def _dispatch(kind: str, target: LiveTestView | Element, second: Any, values: Values | None, timeout: float) -> str:
    verb = f"render_{kind}"
    if isinstance(target, Element):
        if isinstance(second, (Mapping, BaseModel)) and values is None:
            values, second = second, None
        if second is not None:
            raise LiveTestError(f"{verb}(element, values) takes the values as its second argument\nExpected: a mapping such as {{'by': 2}}\nGot: {second!r}")
        target.view._require_usable(verb)
        typed = _typed_values(values, verb)
        if isinstance(target, FormElement):
            typed = {**target.given, **typed}
        return await _from_node(target.view, kind, verb, target.resolve(), typed, timeout)
    if not isinstance(target, LiveTestView):
        raise LiveTestError(f"{verb}() takes a view or an element\nExpected: {verb}(view, '#id') or {verb}(element(view, '#id'))\nGot: {target!r}")
    if not isinstance(second, str) or not second:
        raise LiveTestError(f"{verb}(view, ...) needs a selector or an event name\nExpected: {verb}(view, '#save') or {verb}(view, 'save')\nGot: {second!r}")
    target._require_usable(verb)
    node = _node_or_event(target, second, verb)
    if node is not None:
        return await _from_node(target, kind, verb, node, _typed_values(values, verb), timeout)
    note = f"{second!r} matched no element, so it was sent as an event name" if _looks_like_selector(second) else ""
    return await target._post_event(second, payload=_typed_values(values, verb), sent_as=note, timeout=timeout)


@overload
async def render_click(target: Element, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
async def render_click(target: LiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
async def render_click(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Click: find the element (a selector or an ``Element``), read its ``live.click`` binding
    and ``hx-vals`` like the browser, post the event, return the updated HTML.

    A string that matches no element is sent as an event name, with ``values`` as JSON.
    ``values`` are added to (and override) what the element sends.

    >>> html = await render_click(view, "#add")
    >>> html = await render_click(element(view, "button", text="Dismiss"))
    >>> html = await render_click(view, "inc", {"by": 2})
    """
    return await _dispatch("click", target, second, values, timeout)


@overload
async def render_change(target: Element, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
async def render_change(target: LiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
async def render_change(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Type into a form: sends its ``live.change`` event with the form's values, ``values``
    on top (as if typed; ``_target`` names the last of them). Unknown field names are errors.

    >>> html = await render_change(view, "#settings", {"email": "not-an-email"})
    """
    return await _dispatch("change", target, second, values, timeout)


@overload
async def render_submit(target: Element, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
async def render_submit(target: LiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
async def render_submit(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Submit a form (or click its submit button): sends its ``live.submit`` event with
    every field's value, ``values`` on top. Required fields left empty stop it, as in a browser.

    >>> html = await render_submit(view, "#settings", {"name": "Ada", "email": "ada@example.com"})
    """
    return await _dispatch("submit", target, second, values, timeout)


@overload
async def render_keydown(target: Element, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
async def render_keydown(target: LiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
async def render_keydown(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Press a key (``values["key"]``) on an element bound with ``live.keydown``; a key its
    ``key=`` filter does not accept sends nothing, as in the browser.

    >>> html = await render_keydown(view, "#search", {"key": "Enter"})
    """
    return await _dispatch("keydown", target, second, values, timeout)


@overload
async def render_keyup(target: Element, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
async def render_keyup(target: LiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
async def render_keyup(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Release a key on an element bound with ``live.keyup`` (see ``render_keydown``).

    >>> html = await render_keyup(view, "#search", {"key": "a"})
    """
    return await _dispatch("keyup", target, second, values, timeout)


@overload
async def render_blur(target: Element, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
async def render_blur(target: LiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
async def render_blur(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Move focus away from an element bound with ``live.blur``.

    >>> html = await render_blur(view, "#name")
    """
    return await _dispatch("blur", target, second, values, timeout)


@overload
async def render_focus(target: Element, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
async def render_focus(target: LiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
async def render_focus(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Focus an element bound with ``live.focus``.

    >>> html = await render_focus(view, "#name")
    """
    return await _dispatch("focus", target, second, values, timeout)


async def render_hook(target: LiveTestView | Element, event: str, values: Values | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Send ``event`` as a JS hook's ``this.pushEvent(event, values)`` does (a JSON body).

    Given an element, it must carry a hook (``live.hook(...)``). The handler's reply is
    kept for ``assert_reply``.

    >>> html = await render_hook(element(view, "#chart"), "chart-ready", {"width": 640})
    """
    if isinstance(target, Element):
        node = target.resolve()
        if ATTR_HOOK not in node.attrs:
            raise LiveTestError(
                f"render_hook(): {describe(node, 100)} has no JS hook\nExpected: an element rendered with {{{{ live.hook('Name') }}}} ({ATTR_HOOK})\nGot: none"
            )
        view = target.view
    else:
        view = target
    view._require_usable("render_hook")
    payload = dict(values or {})
    if isinstance(target, Element):
        component = view._component_of(target.resolve())  # a hook inside a component pushes to it, as in the browser
        if component:
            payload[PARAM_COMPONENT] = component
    return await view._post_event(event, payload=payload, timeout=timeout)


def component_assigns(view: LiveTestView, component: type[LiveComponent], id: Any) -> Assigns:
    """The assigns of the page's ``component`` with ``id``, read-only.

    >>> assert component_assigns(view, TodoItem, 3).editing is True
    """
    entry = view.session.patcher.components.get(component, id)
    if entry is None:
        name = getattr(component, "__name__", repr(component))
        shown = sorted(repr(e.id) for e in view.session.patcher.components if e.cls is component)
        raise LiveTestError(
            f"the page has no {name} with id={id!r}\nExpected one of: {', '.join(shown) or f'(no {name} on the page)'}\nGot: id={id!r}"
        )
    return entry.socket.assigns


async def send_update(view: LiveTestView, component: type[LiveComponent], id: Any, /, *, timeout: float = DEFAULT_TIMEOUT, **assigns: Any) -> str:
    """``socket.send_update(component, id=id, **assigns)`` from inside the session, as the page's
    view would; returns the HTML after its re-render.

    >>> html = await send_update(view, TodoItem, 3, todo=Todo(id=3, title="Renamed"))
    """
    view._require_usable("send_update")
    component_assigns(view, component, id)  # the same clear error for a component not on the page
    await view.session.call(lambda socket: socket.send_update(component, id=id, **assigns))
    await view._sync(timeout)
    return view._html()


async def send_info(view: LiveTestView, message: Any, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Deliver ``message`` to the view's ``handle_info`` (hooks first) and return the HTML after it.

    >>> html = await send_info(view, NewNotification(id=1, message="hi"))
    """
    view._require_usable("send_info")
    session = await view._live_session(timeout)
    session.send_info(message)
    # A call queued behind the message returns once the message has been handled.
    await asyncio.wait_for(session.call(lambda socket: None), timeout)
    await view._sync(timeout)
    return view._html()


async def assert_push_event(view: LiveTestView, event: str, payload: Any = _MISSING, *, timeout: float = ASSERT_TIMEOUT) -> Any:
    """Assert the server pushed ``event`` (with ``payload``, when given) to the page; returns the payload.

    Each pushed event satisfies one assertion. Waits up to ``timeout`` seconds for it.

    >>> await assert_push_event(view, "saved", {"id": 1})
    """

    def index() -> int | None:
        for position, (name, received) in enumerate(view._push_events):
            if name == event and (payload is _MISSING or received == payload):
                return position
        return None

    await view._wait_for(lambda: index() is not None or view.closed, timeout)
    position = index()
    if position is None:
        wanted = "" if payload is _MISSING else f" with payload {payload!r}"
        got = ", ".join(f"{name} {received!r}" for name, received in view._push_events) or "no push events"
        raise LiveTestError(f"{view.view_name} did not push event {event!r}{wanted}\nExpected: the push within {timeout} s\nGot: {got}")
    return view._push_events.pop(position)[1]


def assert_reply(view: LiveTestView, payload: Any = _MISSING) -> Any:
    """Assert an event handler replied (to ``render_hook``) with ``payload``; returns the reply.

    >>> await render_hook(view, "chart-ready", {})
    >>> assert_reply(view, {"points": 3})
    """
    for position, received in enumerate(view._replies):
        if payload is _MISSING or received == payload:
            return view._replies.pop(position)
    wanted = "a reply" if payload is _MISSING else f"the reply {payload!r}"
    raise LiveTestError(
        f"{view.view_name} did not send {wanted}\nExpected: an event handler that returns it (to render_hook)\nGot: {view._replies or 'no replies'}"
    )


async def render_patch(view: LiveTestView, url: str, *, replace: bool = False, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Patch the page to ``url`` as a ``live.patch`` link (or Back/Forward) does: ``handle_params``
    runs, the changed regions are applied and ``view.url`` becomes ``url``; returns the HTML.

    A URL of another live page navigates instead (``follow_redirect(view)`` opens it).

    >>> html = await render_patch(view, "?tab=settings")
    >>> assert view.url == "/dashboard/acme?tab=settings"
    """
    return await view._patch(url, replace=replace, timeout=timeout)


async def assert_patch(view: LiveTestView, to: str | None = None, *, timeout: float = ASSERT_TIMEOUT) -> str:
    """Assert the server patched the page's URL (``socket.push_patch``), to ``to`` when given;
    returns the URL. Each patch satisfies one assertion; waits up to ``timeout`` seconds.

    >>> await render_click(view, "#next-page")
    >>> await assert_patch(view, "/posts?page=2")
    """

    def index() -> int | None:
        for position, url in enumerate(view._patches):
            if to is None or url == to:
                return position
        return None

    await view._wait_for(lambda: index() is not None or view.closed, timeout)
    position = index()
    if position is None:
        wanted = "" if to is None else f" to {to!r}"
        got = ", ".join(repr(url) for url in view._patches) or "no patches"
        if view._redirect is not None:
            got += f"; a {view._redirect.kind} to {view._redirect.name!r}"
        raise LiveTestError(f"{view.view_name} did not patch{wanted}\nExpected: socket.push_patch(...) within {timeout} s\nGot: {got}")
    return view._patches.pop(position)


async def assert_redirect(view: LiveTestView, to: str | None = None, *, timeout: float = ASSERT_TIMEOUT) -> str:
    """Assert the view sent the browser elsewhere (``socket.redirect`` / ``socket.push_navigate``); returns where.

    >>> await render_click(view, "#logout")
    >>> await assert_redirect(view, "/login")
    """
    await view._wait_for(lambda: view._redirect is not None or view.closed, timeout)
    redirect = view._redirect
    if redirect is None:
        raise LiveTestError(
            f"{view.view_name} did not redirect\nExpected: socket.redirect(...) or socket.push_navigate(...) within {timeout} s\nGot: no redirect"
        )
    if to is not None and redirect.name != to:
        raise LiveTestError(f"{view.view_name} redirected elsewhere\nExpected: a redirect to {to!r}\nGot: a {redirect.kind} to {redirect.name!r}")
    return redirect.name


async def follow_redirect(redirect: LiveTestView | LiveRedirect, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[LiveTestView, str]:
    """Open the live page a redirect leads to: from a view that redirected, or the
    ``LiveRedirect`` that ``live()`` raised. The old view is closed, as the browser left it.

    >>> await render_click(view, "#leave")
    >>> view, html = await follow_redirect(view)
    """
    owned = False
    left: LiveTestView | None = None
    if isinstance(redirect, LiveRedirect):
        client = redirect.client
        to = redirect.to
        if not isinstance(client, LiveTestClient):
            raise LiveTestError(f"cannot follow {redirect!r}: it does not know the app\nExpected: a LiveRedirect raised by live()\nGot: {client!r}")
        if client.is_closed:
            # live(app, ...) opened the page in a browser of its own, closed with the redirect:
            # the page it leads to opens in a fresh one with the same cookies.
            client, owned = LiveTestClient(client.app, base_url=client._origin, lifespan=False, cookies=client.cookies.jar), True
    else:
        to = await assert_redirect(redirect, timeout=timeout)
        client = redirect._redirect_client
        left = redirect
    headers: list[tuple[str, str]] = []
    if left is not None and left._redirect is not None and left._redirect.kind == OP_NAVIGATE:
        # A live navigation names the page it leaves: the server ends that page's session.
        headers.append((NAVIGATE_HEADER, left._token))
    # A browser follows HTTP redirects on its own (a login route that redirects again).
    try:
        return await open_view(client, to, timeout=timeout, owns_client=owned, follow_redirects=True, headers=headers)
    finally:
        if left is not None:
            await left._shutdown()  # the browser left the page: no warning, production cancels its tasks too
