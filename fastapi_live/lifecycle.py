"""Lifecycle hooks: ``attach_hook`` / ``detach_hook``, running hook chains, return checks."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Self, TypeVar

from .exceptions import CallbackReturnError, ConfigurationError
from .socket import SocketState
from .telemetry import telemetry
from .types import HOOK_STAGES

log = logging.getLogger("fastapi_live")
S = TypeVar("S", bound=SocketState)


class _Signal:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


CONT: Final = _Signal("CONT")
"""Return from a hook to let later hooks and the view's own callback run."""
HALT: Final = _Signal("HALT")
"""Return from a hook to stop: later hooks and the view's own callback are skipped."""

HookFn = Callable[..., Any]


def callable_name(fn: Any) -> str:
    """A readable name for a user callable, for error messages."""
    bound = getattr(fn, "__self__", None)
    owner = None if bound is None or inspect.ismodule(bound) else type(bound)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    if owner is not None and "." not in name:
        return f"{owner.__name__}.{name}"
    return str(name)


async def maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def check_signal(result: Any, where: str) -> bool:
    """True when ``result`` halts; raises ``CallbackReturnError`` when it is neither."""
    if result is HALT:
        return True
    if result is CONT or result is None:
        return False
    raise CallbackReturnError(f"invalid return from {where}: expected CONT or HALT\nExpected one of: CONT, HALT, None\nGot: {result!r}")


class HooksMixin(SocketState):
    """``attach_hook`` / ``detach_hook``: callbacks that run before the view's own."""

    # Made with the first hook attached; read through the class default until then (not
    # through ``__dict__``, which would give every socket a dict of its own).
    _hooks: dict[str, list[tuple[str, HookFn]]] | None = None

    def attach_hook(self, name: str, stage: str, fn: HookFn) -> Self:
        """Run ``fn`` at ``stage`` before the view's callback, in attach order.

        Stages and signatures: ``handle_params(params, url, socket)``,
        ``handle_event(event, params, socket)``, ``handle_info(message, socket)``,
        ``handle_async(name, outcome, socket)`` — each returns ``CONT`` or ``HALT`` — and
        ``after_render(socket)``.

        >>> socket.attach_hook("notifications", "handle_info", on_info)  # doctest: +SKIP
        """
        if stage not in HOOK_STAGES:
            raise ConfigurationError(
                f"invalid stage {stage!r} for hook {name!r}\nExpected one of: {', '.join(HOOK_STAGES)}\nGot: {stage!r}"
            )
        if not callable(fn):
            raise ConfigurationError(f"hook {name!r} on {stage} must be callable, got {fn!r}")
        if self._hooks is None:
            self._hooks = {}
        hooks = self._hooks.setdefault(stage, [])
        if any(existing == name for existing, _ in hooks):
            raise ConfigurationError(f"a hook named {name!r} is already attached to {stage}; detach it first or pick another name")
        hooks.append((name, fn))
        return self

    def detach_hook(self, name: str, stage: str) -> Self:
        """Remove the hook ``name`` from ``stage``; unknown names are ignored, as in LiveView."""
        if stage not in HOOK_STAGES:
            raise ConfigurationError(f"invalid stage {stage!r}\nExpected one of: {', '.join(HOOK_STAGES)}\nGot: {stage!r}")
        hooks = (self._hooks or {}).get(stage, [])
        hooks[:] = [(n, f) for n, f in hooks if n != name]
        return self

    def _has_hooks(self, stage: str) -> bool:
        hooks = self._hooks
        return bool(hooks and hooks.get(stage))

    def _hooks_for(self, stage: str) -> list[tuple[str, HookFn]]:
        hooks = self._hooks
        # A copy: a hook may attach or detach hooks while its stage runs.
        return list(hooks[stage]) if hooks and stage in hooks else []


async def run_event_hooks(socket: HooksMixin, name: str, params: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any] | None]:
    """Run the ``handle_event`` hooks: (halted, reply). A hook halts with a reply for a JS hook's
    ``pushEvent`` promise by returning ``(HALT, {...})``, as LiveView's ``{:halt, reply, socket}``."""
    for hook_name, fn in socket._hooks_for("handle_event"):
        result = await maybe_await(fn(name, params, socket))
        where = f"hook {hook_name!r} ({callable_name(fn)}) on handle_event"
        if isinstance(result, tuple) and len(result) == 2 and result[0] is HALT:
            if not isinstance(result[1], Mapping):
                raise CallbackReturnError(
                    f"invalid return from {where}: a halt's reply must be a mapping (the JS hook's pushEvent resolves with it)\n"
                    f"Expected one of: CONT, HALT, (HALT, dict), None\nGot: {result!r}"
                )
            return True, result[1]
        if isinstance(result, tuple):
            raise CallbackReturnError(f"invalid return from {where}: expected CONT or HALT\nExpected one of: CONT, HALT, (HALT, dict), None\nGot: {result!r}")
        if check_signal(result, where):
            return True, None
    return False, None


async def run_hooks(socket: HooksMixin, stage: str, *args: Any) -> bool:
    """Run the hooks of ``stage``; True when one halted."""
    for name, fn in socket._hooks_for(stage):
        result = await maybe_await(fn(*args, socket))
        if stage == "after_render":
            continue
        if check_signal(result, f"hook {name!r} ({callable_name(fn)}) on {stage}"):
            return True
    return False




OnMountCall = tuple[str, Callable[[SocketState], Any]]
"""An on_mount hook ready to run: its name for messages, and a call taking the socket."""


async def run_on_mount(socket: SocketState, hooks: Sequence[OnMountCall]) -> bool:
    """Run on_mount hooks in order; True when one halted, which it may do only after a redirect."""
    for name, call in hooks:
        where = f"on_mount hook {name}"
        halted = check_signal(await maybe_await(call(socket)), where)
        redirected = socket._redirect_target() is not None
        if halted and not redirected:
            raise ConfigurationError(f"{where} halted without a redirect: call socket.redirect(url) before returning HALT")
        if redirected and not halted:
            raise ConfigurationError(
                f"{where} redirected without halting: the page would mount and render for nobody\n"
                "Return HALT after socket.redirect(url) (or socket.push_navigate(url)); return CONT or None only to let the page mount"
            )
        if halted:
            return True
    return False


async def mount_view(
    socket: S,
    hooks: Sequence[OnMountCall],
    mount: Callable[[S], Awaitable[None]],
    enter: Callable[[S], Awaitable[None]],
    *,
    view_name: str,
    session_id: str,
    url: str,
    warn_after_ms: float | None,
) -> str | None:
    """Run the on_mount hooks, then ``mount``, then ``enter`` (``handle_params``): the URL one of
    them sent the browser to instead of rendering (a redirect, patch or navigation), or None.

    A ``mount`` slower than ``warn_after_ms`` is logged: it holds the first render up.
    """
    span = telemetry.start("mount", view_name, session_id, url=url) if telemetry.on else None
    try:
        halted = await run_on_mount(socket, hooks)
        if not halted:
            started = time.perf_counter()
            await mount(socket)
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            if warn_after_ms is not None and elapsed_ms > warn_after_ms:
                log.warning(
                    "%s.mount() took %.0f ms, blocking the first render (threshold %.0f ms). "
                    "Load slow data with socket.assign_async(...) so the page shows at once with a loading state.",
                    view_name,
                    elapsed_ms,
                    warn_after_ms,
                )
    except BaseException as exc:
        if span is not None:
            span.fail(exc)
        raise
    if span is not None:
        span.stop()
    if not halted and socket._redirect_target() is None:
        await enter(socket)
    return socket._redirect_target()
