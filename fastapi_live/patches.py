"""The render-to-patch step: a socket's changes as the fragments that carry them to the browser.

The session asks for a patch after each message it handles (as LiveView's channel asks its
``Diff``); rendering knows regions, this module knows which regions, stream operations and
client operations a set of changes turns into, and builds them with the wire's vocabulary.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup, escape

from .components import ROOT_SCOPE, ComponentRegistry
from .exceptions import LiveError
from .helpers import TemplateHelpers
from .lifecycle import run_hooks
from .rendering import PageContext, PageTemplate
from .socket import ClientOp
from .streams import StreamOp, initial_items
from .telemetry import owner_of, telemetry
from .view import LiveSocket
from .wire import (
    ATTR_EVENT_URL,
    ATTR_REGION,
    ATTR_ROOT,
    ATTR_SSE_CONNECT,
    ATTR_TOKEN,
    ATTR_VIEW,
    CLASS_LOADING,
    ROOT_ID,
    SWAP_DELETE,
    SWAP_INNER_HTML,
    SWAP_INNER_MORPH,
    SWAP_NONE,
    markup_attrs,
    partial,
    push_element,
    stream_swap,
)


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


def root_open(page: PageTemplate, stream_url: str, event_url: str, view_name: str, token: str) -> Markup:
    """The live container's opening tag for one page: its stream, event URL and token."""
    before, after = _root_tag(page, stream_url, event_url, view_name)
    return Markup(f'{before}{ATTR_TOKEN}="{escape(token)}"{after}')


class Patcher:
    """Renders one page's changes: the first render, each patch, and a resync of the container."""

    __slots__ = ("_components", "_rendered", "_root", "helpers", "page", "version")

    def __init__(self, page: PageTemplate, helpers: TemplateHelpers, root: Markup) -> None:
        self.page = page
        self.helpers = helpers
        self._root = root
        self.version = 0  # of the latest render; fragments carry it so stale ones are dropped
        self._rendered = False  # the page's first render (or a remount's resync) is done
        self._components: ComponentRegistry | None = None  # made on first use: most pages have no components

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
        ctx["__live__"] = PageContext(self._root, self.version, stream_items, replace_streams=replace_streams, components=components)
        return ctx

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
        pending = socket._take_stream_ops()
        socket._take_changes()
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
        if not socket._hooks_for("after_render"):
            return self.patch(socket)
        changed = socket.changed
        body = self.patch(socket)
        socket._changed = set(changed)
        try:
            await run_hooks(socket, "after_render")
        finally:
            socket._changed = set()
        return body

    def patch(self, socket: LiveSocket) -> str:
        """The fragments for what changed since the last render (empty when nothing did)."""
        components = self._components
        if socket._updates or components:
            # send_update: the named components' update() runs before the render
            self.components.page = socket
            self.components.flush_updates(socket)
        changed, ops = socket._take_changes()
        # Before a remount's first render, stream operations wait for it: it shows their items.
        stream_ops = socket._take_stream_ops() if self._rendered else {}
        parts: list[str] = []
        if changed or stream_ops or (components and components.dirty()):
            span = telemetry.start("render", *owner_of(socket._runtime), first=False, regions=len(changed)) if telemetry.on else None
            try:
                self.version += 1
                ctx = self._context(socket._data)
                self._pass(socket, lambda: self._render_changes(socket, changed, stream_ops, ctx, parts))
            except BaseException as exc:
                if span is not None:
                    span.fail(exc)
                raise
            if span is not None:
                span.stop()
        parts.extend(client_op(op) for op in ops)
        if socket._client_ops:  # what a component's mount or update queued while the page rendered
            late, socket._client_ops = socket._client_ops, []
            parts.extend(client_op(op) for op in late)
        return "".join(parts)

    def _render_changes(
        self, socket: LiveSocket, changed: frozenset[str], stream_ops: dict[str, list[StreamOp]], ctx: dict[str, Any], parts: list[str]
    ) -> None:
        page = self.page
        for region in page.regions_for(changed):
            dom_id = region.spec.dom_id
            if dom_id == ROOT_ID:
                parts.append(partial(ROOT_ID, self._scoped(ROOT_SCOPE, lambda: page.render_root_inner(ctx)), SWAP_INNER_MORPH))
            else:
                html = self._scoped(dom_id, lambda dom_id=dom_id: page.render_region(dom_id, ctx, self.version))  # type: ignore[misc]
                parts.append(partial(dom_id, html))
        for name, pending in stream_ops.items():
            parts.extend(self._stream_ops(socket.view_name, name, pending, ctx))
        # A component whose own assigns changed, and that no region above re-rendered: only it.
        components = self._components
        for entry in components.dirty() if components is not None else ():
            parts.append(partial(entry.dom_id, components.render_entry(entry, ctx["__live__"])))  # type: ignore[union-attr]

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
        if self._rendered:
            ctx = self._context(socket._data)
        else:
            ctx = self._context(socket._data, self._first_stream_items(socket), replace_streams=True)
        html = self._pass(socket, lambda: self._scoped(ROOT_SCOPE, lambda: self.page.render_root_inner(ctx)))
        return partial(ROOT_ID, str(html), SWAP_INNER_MORPH)


def client_op(op: ClientOp) -> str:
    """A queued client operation (push event, redirect, navigation) as the wire carries it."""
    return push_element(op.kind, op.name, op.payload)
