"""``LiveView`` and ``LiveSocket``: the documented facade over socket state, streams,
async operations and lifecycle hooks."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import pydantic
from pydantic import BaseModel, ValidationError

from .async_ops import AsyncMixin, Exit, Ok, Outcome
from .exceptions import CallbackReturnError, ConfigurationError, EventError, LiveError
from .flash import FlashMixin
from .forms import form_model, to_form, user_params
from .lifecycle import HooksMixin, callable_name
from .socket import SocketState
from .streams import StreamsMixin
from .uploads import UploadsMixin
from .wire import RESERVED_EVENT_PREFIX

F = TypeVar("F", bound=Callable[..., Any])
_EVENT_ATTR = "__live_event__"


class LiveSocket(AsyncMixin, StreamsMixin, HooksMixin, FlashMixin, UploadsMixin, SocketState):
    """The state of one live page, handed to every callback.

    * assigns: ``socket.assigns``, ``assign(**values)``, ``update(key, fn)``
    * async: ``assign_async``, ``start_async``, ``stream_async``, ``cancel_async``
    * streams: ``stream_configure``, ``stream``, ``stream_insert``, ``stream_delete``
    * hooks: ``attach_hook``, ``detach_hook``; PubSub: ``await socket.subscribe(topic)``
    * presence: ``await socket.track(topic, key, meta)``, ``untrack``, ``update_presence``
    * URL: ``push_patch`` (same view, new params), ``push_navigate`` (another live page)
    * client: ``push_event``, ``redirect``; flash: ``put_flash``, ``clear_flash``
    * uploads: ``allow_upload``, ``cancel_upload``, ``consume_uploaded_entries``

    >>> socket.assign(count=0)  # doctest: +SKIP
    >>> socket.update("count", lambda n: n + 1)  # doctest: +SKIP
    """

    async def subscribe(self, topic: str) -> None:
        """Receive messages published to ``topic`` in ``handle_info`` until the page closes."""
        await self._require_runtime("subscribe").topics.subscribe(topic)

    async def unsubscribe(self, topic: str) -> None:
        """Stop receiving ``topic``."""
        await self._require_runtime("unsubscribe").topics.unsubscribe(topic)

    async def identify(self, identity: str) -> None:
        """Join ``identity``: ``await live.disconnect(identity)`` then ends this page's session, in
        every process, and reloads the page as whoever the browser is by then (LiveView's
        ``live_socket_id``). Call it from an on_mount hook, with one identity per sign-in.

        >>> await socket.identify(f"login:{user.login_id}")  # doctest: +SKIP
        """
        await self._require_runtime("identify").topics.identify(identity)
    async def track(self, topic: str, key: str, meta: Mapping[str, Any] | None = None) -> str:
        """Show this page on ``topic``'s presence as ``key`` (one per user) with ``meta``; returns its ref.

        Subscribers of ``topic`` get a ``PresenceDiff`` in ``handle_info``; the entry leaves
        when the page closes. ``live.presence.list(topic)`` reads them all.

        >>> await socket.track("room:1", user.id, {"name": user.name})  # doctest: +SKIP
        """
        return await self._require_runtime("track").topics.track(topic, key, meta if meta is not None else {})

    async def untrack(self, topic: str, key: str) -> None:
        """Remove this page's presence on ``topic`` under ``key``."""
        await self._require_runtime("untrack").topics.untrack(topic, key)

    async def update_presence(self, topic: str, key: str, meta: Mapping[str, Any]) -> str:
        """Replace the meta of this page's presence (``socket.update`` is taken by assigns)."""
        return await self._require_runtime("update_presence").topics.update_presence(topic, key, meta)


def event_bindings(cls: type[Any]) -> dict[str, EventBinding]:
    """The ``@event`` methods of a view or component class by event name, subclasses' last.

    Built lazily, once per class (not inherited): type hints may name classes defined after it.
    """
    bindings: dict[str, EventBinding] | None = cls.__dict__.get("_live_events")
    if bindings is None:
        bindings = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                name = getattr(attr, _EVENT_ATTR, None)
                if name is not None:
                    bindings[name] = EventBinding(cls.__name__, attr)
        cls._live_events = bindings
    return bindings


def event(name: str) -> Callable[[F], F]:
    """Bind a ``LiveView`` method to the client event ``name``; params bind by signature.

    >>> class Todos(LiveView):
    ...     @event("dismiss")
    ...     async def dismiss(self, socket: LiveSocket, id: int) -> None:
    ...         socket.update("items", lambda items: [i for i in items if i.id != id])
    """

    if not isinstance(name, str) or not name:
        raise LiveError(f"event name must be a non-empty string, got {name!r}")
    if name.startswith(RESERVED_EVENT_PREFIX):
        raise LiveError(f"event name {name!r} is reserved: names starting with {RESERVED_EVENT_PREFIX!r} are the library's own events")

    def decorate(fn: F) -> F:
        setattr(fn, _EVENT_ATTR, name)
        return fn

    return decorate


class EventBinding:
    """An event handler with a pydantic model built from its signature.

    ``params: dict`` takes the params as sent; ``form: Form[Model]`` a form built from them
    (invalid values are errors on the form); a lone ``model: Model`` the validated model, or
    a 422 when they do not fit; other parameters bind one param each, by name.
    """

    def __init__(self, view_name: str, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.where = f"{view_name}.{fn.__name__}()"
        hints = typing.get_type_hints(fn, include_extras=True)
        params = list(inspect.signature(fn).parameters.values())[2:]  # skip self, socket
        self.whole_model: type[BaseModel] | None = None
        self.raw_name: str | None = None
        self.forms: dict[str, type[BaseModel]] = {}
        fields: dict[str, Any] = {}
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            annotation = hints.get(p.name, Any)
            is_form, form_of = form_model(annotation)
            if is_form:
                self.forms[p.name] = self._form_model(p.name, annotation, form_of)
                continue
            if len(params) == 1 and inspect.isclass(annotation) and issubclass(annotation, BaseModel):
                self.whole_model = annotation
                self.arg_name = p.name
                break
            if p.name == "params" and annotation in (dict, Mapping, dict[str, Any], Any) and p.default is p.empty:
                self.raw_name = p.name
                continue
            default = ... if p.default is p.empty else p.default
            fields[p.name] = (annotation, default)
        self.model = pydantic.create_model(f"{view_name}_{fn.__name__}_params", **fields) if fields else None
        self.field_names = frozenset(fields)  # the params the model takes (pydantic's model_fields is no plain dict)
        required = any(default is ... for _, default in fields.values())
        # Defaults are handed out as they are, so only immutable ones qualify for the shortcut.
        immutable = all(isinstance(d, (int, float, str, bool, bytes, tuple, frozenset, type(None))) for _, d in fields.values())
        self.defaults = None if (self.model is None or required or not immutable) else self.model.model_validate({}).__dict__

    def _form_model(self, name: str, annotation: Any, model: Any) -> type[BaseModel]:
        if inspect.isclass(model) and issubclass(model, BaseModel):
            return model
        shown = getattr(annotation, "__name__", None) or repr(annotation)
        got = "Form without a model" if model is None else f"Form[{getattr(model, '__qualname__', model)}]"
        raise ConfigurationError(
            f"{self.where}: the parameter {name!r} is a {shown}, but a Form needs the pydantic model it validates\n"
            f"Expected: {name}: Form[SomeModel], SomeModel a pydantic BaseModel subclass; or {name}: dict[str, Any] for the raw params\n"
            f"Got: {got}"
        )

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            if self.whole_model is not None:
                return {self.arg_name: self.whole_model.model_validate(user_params(params))}
            kwargs: dict[str, Any] = {name: to_form(model, params) for name, model in self.forms.items()} if self.forms else {}
            if self.model is not None:
                names = self.field_names
                known = {k: v for k, v in params.items() if k in names}
                if known or self.defaults is None:
                    kwargs.update(self.model.model_validate(known).__dict__)
                else:
                    kwargs.update(self.defaults)  # nothing to validate: every field has its default
            if self.raw_name:
                kwargs[self.raw_name] = dict(params)
            return kwargs
        except ValidationError as exc:
            details = exc.errors(include_url=False, include_input=False)
            errors: list[dict[str, object]] = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in details]
            fields = ", ".join(".".join(map(str, e["loc"])) or "(params)" for e in details)
            raise EventError(f"invalid params for {self.where}: {fields}", status_code=422, errors=errors) from None


class LiveView:
    """A live page: ``mount`` sets assigns; events, infos and async outcomes change them.

    >>> live = LiveRouter(templates=templates)
    >>> @live.page("/counter", template="counter.html")
    ... class Counter(LiveView):
    ...     async def mount(self, socket: LiveSocket) -> None:
    ...         socket.assign(count=0)
    ...
    ...     @event("inc")
    ...     async def inc(self, socket: LiveSocket, by: int = 1) -> None:
    ...         socket.update("count", lambda n: n + by)
    """

    template: ClassVar[str | None] = None
    _live_events: ClassVar[dict[str, EventBinding]]

    @classmethod
    def _events(cls) -> dict[str, EventBinding]:
        return event_bindings(cls)

    async def mount(self, socket: LiveSocket, /, *args: Any, **kwargs: Any) -> None:
        """Set the first assigns. FastAPI path, query and ``Depends`` params may be declared.

        >>> async def mount(self, socket: LiveSocket, slug: str, user: User = Depends(current_user)) -> None: ...
        """

    async def handle_params(self, /, *args: Any, **kwargs: Any) -> None:
        """The page's URL: called after ``mount`` and on every patch (a patch link, ``push_patch``,
        Back and Forward), with the URL's query and path parameters bound by name and type.

        Take ``socket`` and typed parameters (validated like FastAPI query parameters; a URL
        that does not fit answers 422), a pydantic model of them all, ``params`` (a dict) or
        ``url`` (the path and query), in any order.

        >>> async def handle_params(self, socket: LiveSocket, tab: Literal["overview", "settings"] = "overview", page: int = 1) -> None:
        ...     socket.assign(tab=tab, page=page)
        """

    async def handle_event(self, event: str, params: dict[str, Any], socket: LiveSocket) -> Any:
        """Events without an ``@event`` method land here; the default refuses them."""
        known = sorted(self._events())
        raise EventError(
            f"unknown event {event!r} for {type(self).__name__}\nExpected one of: {', '.join(known) or '(no events)'}\nGot: {event!r}",
            status_code=400,
        )

    async def handle_info(self, message: Any, socket: LiveSocket) -> None:
        """Messages from ``send_info`` and PubSub land here; the default ignores them."""

    async def handle_async(self, name: str, outcome: Outcome, socket: LiveSocket) -> None:
        """Outcomes of ``start_async`` tasks: ``Ok(value)`` or ``Exit(reason)``."""
        raise CallbackReturnError(
            f"{type(self).__name__} has no handle_async for task {name!r}: define "
            f"handle_async(self, name, outcome, socket) to receive its {type(outcome).__name__} outcome"
        )


async def dispatch_event(view: LiveView, event_name: str, params: dict[str, Any], socket: LiveSocket) -> Any:
    """Run the view's handler for ``event_name``; returns the reply mapping or None."""
    binding = view._events().get(event_name)
    if binding is not None:
        kwargs = binding.bind(params)
        result = binding.fn(view, socket, **kwargs)
        where = binding.where
    else:
        result = view.handle_event(event_name, params, socket)
        where = f"{type(view).__name__}.handle_event()"
    if inspect.isawaitable(result):
        result = await result
    return check_reply(result, where)


def check_reply(result: Any, where: str) -> Mapping[str, Any] | None:
    if result is None or isinstance(result, SocketState):
        return None
    if isinstance(result, Mapping):
        return result
    raise CallbackReturnError(
        f"invalid return from {where}: expected None, or a mapping to reply to a JS hook's pushEvent\n"
        f"Expected one of: None, socket, dict\nGot: {result!r}"
    )


__all__ = ["Exit", "LiveSocket", "LiveView", "Ok", "callable_name", "dispatch_event", "event"]
