"""Stateful components: ``LiveComponent``, its socket, and the registry of one page's components.

A component lives inside a page's session (LiveView's LiveComponent): its own assigns, events,
async operations and change tracking, rendered where a template says
``{% live_component TodoItem id=todo.id todo=todo %}``. Its state stays with the session until
the place that rendered it renders without it (a stream item deleted, a region re-rendered).
After each message the page's patch carries only the components whose own assigns changed.
"""

from __future__ import annotations

import inspect
import logging
import re
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from jinja2 import Environment, Template
from markupsafe import Markup, escape

from .async_ops import Exit, Outcome, apply_assign_outcome
from .exceptions import CallbackReturnError, ConfigurationError, EventError, LiveError
from .helpers import TemplateHelpers
from .lifecycle import callable_name
from .socket import NO_CHANGES, ClientOp
from .types import Runtime, TaskKey, TaskRecord, Tasks, Topics
from .view import EventBinding, LiveSocket, check_reply, event, event_bindings
from .wire import ATTR_COMPONENT, ATTR_VERSION, css_id

log = logging.getLogger("fastapi_live")

ROOT_SCOPE = "root"
_HEAD = re.compile(r"\s*(?:<!--.*?-->\s*)*<([A-Za-z][^\s/>]*)([^>]*)>", re.S)
_ID_ATTR = re.compile(r"""(?:^|\s)id\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")
_MAX_UPDATE_ROUNDS = 100  # send_update from update() may send more; a loop that never ends is a bug
_CLASSES: dict[str, weakref.WeakSet[type[LiveComponent]]] = {}  # by class name, for the template tag


class LiveComponent:
    """A stateful part of a page: its own assigns, events and async work, rendered by its
    ``template`` (one top element) where a page or another component says
    ``{% live_component TodoItem id=todo.id todo=todo %}``.

    ``mount`` runs once, when the component first renders; ``update`` gets the assigns the
    parent passes (``id`` included), first after ``mount`` and then whenever the parent passes
    different ones, or re-inserts the stream item it is (by default it assigns them). Events from inside the component reach its
    ``@event`` methods. Its template reads its assigns, ``myself`` (for ``target=myself``) and
    ``live``.

    >>> class TodoItem(LiveComponent):
    ...     template = "todo_item.html"
    ...
    ...     async def mount(self, socket: ComponentSocket) -> None:
    ...         socket.assign(editing=False)
    ...
    ...     @event("edit")
    ...     async def edit(self, socket: ComponentSocket) -> None:
    ...         socket.assign(editing=True)
    """

    template: ClassVar[str]
    __live_component__: ClassVar[bool] = True  # what send_update checks (it sits below this module)
    _live_events: ClassVar[dict[str, EventBinding]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _CLASSES.setdefault(cls.__name__, weakref.WeakSet()).add(cls)

    @classmethod
    def _events(cls) -> dict[str, EventBinding]:
        return event_bindings(cls)

    async def mount(self, socket: ComponentSocket) -> None:
        """Set the component's first assigns (once). It runs while the page renders: it must not
        wait on I/O; load slow data with ``socket.assign_async``."""

    async def update(self, assigns: dict[str, Any], socket: ComponentSocket) -> None:
        """The assigns the parent passes (and ``send_update``'s); the default assigns them."""
        socket.assign(assigns)

    async def handle_event(self, event: str, params: dict[str, Any], socket: ComponentSocket) -> Any:
        """Events without an ``@event`` method land here; the default refuses them."""
        known = sorted(self._events())
        raise EventError(
            f"unknown event {event!r} for component {type(self).__name__}\nExpected one of: {', '.join(known) or '(no events)'}\nGot: {event!r}",
            status_code=400,
        )

    async def handle_async(self, name: str, outcome: Outcome, socket: ComponentSocket) -> None:
        """Outcomes of this component's ``start_async`` tasks: ``Ok(value)`` or ``Exit(reason)``."""
        raise CallbackReturnError(
            f"component {type(self).__name__} has no handle_async for task {name!r}: define "
            f"handle_async(self, name, outcome, socket) to receive its {type(outcome).__name__} outcome"
        )


@dataclass(frozen=True, slots=True)
class ComponentRef:
    """``myself`` in a component's template: ``live.click("edit", target=myself)``."""

    cid: str

    @property
    def live_selector(self) -> str:
        return f'[{ATTR_COMPONENT}="{self.cid}"]'

    def __str__(self) -> str:
        return self.live_selector


@dataclass(frozen=True, slots=True)
class ComponentTask:
    """A component's task name inside its session's tasks: no page task can share it."""

    cid: str
    name: Any


class _ComponentRuntime:
    """The session's runtime as one component sees it: its tasks apart from everyone else's."""

    __slots__ = ("_cid", "_component", "_runtime")

    def __init__(self, runtime: Runtime, cid: str, component: str) -> None:
        self._runtime = runtime
        self._cid = cid
        self._component = component

    @property
    def topics(self) -> Topics:
        return self  # subscribe, track and friends: refused with the fix below

    @property
    def tasks(self) -> Tasks:
        return self  # start, cancel and keys, under this component's own names

    def _scoped(self, key: TaskKey) -> TaskKey:
        return (key[0], ComponentTask(self._cid, key[1]))

    def start(self, key: TaskKey, record: TaskRecord) -> None:
        record.owner = self._cid
        self._runtime.tasks.start(self._scoped(key), record)

    def cancel(self, key: TaskKey, reason: object) -> bool:
        return self._runtime.tasks.cancel(self._scoped(key), reason)

    def keys(self) -> list[TaskKey]:
        return [(kind, name.name) for kind, name in self._runtime.tasks.keys() if isinstance(name, ComponentTask) and name.cid == self._cid]

    def _no_mailbox(self, what: str) -> LiveError:
        return LiveError(
            f"component {self._component} cannot {what}: a component has no mailbox of its own\n"
            f"Do it in the page's view or an on_mount hook, and pass what it hears on with socket.send_update({self._component}, id=..., ...)"
        )

    async def subscribe(self, topic: str) -> None:
        raise self._no_mailbox(f"subscribe to {topic!r}")

    async def unsubscribe(self, topic: str) -> None:
        raise self._no_mailbox(f"unsubscribe from {topic!r}")

    async def identify(self, identity: str) -> None:
        raise self._no_mailbox("identify")

    async def track(self, topic: str, key: str, meta: Mapping[str, Any]) -> str:
        raise self._no_mailbox(f"track presence on {topic!r}")

    async def untrack(self, topic: str, key: str) -> None:
        raise self._no_mailbox(f"untrack presence on {topic!r}")

    async def update_presence(self, topic: str, key: str, meta: Mapping[str, Any]) -> str:
        raise self._no_mailbox(f"update presence on {topic!r}")


class ComponentSocket(LiveSocket):
    """A component's socket: its own assigns and change tracking, ``assign_async`` and
    ``start_async`` (outcomes to the component's ``handle_async``), ``push_event``,
    ``send_update`` and the page-level client operations (``push_patch``, ``push_navigate``,
    ``redirect``). Streams, PubSub and presence belong to the page."""

    def __init__(self, component: str, cid: str, page: LiveSocket | None = None) -> None:
        self._page = page
        self._own_ops: list[ClientOp] = []
        runtime = None if page is None else page._runtime
        scoped = None if runtime is None else _ComponentRuntime(runtime, cid, component)
        super().__init__(view_name=component, runtime=scoped, connected=True)
        self.cid = cid

    # Client operations (push_event, exec_js, push_patch, push_navigate, redirect) are the page's:
    # they join the page's queue, so they go out (or roll back) with the message that made them.
    @property
    def _client_ops(self) -> list[ClientOp]:
        return self._own_ops if self._page is None else self._page._client_ops

    @_client_ops.setter
    def _client_ops(self, value: list[ClientOp]) -> None:
        if self._page is None:
            self._own_ops = value
        else:
            self._page._client_ops = value

    def put_flash(self, kind: str, message: str, *, clear_after: float | None = None) -> Self:
        """The page's flash (as LiveView's components flash their parent)."""
        if self._page is not None:
            self._page.put_flash(kind, message, clear_after=clear_after)
        return self

    def clear_flash(self, kind: str | None = None) -> Self:
        if self._page is not None:
            self._page.clear_flash(kind)
        return self

    def _page_only(self, what: str) -> ConfigurationError:
        return ConfigurationError(
            f"component {self.view_name} called {what}: streams belong to the page\n"
            f"Keep the stream in the page's view; an item may be a component: "
            f"{{% live_stream todos as todo %}}{{% live_component {self.view_name} id=todo.id todo=todo %}}{{% endlive_stream %}}"
        )

    def stream(self, name: str, *args: Any, **kwargs: Any) -> Self:
        raise self._page_only(f"stream({name!r})")

    def stream_insert(self, name: str, *args: Any, **kwargs: Any) -> Self:
        raise self._page_only(f"stream_insert({name!r})")

    def stream_delete(self, name: str, *args: Any, **kwargs: Any) -> Self:
        raise self._page_only(f"stream_delete({name!r})")

    def stream_async(self, name: str, *args: Any, **kwargs: Any) -> Self:
        raise self._page_only(f"stream_async({name!r})")


def run_inline(result: Any, where: str) -> Any:
    """The value of a callback that runs inside a render: a plain value, or a coroutine that
    finishes without waiting. One that waits is an error showing the fix."""
    if not inspect.iscoroutine(result):
        return result
    try:
        result.send(None)
    except StopIteration as done:
        return done.value
    result.close()
    raise ConfigurationError(
        f"{where} waited on something: a component's mount and update run inside the page's render and must not wait\n"
        "Instead of:\n    await db.load(...)\n"
        'Do: load it without blocking the render, e.g. socket.assign_async("data", db.load, key), '
        "or pass the data in from the page"
    )


def resolve_component(value: Any, name: str) -> type[LiveComponent]:
    """The class ``{% live_component Name %}`` means: a class in the template's context, else
    the one ``LiveComponent`` subclass with that name."""
    if inspect.isclass(value) and issubclass(value, LiveComponent):
        return value
    found = sorted(_CLASSES.get(name, ()), key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigurationError(
            f"{{% live_component {name} %}}: no LiveComponent subclass is named {name!r}\n"
            f"Expected: a class such as `class {name}(LiveComponent): template = ...` defined (imported) before the page renders\n"
            f"Got: {value!r}"
        )
    places = ", ".join(f"{cls.__module__}.{cls.__qualname__}" for cls in found)
    raise ConfigurationError(
        f"{{% live_component {name} %}}: several LiveComponent subclasses are named {name!r}: {places}\n"
        f'Pass the one you mean to the templates: templates.env.globals["{name}"] = {name}'
    )


@dataclass(slots=True)
class Entry:
    """One component of a page: its instance, socket and what it was last rendered with."""

    cid: str
    cls: type[LiveComponent]
    id: Any
    instance: LiveComponent
    socket: ComponentSocket
    passed: dict[str, Any] = field(default_factory=dict)
    dom_id: str = ""
    html: str | None = None  # its last render, reused while its assigns stay the same (not kept for stream items)
    scope: Any = ROOT_SCOPE  # what rendered it: the root or a region (its id), a stream item (stream, dom id), a component (ComponentRef)
    place: str = ""  # the template and line of the tag that last rendered it


class ComponentRegistry:
    """The components of one page (owned by its ``Patcher``): created, updated and rendered
    while the page renders, and dropped when the place that rendered them renders without them."""

    def __init__(self, environment: Environment, helpers: TemplateHelpers) -> None:
        self.environment = environment
        self.helpers = helpers
        self.page: LiveSocket | None = None  # the page's socket (set by the patcher before each pass)
        self._by_key: dict[tuple[type[LiveComponent], Any], Entry] = {}
        self._by_cid: dict[str, Entry] = {}
        self._next = 0
        self._templates: dict[str, Template] = {}
        self._seen: dict[tuple[type[LiveComponent], Any], str] | None = None  # this render pass: key -> place
        self._scopes: list[Any] = []
        self._marks: list[int] = []  # per entered scope: how many components the pass had seen by then
        self._order: list[tuple[type[LiveComponent], Any]] = []  # this pass's components, in render order
        self._scoped: dict[Any, set[tuple[type[LiveComponent], Any]]] = {}  # scope -> the components it rendered
        self.version = 0

    def __len__(self) -> int:
        return len(self._by_cid)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._by_cid.values()))

    def get(self, component: type[LiveComponent], id: Any) -> Entry | None:
        return self._by_key.get((component, id))

    # -- a render pass ------------------------------------------------------------------------
    def begin(self, version: int) -> None:
        """A render pass starts (a page render or one patch): ids must be unique within it."""
        self._seen = {}
        self._order.clear()
        self._scopes.clear()
        self._marks.clear()
        self.version = version

    def end(self) -> None:
        self._seen = None
        self._order.clear()

    def render_scope(self, scope: Any, render: Callable[[], str]) -> str:
        """``render()`` with components it renders belonging to ``scope``; those that belonged to
        it before and were not rendered this time are dropped."""
        self.enter(scope)
        try:
            html = render()
        except BaseException:
            self._scopes.pop()
            raise
        self.leave()
        return html

    def enter(self, scope: Any) -> None:
        """A region (or stream item, or component) starts rendering; see ``leave``."""
        self._scopes.append(scope)
        self._marks.append(len(self._order))

    def leave(self) -> None:
        """It is rendered: the components it held before and did not render now are dropped."""
        scope = self._scopes.pop()
        mark = self._marks.pop()
        held = self._scoped.get(scope)
        if not held:
            return
        gone = held.difference(self._order[mark:])
        if gone:
            self._drop([self._by_key[key] for key in gone if key in self._by_key])

    def _drop(self, doomed: list[Entry]) -> None:
        """Drop these components, their children, and their tasks."""
        while doomed:
            entry = doomed.pop()
            if self._by_cid.pop(entry.cid, None) is None:
                continue
            key = (entry.cls, entry.id)
            self._by_key.pop(key, None)
            self._set_scope(key, entry, None)
            runtime = entry.socket._runtime
            if runtime is not None:
                for task in runtime.tasks.keys():
                    runtime.tasks.cancel(task, "component removed")
            children = self._scoped.pop(ComponentRef(entry.cid), set())
            doomed.extend(self._by_key[child] for child in children if child in self._by_key)

    def _set_scope(self, key: tuple[type[LiveComponent], Any], entry: Entry, scope: Any) -> None:
        old = self._scoped.get(entry.scope)
        if old is not None:
            old.discard(key)
            if not old:
                del self._scoped[entry.scope]
        if scope is not None:
            entry.scope = scope
            self._scoped.setdefault(scope, set()).add(key)

    def drop_stream_item(self, stream: str, dom_id: str | None) -> None:
        """A stream item was deleted (or, with ``dom_id`` None, the whole stream reset)."""
        scopes = [scope for scope in self._scoped if isinstance(scope, tuple) and scope[0] == stream and (dom_id is None or scope[1] == dom_id)]
        self._drop([self._by_key[key] for scope in scopes for key in self._scoped.get(scope, ()) if key in self._by_key])

    # -- the template tag -----------------------------------------------------------------------
    def render_tag(self, value: Any, name: str, assigns: dict[str, Any], place: str, stream_item: tuple[str, str] | None, page_context: Any) -> Markup:
        component = resolve_component(value, name)
        if "id" not in assigns or assigns["id"] is None:
            raise ConfigurationError(
                f"{{% live_component {name} %}} at {place} needs an id, unique on the page for {name}\n"
                f"Expected: {{% live_component {name} id=todo.id ... %}}\nGot: {sorted(assigns) or 'no assigns'}"
            )
        key = (component, assigns["id"])
        try:
            hash(key)
        except TypeError:
            raise ConfigurationError(
                f"{{% live_component {name} %}} at {place}: the id must be hashable (a str or an int)\nGot: id={assigns['id']!r}"
            ) from None
        if self._seen is None:
            raise ConfigurationError(f"{{% live_component {name} %}} at {place} rendered outside a live page's render")
        if key in self._seen:
            raise ConfigurationError(
                f"{name} id={assigns['id']!r} is rendered twice on one page: at {self._seen[key]} and at {place}\n"
                f"Expected: ids unique among the page's {name} components, e.g. id=todo.id\nGot: id={assigns['id']!r} twice"
            )
        self._seen[key] = place
        self._order.append(key)
        scope: Any = self._scopes[-1] if self._scopes else ROOT_SCOPE
        if stream_item is not None and isinstance(scope, str):
            scope = stream_item  # an item of a stream in the page's first render: it lives as long as the item
        in_stream = isinstance(scope, tuple)
        entry = self._by_key.get(key)
        if entry is None:
            entry = self._create(component, assigns["id"], place)
            self._call_update(entry, assigns)
        elif in_stream or _differ(entry.passed, assigns):
            self._call_update(entry, assigns)
        # What the parent passed is kept to spare unchanged components an update, except in a
        # stream, which keeps no items: re-inserting an item always updates its component.
        entry.passed = {} if in_stream else dict(assigns)
        if entry.scope != scope or key not in self._scoped.get(scope, ()):
            self._set_scope(key, entry, scope)
        entry.place = place
        return Markup(self.render_entry(entry, page_context))

    def _create(self, component: type[LiveComponent], id: Any, place: str) -> Entry:
        self._next += 1
        cid = f"c{self._next}"
        socket = ComponentSocket(component.__name__, cid, self.page)
        entry = Entry(cid, component, id, component(), socket, place=place)
        self._by_key[(component, id)] = entry
        self._by_cid[cid] = entry
        snapshot = socket._snapshot()
        try:
            run_inline(entry.instance.mount(socket), f"{component.__name__}.mount()")
        except BaseException:
            socket._restore(snapshot)
            self._by_key.pop((component, id), None)
            self._by_cid.pop(cid, None)
            raise
        socket.mounted = True
        return entry

    def _call_update(self, entry: Entry, assigns: Mapping[str, Any]) -> None:
        run_inline(entry.instance.update(dict(assigns), entry.socket), f"{entry.cls.__name__}.update()")

    def render_entry(self, entry: Entry, page_context: Any) -> str:
        """The component's HTML: its last render while its assigns are unchanged, else a fresh one."""
        socket = entry.socket
        if entry.html is not None and not socket._changed:
            return entry.html
        socket._changed = NO_CHANGES
        socket._take_shown()  # a component goes whole: what it was shown is of no use
        template = self._template(entry)
        context = {**socket._data, "live": self.helpers, "myself": ComponentRef(entry.cid), "__live__": page_context}
        html = self._mark(entry, self.render_scope(ComponentRef(entry.cid), lambda: template.render(context)))
        # A stream item's HTML is not kept, as the stream keeps no items: only a re-insert
        # renders it again, and that passes new assigns anyway.
        entry.html = None if isinstance(entry.scope, tuple) else html
        return html

    def _template(self, entry: Entry) -> Template:
        name = getattr(entry.cls, "template", None)
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"component {entry.cls.__name__} has no template\nExpected: a class attribute such as template = \"todo_item.html\"\nGot: {name!r}"
            )
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = self.environment.get_template(name)
        return template

    def _mark(self, entry: Entry, html: str) -> str:
        """``html`` with the component's marker on its top element (and an id, if it has none)."""
        head = _HEAD.match(html)
        if head is None:
            got = " ".join(html.split())
            raise ConfigurationError(
                f"component {entry.cls.__name__} ({entry.cls.template!r}) rendered no top element: a component renders one element, "
                f"which the page updates in place\nExpected: e.g. <li id=\"todo-{{{{ id }}}}\">…</li>\nGot: {got[:120] or '(nothing)'}"
            )
        extra = f' {ATTR_COMPONENT}="{entry.cid}" {ATTR_VERSION}="{self.version}"'
        found = _ID_ATTR.search(head.group(2))
        if found is None:
            entry.dom_id = f"{_kebab(entry.cls.__name__)}-{entry.id}"
            extra += f' id="{escape(entry.dom_id)}"'
        else:
            entry.dom_id = next(group for group in found.groups() if group is not None)
        at = head.end(1)
        return html[:at] + extra + html[at:]

    # -- after the render: send_update, own changes ------------------------------------------------
    def flush_updates(self, page: LiveSocket) -> None:
        """Run the ``update`` of every component a ``send_update`` named since the last patch."""
        for _ in range(_MAX_UPDATE_ROUNDS):
            queued = page._take_updates()
            for entry in list(self._by_cid.values()):
                queued.extend(entry.socket._take_updates())
            if not queued:
                return
            for component, id, assigns in queued:
                target = self._by_key.get((component, id))
                if target is None:
                    log.warning("send_update(%s, id=%r): no such component on %s's page; the update is dropped", component.__name__, id, page.view_name)
                    continue
                self._call_update(target, {"id": id, **assigns})
        raise LiveError(
            f"send_update kept sending updates for {_MAX_UPDATE_ROUNDS} rounds on {page.view_name}'s page: does an update() call send_update for itself?"
        )

    def dirty(self) -> list[Entry]:
        """Components whose own assigns changed and that no re-rendered region showed again."""
        return [entry for entry in self._by_cid.values() if entry.socket._changed]

    # -- the session's hand-offs: events and task outcomes ----------------------------------------
    def require(self, cid: Any, event_name: str) -> Entry:
        entry = self._by_cid.get(cid) if isinstance(cid, str) else None
        if entry is None:
            raise EventError(
                f"event {event_name!r} is for component {cid!r}, which is not on this page (any more): it was removed, or the page remounted\n"
                f"Expected one of: {', '.join(sorted(self._by_cid)) or '(no components)'}\nGot: {cid!r}",
                status_code=404,
            )
        return entry

    async def dispatch(self, cid: Any, event_name: str, params: dict[str, Any]) -> Any:
        """Run the component's handler for a client event; its changes are kept only if it succeeds."""
        entry = self.require(cid, event_name)
        return await self._guarded(entry, lambda: _dispatch(entry, event_name, params))

    async def task_done(self, record: TaskRecord, outcome: Outcome) -> None:
        """An outcome of a component's task: ``assign_async`` keys, or its ``handle_async``."""
        entry = self._by_cid.get(record.owner or "")
        if entry is None:
            return  # the component was removed meanwhile: nobody waits for it
        if record.kind == "start":
            await self._guarded(entry, lambda: entry.instance.handle_async(record.name, outcome, entry.socket))
        elif record.kind == "assign":
            apply_assign_outcome(entry.socket, record, outcome)

    @staticmethod
    async def _guarded(entry: Entry, call: Callable[[], Any]) -> Any:
        snapshot = entry.socket._snapshot()
        try:
            result = call()
            if inspect.isawaitable(result):
                result = await result
            return result
        except BaseException:
            entry.socket._restore(snapshot)
            raise


async def _dispatch(entry: Entry, event_name: str, params: dict[str, Any]) -> Any:
    binding = entry.cls._events().get(event_name)
    if binding is not None:
        result = binding.fn(entry.instance, entry.socket, **binding.bind(params))
        where = binding.where
    else:
        result = entry.instance.handle_event(event_name, params, entry.socket)
        where = f"{entry.cls.__name__}.handle_event()"
    if inspect.isawaitable(result):
        result = await result
    return check_reply(result, where)


def _differ(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    if old.keys() != new.keys():
        return True
    for key, value in new.items():
        previous = old[key]
        if previous is value:
            continue
        try:
            if previous != value:
                return True
        except Exception:  # an __eq__ that raises: treat as changed
            return True
    return False


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def component_selector(cid: str) -> str:
    """The CSS selector of a component's element (the testing toolkit finds components by it)."""
    return f'[{ATTR_COMPONENT}="{css_id(cid)}"]'


__all__ = ["ComponentRef", "ComponentRegistry", "ComponentSocket", "Exit", "LiveComponent", "callable_name", "event", "run_inline"]
