"""The render-to-patch step: a socket's changes as the fragments that carry them to the browser.

The session asks for a patch after each message it handles (as LiveView's channel asks its
``Diff``); rendering knows regions, this module knows which regions, stream operations and
client operations a set of changes turns into, and builds them with the wire's vocabulary.
"""

from __future__ import annotations

import functools
import html
import re
import zlib
from collections.abc import Callable, Mapping
from string import ascii_lowercase
from typing import Any

from markupsafe import Markup, escape

from .components import ROOT_SCOPE, ComponentRegistry
from .exceptions import EventError, LiveError
from .helpers import TemplateHelpers
from .lifecycle import run_hooks
from .rendering import PageContext, PageTemplate, Region
from .socket import NO_CHANGES, UNKNOWN, ClientOp
from .streams import StreamOp, initial_items
from .telemetry import owner_of, telemetry
from .view import LiveSocket
from .wire import (
    ATTR_COMPONENT,
    ATTR_EVENT_URL,
    ATTR_HOOK,
    ATTR_MORPH_SKIP,
    ATTR_REGION,
    ATTR_ROOT,
    ATTR_SSE_CONNECT,
    ATTR_STREAM,
    ATTR_TOKEN,
    ATTR_VIEW,
    CLASS_LOADING,
    REFRESH_EVENT,
    REFRESH_TEXT,
    ROOT_ID,
    SWAP_DELETE,
    SWAP_INNER_HTML,
    SWAP_INNER_MORPH,
    SWAP_NONE,
    markup_attrs,
    partial,
    push_element,
    stream_swap,
    text_partial,
)

# -- text patches: a region whose change is one text node --------------------------------------------
TEXT_PATCH_MAX = 4096
"""Characters of a region's content at most for its change to go as a text patch: what a page
keeps of each region it re-rendered (a region past this goes whole, and is not kept)."""
# A tag or a comment; what lies between is text. Quoted attribute values may hold ">".
_TAG = re.compile(r"""(<!--.*?-->|</?[A-Za-z][^\s/>]*(?:[^>"']|"[^"]*"|'[^']*')*>)""", re.S)
# Content whose text the browser does not parse as it reads here (raw text elements, a leading
# newline dropped, CDATA, odd comments), or whose DOM the client changes beside the server
# (streams, skipped morphs, hooks, components): such a region always goes whole.
_NO_TEXT_PATCH = re.compile(
    r"<(?:textarea|script|style|title|pre|listing|template|noscript|noembed|noframes|iframe|xmp|plaintext)\b|<!---?>|<!\[|\0"
    + "|".join(("", ATTR_STREAM, ATTR_MORPH_SKIP, ATTR_HOOK, ATTR_COMPONENT)),
    re.I,
)
_HTML_SPACE = " \t\n\f\r"


def _dom_text(piece: str) -> str:
    """The text node the browser makes of ``piece``, the HTML between two tags."""
    if "\r" in piece:
        piece = piece.replace("\r\n", "\n").replace("\r", "\n")
    return html.unescape(piece) if "&" in piece else piece


def text_checksum(texts: list[str]) -> str:
    """The checksum the client compares a region's text nodes with (``wire.text_partial``)."""
    value = zlib.crc32("\0".join(texts).encode("utf-16-le"))
    letters = ""
    while value >= 26:
        letters = ascii_lowercase[value % 26] + letters
        value //= 26
    return ascii_lowercase[value] + letters


_UNCHANGED: Any = object()


@functools.lru_cache(maxsize=64)  # a broadcast gives many pages the same region contents (rendering's fragment cache)
def text_change(old: str, new: str) -> tuple[int, str, str] | None:
    """When ``new`` differs from ``old`` (a region's content) in one text node only: that
    node's index among the non-empty ones, its new HTML, and the checksum of ``old``'s text
    nodes. ``None`` otherwise, or when either is no plain markup (``_NO_TEXT_PATCH``).

    A text node that appears or goes (empty on one side), or is only white space on one side
    (in a table the parser moves text that is not), changes the tree: no text patch.
    """
    if len(new) > TEXT_PATCH_MAX:
        return None
    if "<" not in old and "<" not in new:  # no tag on either side: one text node each (a counter's)
        if old == new or "\0" in new:
            return None
        old_text = _dom_text(old)
        if not old_text.strip(_HTML_SPACE) or not _dom_text(new).strip(_HTML_SPACE):
            return None
        return 0, new, text_checksum([old_text])
    old_parts = _TAG.split(old)
    new_parts = _TAG.split(new)
    if len(old_parts) != len(new_parts):
        return None
    changed = -1
    for i, (before, after) in enumerate(zip(old_parts, new_parts, strict=True)):
        if before != after:
            if i % 2 or changed >= 0:  # a tag, or a second text
                return None
            changed = i
    if changed < 0 or (("<" in new or "\0" in new) and _NO_TEXT_PATCH.search(new)):  # no tag: nothing it refuses
        return None
    new_text = new_parts[changed]
    texts: list[str] = []
    index = -1
    for i in range(0, len(old_parts), 2):
        piece = old_parts[i]
        if "<" in piece:  # a "<" that opens no tag: the browser's reading may differ from this one
            return None
        if i == changed:
            if "<" in new_text or not _dom_text(new_text).strip(_HTML_SPACE) or not _dom_text(piece).strip(_HTML_SPACE):
                return None
            index = len(texts)
        if piece:
            texts.append(_dom_text(piece))
    return index, new_text, text_checksum(texts)


@functools.lru_cache(maxsize=1024)
def _root_tag(page: PageTemplate, stream_url: str, event_url: str, view_name: str) -> tuple[str, str]:
    """The live container's opening tag, around where each page's token goes."""
    spec = page.regions[ROOT_ID].spec
    head: list[tuple[str, str | None]] = [
        ("id", ROOT_ID),
        (ATTR_REGION, "root"),
        (ATTR_ROOT, None),
        (ATTR_SSE_CONNECT, stream_url),
        ("hx-swap", SWAP_NONE),
    ]
    tail: list[tuple[str, str | None]] = [(ATTR_EVENT_URL, event_url), (ATTR_VIEW, view_name)]
    classes = [CLASS_LOADING]
    for name, value in spec.attrs:
        if name == "class":
            classes.insert(0, value)
        else:
            tail.append((name, value))
    tail.append(("class", " ".join(classes)))
    return f"<{spec.tag} {markup_attrs(head)} ", f" {markup_attrs(tail)}>"


class RootTag:
    """One page's live container opening tag, as the shared parts around its token: the tag
    (about 400 bytes a page) is built for each render that needs it, not kept (``Patcher``)."""

    __slots__ = ("parts", "token")

    def __init__(self, parts: tuple[str, str], token: str) -> None:
        self.parts = parts
        self.token = token


def _root_markup(parts: tuple[str, str], token: str) -> Markup:
    before, after = parts
    return Markup(f'{before}{ATTR_TOKEN}="{escape(token)}"{after}')


def root_open(page: PageTemplate, stream_url: str, event_url: str, view_name: str, token: str) -> RootTag:
    """The live container's opening tag for one page: its stream, event URL and token."""
    return RootTag(_root_tag(page, stream_url, event_url, view_name), token)


class Patcher:
    """Renders one page's changes: the first render, each patch, and a resync of the container."""

    __slots__ = ("_base", "_components", "_refresh", "_rendered", "_root", "_sent", "_token", "_whole", "helpers", "page", "version")

    def __init__(self, page: PageTemplate, helpers: TemplateHelpers, root: RootTag | Markup) -> None:
        self.page = page
        self.helpers = helpers
        # The container's tag: given whole, or as its shared parts and this page's token (kept
        # apart here, not as a ``RootTag`` of its own).
        self._root: Markup | tuple[str, str]
        self._token: str | None
        if isinstance(root, RootTag):
            self._root, self._token = root.parts, root.token
        else:
            self._root, self._token = root, None
        self.version = 0  # of the latest render; fragments carry it so stale ones are dropped
        self._rendered = False  # the page's first render (or a remount's resync) is done
        self._components: ComponentRegistry | None = None  # made on first use: most pages have no components
        # Region id -> (version, content) of what the page was last sent of it, for regions
        # sent since the page's last whole render (content None: not kept): their next change
        # may go as a text patch. Made with the first region re-rendered: an idle page keeps none.
        self._sent: dict[str, tuple[int, str | None]] | None = None
        self._base = 0  # the version of the page's last whole render, which every region not in _sent is as of
        self._refresh: set[str] | None = None  # regions the client asked for whole (REFRESH_EVENT)
        self._whole: set[str] | None = None  # regions whose DOM the client changed: never text-patched again

    @property
    def components(self) -> ComponentRegistry:
        """The page's LiveComponents."""
        if self._components is None:
            self._components = ComponentRegistry(self.page.environment, self.helpers)
        return self._components

    def _scoped(self, scope: Any, render: Callable[[], str]) -> str:
        """``render()``, the components it renders belonging to ``scope`` (see ``ComponentRegistry``)."""
        if not self.page.uses_components:
            return render()
        return self.components.render_scope(scope, render)

    def _context(
        self, assigns: Mapping[str, Any], stream_items: dict[str, list[tuple[str, Any]]] | None = None, *, replace_streams: bool = False
    ) -> dict[str, Any]:
        ctx = dict(assigns)
        ctx["live"] = self.helpers
        components = self.components if self.page.uses_components else None
        ctx["__live__"] = PageContext(self._root_tag, self.version, stream_items, replace_streams=replace_streams, components=components)
        return ctx

    def _root_tag(self) -> Markup:
        root = self._root
        return root if isinstance(root, Markup) else _root_markup(root, self._token or "")

    def _pass(self, socket: LiveSocket, render: Callable[[], Any]) -> Any:
        """One render pass: component ids are unique within it, and it may create components."""
        if not self.page.uses_components:
            return render()
        components = self.components
        components.page = socket
        components.begin(self.version)
        try:
            return render()
        finally:
            components.end()

    def _first_stream_items(self, socket: LiveSocket) -> dict[str, list[tuple[str, Any]]]:
        self._rendered = True
        self._base = self.version
        pending = socket._take_stream_ops()
        socket._take_changes()
        socket._take_shown()
        return {name: initial_items(ops) for name, ops in pending.items()}

    def render_page(self, socket: LiveSocket) -> str:
        """The first render: the whole page, with every pending stream item inline."""
        if telemetry.on:
            return telemetry.call(lambda: self._render_page(socket), "render", *owner_of(socket._runtime), first=True)
        return self._render_page(socket)

    def _render_page(self, socket: LiveSocket) -> str:
        ctx = self._context(socket._data, self._first_stream_items(socket))
        return str(self._pass(socket, lambda: self._scoped(ROOT_SCOPE, lambda: self.page.render_page(ctx))))

    async def patch_with_hooks(self, socket: LiveSocket) -> str:
        """``patch``, then the ``after_render`` hooks, which see its changes.

        What an ``after_render`` hook assigns is kept but is no change to render: it never makes
        a later message re-render it, nor the hook run on its own changes.
        """
        if not socket._has_hooks("after_render"):
            return self.patch(socket)
        changed = socket.changed
        body = self.patch(socket)
        socket._changed = dict.fromkeys(changed)
        try:
            await run_hooks(socket, "after_render")
        finally:
            socket._changed = NO_CHANGES
        return body

    def patch(self, socket: LiveSocket) -> str:
        """The fragments for what changed since the last render (empty when nothing did)."""
        components = self._components
        if socket._updates or components:
            # send_update: the named components' update() runs before the render
            self.components.page = socket
            self.components.flush_updates(socket)
        changed, ops = socket._take_changes()
        shown = socket._take_shown()
        # Before a remount's first render, stream operations wait for it: it shows their items.
        stream_ops = socket._take_stream_ops() if self._rendered else {}
        parts: list[str] = []
        if changed or stream_ops or self._refresh or (components and components.dirty()):
            span = telemetry.start("render", *owner_of(socket._runtime), first=False, regions=len(changed)) if telemetry.on else None
            try:
                self.version += 1
                ctx = self._context(socket._data)
                self._pass(socket, lambda: self._render_changes(socket, changed, shown, stream_ops, ctx, parts))
            except BaseException as exc:
                if span is not None:
                    span.fail(exc)
                raise
            if span is not None:
                span.stop()
        if ops:
            parts.extend(client_op(op) for op in ops)
        if socket._client_ops:  # what a component's mount or update queued while the page rendered
            late = socket._take_ops()
            parts.extend(client_op(op) for op in late)
        return "".join(parts)

    def _render_changes(
        self,
        socket: LiveSocket,
        changed: frozenset[str],
        shown: dict[str, Any] | None,
        stream_ops: dict[str, list[StreamOp]],
        ctx: dict[str, Any],
        parts: list[str],
    ) -> None:
        page = self.page
        regions = page.regions_for(changed)
        if self._refresh:
            regions = self._with_refreshed(regions)
        for region in regions:
            dom_id = region.spec.dom_id
            if dom_id == ROOT_ID:
                self._sent = None  # every region is rendered afresh
                self._base = self.version
                parts.append(partial(ROOT_ID, self._scoped(ROOT_SCOPE, lambda: page.render_root_inner(ctx)), SWAP_INNER_MORPH))
            elif page.uses_components:
                html = self._scoped(dom_id, lambda dom_id=dom_id: page.render_region(dom_id, ctx, self.version))  # type: ignore[misc]
                parts.append(partial(dom_id, html))
            else:
                parts.append(self._region_partial(region, page.render_region_inner(dom_id, ctx), changed, shown, ctx))
        for name, pending in stream_ops.items():
            parts.extend(self._stream_ops(socket.view_name, name, pending, ctx))
        # A component whose own assigns changed, and that no region above re-rendered: only it.
        components = self._components
        for entry in components.dirty() if components is not None else ():
            parts.append(partial(entry.dom_id, components.render_entry(entry, ctx["__live__"])))  # type: ignore[union-attr]

    def _region_partial(self, region: Region, inner: str, changed: frozenset[str], shown: dict[str, Any] | None, ctx: dict[str, Any]) -> str:
        """A re-rendered region as the page gets it: a text patch when only one of its text nodes
        changed since the page was last sent it, else whole (and kept, for its next change).

        What the page was last sent of it is kept from its last change; before its first one,
        it is rendered again as it was then (``_as_shown``), when the values it showed are known.
        """
        dom_id = region.spec.dom_id
        version = self.version
        whole = self._whole
        sent = self._sent
        if sent is None:
            sent = self._sent = {}
        last = sent.get(dom_id)
        if last is None and self._rendered and (whole is None or dom_id not in whole):
            last = (self._base, self._as_shown(region, changed, shown, ctx))
        # The regions inside this one are rendered afresh with it: what they were is not kept.
        for nested in self.page.nested_in(dom_id):
            sent[nested] = (version, None)
        if last is not None and last[1] is not None:
            change = text_change(last[1], inner)
            if change is not None:
                index, text, checksum = change
                sent[dom_id] = (version, inner)
                return text_partial(dom_id, text, version, last[0], index, checksum)
        if (
            len(inner) <= TEXT_PATCH_MAX
            and (whole is None or dom_id not in whole)
            and not _NO_TEXT_PATCH.search(inner)
            and f'id="{dom_id}"' not in inner  # the region's id again inside: a patch would find two targets
        ):
            sent[dom_id] = (version, inner)
        else:
            sent[dom_id] = (version, None)
        return partial(dom_id, self.page.wrap_region(dom_id, inner, version))

    def _as_shown(self, region: Region, changed: frozenset[str], shown: dict[str, Any] | None, ctx: dict[str, Any]) -> str | None:
        """The region's content as of the page's last whole render, if it can be told: a pure
        region whose changed assigns were all immutable values. None otherwise."""
        if not region.pure or not shown:
            return None
        values: dict[str, Any] = {}
        for name in region.deps:
            value = shown.get(name, UNKNOWN if name in changed else _UNCHANGED)
            if value is UNKNOWN:
                return None
            if value is not _UNCHANGED:
                values[name] = value
        if not values:
            return None
        then = {**ctx, **values, "__live__": PageContext(self._root_tag, self._base)}
        return self.page.render_region_inner(region.spec.dom_id, then)

    def refresh(self, params: Mapping[str, Any]) -> None:
        """``REFRESH_EVENT``: the client could not apply a text patch; its region goes whole next.

        A region whose text the page changed beside the server (``why: "text"``) goes whole
        from now on; one whose patches crossed (``"version"``) may go as text again.
        """
        dom_id = params.get("id")
        if not isinstance(dom_id, str) or dom_id == ROOT_ID or dom_id not in self.page.regions:
            raise EventError(
                f"invalid params for {REFRESH_EVENT}: expected {{'id': <a region of {self.page.name!r}>, 'why': 'text' or 'version'}}, got {params!r}",
                status_code=422,
            )
        if self._refresh is None:
            self._refresh = set()
        self._refresh.add(dom_id)
        if params.get("why") == REFRESH_TEXT:
            if self._whole is None:
                self._whole = set()
            self._whole.add(dom_id)
        if self._sent is None:
            self._sent = {}
        self._sent[dom_id] = (self.version, None)  # what the page shows of it is not known

    def _with_refreshed(self, regions: list[Any]) -> list[Any]:
        """``regions`` and the ones the client asked for whole, each outermost once."""
        refresh, self._refresh = self._refresh or set(), None
        hit = {region.spec.dom_id for region in regions}
        out = list(regions)
        for dom_id in sorted(refresh):
            region = self.page.regions[dom_id]
            if dom_id not in hit and hit.isdisjoint(region.ancestors):
                out.append(region)
                hit.add(dom_id)
        return out

    def _stream_ops(self, view_name: str, name: str, pending: list[StreamOp], ctx: dict[str, Any]) -> list[str]:
        slot = self.page.streams.get(name)
        if slot is None:
            raise LiveError(
                f"{view_name} inserted into stream {name!r}, but template {self.page.name!r} has no "
                f"{{% live_stream {name} as item %}} container; streams on this page: {sorted(self.page.streams) or 'none'}"
            )
        out = []
        container = slot.spec.dom_id
        components = self._components
        for op in pending:
            if op.kind == "reset":
                if components is not None:
                    components.drop_stream_item(name, None)
                out.append(partial(container, self.page.render_stream_statics(name, ctx), SWAP_INNER_HTML))
            elif op.kind == "delete":
                if components is not None:
                    components.drop_stream_item(name, op.dom_id)  # the item's components go with it
                out.append(partial(op.dom_id, "", SWAP_DELETE))
            else:
                item_scope = (name, op.dom_id)
                html = self._scoped(item_scope, lambda op=op: self.page.render_stream_item(name, ctx, op.dom_id, op.item))  # type: ignore[misc]
                out.append(partial(container, html, stream_swap(op.at, op.limit, op.update_only)))
        return out

    def resync(self, socket: LiveSocket) -> str:
        """The live container's whole content, for a stream that cannot be replayed.

        A stream's items are not kept, so a resync's stream containers are empty and the
        client keeps the items it shows. A remounted page's first resync is its first render
        instead: its containers hold the fresh items, and replace the dead render's.
        """
        self._sent = None  # the page is sent every region afresh
        self._base = self.version
        if self._rendered:
            ctx = self._context(socket._data)
        else:
            ctx = self._context(socket._data, self._first_stream_items(socket), replace_streams=True)
        html = self._pass(socket, lambda: self._scoped(ROOT_SCOPE, lambda: self.page.render_root_inner(ctx)))
        return partial(ROOT_ID, str(html), SWAP_INNER_MORPH)


def client_op(op: ClientOp) -> str:
    """A queued client operation (push event, redirect, navigation) as the wire carries it."""
    return push_element(op.kind, op.name, op.payload)
