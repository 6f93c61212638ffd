"""The ``AsyncResult`` value type: the state of an async assign."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")
_UNSET: Any = object()


class _Constructor:
    """Read on the class: a LiveView-style constructor. Read on an instance: the field.

    (``staticmethod`` would behave the same at run time, but type checkers would then take
    ``result.ok`` for a function, always true, instead of the field.)
    """

    def __init__(self, build: Any) -> None:
        self.build = build

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self.build
        return instance.__dict__[self.name]


def _loading(previous: Any = None, state: Any = True) -> AsyncResult[Any]:
    if previous is None:
        return AsyncResult(_loading=state)
    if not isinstance(previous, AsyncResult):
        return AsyncResult(_loading=previous)  # LiveView's loading/1: a fresh result in that loading state
    return previous.reloading(state)


def _ok(previous: Any, value: Any = _UNSET) -> AsyncResult[Any]:
    if value is _UNSET:
        return AsyncResult(_ok=True, result=previous)
    result: AsyncResult[Any] = previous.ok_with(value)
    return result


def _failed(previous: Any, reason: Any = _UNSET) -> AsyncResult[Any]:
    if reason is _UNSET:
        return AsyncResult(_failed=previous)
    result: AsyncResult[Any] = previous.failed_with(reason)
    return result


class AsyncResult(Generic[T]):
    """The state of a value that loads asynchronously, as LiveView's ``AsyncResult``.

    The four fields are ``ok``, ``loading``, ``failed`` and ``result``. Called on the
    class, ``loading`` / ``ok`` / ``failed`` build or update results as in LiveView;
    ``ok`` stays true once a value has arrived, and a reload keeps the stale ``result``.

    >>> org = AsyncResult.loading()
    >>> org = AsyncResult.ok(org, "Acme")
    >>> (org.ok, org.result, org.loading)
    (True, 'Acme', None)
    >>> AsyncResult.loading(org).result         # stale while reloading
    'Acme'
    >>> AsyncResult.failed(AsyncResult.loading(), "boom").failed
    'boom'
    """

    ok = _Constructor(_ok)
    loading = _Constructor(_loading)
    failed = _Constructor(_failed)
    __slots__ = ("__dict__",)

    def __init__(self, *, _ok: bool = False, _loading: Any = None, _failed: Any = None, result: Any = None) -> None:
        object.__setattr__(self, "__dict__", {"ok": _ok, "loading": _loading, "failed": _failed, "result": result})

    @property
    def result(self) -> T | None:
        """The value; stale while reloading or after a failed reload."""
        return self.__dict__["result"]  # type: ignore[no-any-return]

    def reloading(self, state: Any = True) -> AsyncResult[T]:
        """Loading again: keeps ``ok`` and the stale ``result``, clears ``failed``."""
        return self._with(loading=state, failed=None)

    def ok_with(self, value: T) -> AsyncResult[T]:
        """Holds ``value``: ok, neither loading nor failed."""
        return self._with(ok=True, loading=None, failed=None, result=value)

    def failed_with(self, reason: Any) -> AsyncResult[T]:
        """Failed with ``reason``: keeps ``ok`` and any stale ``result``."""
        return self._with(loading=None, failed=reason)

    def _with(self, **changes: Any) -> AsyncResult[T]:
        fields = {**self.__dict__, **changes}
        return AsyncResult(_ok=fields["ok"], _loading=fields["loading"], _failed=fields["failed"], result=fields["result"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncResult) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(tuple(map(repr, self.__dict__.values())))

    def __repr__(self) -> str:
        d = self.__dict__
        return f"AsyncResult(ok={d['ok']!r}, loading={d['loading']!r}, failed={d['failed']!r}, result={d['result']!r})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"AsyncResult is immutable; use AsyncResult.{name}(previous, ...) to build a new one")

