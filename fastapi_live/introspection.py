"""What this process's live sessions look like now, and what telemetry said of them lately.

Read by the OpenTelemetry and Prometheus integrations and the live dashboard. Nothing here
shows an assign's value: sizes, names and counts only.
"""

from __future__ import annotations

import os
import reprlib
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Any

from .exceptions import EventError
from .manager import SessionManager
from .session import LiveSession
from .telemetry import TelemetryEvent, telemetry

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

REFUSED = "(refused)"
"""The label of events the library refused (unknown names, params that do not bind): clients choose those names."""
OTHER = "(other)"
_LABELS = {"handle_event": "event", "handle_async": "name", "handle_info": "message"}  # the metadata naming a span's callback
MAX_HANDLERS = 500  # distinct (span, view, label) kept; the rest are counted together


def outcome_of(event: TelemetryEvent) -> tuple[str, str]:
    """(label, outcome) of an ended span, for metrics: a refused event's name is no label (a client could send any)."""
    key = _LABELS.get(event.name)
    label = str(event.metadata.get(key) or "") if key is not None else ""
    if event.phase != "exception":
        return label, "ok"
    if isinstance(event.error, EventError):
        return REFUSED if event.name == "handle_event" else label, "refused"
    return label, "error"


def deep_size(value: Any, limit: int = 2_000) -> int:
    """About how many bytes ``value`` holds: its own size and what it contains, up to ``limit`` objects."""
    seen: set[int] = set()
    stack = [value]
    total = 0
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        try:
            total += sys.getsizeof(item)
        except TypeError:
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset, deque)):
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            stack.append(vars(item))
    return total


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One session as the dashboard lists it."""

    id: str
    view: str
    url: str
    age: float
    state_bytes: int
    assigns: int
    tasks: list[str]
    subscriptions: list[str]
    attached: bool
    mailbox: int
    outbound: int
    values: dict[str, str] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "view": self.view,
            "url": self.url,
            "age": round(self.age, 1),
            "state_bytes": self.state_bytes,
            "assigns": self.assigns,
            "tasks": self.tasks,
            "subscriptions": self.subscriptions,
            "attached": self.attached,
            "mailbox": self.mailbox,
            "outbound": self.outbound,
            "values": self.values,
        }


def assign_values(data: dict[str, Any]) -> dict[str, str]:
    """Short reprs of a session's assigns: shown only where the app opts in."""
    short = reprlib.Repr()
    short.maxstring, short.maxother, short.maxlist, short.maxdict = 60, 60, 5, 5
    return {key: short.repr(value) for key, value in sorted(data.items()) if not key.startswith("_")}


def session_info(session: LiveSession, now: float | None = None, *, values: bool = False) -> SessionInfo:
    out = session.outbound.current
    return SessionInfo(
        id=session.id,
        view=session.view_name,
        url=session.url.partition("?")[0],  # the query may carry what the app keeps private
        age=(time.monotonic() if now is None else now) - session.created,
        state_bytes=deep_size(session.socket._data),
        assigns=len(session.socket._data),
        tasks=session.tasks.labels(),
        subscriptions=sorted(topic for topic in session.topics.subscribed() if not topic.startswith("fastapi-live:")),
        attached=session.attached,
        mailbox=len(session.mailbox),
        outbound=0 if out is None else out.queued,
        values=assign_values(session.socket._data) if values else None,
    )


def queue_depths(manager: SessionManager) -> dict[str, int]:
    """Messages and frames waiting in this process: sessions' mailboxes, streams' queues, the runner, the thread pool."""
    mailbox = outbound = 0
    for session in list(manager.sessions.values()):
        mailbox += len(session.mailbox)
        current = session.outbound.current
        if current is not None:
            outbound += current.queued
    return {"mailbox": mailbox, "outbound": outbound, "runner": manager.runner.queued, "sync": manager.executor.waiting}


def view_counts(manager: SessionManager) -> dict[str, tuple[int, int]]:
    """Per view: (sessions, attached streams) in this process, counted now (a metric read at scrape time
    is right however late it was set up, unlike one counted from start and stop events)."""
    counts: dict[str, list[int]] = {}
    for session in list(manager.sessions.values()):
        count = counts.setdefault(session.view_name, [0, 0])
        count[0] += 1
        count[1] += session.attached
    return {view: (sessions, streams) for view, (sessions, streams) in counts.items()}


def rss_bytes() -> int:
    """This process's resident memory (Linux ``/proc``; else the peak from ``resource``)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - reason: not Linux
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def process_snapshot(manager: SessionManager, node: str, *, limit: int = 100, values: bool = False) -> dict[str, Any]:
    """This process: its sessions (the newest ``limit``), counts per view, streams, queues and memory."""
    now = time.monotonic()
    sessions = list(manager.sessions.values())
    per_view: dict[str, int] = {}
    for session in sessions:
        per_view[session.view_name] = per_view.get(session.view_name, 0) + 1
    newest = sorted(sessions, key=lambda s: s.created, reverse=True)[:limit]
    return {
        "node": node,
        "pid": os.getpid(),
        "sessions": len(sessions),
        "per_view": per_view,
        "streams": sum(1 for s in sessions if s.attached),  # not manager.connections: those count streams held for other processes too
        "queues": queue_depths(manager),
        "rss": rss_bytes(),
        "list": [session_info(s, now, values=values).as_json() for s in newest],
        "at": time.time(),
    }


@dataclass(slots=True)
class HandlerStat:
    """One handler's calls: count, total, slowest, last duration (seconds), failures."""

    span: str
    view: str
    event: str
    calls: int = 0
    total: float = 0.0
    slowest: float = 0.0
    failures: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "span": self.span,
            "view": self.view,
            "event": self.event,
            "calls": self.calls,
            "mean_ms": round(self.total / self.calls * 1000.0, 2) if self.calls else 0.0,
            "slowest_ms": round(self.slowest * 1000.0, 2),
            "failures": self.failures,
        }


class HandlerStats:
    """A telemetry handler: per-handler durations and the recent exceptions, in memory.

    The exceptions keep their type, message and the last frames of their traceback; the
    event's params are never kept.
    """

    def __init__(self, recent: int = 20, *, ignore: frozenset[str] = frozenset()) -> None:
        self.ignore = ignore  # views not to count (the dashboard's own page, unless it watches itself)
        self.stats: dict[tuple[str, str, str], HandlerStat] = {}
        self.exceptions: deque[dict[str, Any]] = deque(maxlen=recent)
        self.events = 0
        self._detach: Any = None

    def attach(self) -> None:
        if self._detach is None:
            self._detach = telemetry.attach(self)

    def detach(self) -> None:
        if self._detach is not None:
            self._detach()
            self._detach = None

    def __call__(self, event: TelemetryEvent) -> None:
        if event.span is None or event.phase == "start" or event.duration is None or event.view in self.ignore:
            return  # single events and starts: only a span's end counts
        label, _ = outcome_of(event)
        key = (event.name, event.view or "?", label)
        stat = self.stats.get(key)
        if stat is None:
            if len(self.stats) >= MAX_HANDLERS:
                key = (event.name, event.view or "?", OTHER)
                stat = self.stats.get(key)
            if stat is None:
                stat = self.stats[key] = HandlerStat(*key)
        stat.calls += 1
        stat.total += event.duration
        stat.slowest = max(stat.slowest, event.duration)
        if event.name == "handle_event":
            self.events += 1
        if event.phase == "exception" and event.error is not None:
            stat.failures += 1
            error = event.error
            stack = traceback.extract_tb(error.__traceback__)
            # The app's own frames say where: the library's (the session calling the handler) are noise.
            frames = [f for f in stack if not f.filename.startswith(_PACKAGE_DIR)][-3:] or list(stack)[-3:]
            self.exceptions.appendleft(
                {
                    "at": time.time(),
                    "span": event.name,
                    "view": event.view,
                    "event": label,
                    "type": type(error).__name__,
                    "message": str(error)[:300],
                    "where": [f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in reversed(frames)],  # where it was raised first
                }
            )

    def slowest(self, count: int = 10) -> list[dict[str, Any]]:
        ranked = sorted(self.stats.values(), key=lambda s: s.slowest, reverse=True)
        return [stat.as_json() for stat in ranked[:count] if stat.span != "render" or stat.slowest > 0]

    def as_json(self, count: int = 10) -> dict[str, Any]:
        return {"slowest": self.slowest(count), "exceptions": list(self.exceptions), "events": self.events}
