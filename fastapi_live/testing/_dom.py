"""The test browser's DOM: the page parsed by selectolax, updated as htmx 4 and fastapi-live.js do."""

# selectolax (lexbor, a WHATWG HTML5 parser) is a test-time dependency: it is imported when
# a document is first made, and its absence names the extra to install.

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import MissingDependencyError
from ..patches import text_checksum
from ..socket import ClientOp
from ..wire import ATTR_AUTO_RECOVER as ATTR_AUTO_RECOVER  # the toolkit's other modules import these from here
from ..wire import ATTR_EVENT_URL as ATTR_EVENT_URL
from ..wire import ATTR_HOOK as ATTR_HOOK
from ..wire import (
    ATTR_MORPH_SKIP,
    ATTR_MORPH_SKIP_CHILDREN,
    ATTR_ROOT,
    ATTR_SSE_CONNECT,
    ATTR_VERSION,
    BINDING_KINDS,
    CLASS_CLIENT_ERROR,
    CLASS_CONNECTED,
    CLASS_DISCONNECTED,
    CLASS_ERROR,
    CLASS_LOADING,
    CLASS_SERVER_ERROR,
    LIVE_TAG,
    MARKER_ITEMS_END,
    MARKER_ITEMS_START,
    REFRESH_TEXT,
    REFRESH_VERSION,
    SWAP_DELETE,
    SWAP_INNER_HTML,
    SWAP_INNER_MORPH,
    SWAP_MORPH,
    SWAP_NONE,
    SWAP_STREAM,
    SWAP_TEXT,
    binding_attribute,
)
from ._errors import LiveTestError

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser, LexborNode

log = logging.getLogger("fastapi_live.testing")

# The wire's names under the names the rest of the toolkit knows them by.
ATTR_STREAM_URL = ATTR_SSE_CONNECT
MORPH_SKIP = ATTR_MORPH_SKIP
MORPH_SKIP_CHILDREN = ATTR_MORPH_SKIP_CHILDREN

# htmx 4 turns <hx-partial …> into <template hx type="partial" …> before parsing (htmx.js #Ie).
_HX_OPEN = re.compile(r"<hx-([a-z]+)(\s+|>)", re.IGNORECASE)
_HX_CLOSE = re.compile(r"</hx-[a-z]+>", re.IGNORECASE)
_HEAD = re.compile(r"<head(\s[^>]*)?>[\s\S]*?</head>", re.IGNORECASE)
_FIRST_TAG = re.compile(r"<([a-z][^/>\x20\t\r\n\f]*)", re.IGNORECASE)
_SPEC_PAIR = re.compile(r"""(?:"([^"]+)"|'([^']+)'|([^\s,:]+))(?:\s*:\s*(?:"([^"]*)"|'([^']*)'|<((?:[^/]|/(?!>))+)/>|([^\s,]+)))?(?=\s|,|$)""")
_LIVE_KIND = LIVE_TAG.removeprefix("hx-")  # <hx-live> is <template hx type="live"> once converted
_SWAP_ALIASES = {"before": "beforebegin", "after": "afterend", "prepend": "afterbegin", "append": "beforeend"}


MINIMUM_SELECTOLAX = (1, 0, 2)  # moving nodes (insert_*(..., move=True)) works from 1.0.2


def require_selectolax() -> type[LexborHTMLParser]:
    """The lexbor parser class, or a ``MissingDependencyError`` naming the extra to install."""
    try:
        import selectolax
        from selectolax.lexbor import LexborHTMLParser
    except ImportError:  # pragma: no cover - reason: the test extra is always installed in this repository
        raise MissingDependencyError("selectolax must be installed to use fastapi_live.testing: pip install 'fastapi-live[test]'") from None
    version = tuple(int(part) for part in re.findall(r"\d+", str(getattr(selectolax, "__version__", "0")))[:3])
    if version < MINIMUM_SELECTOLAX:  # pragma: no cover - reason: the installed version is recent enough
        raise MissingDependencyError(
            f"selectolax>={'.'.join(map(str, MINIMUM_SELECTOLAX))} must be installed to use fastapi_live.testing, "
            f"found {selectolax.__version__}: pip install -U 'fastapi-live[test]'"
        )
    return LexborHTMLParser


def parse_attribute_object(text: str) -> dict[str, Any]:
    """htmx's ``parse``: a JSON object, or ``key:value`` pairs whose values are JSON when they can be."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        value = json.loads(text)
        return value if isinstance(value, dict) else {}
    result: dict[str, Any] = {}
    for match in _SPEC_PAIR.finditer(text):
        key = match.group(1) or match.group(2) or match.group(3)
        raw = next((g for g in match.groups()[3:] if g is not None), "true").strip()
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw
        if match.group(3) and "." in key:
            # Dotted keys nest, as in htmx: "a.b:1" is {"a": {"b": 1}}.
            *parents, last = key.split(".")
            nested: Any = {last: parsed}
            for parent in reversed(parents):
                nested = {parent: nested}
            _merge(result, nested)
        else:
            result[key] = parsed
    return result


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


@dataclass(slots=True)
class SwapSpec:
    """``hx-swap`` parsed as htmx does: a style and its modifiers."""

    style: str
    modifiers: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None, default: str = SWAP_INNER_HTML) -> SwapSpec:
        text = (text or "").strip()
        style = default
        if text and not re.match(r"^\S*:", text):
            head, _, text = text.partition(" ")
            style = head
        return cls(_SWAP_ALIASES.get(style, style), parse_attribute_object(text))


def css_escape(value: str) -> str:
    """``CSS.escape`` for an identifier (enough for DOM ids)."""
    out = []
    for index, char in enumerate(value):
        if char == "\0":
            out.append("\ufffd")
        elif "\x01" <= char <= "\x1f" or char == "\x7f" or (char.isdigit() and (index == 0 or (index == 1 and value[0] == "-"))):
            out.append(f"\\{ord(char):x} ")
        elif char.isalnum() or char in "-_" or ord(char) >= 0x80:
            out.append(char)
        else:
            out.append("\\" + char)
    return "".join(out)


def _js_number(text: str | None) -> float:
    """``Number(value)`` in JS for an attribute: NaN when it is not a number."""
    if text is None:
        return math.nan
    text = text.strip()
    if text == "":
        return 0.0
    try:
        return float(text)
    except ValueError:
        return math.nan


def element_children(node: LexborNode) -> list[LexborNode]:
    return [child for child in node.iter() if child.is_element_node]


def child_nodes(node: LexborNode) -> list[LexborNode]:
    return list(node.iter(include_text=True))


_DESCRIBED_ATTRIBUTES = frozenset({"name", "type", "value", "href", ATTR_HOOK}) | {binding_attribute(kind) for kind in BINDING_KINDS}


def describe(node: LexborNode, limit: int = 120) -> str:
    """A short, readable form of an element for error messages: ``<button#save name="action"> 'Save'``."""
    label = str(node.tag)
    dom_id = node.attrs.get("id")
    if dom_id:
        label += f"#{dom_id}"
    label += "".join(f".{name}" for name in (node.attrs.get("class") or "").split())
    attributes = [f'{name}="{value}"' if value is not None else name for name, value in node.attrs.items() if name in _DESCRIBED_ATTRIBUTES]
    text = " ".join(node.text(deep=True).split())
    out = f"<{' '.join([label, *attributes])}>" + (f" {text!r}" if text else "")
    return out if len(out) <= limit else out[: limit - 3] + "..."


@dataclass(slots=True)
class _PartialTask:
    selector: str
    swap: SwapSpec
    fragment: LexborNode
    keep: list[bool]


class LiveDocument:
    """A parsed page that live updates are applied to, as a browser's DOM would be."""

    def __init__(self, html: str) -> None:
        self._parser_class = require_selectolax()
        self.tree: LexborHTMLParser = self._parser_class(html)
        self.refreshes: list[tuple[str, str]] = []
        """(region id, why) of each text patch that did not fit its region: the view asks for those regions whole."""

    # -- reading -------------------------------------------------------------------------------
    def html(self) -> str:
        return self.tree.html or ""

    def root(self) -> LexborNode | None:
        return self.tree.css_first(f"[{ATTR_ROOT}]")

    def require_root(self) -> LexborNode:
        root = self.root()
        if root is None:
            raise LiveTestError(f"the page no longer has a live container\nExpected: an element with {ATTR_ROOT}\nGot: none")
        return root

    def root_html(self) -> str:
        return self.require_root().html or ""

    def select(self, selector: str, scope: LexborNode | None = None) -> list[LexborNode]:
        """Elements matching a CSS selector; an invalid selector is a ``LiveTestError``."""
        try:
            if scope is None:
                return self.tree.css(selector)
            return scope.css(selector)
        except Exception as exc:  # selectolax raises its own error type for a bad selector
            raise LiveTestError(
                f"invalid CSS selector: {exc}\nExpected: a selector such as '#inc', 'button.save' or 'form#settings'\nGot: {selector!r}"
            ) from None

    def by_id(self, dom_id: str) -> LexborNode | None:
        return self.tree.css_first(f'[id="{_attribute_string(dom_id)}"]')

    @staticmethod
    def closest(node: LexborNode | None, predicate: Callable[[LexborNode], bool]) -> LexborNode | None:
        while node is not None and node.is_element_node:
            if predicate(node):
                return node
            node = node.parent
        return None

    # -- the classes fastapi-live.js sets on the root ----------------------------------------------
    def set_root_classes(self, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> None:
        root = self.root()
        if root is None:
            return
        classes = [c for c in (root.attrs.get("class") or "").split() if c not in remove and c not in add]
        root.attrs["class"] = " ".join([*classes, *add])

    def mark_connected(self) -> None:
        """markConnected(): loading is over, the page is live (a server error stays shown)."""
        server_error = CLASS_SERVER_ERROR in (self.require_root().attrs.get("class") or "").split()
        remove = (CLASS_LOADING, CLASS_DISCONNECTED, CLASS_CLIENT_ERROR) + (() if server_error else (CLASS_ERROR,))
        self.set_root_classes(add=(CLASS_CONNECTED,), remove=remove)

    def show_server_error(self) -> None:
        """showServerError(): a handler failed on the server; the page says so and stays live."""
        self.set_root_classes(add=(CLASS_ERROR, CLASS_SERVER_ERROR))

    def clear_server_error(self) -> None:
        """clearServerError(), after an event the server accepted."""
        root = self.root()
        if root is None:
            return
        client_error = CLASS_CLIENT_ERROR in (root.attrs.get("class") or "").split()
        self.set_root_classes(remove=(CLASS_SERVER_ERROR,) + (() if client_error else (CLASS_ERROR,)))

    # -- applying updates ----------------------------------------------------------------------
    def apply(self, text: str) -> list[ClientOp]:
        """Swap every ``<hx-partial>`` of ``text`` into the page; return its ``<hx-live>`` operations."""
        if not text.strip():
            return []
        converted = _HX_CLOSE.sub("</template>", _HX_OPEN.sub(lambda m: f'<template hx type="{m.group(1).lower()}"{m.group(2)}', text))
        converted = _HEAD.sub("", converted)
        first = _FIRST_TAG.search(converted)
        whole_document = first is not None and first.group(1).lower() in ("html", "body")
        message = self._parser_class(converted if whole_document else f"<template>{converted}</template>")
        if whole_document:
            fragment = message.body
        else:
            fragments = message.template_fragments()
            fragment = fragments[0] if fragments else None
        if fragment is None:
            return []
        tasks: list[_PartialTask] = []
        ops: list[ClientOp] = []
        for template in fragment.css("template[hx]"):
            kind = template.attrs.get("type") or ""
            content = template.template_fragments()
            if kind == "partial":
                dom_id = template.attrs.get("id")
                selector = template.attrs.get("hx-target") or template.attrs.get("data-hx-target") or (f"#{css_escape(dom_id)}" if dom_id else None)
                if not selector or not content:
                    continue
                swap = SwapSpec.parse(template.attrs.get("hx-swap") or template.attrs.get("data-hx-swap"))
                tasks.append(_PartialTask(selector, swap, content[0], []))
            elif kind == _LIVE_KIND:
                ops.append(_client_op(content[0].text(deep=True) if content else ""))
            # Other <hx-*> types fire htmx:process:<type>, which nothing in the client handles.
        self._drop_stale(tasks)
        for task in tasks:
            self._run(task)
        return ops

    def _drop_stale(self, tasks: list[_PartialTask]) -> None:
        # fastapi-live.js htmx_before_swap: a region fragment older than the DOM's is dropped,
        # judged against the DOM before any swap of this message.
        for task in tasks:
            targets = self.select(task.selector)
            incoming = next((c for c in task.fragment.iter() if c.is_element_node), None)
            incoming_version = _js_number(incoming.attrs.get(ATTR_VERSION)) if incoming is not None and ATTR_VERSION in incoming.attrs else None
            if not targets:
                log.debug("fastapi-live test client: no target for %s (skipped, as the browser does)", task.selector)
            for target in targets:
                current = target.attrs.get(ATTR_VERSION)
                current_version = -1.0 if current is None else _js_number(current)
                task.keep.append(not (incoming_version is not None and incoming_version < current_version))

    def _run(self, task: _PartialTask) -> None:
        for index, keep in enumerate(task.keep):
            if not keep:
                continue
            # Targets are found again for each swap: an earlier swap may have replaced the
            # node, and a morph keeps elements with ids, so the same selector finds it.
            targets = self.select(task.selector)
            if index >= len(targets):
                continue
            self._swap(targets[index], task.swap, task.fragment)

    def _swap(self, target: LexborNode, spec: SwapSpec, fragment: LexborNode) -> None:
        style = spec.style
        if style == SWAP_NONE:
            return
        if style == SWAP_DELETE:
            target.decompose()
        elif style == SWAP_INNER_HTML:
            for child in child_nodes(target):
                child.decompose()
            self._append_copies(target, fragment)
        elif style == "textContent":
            for child in child_nodes(target):
                child.decompose()
            target.insert_child(fragment.text(deep=True))
        elif style == "outerHTML":
            self._insert_copies_before(target, fragment)
            target.decompose()
        elif style == SWAP_MORPH:
            self._morph(target, fragment, inner=False)
        elif style == SWAP_INNER_MORPH:
            self._morph(target, fragment, inner=True)
        elif style == "beforebegin":
            self._insert_copies_before(target, fragment)
        elif style == "afterbegin":
            first = target.first_child
            if first is None:
                self._append_copies(target, fragment)
            else:
                self._insert_copies_before(first, fragment)
        elif style == "beforeend":
            self._append_copies(target, fragment)
        elif style == "afterend":
            following = target.next
            if following is None:
                parent = target.parent
                if parent is not None:
                    self._append_copies(parent, fragment)
            else:
                self._insert_copies_before(following, fragment)
        elif style == SWAP_STREAM:
            self._stream_insert(target, fragment, spec.modifiers)
        elif style == SWAP_TEXT:
            self._text_patch(target, fragment, spec.modifiers)
        else:
            raise LiveTestError(
                f"unknown swap style {style!r} in an update\n"
                f"Expected one of: {SWAP_NONE}, {SWAP_INNER_HTML}, outerHTML, {SWAP_INNER_MORPH}, {SWAP_MORPH}, {SWAP_DELETE}, textContent, "
                f"beforebegin, afterbegin, beforeend, afterend, {SWAP_STREAM}, {SWAP_TEXT}\nGot: {style!r}"
            )

    # -- copying nodes from a message into the page ----------------------------------------------
    def _append_copies(self, parent: LexborNode, fragment: LexborNode) -> list[LexborNode]:
        return [copy for child in child_nodes(fragment) if (copy := _copy_in(child, into=parent)) is not None]

    def _insert_copies_before(self, anchor: LexborNode, fragment: LexborNode) -> list[LexborNode]:
        return [copy for child in child_nodes(fragment) if (copy := _copy_in(child, before=anchor)) is not None]

    # -- morphing ---------------------------------------------------------------------------------
    def _morph(self, target: LexborNode, fragment: LexborNode, *, inner: bool) -> None:
        """htmx's morph, as far as the result can be told apart without typed values or focus.

        The new content replaces the old, except that an element whose id is unique on both
        sides (same tag) keeps its old children when it carries ``hx-morph-skip-children``
        (stream containers do) and stays entirely old when the old one has ``hx-morph-skip``.
        """
        old_by_id = _unique_ids(target.css("[id]"))
        new_by_id = _unique_ids(fragment.css("[id]"))
        persistent = [dom_id for dom_id, node in new_by_id.items() if dom_id in old_by_id and old_by_id[dom_id].tag == node.tag]
        old_children = child_nodes(target) if inner else []
        copies = self._append_copies(target, fragment) if inner else self._insert_copies_before(target, fragment)
        kept: set[int] = set()  # old elements moved into the new content, which must survive
        for dom_id in persistent:
            old = old_by_id[dom_id]
            new = _find_in(copies, dom_id)
            if new is None or new.mem_id == old.mem_id:
                continue
            if MORPH_SKIP in old.attrs:
                _replace_with_old(copies, new, old)
                kept.add(old.mem_id)
            elif MORPH_SKIP_CHILDREN in new.attrs:
                for child in child_nodes(new):
                    child.decompose()
                for child in child_nodes(old):
                    new.insert_child(child, move=True)
        if inner:
            for child in old_children:
                if child.mem_id not in kept:
                    child.decompose()
        elif target.mem_id not in kept:
            target.decompose()

    # -- text patches (fastapi-live.js applyTextPatch) -------------------------------------------------
    def _text_patch(self, target: LexborNode, fragment: LexborNode, modifiers: dict[str, Any]) -> None:
        """One text node of the region takes the patch's text, when the region is the one the
        patch was made for; otherwise the view asks for the region whole (``refreshes``), as the browser does."""
        version = _number(modifiers.get("v"))
        current = target.attrs.get(ATTR_VERSION)
        if current is None:
            return  # another element with the region's id (a page with duplicate ids): not the region
        current_version = _js_number(current)
        if current_version >= version:
            return
        texts = [node for node in target.traverse(include_text=True) if node.is_text_node and node.text_content]
        index = int(_number(modifiers.get("n")))
        base = _number(modifiers.get("b"))
        checksum = text_checksum([node.text_content or "" for node in texts])
        if current_version != base or not 0 <= index < len(texts) or checksum != str(modifiers.get("h")):
            why = REFRESH_VERSION if current_version != base else REFRESH_TEXT
            log.debug("fastapi-live test client: a text patch does not fit %s (%s): asking for it whole", describe(target), why)
            self.refreshes.append((target.attrs.get("id") or "", why))
            return
        texts[index].replace_with(fragment.text(deep=True))
        target.attrs[ATTR_VERSION] = str(int(version)) if version.is_integer() else str(version)

    # -- streams (fastapi-live.js streamInsert) ------------------------------------------------------
    def _stream_insert(self, target: LexborNode, fragment: LexborNode, modifiers: dict[str, Any]) -> None:
        at = _number(modifiers.get("at", -1))
        limit = None if modifiers.get("limit") is None else _number(modifiers.get("limit"))
        update_only = _truthy(modifiers.get("updateOnly"))
        for child in element_children(fragment):
            dom_id = child.attrs.get("id")
            bounds = _items_bounds(target)
            items = _stream_items(target, bounds)
            existing = next((item for item in items if dom_id and item.attrs.get("id") == dom_id), None)
            if existing is not None:
                _copy_in(child, before=existing)
                existing.decompose()
                continue
            if update_only:
                continue
            anchor = items[int(at)] if 0 <= at < len(items) else (None if bounds is None else bounds[1])
            if anchor is None:
                _copy_in(child, into=target)
            else:
                _copy_in(child, before=anchor)
            if limit is not None and not math.isnan(limit):
                items = _stream_items(target, _items_bounds(target))
                excess = items[int(limit) :] if limit >= 0 else items[: max(len(items) + int(limit), 0)]
                for item in excess:
                    item.decompose()


def _items_bounds(container: LexborNode) -> tuple[LexborNode, LexborNode] | None:
    """The marker comments around a stream's items, when its container has static children too."""
    start = None
    for node in child_nodes(container):
        if node.is_comment_node:
            if node.comment_content == MARKER_ITEMS_START:
                start = node
            elif start is not None and node.comment_content == MARKER_ITEMS_END:
                return start, node
    return None


def _stream_items(container: LexborNode, bounds: tuple[LexborNode, LexborNode] | None) -> list[LexborNode]:
    """A stream's items: its container's element children, or those between the markers."""
    if bounds is None:
        return element_children(container)
    items, inside = [], False
    for node in child_nodes(container):
        if node.mem_id == bounds[0].mem_id:
            inside = True
        elif node.mem_id == bounds[1].mem_id:
            break
        elif inside and node.is_element_node:
            items.append(node)
    return items


def _client_op(text: str) -> ClientOp:
    try:
        data = json.loads(text)
    except ValueError:
        raise LiveTestError(f"malformed <hx-live> operation: expected a JSON object\nGot: {text[:200]!r}") from None
    if not isinstance(data, dict):
        raise LiveTestError(f"malformed <hx-live> operation: expected a JSON object\nGot: {text[:200]!r}")
    return ClientOp(str(data.get("kind", "")), str(data.get("name", "")), data.get("payload"))


def _unique_ids(nodes: list[LexborNode]) -> dict[str, LexborNode]:
    seen: dict[str, LexborNode] = {}
    duplicated: set[str] = set()
    for node in nodes:
        dom_id = node.attrs.get("id")
        if not dom_id:
            continue
        if dom_id in seen:
            duplicated.add(dom_id)
        seen[dom_id] = node
    return {k: v for k, v in seen.items() if k not in duplicated}


def _find_in(tops: list[LexborNode], dom_id: str) -> LexborNode | None:
    selector = f'[id="{_attribute_string(dom_id)}"]'
    for top in tops:
        if top.is_element_node:
            found = top.css_first(selector)
            if found is not None:
                return found
    return None


def _replace_with_old(copies: list[LexborNode], new: LexborNode, old: LexborNode) -> None:
    for index, top in enumerate(copies):
        if top.mem_id == new.mem_id:
            new.insert_before(old, move=True)
            copies[index] = old
            new.decompose()
            return
    new.insert_before(old, move=True)
    new.decompose()


def _copy_in(child: LexborNode, *, into: LexborNode | None = None, before: LexborNode | None = None) -> LexborNode | None:
    """Copy ``child`` from a message to the end of ``into`` or just before ``before``; the copy."""
    if before is not None:
        before.insert_before(child)
        copy = before.prev
    else:
        assert into is not None
        into.insert_child(child)
        copy = into.last_child
    if copy is not None:
        _patch_templates(child, copy)
    return copy


def _patch_templates(source: LexborNode, copy: LexborNode) -> None:
    # A <template>'s content is not copied between documents; write it back as markup.
    if not source.is_element_node:
        return
    sources = source.css("template")
    if not sources:
        return
    for original, copied in zip(sources, copy.css("template"), strict=False):
        content = original.template_fragments()
        if content and content[0].html:
            copied.inner_html = content[0].html


def _attribute_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return _js_number(None if value is None else str(value))


def _truthy(value: Any) -> bool:
    # JS truthiness of a parsed modifier: "updateOnly:true" is true, "updateOnly:false" false.
    if isinstance(value, str):
        return value != ""
    return bool(value)
