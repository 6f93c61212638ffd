"""The live pages' own HTTP endpoints — the stream (GET), the shared stream's attaches (POST), events,
upload chunks and the client's assets — and the fast path that serves them ahead of the app's
middleware.

They authenticate by the signed page token (``verify``), never by the app's dependencies; a page
whose session is gone is mounted again through the app (``remount``). ``router.LiveRouter`` owns
the URLs and registers these; pages themselves are served by the router.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import signal
import time
import typing
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from types import CoroutineType
from typing import Any, Protocol
from urllib.parse import urlsplit

from fastapi import Request
from sse_starlette import EventSourceResponse
from sse_starlette.sse import AppStatus
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, cookie_parser
from starlette.responses import FileResponse, JSONResponse, Response

from .connection import STREAM_GZIP_HEADERS, STREAM_PLAIN_HEADERS, Connection, StreamEnd
from .exceptions import EventError, TokenError
from .locator import EventAnswer, SessionLocator
from .logs import oneline
from .manager import SessionManager
from .multiplex import CHANNEL, Multiplexer, MultiplexResponse, Redirect, Refused
from .navigation import PageRoute
from .session import LiveSession
from .tokens import PageToken, TokenSigner
from .transport import accepts_gzip, cross_site, encode_message, event_name, header_dict, parse_last_event_id, parse_params, read_body
from .types import ASGIApp, Message, Receive, Scope, Send
from .uploads import Chunk, UploadRefused
from .wire import (
    CURRENT_URL_HEADER,
    EVENT_HEADER,
    LAST_EVENT_ID_HEADER,
    MUX_DETACH_HEADER,
    MUX_HEADER,
    MUX_OPEN,
    MUX_PAGE_HEADER,
    OP_REDIRECT,
    REPLY_HEADER,
    TOKEN_HEADER,
    UPLOAD_OFFSET_HEADER,
    UPLOAD_REF_HEADER,
    UPLOAD_TOKEN_HEADER,
    push_element,
)

log = logging.getLogger("fastapi_live")

BROWSER_COOKIE = "fastapi_live_browser"
REMOUNT_KEY = "fastapi_live.remount"  # the verified PageToken of a page being remounted
_HEADERS_KEY = "fastapi_live.headers"
_FAST_PATH_KEY = "fastapi_live.fast_path"  # set on requests the fast path serves, ahead of all middleware
_STREAM_HEADERS = {"Cache-Control": "no-store"}
REPLY_GZIP_MIN = 1024  # bytes of an event's reply past which a client that accepts gzip gets it gzip-encoded
_SHUTDOWN_POLL = 0.25


class EndpointHost(Protocol):
    """What the endpoints need of the router that registers them (``router.LiveRouter``)."""

    stream_url: str
    event_url: str
    upload_url: str
    signer: TokenSigner
    manager: SessionManager
    locator: SessionLocator
    multiplex: Multiplexer
    allowed_origins: frozenset[str] | None

    def resolve(self, path: str) -> PageRoute | None: ...


async def _server_shutting_down() -> None:
    """Return once the server starts a graceful shutdown (SIGTERM or Ctrl-C under uvicorn).

    sse-starlette's ``AppStatus.should_exit`` is set when its hook into uvicorn saw the signal;
    when uvicorn installed its handlers before that hook, the handler's own server says so.
    """
    while not AppStatus.should_exit:
        handler = signal.getsignal(signal.SIGTERM)
        if getattr(getattr(handler, "__self__", None), "should_exit", False) is True:
            return
        await asyncio.sleep(_SHUTDOWN_POLL)


@functools.cache
def _stream_raw_headers() -> tuple[tuple[bytes, bytes], ...]:
    """The headers sse-starlette's ``EventSourceResponse`` sends with a stream: worked out once."""
    return tuple(EventSourceResponse(iter(()), ping=0, headers=_STREAM_HEADERS).raw_headers)


class _LiveStreamResponse(Response):
    """A live stream, run lean: its request's task writes the frames (``Connection.serve``).

    sse-starlette's ``EventSourceResponse`` starts a task group with a ping task, a disconnect
    listener and a shutdown listener per connection, and holds a lock and its own headers
    while the stream is open. Here heartbeats come from one shared timer and shutdown from
    one process-wide watcher (``SessionManager.watch_shutdown``), the client's hang-up is read
    without a task, and the headers are ``EventSourceResponse``'s own, worked out once: an idle
    stream costs its request task and one future.

    A client that accepts gzip gets the stream gzip-encoded, each frame flushed as it is
    written (``gzip_send``); what the stream keeps between frames is its compression history.
    """

    def __init__(self, connection: Connection, end: StreamEnd, *, gzip: bool = False, request_headers: list[Any] | None = None) -> None:
        self.status_code = 200
        self.background = None
        self._connection = connection
        self._end = end
        self._gzip = gzip
        self._request_headers = request_headers

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:  # type: ignore[override]  # worked out when asked: an open stream keeps no list
        return list(_stream_head(self._gzip))

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        # The stream's own coroutine, awaited by the caller at once: no frame of this method stays.
        # Straight to the server, no middleware between (the fast path): senders may write on
        # their own turn while the stream is idle, and its head goes as one shared tuple.
        # The request's headers are dropped only then, too: middleware might read them later.
        direct = bool(scope.get(_FAST_PATH_KEY))
        headers = _stream_head(self._gzip) if direct else self.raw_headers
        release = self._request_headers if direct else None
        return self._connection.serve(send, receive, headers, self._end, gzip=self._gzip, direct=direct, release=release)


@functools.cache
def _stream_head(gzip: bool) -> tuple[tuple[bytes, bytes], ...]:
    return (*_stream_raw_headers(), *(STREAM_GZIP_HEADERS if gzip else STREAM_PLAIN_HEADERS))


def browser_cookie(request: Request) -> str | None:
    """The browser id cookie, read from the request's own headers (Starlette's ``request.cookies``
    would first copy the whole header list into the scope)."""
    header = request_headers(request).get("cookie")
    return cookie_parser(header).get(BROWSER_COOKIE) if header else None


def request_headers(request: Request) -> dict[str, str]:
    """The request's headers as a plain dict (first value wins), built once per request."""
    scope = request.scope
    cached: dict[str, str] | None = scope.get(_HEADERS_KEY)
    if cached is None:
        cached = scope[_HEADERS_KEY] = header_dict(scope["headers"])
    return cached


class _EventReply(Response):
    """An event's answer: its fragments, and the handler's reply for a JS hook, if any.

    Built with its raw headers at once: this is the hottest response of a live app.
    """

    def __init__(self, body: str, reply: Any = None, *, gzip: bool = False) -> None:
        self.status_code = 200
        self.background = None
        self.body = body.encode()
        encoding: list[tuple[bytes, bytes]] = []
        if gzip and len(self.body) > REPLY_GZIP_MIN:
            # Only a large reply: a small one's gzip header and trailer (18 bytes) cost more than it saves.
            self.body = zlib.compress(self.body, 6, 16 + zlib.MAX_WBITS)
            encoding = [(b"content-encoding", b"gzip"), (b"vary", b"accept-encoding")]
        self.raw_headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", b"no-store"),  # nothing stores a reply: no Vary needed on a plain one
            *encoding,
        ]
        if reply is not None:
            self.raw_headers.append((REPLY_HEADER.encode(), _json_header(reply)))


def _json_header(value: Any) -> bytes:
    """``value`` as JSON fit for a header (ASCII only)."""
    return json.dumps(value, default=str, ensure_ascii=True).encode()


def _answer_response(answer: EventAnswer, *, gzip: bool = False) -> Response:
    if answer.status == 200:
        return _EventReply(answer.body, answer.reply, gzip=gzip)
    return JSONResponse({"detail": answer.detail, "errors": answer.errors}, status_code=answer.status)


class LiveEndpoints:
    """The endpoints of one router's live pages (see the module's docstring)."""

    def __init__(self, host: EndpointHost, static_dir: Path) -> None:
        self.host = host
        self.static_dir = static_dir

    def verify(self, request: Request) -> PageToken:
        session = self._held(request)
        return session.page_token if session is not None else self._signed(request)

    def _signed(self, request: Request) -> PageToken:
        """The request's page token, its signature checked (``TokenError`` says why it fails)."""
        return self.host.signer.verify(request_headers(request).get(TOKEN_HEADER), browser_id=browser_cookie(request))

    def _held(self, request: Request) -> LiveSession | None:
        """The session this process holds for the request's exact token, when that token is one
        it issued (or verified), from this browser, within its max age (counted from when it was
        signed, which a remount keeps): its signature needs no second check. None otherwise."""
        raw = request_headers(request).get(TOKEN_HEADER)
        session = self.host.manager.by_token.get(raw) if raw else None
        if session is None:
            return None
        browser_id = browser_cookie(request)
        if browser_id is not None and hmac.compare_digest(session.browser_id, browser_id) and time.time() - session.token_issued_at < self.host.signer.max_age:
            return session
        return None

    def refuse(self, request: Request, exc: TokenError) -> Response:
        client = request.client.host if request.client else "?"
        log.warning("fastapi-live: refused %s %s from %s: %s", request.method, oneline(request.url.path), client, oneline(exc))
        return JSONResponse({"detail": str(exc), "reason": exc.reason}, status_code=403)

    def _admit(self, request: Request) -> PageToken | Response:
        """The request's page token, verified; or the refusal to answer with (cross-site, bad token)."""
        refused = self.refuse_cross_site(request)
        if refused is not None:
            return refused
        try:
            return self.verify(request)
        except TokenError as exc:
            return self.refuse(request, exc)

    def _admit_id(self, request: Request) -> str | Response:
        """``_admit``'s session id alone: a session held here answers without a token built for it."""
        refused = self.refuse_cross_site(request)
        if refused is not None:
            return refused
        session = self._held(request)
        if session is not None:
            return session.id
        try:
            return self._signed(request).session_id
        except TokenError as exc:
            return self.refuse(request, exc)

    def refuse_cross_site(self, request: Request) -> Response | None:
        refused = cross_site(request_headers(request), request.scope.get("scheme", "http"), self.host.allowed_origins)
        if refused is None:
            return None
        client = request.client.host if request.client else "?"
        log.warning("fastapi-live: refused a cross-site %s %s from %s: %s", request.method, request.url.path, client, oneline(refused))
        return JSONResponse({"detail": f"cross-site request refused: {refused}", "reason": "cross-site"}, status_code=403)

    async def stream(self, request: Request) -> Response:
        refused = self.refuse_cross_site(request)
        if refused is not None:
            return refused
        if request.method == "GET" and request_headers(request).get(MUX_HEADER) == MUX_OPEN:
            return self._open_multiplex(request)
        try:
            token = self.verify(request)
        except TokenError as exc:
            return self.refuse(request, exc)
        if request.method == "HEAD":  # headers only: a HEAD never opens, or takes over, a stream
            return EventSourceResponse(iter(()), ping=0, headers=_STREAM_HEADERS)
        last_event_id = parse_last_event_id(request_headers(request).get(LAST_EVENT_ID_HEADER))
        connection = await self.host.locator.attach(token.session_id, last_event_id)
        # Read, and an open stream need not keep them: its request's headers go once its head is
        # sent (not after a remount, whose app request shares them with what it mounted).
        held = request.scope.get("headers")
        if connection is None:
            remounted = await self._remount(request, token)
            if isinstance(remounted, Response):
                return remounted
            connection, held = remounted.attach_remount(), None
        gzip = accepts_gzip(request_headers(request).get("accept-encoding"))
        request.scope.pop(_HEADERS_KEY, None)
        self.host.manager.watch_shutdown(_server_shutting_down)
        return _LiveStreamResponse(connection, self.host.locator, gzip=gzip, request_headers=held if type(held) is list else None)

    async def _remount(self, request: Request, token: PageToken) -> LiveSession | Response:
        outcome = await self._remount_outcome(request, token)
        if isinstance(outcome, Redirect):
            return self._redirect_stream(outcome.location)
        if isinstance(outcome, Refused):
            return JSONResponse({"detail": outcome.detail}, status_code=outcome.status)
        return outcome

    async def _remount_outcome(self, request: Request, token: PageToken) -> LiveSession | Redirect | Refused:
        """Mount a fresh session for a page whose session is gone, from the stream request.

        The page's request runs again through the whole app — middleware, on_mount hooks,
        dependencies and ``mount`` — with the page's original URL and the stream request's
        headers and cookies. It answers 204 once the session is mounted (under the token's
        page id), or 303 when a hook redirected (e.g. the user signed out meanwhile).

        The page is remounted at the URL the browser shows, patched since the token was issued
        (``HX-Current-URL``, which the client keeps current), when that URL leads to the same
        view; otherwise at the token's own URL.
        """
        path, _, query = self._remount_url(request, token).partition("?")
        scope = {**request.scope, "method": "GET", "path": path, "raw_path": path.encode(), "query_string": query.encode(), REMOUNT_KEY: token}
        scope.pop(_HEADERS_KEY, None)
        answered: dict[str, Any] = {}

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
                answered["location"] = dict(message.get("headers", [])).get(b"location", b"/").decode("latin-1")

        app = request.scope.get("app")
        error = "the request carries no app to remount the page with"
        if app is not None:
            try:
                await app(scope, receive, send)
            except Exception as exc:
                log.error("fastapi-live: remounting %s failed", oneline(token.url), exc_info=exc)
                answered.setdefault("error", f"remounting the page failed ({type(exc).__name__})")
            session = self.host.manager.get(token.session_id)
            if answered.get("status") == 204 and session is not None:
                return session
            if answered.get("status") == 303:
                return Redirect(answered["location"])
            error = answered.get("error") or f"remounting the page answered {answered.get('status')}"
        return Refused(410, f"the live session is gone: {error}; reload the page")

    # -- one stream for every page of a browser (``multiplex``) -----------------------------------
    def _open_multiplex(self, request: Request) -> Response:
        browser_id = request.cookies.get(BROWSER_COOKIE)
        if not browser_id:
            exc = TokenError("invalid", "no browser cookie: a shared live stream opens only after a live page was loaded")
            return self.refuse(request, exc)
        mux = self.host.multiplex.open(browser_id)
        self.host.manager.watch_shutdown(_server_shutting_down)
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-store"), (b"x-accel-buffering", b"no")]
        gzip = accepts_gzip(request_headers(request).get("accept-encoding"))
        headers.extend(STREAM_GZIP_HEADERS if gzip else STREAM_PLAIN_HEADERS)
        return typing.cast(Response, MultiplexResponse(self.host.multiplex, mux, headers, gzip=gzip))

    async def attach_pages(self, request: Request) -> Response:
        """Attach a page to its browser's shared stream (its token, like its own stream), or detach pages."""
        headers = request_headers(request)
        refused = self.refuse_cross_site(request)
        if refused is not None:
            return refused
        mux_id, browser_id = headers.get(MUX_HEADER, ""), request.cookies.get(BROWSER_COOKIE, "")
        detach = headers.get(MUX_DETACH_HEADER)
        if detach is not None:
            channels = [channel for channel in detach.split(",") if CHANNEL.fullmatch(channel)]
            await self.host.multiplex.detach(mux_id, channels, browser_id)
            return Response(status_code=204)
        try:
            token = self.verify(request)
        except TokenError as exc:
            return self.refuse(request, exc)
        channel = headers.get(MUX_PAGE_HEADER, "")
        if not mux_id or not CHANNEL.fullmatch(channel):
            detail = f"an attach to the shared live stream names the stream ({MUX_HEADER}) and the page's channel ({MUX_PAGE_HEADER}: 1-64 of A-Za-z0-9._-)"
            return JSONResponse({"detail": f"{detail}\nGot: {mux_id!r}, {channel!r}"[:300]}, status_code=400)
        last_event_id = parse_last_event_id(headers.get(LAST_EVENT_ID_HEADER))
        outcome = await self.host.multiplex.attach(
            mux_id, channel, token.session_id, browser_id, last_event_id, lambda: self._remount_outcome(request, token)
        )
        if outcome is None:
            return Response(status_code=204)
        return JSONResponse({"detail": outcome.detail}, status_code=outcome.status)

    def _remount_url(self, request: Request, token: PageToken) -> str:
        current = request_headers(request).get(CURRENT_URL_HEADER)
        if current:
            parts = urlsplit(current)
            route = self.host.resolve(parts.path or "/")
            if route is not None and route.view.__name__ == token.view:
                return parts.path + (f"?{parts.query}" if parts.query else "")
        return token.url

    @staticmethod
    def _redirect_stream(location: str) -> Response:
        async def redirect_frame() -> AsyncIterator[bytes]:
            yield encode_message(push_element(OP_REDIRECT, location, None), event_id="0")

        return EventSourceResponse(redirect_frame(), ping=0, headers=_STREAM_HEADERS)

    async def event(self, request: Request) -> Response:
        headers = request_headers(request)
        session_id = self._admit_id(request)
        if not isinstance(session_id, str):
            return session_id
        try:
            name = event_name(headers.get(EVENT_HEADER), EVENT_HEADER)
            params = parse_params(await read_body(request.receive, headers.get("content-length")), headers.get("content-type", ""))
        except EventError as exc:
            log.warning("fastapi-live: malformed event %r: %s", headers.get(EVENT_HEADER), oneline(exc))
            return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)
        answer = await self.host.locator.event(session_id, name, params)
        return _answer_response(answer, gzip=accepts_gzip(headers.get("accept-encoding")))

    async def upload(self, request: Request) -> Response:
        """One chunk of an upload entry: the page token, the entry's upload token, its offset;
        the body is the raw bytes (``application/octet-stream``), written as they arrive."""
        headers = request_headers(request)
        page = self._admit(request)
        if isinstance(page, Response):
            return page
        try:
            chunk = self._chunk(page, headers)
        except UploadRefused as exc:
            log.warning("fastapi-live: refused an upload chunk: %s", exc)
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        answer = await self.host.locator.upload(page.session_id, chunk, _upload_body(request))
        if answer.status == 200:
            return JSONResponse({"offset": answer.offset, "done": answer.done}, headers={"Cache-Control": "no-store"})
        return JSONResponse({"detail": answer.detail}, status_code=answer.status)

    def _chunk(self, page: PageToken, headers: dict[str, str]) -> Chunk:
        token = self.host.manager.upload_signer.verify(headers.get(UPLOAD_TOKEN_HEADER))
        if token.session_id != page.session_id:
            raise UploadRefused(403, "upload token for another page: it was issued to another live session than the page token's")
        ref = headers.get(UPLOAD_REF_HEADER)
        if ref != token.ref:
            raise UploadRefused(403, f"upload token for another entry: it is entry {token.ref!r}'s, the request names {ref!r}")
        offset, length = headers.get(UPLOAD_OFFSET_HEADER, ""), headers.get("content-length")
        if not (offset.isascii() and offset.isdigit()) or len(offset) > 15:
            raise UploadRefused(400, f"missing or invalid X-Live-Upload-Offset header: expected the chunk's first byte, a whole number\nGot: {offset!r}"[:200])
        if length is not None and not (length.isascii() and length.isdigit() and len(length) <= 15):
            raise UploadRefused(400, f"invalid Content-Length: {length!r}"[:100])
        return Chunk(token, int(offset), None if length is None else int(length))

    async def static(self, request: Request) -> Response:
        relative = request.path_params["path"]
        if "\0" in relative:  # no file has one, and the OS refuses to look one up
            return JSONResponse({"detail": "not found"}, status_code=404)
        target = (self.static_dir / relative).resolve()
        if not target.is_relative_to(self.static_dir) or not target.is_file():
            return JSONResponse({"detail": "not found"}, status_code=404)
        return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})


async def _upload_body(request: Request) -> AsyncIterator[bytes]:
    """A chunk's bytes as they arrive; the client going away mid-chunk is an ``UploadRefused``."""
    try:
        async for piece in request.stream():
            yield piece
    except ClientDisconnect:
        raise UploadRefused(499, "the client went away mid-chunk") from None


def install_fast_path(app: Any, endpoints: LiveEndpoints, middleware: Sequence[tuple[Any, dict[str, Any]]]) -> None:
    """Serve the live endpoints ahead of ``app``'s middleware and routing (once its stack is built).

    They authenticate by the signed page token and run no user dependencies, so the
    per-request machinery in front of them (middleware, route matching, dependency
    solving) is pure cost on the hottest paths. The app's ``TrustedHostMiddleware`` still
    guards them, then ``middleware`` (``LiveRouter.fast_path_middleware``); every other
    middleware is skipped. ``LiveRouter(fast_path=False)`` keeps them behind the app's
    middleware, e.g. for request logging of every event.
    """
    stack = getattr(app, "middleware_stack", None)
    if stack is not None and not isinstance(stack, FastPath):
        guards = [m for m in getattr(app, "user_middleware", ()) if isinstance(m.cls, type) and issubclass(m.cls, TrustedHostMiddleware)]
        guards += [Middleware(cls, **options) for cls, options in middleware]
        app.middleware_stack = FastPath(stack, endpoints, guards)


class FastPath:
    """ASGI app in front of an app's middleware stack: live endpoints first, the rest as before.

    The live endpoints skip every middleware but the host guard: ``guards`` are the app's
    ``TrustedHostMiddleware`` entries, applied to them too (a DNS-rebinding page must not pass).
    """

    def __init__(self, app: ASGIApp, endpoints: LiveEndpoints, guards: Sequence[Any] = ()) -> None:
        self.app = app
        self.endpoints = endpoints
        self.live: ASGIApp = self._answer  # an event, an upload chunk, an attach
        self.live_stream: ASGIApp = self._stream
        if guards:  # middleware may tell an ASGI app by its being an ``async def`` (asgiref's does)
            live: ASGIApp = self._guarded
            for guard in reversed(guards):
                live = guard.cls(live, *guard.args, **guard.kwargs)
            self.live = self.live_stream = live

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> typing.Awaitable[None]:
        # The app's (or the live endpoint's) own awaitable, awaited by the caller: no frame of
        # this method stays for as long as a stream is open.
        if scope["type"] == "http":
            path, method, router = scope["path"], scope["method"], self.endpoints.host
            if path == router.stream_url and method == "GET":
                return self.live_stream(scope, receive, send)
            if method == "POST" and (path == router.event_url or path == router.stream_url or path == router.upload_url):
                return self.live(scope, receive, send)
        return self.app(scope, receive, send)

    def _endpoint(self, scope: Scope) -> Callable[[Request], typing.Awaitable[Response]]:
        """A short request's endpoint."""
        endpoints, router, path = self.endpoints, self.endpoints.host, scope["path"]
        if path == router.event_url:
            return endpoints.event
        if path == router.upload_url:
            return endpoints.upload
        return endpoints.attach_pages  # a POST to the stream's URL

    def _stream(self, scope: Scope, receive: Receive, send: Send) -> typing.Awaitable[None]:
        # A stream's response runs as long as its page is open. What awaits it meanwhile is a
        # two-slot object, not a coroutine frame (``Responding``).
        scope[_FAST_PATH_KEY] = True
        return Responding(self._respond(scope, receive), (scope, receive, send))

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self._stream if scope["method"] == "GET" else self._answer)(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A short request's answer (an event, an upload chunk, an attach): one coroutine, the
        fewest steps (``Responding`` steps through Python code at each resumption)."""
        scope[_FAST_PATH_KEY] = True
        try:
            response = await self._endpoint(scope)(Request(scope, receive))
        except Exception:
            response = _failed(scope)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive) -> Response:
        """A stream's response."""
        try:
            return await self.endpoints.stream(Request(scope, receive))
        except Exception:
            return _failed(scope)


def _failed(scope: Scope) -> Response:
    """What the app's error middleware would do, were it in front of the fast path: log, answer 500."""
    log.exception("fastapi-live: %s %s failed", scope["method"], scope["path"])
    return JSONResponse({"detail": "internal error"}, status_code=500)


class Responding:
    """Awaited by the server for one request the fast path serves: the endpoint's coroutine,
    then its response's, driven in turn through the awaitable protocol (``send``, ``throw``,
    ``close``: what a coroutine awaiting this calls).

    An open stream's request awaits its response for as long as the page is open; a coroutine
    there (``async def``: await the endpoint, then the response) would keep its frame, over
    200 bytes an idle page, where this keeps two slots.
    """

    __slots__ = ("_asgi", "_step")

    def __init__(self, endpoint: Coroutine[Any, Any, Response], asgi: tuple[Scope, Receive, Send]) -> None:
        self._step: Any = endpoint  # the endpoint's coroutine, then the response's awaitable
        self._asgi: tuple[Scope, Receive, Send] | None = asgi  # None once the response runs

    def __await__(self) -> typing.Generator[Any, None, None]:
        return self  # type: ignore[return-value]  # an iterator with send/throw/close, as a generator is

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        try:
            return self._step.send(value)
        except StopIteration as done:
            return self._respond(done)

    def throw(self, kind: Any, value: Any = None, traceback: Any = None) -> Any:
        # Forwarded in the one-argument form, whatever form the caller used (the three-argument one is deprecated).
        exc = value if isinstance(value, BaseException) else kind
        if isinstance(exc, type):
            exc = exc() if value is None else exc(value)
        if traceback is not None:
            exc = exc.with_traceback(traceback)
        try:
            return self._step.throw(exc)
        except StopIteration as done:
            return self._respond(done)

    def close(self) -> None:
        self._step.close()

    def _respond(self, done: StopIteration) -> Any:
        """The endpoint returned (``done.value``, its response): run the response; once that returned, so does this."""
        if self._asgi is None:
            raise done
        scope, receive, send = self._asgi
        self._asgi = None
        responding = done.value(scope, receive, send)
        self._step = responding if isinstance(responding, CoroutineType) else responding.__await__()
        return self._step.send(None)
