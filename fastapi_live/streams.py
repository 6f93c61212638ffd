"""Stream bookkeeping: pending inserts, deletes and resets, forgotten once rendered."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Self

from .exceptions import ConfigurationError, LiveError
from .socket import SocketState


@dataclass(frozen=True, slots=True)
class StreamOp:
    """One pending stream change. ``item`` is dropped as soon as the op is rendered."""

    kind: str  # "insert" | "delete" | "reset"
    dom_id: str = ""
    item: Any = None
    at: int = -1
    limit: int | None = None
    update_only: bool = False


def _default_dom_id(name: str, item: Any) -> str:
    key = item.get("id") if isinstance(item, dict) else getattr(item, "id", None)
    if key is None:
        raise LiveError(
            f"cannot compute a DOM id for an item of stream {name!r}: it has no 'id'\n"
            f'Configure one: socket.stream_configure("{name}", dom_id=lambda item: f"{name}-{{item.key}}")\nGot: {item!r}'
        )
    return f"{name}-{key}"


class StreamsMixin(SocketState):
    """Streams: large collections sent to the client and not kept in server memory."""

    # (dom_id configs, pending ops by stream), made with the first stream used; read through the
    # class default until then (not through ``__dict__``, which would give every socket a dict).
    _streams: tuple[dict[str, Callable[[Any], str]], dict[str, list[StreamOp]]] | None = None

    def _stream_state(self) -> tuple[dict[str, Callable[[Any], str]], dict[str, list[StreamOp]]]:
        state = self._streams
        if state is None:
            state = self._streams = ({}, {})
        return state

    def stream_configure(self, name: str, *, dom_id: Callable[[Any], str]) -> Self:
        """Set how an item's DOM id is computed; call before the first insert.

        >>> socket.stream_configure("posts", dom_id=lambda post: f"post-{post.id}")  # doctest: +SKIP
        """
        configs, ops = self._stream_state()
        if name in ops:
            raise ConfigurationError(f"stream {name!r} is already in use: call stream_configure before inserting into it")
        configs[name] = dom_id
        return self

    def _dom_id(self, name: str, item: Any) -> str:
        configs, _ = self._stream_state()
        fn = configs.get(name)
        value = fn(item) if fn is not None else _default_dom_id(name, item)
        if not isinstance(value, str) or not value:
            raise LiveError(f"dom_id for stream {name!r} must return a non-empty string, got {value!r}")
        return value

    def _ops(self, name: str) -> list[StreamOp]:
        _, ops = self._stream_state()
        return ops.setdefault(name, [])

    def stream(self, name: str, items: Iterable[Any], *, at: int = -1, reset: bool = False, limit: int | None = None) -> Self:
        """Insert ``items`` into stream ``name`` (after clearing it when ``reset``)."""
        if reset:
            self._ops(name).append(StreamOp("reset"))
        for item in items:
            self.stream_insert(name, item, at=at, limit=limit)
        return self

    def stream_insert(self, name: str, item: Any, *, at: int = -1, limit: int | None = None, update_only: bool = False) -> Self:
        """Insert ``item`` at index ``at`` (-1 appends, 0 prepends); an item already shown is replaced in place.

        ``limit`` then trims the stream: a positive one keeps the first ``limit`` items, a
        negative one the last ``-limit``. ``update_only`` replaces an item shown and adds none.

        >>> socket.stream_insert("posts", post, at=0, limit=-50)  # doctest: +SKIP
        """
        if isinstance(at, bool) or not isinstance(at, int) or at < -1:
            raise LiveError(
                f"invalid at for stream {name!r}: expected -1 (append), 0 (prepend) or a positive index\nGot: at={at!r}"
            )
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise LiveError(
                f"invalid limit for stream {name!r}: expected None, a positive int (keep the first items) "
                f"or a negative one (keep the last)\nGot: limit={limit!r}"
            )
        self._ops(name).append(StreamOp("insert", self._dom_id(name, item), item, at, limit, update_only))
        return self

    def stream_delete(self, name: str, item: Any) -> Self:
        """Remove ``item`` (found by its DOM id) from the stream."""
        return self.stream_delete_by_dom_id(name, self._dom_id(name, item))

    def stream_delete_by_dom_id(self, name: str, dom_id: str) -> Self:
        """Remove the element with ``dom_id`` from stream ``name``."""
        self._ops(name).append(StreamOp("delete", dom_id))
        return self

    def _take_stream_ops(self) -> dict[str, list[StreamOp]]:
        state = self._streams
        if state is None:  # no stream used yet: nothing to take, and no state made for it
            return {}
        _, ops = state
        taken = {name: pending for name, pending in ops.items() if pending}
        for name in taken:
            ops[name] = []
        return taken


def initial_items(ops: Iterable[StreamOp]) -> list[tuple[str, Any]]:
    """The items a stream's first render shows after ``ops``, in order, as (dom id, item).

    The same rules as the client's later inserts (LiveView's): a new item goes to index
    ``at`` (-1 or past the end: last), then ``limit`` trims; an item already shown is replaced
    where it stands, and an update trims nothing; ``update_only`` adds nothing new.
    """
    order: list[str] = []
    items: dict[str, Any] = {}
    for op in ops:
        if op.kind == "reset":
            order.clear()
            items.clear()
        elif op.kind == "delete":
            if op.dom_id in items:
                del items[op.dom_id]
                order.remove(op.dom_id)
        elif op.dom_id in items:
            items[op.dom_id] = op.item
        elif not op.update_only:
            items[op.dom_id] = op.item
            if 0 <= op.at < len(order):
                order.insert(op.at, op.dom_id)
            else:
                order.append(op.dom_id)
            if op.limit is not None:
                keep = order[: op.limit] if op.limit >= 0 else order[max(len(order) + op.limit, 0) :]
                if len(keep) < len(order):
                    for dom_id in set(order).difference(keep):
                        del items[dom_id]
                    order = keep
    return [(dom_id, items[dom_id]) for dom_id in order]
