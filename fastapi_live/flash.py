"""The flash: short messages for the user (``socket.put_flash``), and the carrier that takes
them to the page a navigation or a redirect lands on (a signed, short-lived cookie)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Self

from itsdangerous import BadSignature, URLSafeTimedSerializer

from .exceptions import EventError, LiveError
from .socket import ClientOp, SocketState

FLASH_KEY = "flash"
CLEAR_AFTER_KEY = "flash_clear_after"  # kind -> milliseconds until the client closes it
"""The assign templates read the flash from: ``{% for kind, message in flash.items() %}``."""
CARRY_MAX_AGE = 60.0
"""Seconds a carried flash stays valid: long enough for the next page to load, no longer."""
_SALT = "fastapi-live.flash"
_EMPTY: Mapping[str, str] = MappingProxyType({})
_NO_TIMERS: Mapping[str, int] = MappingProxyType({})


class FlashMixin(SocketState):
    """``put_flash`` / ``clear_flash``: messages shown in ``#flash`` (``live/flash.html``)."""

    @property
    def flash(self) -> Mapping[str, str]:
        """The flash messages by kind, read-only: ``socket.flash.get("info")``."""
        value = self._data.get(FLASH_KEY)
        return MappingProxyType(value) if isinstance(value, dict) else _EMPTY

    def put_flash(self, kind: str, message: str, *, clear_after: float | None = None) -> Self:
        """Show ``message`` as the ``kind`` flash (``"info"``, ``"error"``, ...), replacing that kind's.

        It is shown on this page, and on the page a ``push_navigate`` or ``redirect`` queued
        in the same callback lands on. With ``clear_after`` (seconds) the browser closes it by
        itself after that long, as a click on its close button would.

        >>> socket.put_flash("info", "Settings saved", clear_after=4)  # doctest: +SKIP
        """
        if not isinstance(kind, str) or not kind:
            raise LiveError(f"put_flash() needs a kind such as 'info' or 'error'\nExpected: a non-empty string\nGot: {kind!r}")
        if not isinstance(message, str):
            raise LiveError(f"put_flash({kind!r}, ...) needs a message\nExpected: a string\nGot: {message!r}")
        if clear_after is not None and (isinstance(clear_after, bool) or not isinstance(clear_after, (int, float)) or not clear_after > 0):
            raise LiveError(
                f"put_flash({kind!r}, ..., clear_after=) takes seconds\nExpected: a number above 0, or None to keep it until closed\n"
                f"Got: {clear_after!r}"
            )
        self._set_flash({**self.flash, kind: message})
        timers = {k: v for k, v in self._clear_after().items() if k != kind}
        if clear_after is not None:
            timers[kind] = max(1, round(clear_after * 1000))
        self._set_clear_after(timers)
        return self

    def clear_flash(self, kind: str | None = None) -> Self:
        """Remove the ``kind`` flash, or every flash when ``kind`` is None."""
        current = self.flash
        if kind is None:
            if current:
                self._set_flash({})
            self._set_clear_after({})
        elif kind in current:
            self._set_flash({k: v for k, v in current.items() if k != kind})
            self._set_clear_after({k: v for k, v in self._clear_after().items() if k != kind})
        return self

    def _clear_after(self) -> dict[str, int]:
        value = self._data.get(CLEAR_AFTER_KEY)
        return value if isinstance(value, dict) else {}

    def _set_clear_after(self, value: dict[str, int]) -> None:
        if value != self._clear_after():
            self._data[CLEAR_AFTER_KEY] = value
            self._mark(CLEAR_AFTER_KEY)

    def _set_flash(self, value: dict[str, str]) -> None:
        # Written past ``assign``, which refuses the reserved name ``flash``. A new dict each
        # time: a failed handler's rollback restores the old one.
        self._data[FLASH_KEY] = value
        self._mark(FLASH_KEY)


def start(socket: FlashMixin, carried: Mapping[str, str] | None) -> None:
    """Before the on_mount hooks: the flash carried here by a navigation, or an empty one.

    Empty, both assigns are one shared read-only mapping: the flash is replaced, never changed
    in place, so most pages (with no flash) hold no dicts for it.
    """
    socket._data[FLASH_KEY] = dict(carried) if carried else _EMPTY
    socket._data[CLEAR_AFTER_KEY] = _NO_TIMERS


def clear_event(socket: FlashMixin, params: Mapping[str, Any]) -> None:
    """A flash's close button (``live:clear-flash`` with ``kind``): that flash goes."""
    kind = params.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise EventError(f"invalid params for live:clear-flash: kind must be a string, got {kind!r}", status_code=422)
    socket.clear_flash(kind)


class FlashCarrier:
    """Signs a page's flash for the page a navigation or redirect lands on, bound to the browser."""

    def __init__(self, secret_key: str | bytes, *, max_age: float = CARRY_MAX_AGE) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self.max_age = max_age

    def dump(self, flash: Mapping[str, str], browser_id: str) -> str:
        return self._serializer.dumps([browser_id, dict(flash)])

    def load(self, raw: str | None, browser_id: str | None) -> dict[str, str]:
        """The flash ``raw`` carries, or an empty one when it is missing, forged, expired or another browser's."""
        if not raw or browser_id is None or len(raw) > 4096:
            return {}
        try:
            payload = self._serializer.loads(raw, max_age=int(self.max_age))
        except BadSignature:
            return {}
        if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], str) and isinstance(payload[1], dict)):
            return {}
        bound, flash = payload
        if not hmac.compare_digest(bound, browser_id):
            return {}
        return {str(kind): str(message) for kind, message in flash.items()}

    def carry(self, socket: FlashMixin, browser_id: str) -> None:
        """Give the navigations and redirects ``socket`` queued its flash, for the page they land on."""
        flash = socket.flash
        if not flash:
            return
        ops = socket._client_ops
        for index, op in enumerate(ops):
            if op.kind in ("navigate", "redirect"):
                payload = dict(op.payload or {})
                payload["flash"] = self.dump(flash, browser_id)
                ops[index] = ClientOp(op.kind, op.name, payload)
