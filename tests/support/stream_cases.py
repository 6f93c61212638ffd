"""One set of stream operations, and the children they leave in the container, in order.

The stream semantics are written three times: the server's first render
(``streams.initial_items``), the client (``static/fastapi-live.js``, the ``liveStream`` swap)
and the testing DOM (``testing/_dom.py``). These cases run against all three, so they can
never drift. The rules are LiveView's: a new item goes to index ``at`` (-1, or past the end:
last), then ``limit`` trims the items (positive: keeps the first, negative: keeps the last);
an item already shown is replaced where it stands and trims nothing; ``update_only`` adds
nothing new; a reset removes the items. Static children of the container (``{% item %}``
part) are never touched, and never counted.

Fragments are what the server sends: ``Patcher.patch`` of a socket the ops are applied to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from fastapi_live.helpers import TemplateHelpers
from fastapi_live.patches import Patcher
from fastapi_live.rendering import PageTemplate
from fastapi_live.testing._dom import LiveDocument
from fastapi_live.view import LiveSocket
from tests.support.harness import page_template

CONTAINER = "posts"


@dataclass(frozen=True)
class Insert:
    dom_id: str
    at: int = -1
    limit: int | None = None
    update_only: bool = False
    text: str = ""  # the item's content; its id when empty


@dataclass(frozen=True)
class Delete:
    dom_id: str


@dataclass(frozen=True)
class Reset:
    pass


Op = Insert | Delete | Reset


@dataclass(frozen=True)
class StreamCase:
    name: str
    items: tuple[str, ...]  # the items shown before the ops, in order
    ops: tuple[Op, ...]
    expected: tuple[str, ...]  # the items' ids after the ops, in order
    before: tuple[str, ...] = ()  # static children ahead of the items
    after: tuple[str, ...] = ()  # static children after them
    texts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        texts = {dom_id: dom_id for dom_id in self.items}
        for op in self.ops:
            if isinstance(op, Insert):
                texts[op.dom_id] = op.text or op.dom_id
        object.__setattr__(self, "texts", texts)

    def expected_children(self) -> list[str]:
        """``id:text`` of the container's element children once the ops are applied."""
        statics = [f"{dom_id}:{dom_id}" for dom_id in self.before], [f"{dom_id}:{dom_id}" for dom_id in self.after]
        return [*statics[0], *(f"{dom_id}:{self.texts[dom_id]}" for dom_id in self.expected), *statics[1]]


ABC = ("a", "b", "c")
HS = {"before": ("header",), "after": ("empty",)}

CASES: list[StreamCase] = [
    # -- where a new item goes
    StreamCase("append", ABC, (Insert("d"),), ("a", "b", "c", "d")),
    StreamCase("prepend", ABC, (Insert("d", at=0),), ("d", "a", "b", "c")),
    StreamCase("insert at an index", ABC, (Insert("d", at=1),), ("a", "d", "b", "c")),
    StreamCase("insert at the length appends", ABC, (Insert("d", at=3),), ("a", "b", "c", "d")),
    StreamCase("insert past the end appends", ABC, (Insert("d", at=10),), ("a", "b", "c", "d")),
    StreamCase("insert at an index of an empty stream", (), (Insert("d", at=2),), ("d",)),
    StreamCase("items prepended one by one end up reversed", ABC, (Insert("d", at=0), Insert("e", at=0)), ("e", "d", "a", "b", "c")),
    StreamCase("items inserted at one index end up reversed", ABC, (Insert("d", at=1), Insert("e", at=1)), ("a", "e", "d", "b", "c")),
    # -- limits
    StreamCase("a positive limit keeps the first items: an append past it is cut", ABC, (Insert("d", limit=3),), ABC),
    StreamCase("a positive limit after a prepend drops the last", ABC, (Insert("d", at=0, limit=3),), ("d", "a", "b")),
    StreamCase("a negative limit keeps the last items", ABC, (Insert("d", limit=-3),), ("b", "c", "d")),
    StreamCase("a negative limit after a prepend cuts the new item", ABC, (Insert("d", at=0, limit=-3),), ABC),
    StreamCase("a negative limit after an insert at an index", ABC, (Insert("d", at=1, limit=-2),), ("b", "c")),
    StreamCase("a limit above the count trims nothing", ABC, (Insert("d", limit=10), Insert("e", limit=-10)), ("a", "b", "c", "d", "e")),
    StreamCase("a limit of zero keeps nothing", ABC, (Insert("d", limit=0),), ()),
    StreamCase("limits apply after each insert", ABC, (Insert("d", limit=-2), Insert("e", at=0, limit=2)), ("e", "c")),
    StreamCase("an update trims nothing, whatever its limit", ABC, (Insert("b", limit=1, text="B"),), ABC),
    # -- items already shown
    StreamCase("a re-insert replaces the item in place", ABC, (Insert("b", text="B"),), ABC),
    StreamCase("a re-insert at another index stays in place", ABC, (Insert("c", at=0, text="C"),), ABC),
    StreamCase("update_only replaces an item shown", ABC, (Insert("b", update_only=True, text="B"),), ABC),
    StreamCase("update_only adds no new item", ABC, (Insert("z", update_only=True), Insert("y", at=0, update_only=True)), ABC),
    # -- deletes and resets
    StreamCase("delete", ABC, (Delete("b"),), ("a", "c")),
    StreamCase("delete of an item not shown", ABC, (Delete("z"),), ABC),
    StreamCase("a deleted item inserted again is new: appended", ABC, (Delete("a"), Insert("a", text="A")), ("b", "c", "a")),
    StreamCase("reset", ABC, (Reset(),), ()),
    StreamCase("reset then inserts", ABC, (Reset(), Insert("x"), Insert("y", at=0), Insert("a", text="A")), ("y", "x", "a")),
    StreamCase("update_only after a reset adds nothing", ABC, (Reset(), Insert("a", update_only=True)), ()),
    # -- static children stay, and are not counted
    StreamCase("statics: append goes after the last item", ABC, (Insert("d"),), ("a", "b", "c", "d"), **HS),
    StreamCase("statics: prepend goes before the first item", ABC, (Insert("d", at=0),), ("d", "a", "b", "c"), **HS),
    StreamCase("statics: an index counts items only", ABC, (Insert("d", at=1),), ("a", "d", "b", "c"), **HS),
    StreamCase("statics: insert into an empty stream", (), (Insert("d", at=0), Insert("e")), ("d", "e"), **HS),
    StreamCase("statics: limits count items only", ABC, (Insert("d", limit=-2), Insert("e", at=0, limit=2)), ("e", "c"), **HS),
    StreamCase("statics: a limit of zero keeps the statics", ABC, (Insert("d", limit=0),), (), **HS),
    StreamCase("statics: a reset keeps them", ABC, (Reset(), Insert("x")), ("x",), **HS),
    StreamCase("statics: delete and re-insert", ABC, (Delete("b"), Insert("c", text="C"), Insert("b")), ("a", "c", "b"), **HS),
    StreamCase("statics: only ahead of the items", ABC, (Insert("d"), Insert("e", at=0)), ("e", "a", "b", "c", "d"), before=("header",)),
    StreamCase("statics: only after the items", ABC, (Insert("d"), Insert("e", at=0), Reset()), (), after=("empty",)),
]


def page_for(case: StreamCase) -> PageTemplate:
    """A page with the case's stream container: its item template, and its static children if any."""
    item = '<li id="{{ dom_id }}">{{ post.text }}</li>'
    body = item
    if case.before or case.after:
        statics = "".join(f'<li id="{dom_id}">{dom_id}</li>' for dom_id in case.before)
        after = "".join(f'<li id="{dom_id}">{dom_id}</li>' for dom_id in case.after)
        body = f"{statics}{{% item %}}{item}{{% enditem %}}{after}"
    stream = f'{{% live_stream posts as post id="{CONTAINER}" tag="ul" %}}{body}{{% endlive_stream %}}'
    return page_template(f"<html><body>{{% live_root %}}{stream}{{% endlive_root %}}</body></html>")


def _item(dom_id: str, text: str) -> dict[str, Any]:
    return {"dom_id": dom_id, "text": text}


def apply(socket: LiveSocket, op: Op) -> None:
    """``op`` on the socket, as a view would do it."""
    match op:
        case Insert(dom_id, at, limit, update_only, _):
            socket.stream_insert("posts", _item(dom_id, op.text or dom_id), at=at, limit=limit, update_only=update_only)
        case Delete(dom_id):
            socket.stream_delete_by_dom_id("posts", dom_id)
        case Reset():
            socket.stream("posts", [], reset=True)


def _socket(case: StreamCase) -> LiveSocket:
    socket = LiveSocket(view_name="Feed")
    socket.stream_configure("posts", dom_id=lambda item: item["dom_id"])
    socket.stream("posts", [_item(dom_id, dom_id) for dom_id in case.items])
    return socket


def _patcher(page: PageTemplate) -> Patcher:
    return Patcher(page, TemplateHelpers("/_live/event", "/_live/static"), Markup('<div id="live-root" data-live-root>'))


def first_render(case: StreamCase) -> str:
    """The page's first HTML when mount shows the case's items and then applies its ops."""
    socket = _socket(case)
    for op in case.ops:
        apply(socket, op)
    return _patcher(page_for(case)).render_page(socket)


def initial_html_and_messages(case: StreamCase) -> tuple[str, list[str]]:
    """The page's first HTML with the case's items, and the message the server sends for each op."""
    socket = _socket(case)
    patcher = _patcher(page_for(case))
    html = patcher.render_page(socket)
    messages = []
    for op in case.ops:
        apply(socket, op)
        messages.append(patcher.patch(socket))
    return html, messages


def container_html(page_html: str) -> str:
    """The stream container's outer HTML in a page."""
    node = LiveDocument(page_html).by_id(CONTAINER)
    assert node is not None, f"no #{CONTAINER} in {page_html!r}"
    return node.html or ""


def children(document: LiveDocument) -> list[str]:
    """``id:text`` of the stream container's element children, in order."""
    container = document.by_id(CONTAINER)
    assert container is not None
    return [f"{node.attrs.get('id')}:{node.text(deep=True)}" for node in container.iter() if node.is_element_node]
