"""Live navigation: a page's URL state — ``handle_params`` and its typed binding, patches (same
view, new URL), navigations (another live page) and what they leave in the browser's history.

The session calls in through one ``Navigator`` per page; the router says which live page a URL
leads to (a ``RouteResolver``). Nothing here knows HTTP.
"""

from __future__ import annotations

import collections.abc
import inspect
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import pydantic
from pydantic import BaseModel, ValidationError

from .exceptions import CallbackReturnError, ConfigurationError, EventError, LiveError
from .flash import FlashCarrier
from .lifecycle import run_hooks
from .socket import ClientOp, SocketState
from .telemetry import owner_of, telemetry
from .view import LiveSocket, LiveView
from .wire import PATCH_EVENT

MAX_PATCHES = 8
"""``push_patch`` calls in a row from ``handle_params`` itself before it counts as a loop."""
MAX_URL = 4096  # characters of a patched URL
_SEQUENCES = (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Set)
_RAW_ANNOTATIONS = (dict, Mapping, dict[str, Any], Mapping[str, Any], Any)


@dataclass(frozen=True, slots=True)
class PageRoute:
    """The live page a URL leads to: its view and its path parameters."""

    view: type[LiveView]
    path_params: Mapping[str, Any]


RouteResolver = Callable[[str], PageRoute | None]
"""A path to the live page of this router it leads to, or None (another router's, or not live)."""


def local_url(to: str, current: str) -> str:
    """``to`` read against ``current`` as a browser reads a link: a path with its query and fragment.

    >>> local_url("?tab=settings", "/dashboard/acme?tab=overview")
    '/dashboard/acme?tab=settings'
    """
    parts = urlsplit(urljoin(current, to))
    if parts.scheme or parts.netloc:
        raise LiveError(f"cannot patch or navigate to {to!r}: it is another site\nExpected: a path or a query of this site\nGot: {to!r}")
    return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))


def without_fragment(url: str) -> str:
    """What the server sees of a URL: its path and query."""
    return url.split("#", 1)[0]


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _takes_many(annotation: Any) -> bool:
    """Whether a parameter takes every value of a repeated query key (``?tag=a&tag=b``)."""
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_takes_many(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation in _SEQUENCES or origin in _SEQUENCES


def _is_model(annotation: Any) -> bool:
    annotation = _unwrap(annotation)
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def query_values(query: str) -> dict[str, list[str]]:
    """A query string's values by key, in order, blanks kept (``?q=`` is ``{"q": [""]}``)."""
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    return values


class ParamsBinding:
    """``handle_params``'s signature, bound from a URL's query and path parameters.

    Parameters are matched by name and type, in any order: ``socket`` (or one annotated with
    ``LiveSocket``), ``url`` (the path and query), ``params`` (every parameter as a dict; a
    repeated key as a list), a pydantic model (the whole set, validated), or typed fields
    validated like FastAPI's query parameters (``page: int = 1``, ``tag: list[str] = []``,
    ``Annotated[int, Field(ge=1)]``, ``Query(alias=...)``).
    """

    def __init__(self, view_cls: type[LiveView]) -> None:
        fn = view_cls.handle_params
        self.defined = fn is not LiveView.handle_params
        self.where = f"{view_cls.__name__}.handle_params()"
        self.socket_arg: str | None = None
        self.url_arg: str | None = None
        self.raw_arg: str | None = None
        self.model_arg: tuple[str, type[BaseModel]] | None = None
        self.model: type[BaseModel] | None = None
        self.many: frozenset[str] = frozenset()
        if not self.defined:
            return
        hints = typing.get_type_hints(fn, include_extras=True)
        fields: dict[str, Any] = {}
        for p in list(inspect.signature(fn).parameters.values())[1:]:  # self
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if p.kind is p.POSITIONAL_ONLY:
                raise ConfigurationError(f"{self.where}: parameter {p.name!r} is positional-only; handle_params is called with keywords")
            annotation = hints.get(p.name, Any)
            if p.name == "socket" or (inspect.isclass(annotation) and issubclass(annotation, SocketState)):
                self.socket_arg = p.name
            elif p.name == "url" and annotation in (str, Any):
                self.url_arg = p.name
            elif p.name == "params" and annotation in _RAW_ANNOTATIONS and p.default is p.empty:
                self.raw_arg = p.name
            elif _is_model(annotation):
                if self.model_arg is not None:
                    raise ConfigurationError(f"{self.where} takes two models ({self.model_arg[0]!r} and {p.name!r}); a URL's parameters bind to one")
                self.model_arg = (p.name, _unwrap(annotation))
            else:
                fields[p.name] = (annotation, ... if p.default is p.empty else p.default)
        if self.socket_arg is None:
            raise ConfigurationError(
                f"{self.where} must take the socket\nExpected: async def handle_params(self, socket: LiveSocket, page: int = 1) -> None\n"
                f"Got: {view_cls.__name__}.handle_params{inspect.signature(fn)}"
            )
        if self.model_arg is not None and fields:
            raise ConfigurationError(
                f"{self.where} takes the model {self.model_arg[0]!r} and the fields {sorted(fields)}; a URL's parameters bind to one or the other"
            )
        if self.model_arg is not None:
            self.model = self.model_arg[1]
        elif fields:
            self.model = pydantic.create_model(f"{view_cls.__name__}_handle_params", **fields)
        if self.model is not None:
            self.many = frozenset(field.alias or name for name, field in self.model.model_fields.items() if _takes_many(field.annotation))

    def bind(self, socket: LiveSocket, url: str, path_params: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments for ``handle_params``; ``EventError`` (422) when the URL's don't fit."""
        query = query_values(urlsplit(url).query)
        kwargs: dict[str, Any] = {}
        if self.socket_arg:
            kwargs[self.socket_arg] = socket
        if self.url_arg:
            kwargs[self.url_arg] = url
        if self.raw_arg:
            kwargs[self.raw_arg] = raw_params(url, path_params)
        if self.model is None:
            return kwargs
        values: dict[str, Any] = {key: (found if key in self.many else found[-1]) for key, found in query.items()}
        values.update(path_params)
        try:
            validated = self.model.model_validate(values)
        except ValidationError as exc:
            details = exc.errors(include_url=False, include_input=False)
            errors: list[dict[str, object]] = [
                {"loc": ["path" if e["loc"] and e["loc"][0] in path_params else "query", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in details
            ]
            names = ", ".join(".".join(map(str, e["loc"])) or "(params)" for e in details)
            raise EventError(f"invalid params for {self.where}: {names}", status_code=422, errors=errors) from None
        if self.model_arg is not None:
            kwargs[self.model_arg[0]] = validated
        else:
            kwargs.update(validated.__dict__)
        return kwargs


def raw_params(url: str, path_params: Mapping[str, Any]) -> dict[str, Any]:
    """A URL's parameters as one dict: query values (a repeated key as a list), then path params."""
    merged: dict[str, Any] = {key: found[0] if len(found) == 1 else found for key, found in query_values(urlsplit(url).query).items()}
    merged.update(path_params)
    return merged


def params_binding(view_cls: type[LiveView]) -> ParamsBinding:
    """The class's binding, built once (not inherited: a subclass may define its own)."""
    binding: ParamsBinding | None = view_cls.__dict__.get("_live_params")
    if binding is None:
        binding = ParamsBinding(view_cls)
        view_cls._live_params = binding  # type: ignore[attr-defined]
    return binding


def patch_url(params: Mapping[str, Any]) -> str:
    """The URL of a ``live:patch`` event's params; ``EventError`` (422) for anything else."""
    url = params.get("url")
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise EventError(f"invalid params for {PATCH_EVENT}: expected {{'url': '<path and query>'}}, got {params!r}", status_code=422)
    return url


class Navigator:
    """One page's URL: ``handle_params`` on entering it and on each patch, and the client
    operations that change the browser's URL. The session calls in, between messages."""

    __slots__ = ("_binding", "_browser_id", "_flash", "_resolve", "url", "view")

    def __init__(
        self, view: LiveView, url: str, resolve: RouteResolver | None = None, *, flash: FlashCarrier | None = None, browser_id: str = ""
    ) -> None:
        self.view = view
        self.url = sys.intern(without_fragment(url))  # the pages open at one URL share its string
        self._resolve = resolve
        self._binding = params_binding(type(view))
        self._flash = flash  # gives navigations and redirects the flash, for the page they land on
        self._browser_id = browser_id

    def route(self, url: str) -> PageRoute | None:
        """The live page ``url`` leads to (this page's view when there is no resolver)."""
        path = urlsplit(url).path or "/"
        if self._resolve is None:
            return PageRoute(type(self.view), {})
        return self._resolve(path)

    async def enter(self, socket: LiveSocket) -> None:
        """After ``mount``: ``handle_params`` for the page's URL.

        A ``push_patch`` or ``push_navigate`` it makes sends the page request elsewhere (the
        session redirects), so their URLs are only made absolute here.
        """
        if self._binding.defined or socket._hooks_for("handle_params"):  # most pages have no handle_params
            route = self.route(self.url)
            await self._handle_params(socket, self.url, route.path_params if route is not None else {})
        self._absolute(socket)

    async def patch(self, socket: LiveSocket, to: str) -> None:
        """The browser patched its URL (a patch link, Back or Forward): ``handle_params`` for ``to``.

        A URL of another live page of this router becomes a navigation, one no live page of
        this router serves a full load; both replace the history entry the browser just made.
        """
        url = local_url(to, self.url)
        route = self.route(url)
        if route is None:
            socket._queue_op(ClientOp("redirect", url, {"replace": True}))
            return
        if route.view is not type(self.view):
            socket._queue_op(ClientOp("navigate", url, {"replace": True}))
            return
        await self._handle_params(socket, without_fragment(url), route.path_params)
        self.url = without_fragment(url)
        await self.settle(socket)

    async def settle(self, socket: LiveSocket) -> None:
        """After a callback: run ``handle_params`` for the ``push_patch`` it made (the last one
        wins), and for those that call makes, then leave one patch operation for the browser;
        the navigations and redirects it queued carry its flash.

        A navigation or redirect queued alongside wins over patches; a navigation to a URL no
        live page of this router serves becomes a redirect (a full load).
        """
        if not socket._client_ops:
            return
        await self._settle_patches(socket)
        if self._flash is not None:
            self._flash.carry(socket, self._browser_id)

    def carried_flash(self, socket: LiveSocket) -> str | None:
        """The flash ``socket`` put, signed for the page a mount's redirect lands on; None if none."""
        if self._flash is None or not socket.flash:
            return None
        return self._flash.dump(socket.flash, self._browser_id)

    async def _settle_patches(self, socket: LiveSocket) -> None:
        first_replace: bool | None = None
        final: str | None = None
        for _ in range(MAX_PATCHES + 1):
            ops = socket._client_ops
            patches = [op for op in ops if op.kind == "patch"]
            if not patches:
                break
            ops[:] = [op for op in ops if op.kind != "patch"]
            if any(op.kind in ("navigate", "redirect") for op in ops):
                first_replace = final = None  # the page is left: its URL no longer matters
                break
            op = patches[-1]
            if first_replace is None:
                first_replace = bool((op.payload or {}).get("replace"))
            url = local_url(op.name, self.url)
            route = self.route(url)
            if route is None or route.view is not type(self.view):
                served = "no live page of this router" if route is None else route.view.__name__
                raise LiveError(
                    f"{type(self.view).__name__} cannot push_patch({op.name!r}): that URL is served by {served}, not {type(self.view).__name__}\n"
                    "Expected: a URL of this view (push_patch changes its params); use push_navigate(url) to go to another live page"
                )
            await self._handle_params(socket, without_fragment(url), route.path_params)
            self.url = without_fragment(url)
            final = url
        else:
            raise LiveError(f"{type(self.view).__name__}.handle_params() called push_patch {MAX_PATCHES} times in a row: a loop")
        if final is not None:
            socket._queue_op(ClientOp("patch", final, {"replace": bool(first_replace)}))
        self._absolute(socket)

    def _absolute(self, socket: LiveSocket) -> None:
        ops = socket._client_ops
        for index, op in enumerate(ops):
            if op.kind in ("patch", "navigate"):
                url = local_url(op.name, self.url)
                kind = op.kind
                if kind == "navigate" and self.route(url) is None:
                    kind = "redirect"  # another router's page, or not a live page: a full load
                if url != op.name or kind != op.kind:
                    ops[index] = ClientOp(kind, url, op.payload)

    async def _handle_params(self, socket: LiveSocket, url: str, path_params: Mapping[str, Any]) -> None:
        if telemetry.on:
            return await telemetry.measure(self._run_handle_params(socket, url, path_params), "handle_params", *owner_of(socket._runtime), url=url)
        await self._run_handle_params(socket, url, path_params)

    async def _run_handle_params(self, socket: LiveSocket, url: str, path_params: Mapping[str, Any]) -> None:
        binding = self._binding
        if await run_hooks(socket, "handle_params", raw_params(url, path_params), url) or not binding.defined:
            return
        handler: Callable[..., Any] = self.view.handle_params
        result = handler(**binding.bind(socket, url, path_params))
        if inspect.isawaitable(result):
            result = await result
        if result is not None and not isinstance(result, SocketState):
            raise CallbackReturnError(f"invalid return from {binding.where}: expected None\nExpected one of: None, socket\nGot: {result!r}")
