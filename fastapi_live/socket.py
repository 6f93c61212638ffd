"""Per-page state: assigns, the keys changed since the last render, queued client operations."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Self

from .commands import JS, require_selectors
from .exceptions import LiveError, RedirectError
from .redirects import external_url, local_path
from .types import Runtime
from .wire import OP_JS

_RESERVED = frozenset({"live", "__live__", "socket", "streams", "flash", "flash_clear_after"})
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})  # values a page was shown that cannot change in place
UNKNOWN: Any = object()
"""In ``SocketState._take_shown()``: an assign whose value the page was last shown is not known
(it was unset, or may have changed in place)."""


class _NoClientOps(list["ClientOp"]):
    """What a socket with no client operation queued holds instead of a list of its own (an idle
    page has none): one shared empty list that refuses to grow, so an ``append`` that skipped
    ``_queue_op`` fails loudly rather than queue an operation for every page."""

    __slots__ = ()

    def _refuse(self, *_: object) -> None:
        raise TypeError("NO_CLIENT_OPS is shared by every socket: queue client operations with socket._queue_op(op)")

    append = extend = insert = _refuse

    def __iadd__(self, _: object) -> Self:  # type: ignore[override, misc]
        self._refuse()
        return self


NO_CLIENT_OPS: list[ClientOp] = _NoClientOps()


class _NoChanges(dict[str, None]):
    """What a socket with no key changed holds instead of a dict of its own (an idle page has
    none): one shared empty dict that refuses keys, so a write that skipped ``_mark`` fails loudly."""

    __slots__ = ()

    def _refuse(self, *_: object, **__: object) -> None:
        raise TypeError("NO_CHANGES is shared by every socket: mark changed keys with socket._mark(key)")

    __setitem__ = update = setdefault = _refuse

    def __ior__(self, _: object) -> Self:  # type: ignore[override, misc]
        self._refuse()
        return self


NO_CHANGES: dict[str, None] = _NoChanges()


class Assigns(Mapping[str, Any]):
    """A read-only view of a socket's assigns, by key or attribute: ``assigns.count``."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"no assign named {key!r}; assigned: {sorted(self._data)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Assigns({self._data!r})"


@dataclass(frozen=True, slots=True)
class ClientOp:
    """Something for the browser besides HTML: a pushed event, a redirect or a navigation."""

    kind: str  # "push" | "redirect" | "navigate" | "patch" | "js"
    name: str
    payload: Any


def _check_url(verb: str, to: Any) -> None:
    if not isinstance(to, str) or not to:
        raise LiveError(f"{verb}() needs a URL\nExpected: a path such as '/dashboard/acme' or a query such as '?page=2'\nGot: {to!r}")


def _values_differ(old: Any, new: Any) -> bool:
    if old is new:
        return False
    try:
        return bool(old != new)
    except Exception:  # an __eq__ that raises: treat as changed rather than crash the handler
        return True


class SocketState:
    """The state half of ``LiveSocket``: assigns and change tracking.

    Feature modules (streams, async operations, lifecycle hooks) add their methods as
    mixins; ``view.LiveSocket`` puts them together.
    """

    def __init__(self, *, view_name: str = "LiveView", runtime: Runtime | None = None, connected: bool = False) -> None:
        self._data: dict[str, Any] = {}
        self._assigns: Assigns | None = None  # the read-only view, made when first asked for
        # Keys changed since the last render, as a dict's keys (in order); a dict of its own from
        # the first key changed.
        self._changed: dict[str, None] = NO_CHANGES
        # The values the page was last shown of assigns changed since (immutable ones only), so
        # a region's first change can go as a text patch; made with the first change.
        self._shown: dict[str, Any] | None = None
        self._client_ops: list[ClientOp] = NO_CLIENT_OPS  # a list of its own with the first operation queued
        self._updates: list[tuple[Any, Any, dict[str, Any]]] | None = None  # send_update calls, run before the next render
        self._runtime = runtime
        self.view_name = view_name
        self.connected = connected
        self.mounted = False

    # -- assigns -----------------------------------------------------------------
    @property
    def assigns(self) -> Assigns:
        """The current assigns, read-only. Change them with ``assign`` or ``update``."""
        assigns = self._assigns
        if assigns is None:
            assigns = self._assigns = Assigns(self._data)
        return assigns

    def assign(self, values: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Self:
        """Set assigns; only keys whose value changed are re-rendered.

        >>> socket.assign(count=0, title="Counter")  # doctest: +SKIP
        """
        items = {**(values or {}), **kwargs}
        for key, value in items.items():
            if key in _RESERVED:
                raise LiveError(f"{key!r} is a reserved name and cannot be assigned; reserved: {sorted(_RESERVED)}")
            old = self._data.get(key, UNKNOWN)
            if old is UNKNOWN or _values_differ(old, value):
                if self.mounted:  # before the first render, the page was shown nothing
                    self._remember_shown(key, old)
                self._data[key] = value
                self._mark(key)
        return self

    def _remember_shown(self, key: str, old: Any) -> None:
        shown = self._shown
        if shown is None:
            shown = self._shown = {}
        if key not in shown:  # the first change since the page was shown it
            shown[key] = old if type(old) in _IMMUTABLE else UNKNOWN

    def assign_new(self, key: str, factory: Callable[[], Any]) -> Self:
        """Assign ``factory()`` to ``key`` only when the key is not assigned yet."""
        if key not in self._data:
            self.assign({key: factory()})
        return self

    def update(self, key: str, fn: Callable[[Any], Any]) -> Self:
        """Replace an assign with ``fn(old)``: ``socket.update("count", lambda n: n + 1)``."""
        if key not in self._data:
            raise LiveError(f"cannot update {key!r}: it is not assigned; assigned: {sorted(self._data)}")
        old = self._data[key]
        if self.mounted:
            self._remember_shown(key, old)
        self._data[key] = fn(old)
        self._mark(key)
        return self

    @property
    def changed(self) -> frozenset[str]:
        """Keys changed since the last render."""
        return frozenset(self._changed)

    def mark_changed(self, *keys: str) -> None:
        """Force ``keys`` to re-render, e.g. after mutating an assigned object in place."""
        for key in keys:
            self._mark(key)

    def send_update(self, component: Any, /, id: Any, **assigns: Any) -> Self:
        """Give the page's ``component`` with ``id`` new assigns: its ``update(assigns, socket)``
        runs before the next render, and only that component is re-rendered. From the page's
        view, a component, ``handle_info`` or ``handle_async``.

        >>> socket.send_update(TodoItem, id=todo.id, todo=todo)  # doctest: +SKIP
        """
        if not getattr(component, "__live_component__", False):
            raise LiveError(
                f"send_update() needs a LiveComponent class\nExpected: socket.send_update(TodoItem, id=3, todo=todo)\nGot: {component!r}"
            )
        if id is None:
            name = component.__name__
            raise LiveError(f"send_update({name}, ...) needs the component's id\nExpected: send_update({name}, id=...)\nGot: id=None")
        if self._updates is None:
            self._updates = []
        self._updates.append((component, id, assigns))
        return self

    def _take_updates(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        updates, self._updates = self._updates, None
        return updates or []

    # -- client operations ---------------------------------------------------------
    def push_event(self, name: str, payload: Any = None) -> Self:
        """Send ``name`` with a JSON payload to JS hooks and ``window`` listeners."""
        if not isinstance(name, str) or not name:
            raise LiveError(f"push_event name must be a non-empty string, got {name!r}")
        self._queue_op(ClientOp("push", name, payload if payload is not None else {}))
        return self

    def exec_js(self, js: JS) -> Self:
        """Run client-side commands in the browser (LiveView's ``JS``, sent from the server);
        each needs its selector.

        >>> socket.exec_js(JS().show("#saved-toast", transition="fade-in"))  # doctest: +SKIP
        """
        if not isinstance(js, JS):
            raise LiveError(f"socket.exec_js() runs client-side commands\nExpected: a JS chain such as JS().show('#dialog')\nGot: {js!r}")
        require_selectors(js, "socket.exec_js()")
        self._queue_op(ClientOp(OP_JS, "", [[name, args] for name, args in js.ops]))
        return self

    def redirect(self, to: str | None = None, *, external: str | None = None) -> Self:
        """Leave the live page with a full page load: for ``to``, a path on this site, or for
        ``external``, an http(s) URL elsewhere (``RedirectError`` for anything else).

        >>> socket.redirect("/login")  # doctest: +SKIP
        >>> socket.redirect(external="https://example.com/docs")  # doctest: +SKIP
        """
        if (to is None) == (external is None):
            raise RedirectError(f"socket.redirect() takes a path or external=URL, exactly one of them; got to={to!r}, external={external!r}")
        target = local_path(to, "redirect") if external is None else external_url(external)
        self._queue_op(ClientOp("redirect", target, None))
        return self

    def push_patch(self, to: str, *, replace: bool = False) -> Self:
        """Change this page's URL without leaving it: ``handle_params`` runs for ``to``, only
        the regions it changes are sent, and the browser's history gets an entry (or, with
        ``replace=True``, the current entry changes). ``to`` may be relative: ``"?page=2"``.

        >>> socket.push_patch(f"?tab=settings&page={page + 1}")  # doctest: +SKIP
        """
        _check_url("push_patch", to)
        if not to.startswith("?"):
            local_path(to, "push_patch")  # a query of this page, or a path on this site
        self._queue_op(ClientOp("patch", to, {"replace": replace}))
        return self

    def push_navigate(self, to: str, *, replace: bool = False) -> Self:
        """Go to another live page of this router without a full page load: it mounts on
        the server, replaces this one in the browser, and this page's session ends. A URL
        no live page of this router serves is loaded in full instead.

        >>> socket.push_navigate("/dashboard/acme")  # doctest: +SKIP
        """
        self._queue_op(ClientOp("navigate", local_path(to, "push_navigate"), {"replace": replace}))
        return self

    def navigate(self, to: str, *, replace: bool = False) -> Self:
        """The same as ``push_navigate``."""
        return self.push_navigate(to, replace=replace)

    # -- used by the session ----------------------------------------------------------
    def _redirect_target(self) -> str | None:
        """Where a queued redirect, navigation or patch leads, if one is queued."""
        for op in self._client_ops:
            if op.kind in ("redirect", "navigate", "patch"):
                return op.name
        return None

    def _mark(self, key: str) -> None:
        """Mark ``key`` changed (every marking goes through here: see ``NO_CHANGES``)."""
        changed = self._changed
        if changed is NO_CHANGES:
            self._changed = {key: None}
        else:
            changed[key] = None

    def _queue_op(self, op: ClientOp) -> None:
        """Queue a client operation (every queueing goes through here: see ``NO_CLIENT_OPS``)."""
        ops = self._client_ops
        if ops is NO_CLIENT_OPS:
            self._client_ops = [op]
        else:
            ops.append(op)

    def _take_ops(self) -> list[ClientOp]:
        ops, self._client_ops = self._client_ops, NO_CLIENT_OPS
        return ops

    def _take_changes(self) -> tuple[frozenset[str], list[ClientOp]]:
        changed, ops = frozenset(self._changed), self._client_ops
        self._changed, self._client_ops = NO_CHANGES, NO_CLIENT_OPS
        return changed, ops

    def _take_shown(self) -> dict[str, Any] | None:
        """Taken with the changes they are rendered for: key -> the value the page was last shown
        (``UNKNOWN`` when it is not known). A changed key missing from it is not known either."""
        shown, self._shown = self._shown, None
        return shown

    def _snapshot(self) -> tuple[dict[str, Any], dict[str, None], int, int]:
        return dict(self._data), dict(self._changed), len(self._client_ops), len(self._updates or ())

    def _restore(self, snapshot: tuple[dict[str, Any], dict[str, None], int, int]) -> None:
        data, changed, n_ops, n_updates = snapshot
        self._data.clear()
        self._data.update(data)
        self._changed = changed
        if self._client_ops is not NO_CLIENT_OPS:
            del self._client_ops[n_ops:]
        if self._updates is not None:
            del self._updates[n_updates:]
