"""``LiveTestView``: one open live page — its DOM, its stream, its session — and ``Element``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from ..session import LiveSession
from ..socket import Assigns, ClientOp
from ..wire import (
    ATTR_COMPONENT,
    ATTR_TARGET,
    ATTR_TOKEN,
    ATTR_TOUCHED,
    EVENT_HEADER,
    FLASH_COOKIE,
    OP_JS,
    PARAM_COMPONENT,
    PATCH_EVENT,
    REFRESH_EVENT,
    REPLY_HEADER,
    TOKEN_HEADER,
    loading_class,
)
from ._client import LiveTestClient, find_session
from ._commands import CommandRunner, chain_of
from ._dom import ATTR_AUTO_RECOVER, ATTR_EVENT_URL, ATTR_STREAM_URL, LiveDocument, describe
from ._errors import EventFailedError, LiveRedirect, LiveTestError, pending_tasks_message
from ._forms import FormLock, add_unused_markers, form_data, form_elements, form_key, is_disabled, touched_in_dom
from ._httpx import httpx
from ._open_views import register_open, unregister_open, warn_pending
from ._server_errors import ServerError, request_errors, unwatch, watch_session
from ._sse import SSEDecoder, SSEMessage

if TYPE_CHECKING:
    from selectolax.lexbor import LexborNode

_CLOSE_TIMEOUT = 10.0
_RECONNECTS = 3
_EVENT_ACCEPT = "text/html, text/event-stream"
REMOUNT_EVENT = "live:remount"


class _Changes:
    """Wakes whoever waits for the view to change (a frame applied, the stream ended)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            event = self._event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        return True


class LiveTestView:
    """An open live page in a test: what ``live()`` returns and every ``render_*`` takes.

    Its DOM follows the page's stream in the background, as a browser tab would. Read it
    with ``render(view)`` or ``element(view, selector)``; ``view.assigns`` shows the
    session's state for debugging (assert on HTML where you can).

    >>> view, html = await live(client, "/counter")
    >>> html = await render_click(view, "#inc")
    """

    def __init__(
        self,
        client: LiveTestClient,
        *,
        url: str,
        document: LiveDocument,
        session: LiveSession,
        owns_client: bool = False,
        cleanups: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        root = document.require_root()
        self.client = client
        self.url = url
        """The page's URL as the browser shows it: where it was opened, then patched to."""
        self.session = session
        self._document = document
        self._token = root.attrs.get(ATTR_TOKEN) or ""
        self._event_url = client.path_of(root.attrs.get(ATTR_EVENT_URL) or "/_live/event")
        self._stream_url = client.path_of(root.attrs.get(ATTR_STREAM_URL) or "/_live/stream")
        self._loop = asyncio.get_running_loop()
        self._changes = _Changes()
        self._applied_id = -1
        self._connected = False
        self._stream: httpx.Response | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stream_ended = False
        self._stream_error: str | None = None
        self._reader_error: BaseException | None = None
        self._push_events: list[tuple[str, Any]] = []
        self._replies: list[Any] = []
        self._server_errors: list[tuple[Any, int | None]] = []
        """The error operations applied: their payload and the id of the frame that carried them."""
        self._reported_errors = 0
        self._server_log = watch_session(lambda: self.session)
        self._remounts = 0
        self._redirect: ClientOp | None = None
        self._patches: list[str] = []  # the URLs the server patched the page to, for assert_patch
        self._redirect_client = client
        """The client a redirect is followed with (for an isolated view: the app's)."""
        self._touched: dict[str, set[str]] = {}
        """The fields of each form (by id) the user typed into or submitted, as fastapi-live.js keeps them."""
        self._commands = CommandRunner(document)
        """Client-side commands run on this view's DOM (live.js), kept sticky across swaps."""
        self._locks: list[FormLock] = []
        """The forms whose submit is in flight."""
        self._loading: list[tuple[str | None, str]] = []
        """(DOM id, loading class) of each element whose event is in flight (an element without an id: None)."""
        self._refreshing: set[asyncio.Task[None]] = set()
        """Requests for regions whole, after text patches that did not fit (fastapi-live.js applyTextPatch)."""
        self._closed = False
        self._owns_client = owns_client
        self._cleanups = list(cleanups)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<LiveTestView {self.view_name} {self.url} {state}>"

    @property
    def view_name(self) -> str:
        """The ``LiveView`` class's name, as error messages show it."""
        return self.session.view_name

    @property
    def assigns(self) -> Assigns:
        """The session's current assigns, read-only."""
        return self.session.socket.assigns

    @property
    def closed(self) -> bool:
        """Whether the view was closed (``view.close()``, its client's exit, or the test's end)."""
        return self._closed

    @property
    def flash(self) -> dict[str, str]:
        """The flash messages the page shows in ``#flash``, by kind: ``{"info": "Settings saved"}``."""
        document = self._document
        shown: dict[str, str] = {}
        for message in document.select("#flash [data-kind]", document.root()):
            text = document.select(".live-flash-text", message)
            shown[message.attrs.get("data-kind") or ""] = " ".join((text[0] if text else message).text(deep=True).split())
        return shown

    @property
    def remounts(self) -> int:
        """How many times the server remounted the page after losing its session (and the
        forms sent their recovery events)."""
        return self._remounts

    # -- the stream ----------------------------------------------------------------------------------
    async def _connect(self, timeout: float) -> None:
        self._reader = self._loop.create_task(self._read(), name=f"fastapi-live test stream {self.url}")
        connected = await self._changes.wait_until(lambda: self._connected or self._stream_ended, timeout)
        self._raise_stream_errors()
        if not connected:
            raise LiveTestError(
                f"the live stream of {self.url} did not open\nExpected: GET {self._stream_url} to answer 200 within {timeout} s\nGot: no answer"
            )

    def _stream_headers(self) -> list[tuple[str, str]]:
        headers = [
            (TOKEN_HEADER, self._token),
            ("hx-request", "true"),
            ("hx-source", "div#live-root"),
            ("hx-current-url", self.client._origin + self.url),
            ("accept", _EVENT_ACCEPT),
        ]
        if self._applied_id >= 0:
            headers.append(("last-event-id", str(self._applied_id)))
        return headers

    async def _read(self) -> None:
        failures = 0
        try:
            while not self._closed:
                request = self.client.build_request("GET", self._stream_url, headers=self._stream_headers())
                with request_errors() as logged:  # a remount runs in the stream's request
                    stream = await self.client.send(request, stream=True)
                if stream.status_code != 200:
                    await stream.aread()
                    error = logged.last()
                    self._stream_error = (
                        f"the live stream of {self.url} was refused\nExpected: GET {self._stream_url} to answer 200\n"
                        f"Got: {stream.status_code} {stream.text[:300]}" + (f"\n{error.describe()}" if error is not None else "")
                    )
                    return
                self._stream = stream
                self._document.mark_connected()
                self._connected = True
                self._changes.notify()
                decoder = SSEDecoder()
                async for chunk in stream.aiter_bytes():
                    for message in decoder.feed(chunk):
                        failures = 0
                        await self._on_message(message)
                self._stream = None
                await stream.aclose()
                if self._closed or self._redirect is not None:
                    return
                # The server closed the stream (a reader too far behind, or the session is
                # gone): htmx reconnects with Last-Event-ID; the session replays, resyncs,
                # or the server remounts the page.
                failures += 1
                if failures > _RECONNECTS:
                    self._stream_error = f"the live stream of {self.url} kept closing\nExpected: a stream that stays open\nGot: {failures} closes in a row"
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # surfaced by the next call on the view
            self._reader_error = exc
        finally:
            self._stream_ended = True
            self._changes.notify()

    async def _on_message(self, message: SSEMessage) -> None:
        if message.event == REMOUNT_EVENT:
            await self._recover(message.data)
        elif message.event and message.event != "message":
            # Any other named message is a DOM event on the root: a push_event payload.
            try:
                payload: Any = json.loads(message.data)
            except ValueError:
                payload = message.data
            self._push_events.append((message.event, payload))
        elif message.data:
            self._apply(message.data, int(message.id) if message.id is not None and message.id.isdigit() else None)
        if message.id is not None and message.id.isdigit():
            self._applied_id = int(message.id)
        self._changes.notify()

    async def _recover(self, fresh: str) -> None:
        """fastapi-live.js recover(): the server remounted the page under the same token. The
        forms send their recovery events first, then the fresh render is applied, then the
        replies to those events."""
        deferred: list[str] = []
        for form in self._document.select("form[id]", self._document.root()):
            recover_event = form.attrs.get(ATTR_AUTO_RECOVER)
            event = recover_event or form.attrs.get("data-live-change")
            if recover_event == "ignore" or not event:
                continue
            pairs = form_data(self._document, form)
            add_unused_markers(self._document, form, pairs, self.touched_fields(form))
            body = urlencode(pairs).encode()
            response, _ = await self._send(event, body, self._event_headers(event, "application/x-www-form-urlencoded"))
            if response.status_code == 200:
                deferred.append(response.text)
        self._apply(fresh)
        for text in deferred:
            self._apply(text)
        session = find_session(self.client.app, self._token)
        if session is not None:
            self.session = session
        self._remounts += 1

    def touched_fields(self, form: LexborNode) -> set[str]:
        """The fields of ``form`` the user touched in this test (typed into, or submitted)."""
        return self._touched.setdefault(form_key(form), set())

    def _apply(self, text: str, frame_id: int | None = None) -> None:
        """Apply a stream message (frame ``frame_id``) or an event reply, then run its client operations."""
        marked = touched_in_dom(self._document)
        ops = self._document.apply(text)
        # A field the server's form no longer marks as touched (a fresh form) is forgotten, as the client does.
        for key, name in marked - touched_in_dom(self._document):
            self._touched.get(key, set()).discard(name)
        self._keep_in_flight()
        for op in ops:
            if op.kind == "push":
                self._push_events.append((op.name, op.payload))
            elif op.kind == "error":
                self._server_errors.append((op.payload, frame_id))
                self._document.show_server_error()
            elif op.kind == "patch":
                self.url = op.name
                self._patches.append(op.name)
            elif op.kind in ("redirect", "navigate"):
                flash = op.payload.get("flash") if isinstance(op.payload, dict) else None
                if flash:  # fastapi-live.js: the flash rides to the next page in a cookie
                    self._redirect_client.cookies.set(FLASH_COOKIE, flash, domain=_cookie_domain(self._redirect_client._origin))
                if self._redirect is None:
                    self._redirect = op
            elif op.kind == OP_JS:
                self._commands.run(None, chain_of(json.dumps(op.payload)) or [])
        refreshes = self._document.refreshes
        while refreshes:
            dom_id, why = refreshes.pop(0)
            task = self._loop.create_task(self._refresh(dom_id, why))
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)
        self._changes.notify()

    async def _refresh(self, dom_id: str, why: str) -> None:
        """Ask for a region whole (``REFRESH_EVENT``) and apply the reply, as fastapi-live.js does."""
        body = json.dumps({"id": dom_id, "why": why}).encode()
        response, _ = await self._send(REFRESH_EVENT, body, self._event_headers(REFRESH_EVENT, "application/json"))
        if response.status_code == 200:
            self._apply(response.text)

    def _raise_stream_errors(self) -> None:
        if self._reader_error is not None:
            error, self._reader_error = self._reader_error, None
            raise LiveTestError(
                f"an update from the live stream of {self.url} could not be applied\nExpected: <hx-partial> fragments htmx can swap\nGot: {error!r}"
            ) from error
        if len(self._server_errors) > self._reported_errors:
            new = self._server_errors[self._reported_errors :]
            self._reported_errors = len(self._server_errors)
            logged = self._server_log.before_frame(new[0][1])
            raised, where = (f"\n{logged.describe()}", "") if logged is not None else ("", "; the traceback is in the log of the 'fastapi_live' logger")
            raise LiveTestError(
                f"{self.view_name} failed on the server while handling a message; the page shows its error state{raised}\n"
                "Expected: handlers (handle_info, handle_async, hooks) that do not raise\n"
                f"Got: {[payload for payload, _ in new]!r}{where}"
            ) from (logged.exception if logged is not None else None)
        if self._stream_error is not None and not self._closed:
            stream_error, self._stream_error = self._stream_error, None
            raise LiveTestError(stream_error)

    async def _sync(self, timeout: float) -> None:
        """Wait until every frame the session has sent so far is applied to the DOM."""
        # When the session is gone, the stream reconnects and the server remounts the page.
        await self._live_session(timeout)
        while self._refreshing:  # a region asked for whole: its reply is part of what the page shows
            done, _ = await asyncio.wait(list(self._refreshing), timeout=timeout)
            if not done:
                raise LiveTestError(f"a region of {self.url} asked for whole ({REFRESH_EVENT}) got no answer within {timeout} s")
        # The session numbers its frames; its newest number is what the stream must reach.
        target = self.session.last_frame_id
        if self._closed or self.session.closed or self._applied_id >= target:
            self._raise_stream_errors()
            return
        reached = await self._changes.wait_until(lambda: self._applied_id >= target or self._stream_ended, timeout)
        self._raise_stream_errors()
        if not reached:
            raise LiveTestError(
                f"the live stream of {self.url} did not deliver frame {target} within {timeout} s\n"
                f"Expected: every frame the session sent\nGot: frames up to {self._applied_id}"
            )

    async def _live_session(self, timeout: float) -> LiveSession:
        """The page's session; when it is gone, the one the server remounts the page with."""
        if not self._closed and self.session.closed and self._redirect is None:
            await self._changes.wait_until(lambda: not self.session.closed or self._stream_ended or self._redirect is not None, timeout)
            self._raise_stream_errors()
        return self.session

    async def _wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        return await self._changes.wait_until(predicate, timeout)

    # -- state checks ---------------------------------------------------------------------------------
    def _require_usable(self, action: str) -> None:
        if self._closed:
            raise LiveTestError(f"cannot {action}: the view of {self.url} is closed\nExpected: an open view; open the page again with live(...)\nGot: {self!r}")
        if self._redirect is not None:
            raise LiveTestError(
                f"cannot {action}: {self.view_name} redirected to {self._redirect.name!r}, so the browser left the page\n"
                "Expected: a view still on its page; follow_redirect(view) opens the page it went to\n"
                f"Got: a {self._redirect.kind} to {self._redirect.name!r}"
            )
        self._raise_stream_errors()

    def _root(self) -> LexborNode:
        return self._document.require_root()

    def _html(self) -> str:
        root = self._document.root()
        return (root.html if root is not None else self._document.html()) or ""

    # -- events in flight: loading classes and the submit lock ---------------------------------------
    def _is_locked(self, form: LexborNode) -> bool:
        return any(lock.holds(form) for lock in self._locks)

    @contextlib.contextmanager
    def _in_flight(self, kind: str, nodes: Sequence[LexborNode], lock: LexborNode | None = None) -> Iterator[None]:
        """fastapi-live.js while an event is in flight: its loading class on ``nodes`` (the element
        and its form), and for a submit the form's lock; both kept across swaps meanwhile."""
        css = loading_class(kind)
        entries: list[tuple[str | None, str]] = []
        for node in nodes:
            _add_class(node, css)
            entries.append((node.attrs.get("id"), css))
        self._loading += entries
        form_lock = FormLock(self._document, lock) if lock is not None else None
        if form_lock is not None:
            self._locks.append(form_lock)
        try:
            yield
        finally:
            if form_lock is not None:
                self._locks.remove(form_lock)
                form_lock.release(self._document)
            for entry in entries:
                self._loading.remove(entry)
            if all(other != css for _, other in self._loading):
                for node in self._document.select(f".{css}"):
                    _remove_class(node, css)

    def _keep_in_flight(self) -> None:
        self._commands.reapply()
        for lock in self._locks:
            lock.relock(self._document)
        for dom_id, css in self._loading:
            node = self._document.by_id(dom_id) if dom_id else None
            if node is not None:
                _add_class(node, css)

    # -- events ------------------------------------------------------------------------------------------
    def _event_headers(self, event: str, content_type: str, source: LexborNode | None = None) -> list[tuple[str, str]]:
        # What the browser sends: htmx's headers for a bound element, fetch()'s for pushEvent,
        # and the Origin / Sec-Fetch-Site pair the server checks against cross-site posts.
        headers = [
            (TOKEN_HEADER, self._token),
            (EVENT_HEADER, event),
            ("hx-request", "true"),
            ("content-type", content_type),
            ("origin", self.client._origin),
            ("sec-fetch-site", "same-origin"),
        ]
        if source is not None:
            described = _source_header(source)
            headers += [
                ("hx-source", described),
                ("hx-target", described),
                ("hx-current-url", self.client._origin + self.url),
                ("accept", _EVENT_ACCEPT),
            ]
        return headers

    async def _send(self, event: str, body: bytes, headers: list[tuple[str, str]]) -> tuple[httpx.Response, ServerError | None]:
        """POST an event; the response, and what the server logged as raised while handling it."""
        mark = self._server_log.mark()
        with request_errors() as logged:
            response = await self.client.request("POST", self._event_url, headers=headers, content=body)
        # The session handles the event in the request, or in its own task when it was busy.
        return response, self._server_log.since(mark) or logged.last()

    async def _post_event(
        self,
        event: str,
        *,
        form: list[tuple[str, str]] | None = None,
        payload: Any = None,
        source: LexborNode | None = None,
        sent_as: str = "",
        timeout: float,
    ) -> str:
        """POST an event as the browser does; apply the reply; return the page's HTML."""
        self._require_usable(f"send event {event!r}")
        if form is not None:
            component = self._component_of(source)
            if component:
                form = [*form, (PARAM_COMPONENT, component)]
            body = urlencode(form).encode()
            headers = self._event_headers(event, "application/x-www-form-urlencoded", source if source is not None else self._root())
        else:
            body = json.dumps(payload if payload is not None else {}, default=str).encode()
            headers = self._event_headers(event, "application/json")
        response, error = await self._send(event, body, headers)
        if response.status_code != 200:
            raise _event_error(self, event, response.status_code, response.text, source, sent_as, error) from (error.exception if error else None)
        reply = response.headers.get(REPLY_HEADER)
        if reply:
            self._replies.append(json.loads(reply))
        self._document.clear_server_error()
        self._apply(response.text)
        await self._sync(timeout)
        return self._html()

    def _component_of(self, node: LexborNode | None) -> str | None:
        """fastapi-live.js ``componentOf``: the component an event from ``node`` is for, by its
        nearest ``target=`` or the component it sits in; None for the page's view."""
        if node is None:
            return None
        document = self._document
        targeted = document.closest(node, lambda n: ATTR_TARGET in n.attrs)
        holder: LexborNode | None = node
        if targeted is not None:
            selector = targeted.attrs.get(ATTR_TARGET) or ""
            found = document.select(selector)
            if not found:
                raise LiveTestError(
                    f"the event's target={selector!r} matches no element on the page, so the browser sends nothing (L013)\n"
                    f"Expected: a selector of an element on the page, or myself inside a component\nGot: {selector!r}"
                )
            holder = found[0]
        owner = document.closest(holder, lambda n: ATTR_COMPONENT in n.attrs)
        return None if owner is None else owner.attrs.get(ATTR_COMPONENT)

    def _resolve(self, to: str) -> str:
        """``to`` read against the page's URL, as a link's ``href`` is: a path with query and fragment."""
        origin = self.client._origin
        parts = urlsplit(urljoin(origin + self.url, to))
        if f"{parts.scheme}://{parts.netloc}" != origin:
            raise LiveTestError(f"cannot patch {self.url} to {to!r}: it is another site\nExpected: a path or query of {origin}\nGot: {to!r}")
        return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))

    async def _patch(self, to: str, *, replace: bool, timeout: float) -> str:
        """What fastapi-live.js does for a patch link (or Back/Forward): post ``live:patch``, then
        move the URL there and apply the reply; a reply that navigates or redirects leaves the page."""
        self._require_usable(f"patch to {to!r}")
        url = self._resolve(to)
        body = json.dumps({"url": url.split("#", 1)[0]}).encode()
        response, error = await self._send(PATCH_EVENT, body, self._event_headers(PATCH_EVENT, "application/json"))
        if response.status_code != 200:
            raise _event_error(self, PATCH_EVENT, response.status_code, response.text, None, f"patching to {url!r}", error) from (
                error.exception if error else None
            )
        self.url = url
        self._document.clear_server_error()
        self._apply(response.text)
        await self._sync(timeout)
        return self._html()

    # -- closing -----------------------------------------------------------------------------------------
    async def _shutdown_messages(self) -> list[str]:
        """Close the view; the pending-task warning it would give, not emitted."""
        return self._pending_messages(await self._shutdown())

    def _pending_messages(self, pending: list[str]) -> list[str]:
        return [pending_tasks_message(self.view_name, self.url, pending)] if pending else []

    async def _shutdown(self) -> list[str]:
        """Close the stream and the session (cancelling its tasks); returns the tasks that were running."""
        if self._closed:
            return []
        self._closed = True
        unregister_open(self)
        with contextlib.suppress(ValueError):
            self.client._views.remove(self)
        pending = [] if self.session.closed else self.session.tasks.labels()
        reader = self._reader
        if reader is not None:
            reader.cancel()
        stream = self._stream
        if stream is not None:
            await stream.aclose()
        if reader is not None:
            await asyncio.gather(reader, return_exceptions=True)
        await self.session.close()
        unwatch(self._server_log)
        for cleanup in self._cleanups:
            await cleanup()
        if self._owns_client:
            await self.client.aclose()
        self._changes.notify()
        return pending

    async def close(self) -> None:
        """Close the view like closing its tab; warns when async tasks were still running.

        >>> await view.close()
        """
        warn_pending(await self._shutdown_messages())

    def _close_blocking(self) -> list[str]:
        """Close from outside the view's loop (the pytest plugin, at the end of a test)."""
        if self._closed:
            return []
        loop = self._loop
        if loop.is_closed():
            # The loop went away with the test: its tasks are gone; report what was running.
            self._closed = True
            unwatch(self._server_log)
            return self._pending_messages([] if self.session.closed else self.session.tasks.labels())
        if loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:  # pragma: no cover - reason: pytest hooks never run inside the test's loop
                return []
            return asyncio.run_coroutine_threadsafe(self._shutdown_messages(), loop).result(_CLOSE_TIMEOUT)
        return loop.run_until_complete(self._shutdown_messages())


def _add_class(node: LexborNode, css: str) -> None:
    classes = (node.attrs.get("class") or "").split()
    if css not in classes:
        node.attrs["class"] = " ".join([*classes, css])


def _remove_class(node: LexborNode, css: str) -> None:
    classes = (node.attrs.get("class") or "").split()
    if css in classes:
        node.attrs["class"] = " ".join(c for c in classes if c != css)


def _cookie_domain(origin: str) -> str:
    """The domain a cookie set by the page's script is stored under (as the cookie jar names hosts)."""
    host = urlsplit(origin).hostname or ""
    return host if "." in host else host + ".local"


def _source_header(node: LexborNode) -> str:
    dom_id = node.attrs.get("id")
    return f"{node.tag}#{dom_id}" if dom_id else str(node.tag)


def _event_error(
    view: LiveTestView, event: str, status: int, text: str, source: LexborNode | None, sent_as: str, error: ServerError | None
) -> EventFailedError:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    detail = data.get("detail") if isinstance(data, dict) else text[:300]
    errors = data.get("errors") if isinstance(data, dict) else None
    origin = f" from {describe(source, 80)}" if source is not None else ""
    message = f"event {event!r}{origin} to {view.view_name} failed with {status}: {detail}"
    if error is not None and status >= 500:
        message += f"\n{error.describe()}"
    if errors:
        message += f"\nErrors: {errors}"
    if sent_as:
        message += f"\nNote: {sent_as}"
    if status == 410:
        message += "\nThe live session is gone: the page would reload"
    return EventFailedError(message, status_code=status, detail=detail, errors=list(errors or []))


async def open_view(
    client: LiveTestClient,
    path: str,
    *,
    timeout: float,
    owns_client: bool = False,
    cleanups: Sequence[Callable[[], Awaitable[None]]] = (),
    follow_redirects: bool = False,
    headers: Sequence[tuple[str, str]] = (),
) -> tuple[LiveTestView, str]:
    """GET a live page, find its session, open its stream; returns the view and its first HTML.

    A redirect raises ``LiveRedirect``, unless ``follow_redirects``: then it is followed to
    the page it ends at, as a browser does.
    """
    try:
        with request_errors() as logged:  # the page mounts in its request
            path, response = await _get_page(client, client.path_of(path), follow_redirects, headers)
        document, session = _live_page(client, path, response, logged.last())
    except BaseException:
        for cleanup in cleanups:
            await cleanup()
        if owns_client:
            await client.aclose()
        raise
    first_html = document.require_root().html or ""
    view = LiveTestView(client, url=path, document=document, session=session, owns_client=owns_client, cleanups=cleanups)
    client._views.append(view)
    register_open(view)
    try:
        await view._connect(timeout)
    except BaseException:
        await view._shutdown()
        raise
    return view, first_html


async def _get_page(
    client: LiveTestClient, path: str, follow_redirects: bool, headers: Sequence[tuple[str, str]] = ()
) -> tuple[str, httpx.Response]:
    """The page's response, and the path it was answered at (where the redirects ended)."""
    try:
        response = await client.get(path, follow_redirects=follow_redirects, headers=list(headers))
    except httpx.TooManyRedirects as exc:
        raise LiveTestError(
            f"follow_redirect(): more than {client.max_redirects} redirects in a row from {path!r}\n"
            f"Expected: a live page at the end\nGot: still redirected to {str(exc.request.url)!r}"
        ) from None
    if response.history:
        path = client.path_of(str(response.url))
    location = response.headers.get("location")
    if 300 <= response.status_code < 400 and location:
        to = (location[len(client._origin) :] or "/") if location.startswith(client._origin) else location
        raise LiveRedirect(
            f"GET {path} redirected to {to!r} ({response.status_code}) instead of showing a live page\nUse follow_redirect(error) to open where it leads",
            to=to,
            client=client,
        )
    return path, response


def _live_page(client: LiveTestClient, path: str, response: httpx.Response, error: ServerError | None) -> tuple[LiveDocument, LiveSession]:
    """The live page a response holds, and its session; otherwise why it is not one (with what the server raised)."""
    if response.status_code != 200:
        if error is not None and response.status_code >= 500:
            raise LiveTestError(
                f"GET {path} answered {response.status_code}; the server logged {error.logged!r} with:\n{error.describe()}\n"
                f"Expected: 200 with a live page\nGot: {response.text[:300]!r}"
            ) from error.exception
        raise LiveTestError(f"GET {path} answered {response.status_code}\nExpected: 200 with a live page\nGot: {response.text[:300]!r}")
    document = LiveDocument(response.text)
    root = document.root()
    if root is None:
        raise LiveTestError(
            f"GET {path} did not return a live page: no element with data-live-root\n"
            "Expected: a page served by a LiveRouter (its template extends 'live/base.html' or uses {% live_root %})\n"
            f"Got: {response.text[:300]!r}"
        )
    session = find_session(client.app, root.attrs.get(ATTR_TOKEN) or "")
    if session is None:
        raise LiveTestError(
            f"GET {path} rendered a live page, but no LiveRouter of the app holds its session\n"
            "Expected: live() to be given the app (or a client of the app) that includes the page's LiveRouter"
        )
    return document, session


class Element:
    """An element of a view, found by a CSS selector (and a text filter) each time it is used.

    Read it as the browser shows it now with ``text()``, ``html()``, ``inner_html()`` and
    ``attributes``; act on it with the verbs (``render_click(element)``, ...).

    >>> button = element(view, "button", text="Dismiss")
    >>> button.text(), button.attributes.get("disabled")
    ('Dismiss', None)
    >>> html = await render_click(button)
    """

    __slots__ = ("_text_filter", "selector", "view")

    def __init__(self, view: LiveTestView, selector: str, text: str | re.Pattern[str] | None = None) -> None:
        self.view = view
        self.selector = selector
        self._text_filter = text

    def __repr__(self) -> str:
        text = "" if self._text_filter is None else f", text={self._text_filter!r}"
        return f"element({self.view.view_name}, {self.selector!r}{text})"

    def text(self, *, raw: bool = False) -> str:
        """The element's text as a reader sees it: its text content, each run of whitespace one
        space, the ends trimmed. ``raw=True`` gives the text content untouched (``textContent``).

        >>> element(view, "#count").text()
        'Count: 3'
        """
        content = self._node().text(deep=True)
        return content if raw else _WHITESPACE.sub(" ", content).strip(_HTML_SPACE)

    def html(self) -> str:
        """The element's HTML, itself included (what ``render(element)`` returns).

        >>> element(view, "#count").html()
        '<p id="count">Count: 3</p>'
        """
        return self._node().html or ""

    def inner_html(self) -> str:
        """The HTML inside the element.

        >>> element(view, "#count").inner_html()
        'Count: 3'
        """
        return self._node().inner_html or ""

    @property
    def attributes(self) -> dict[str, str]:
        """The element's attributes now, as the DOM has them (a boolean attribute's value is ``""``).

        >>> element(view, "#save").attributes
        {'id': 'save', 'type': 'submit', 'disabled': ''}
        """
        return {name: value or "" for name, value in self._node().attributes.items()}

    def _node(self) -> LexborNode:
        self.view._raise_stream_errors()
        return self.resolve()

    def nodes(self) -> list[LexborNode]:
        document = self.view._document
        scope = document.root()
        found = document.select(self.selector, scope)
        if self._text_filter is None:
            return found
        return [node for node in found if _text_matches(node, self._text_filter)]

    def resolve(self) -> LexborNode:
        """The one element this stands for; otherwise a ``LiveTestError`` showing what was found."""
        found = self.nodes()
        if len(found) == 1:
            return found[0]
        filtered = "" if self._text_filter is None else f" with text {self._text_filter!r}"
        if not found:
            document = self.view._document
            near = document.select(self.selector, document.root()) if self._text_filter is not None else []
            if near:
                got = "elements matching the selector without that text: " + ", ".join(describe(n, 80) for n in near[:5])
            else:
                root = document.root()
                ids = [f"#{n.attrs.get('id')}" for n in document.select("[id]", root) if root is None or n.mem_id != root.mem_id][:15]
                got = "no element; ids on the page: " + (", ".join(ids) or "none")
            raise LiveTestError(f"{self!r} matched no element{filtered}\nExpected: exactly one element in the live container\nGot: {got}")
        raise LiveTestError(
            f"{self!r} matched {len(found)} elements{filtered}\n"
            "Expected: exactly one element; narrow the selector or pass text=...\n"
            f"Got: {', '.join(describe(n, 80) for n in found[:5])}"
        )


class FormElement(Element):
    """A form of a view with the values a test types into it: what ``form(view, selector, values)``
    returns. ``render_change`` and ``render_submit`` send it with those values; ``values``,
    ``errors`` and ``touched`` read it as the browser shows it now.

    >>> settings = form(view, "#settings-form", {"email": "nope"})
    >>> await render_change(settings)
    >>> settings.errors
    {'email': 'Enter a valid email address'}
    """

    __slots__ = ("given",)

    def __init__(self, view: LiveTestView, selector: str, given: dict[str, Any]) -> None:
        super().__init__(view, selector)
        self.given = given
        """The values the test typed (sent on top of what the form holds)."""

    def __repr__(self) -> str:
        return f"form({self.view.view_name}, {self.selector!r}, {self.given!r})"

    @property
    def values(self) -> dict[str, str | list[str]]:
        """What the form holds now, as it would send it (a repeated name: a list), before ``given``."""
        found: dict[str, str | list[str]] = {}
        for name, value in form_data(self.view._document, self._node()):
            current = found.get(name)
            found[name] = value if current is None else [*current, value] if isinstance(current, list) else [current, value]
        return found

    @property
    def errors(self) -> dict[str, str]:
        """Each field's error as shown: the text its control's ``aria-describedby`` points at,
        for the controls marked ``aria-invalid`` (what ``live.input`` and friends render)."""
        document = self.view._document
        shown: dict[str, str] = {}
        for control in form_elements(document, self._node()):
            name = control.attrs.get("name")
            if not name or name in shown or control.attrs.get("aria-invalid") != "true":
                continue
            for error_id in (control.attrs.get("aria-describedby") or "").split():
                node = document.by_id(error_id)
                text = " ".join(node.text(deep=True).split()) if node is not None else ""
                if text:
                    shown[name] = text
                    break
        return shown

    @property
    def touched(self) -> frozenset[str]:
        """The fields touched: typed into or submitted in this test, or marked so by the server's form."""
        node = self._node()
        marked = {c.attrs.get("name") or "" for c in form_elements(self.view._document, node) if ATTR_TOUCHED in c.attrs and not is_disabled(c)}
        return frozenset((marked | self.view.touched_fields(node)) - {""})


_HTML_SPACE = " \t\n\f\r"  # HTML's whitespace: a no-break space is text, as in a browser
_WHITESPACE = re.compile(f"[{_HTML_SPACE}]+")


def _text_matches(node: LexborNode, text: str | re.Pattern[str]) -> bool:
    content = node.text(deep=True)
    if isinstance(text, re.Pattern):
        return text.search(content) is not None
    return text in content or text in " ".join(content.split())
