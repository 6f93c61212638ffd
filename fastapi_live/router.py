"""``LiveRouter``: maps HTTP to live sessions and back — page routes, the stream and event
endpoints and the client assets.

The only module that knows URLs. Mounting is the session's (``LiveSession.mount``), request
parsing the transport's, and where a session lives the locator's (``locator``, ``cluster``).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import inspect
import json
import logging
import os
import re
import secrets
import signal
import time
import typing
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, TemplateNotFound, TemplateSyntaxError
from sse_starlette import EventSourceResponse
from sse_starlette.sse import AppStatus
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from .cluster import ClusterLocator, RedisDirectory
from .collector import freeze_startup_objects
from .config import SessionConfig
from .connection import STREAM_GZIP_HEADERS, STREAM_PLAIN_HEADERS, Connection, gzip_send
from .exceptions import ConfigurationError, EventError, TokenError
from .flash import FlashCarrier
from .helpers import TemplateHelpers
from .identity import DISCONNECT, identity_topic
from .lifecycle import HALT, OnMountCall, callable_name
from .locator import EventAnswer, LocalLocator, SessionLocator
from .logs import oneline
from .manager import SessionManager
from .multiplex import CHANNEL, Multiplexer, MultiplexResponse, Redirect, Refused
from .navigation import PageRoute, params_binding
from .patches import Patcher, root_open
from .presence import Presence, RedisPresenceStore
from .pubsub import PubSub, create_pubsub
from .pubsub.redis import RedisPubSub
from .rendering import LiveExtension, PageTemplate
from .session import LiveSession, Redirected
from .telemetry import telemetry
from .tokens import PageToken, TokenSigner
from .transport import accepts_gzip, cross_site, encode_message, event_name, header_dict, normal_origin, parse_last_event_id, parse_params, read_body
from .types import ASGIApp, Message, Receive, Scope, Send
from .uploads import Chunk, UploadRefused, UploadSigner
from .view import LiveSocket, LiveView
from .wire import (
    CURRENT_URL_HEADER,
    EVENT_HEADER,
    FLASH_COOKIE,
    LAST_EVENT_ID_HEADER,
    LEAVE_EVENT,
    MUX_DETACH_HEADER,
    MUX_HEADER,
    MUX_OPEN,
    MUX_PAGE_HEADER,
    NAVIGATE_HEADER,
    OP_REDIRECT,
    REPLY_HEADER,
    TOKEN_HEADER,
    UPLOAD_OFFSET_HEADER,
    UPLOAD_REF_HEADER,
    UPLOAD_TOKEN_HEADER,
    push_element,
)

log = logging.getLogger("fastapi_live")
V = TypeVar("V")

BROWSER_COOKIE = "fastapi_live_browser"
SECRET_ENV = "FASTAPI_LIVE_SECRET"
_REQUEST_PARAM = "live_request__"
_REMOUNT_KEY = "fastapi_live.remount"  # the verified PageToken of a page being remounted
_HEADERS_KEY = "fastapi_live.headers"
_FAST_PATH_KEY = "fastapi_live.fast_path"  # set on requests the fast path serves, ahead of all middleware
_STREAM_HEADERS = {"Cache-Control": "no-store"}
REPLY_GZIP_MIN = 1024  # bytes of an event's reply past which a client that accepts gzip gets it gzip-encoded
_PACKAGE_DIR = Path(__file__).resolve().parent
_SHUTDOWN_POLL = 0.25


def _asset_dir(name: str) -> Path:
    """``static/`` or ``templates/``: inside the installed package, or beside it in a checkout."""
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigurationError(f"fastapi-live's {name}/ directory is missing from the installation ({_PACKAGE_DIR})")


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
    """A live stream, run lean: one task writes frames, one waits for the disconnect.

    sse-starlette's ``EventSourceResponse`` starts a task group with a ping task, a disconnect
    listener and a shutdown listener per connection, and holds a lock and its own headers
    while the stream is open. Here heartbeats come from one shared timer and shutdown from
    one process-wide watcher (``SessionManager.watch_shutdown``), the headers are
    ``EventSourceResponse``'s own, worked out once: a stream costs its request task plus one
    small disconnect watcher.

    A client that accepts gzip gets the stream gzip-encoded, each frame flushed as it is
    written (``gzip_send``); what the stream keeps between frames is its compression history.
    """

    def __init__(self, connection: Connection, on_close: Callable[[], None], *, gzip: bool = False) -> None:
        self.status_code = 200
        self.background = None
        self.raw_headers = [*_stream_raw_headers(), *(STREAM_GZIP_HEADERS if gzip else STREAM_PLAIN_HEADERS)]
        self._frames: AsyncGenerator[bytes, None] = connection.frames()
        self._connection = connection
        self._on_close = on_close
        self._gzip = gzip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._gzip:
            send = gzip_send(send)
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        watcher = asyncio.get_running_loop().create_task(self._watch(receive))
        connection = self._connection
        if scope.get(_FAST_PATH_KEY):
            # Straight to the server, no middleware between: senders may write on their own
            # turn while this task is idle (see ``Connection``).
            connection.attach_writer(send)
        try:
            async for chunk in self._frames:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            connection.attach_writer(None)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        finally:
            connection.attach_writer(None)
            watcher.cancel()
            await self._frames.aclose()
            self._on_close()

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._connection.close()


def _headers(request: Request) -> dict[str, str]:
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


_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]+")  # what ``secrets.token_urlsafe`` makes: no quoting needed


def _page_url(scope: Scope) -> str:
    """A page request's path and query, as ``request.url`` gives them, without building the URL."""
    path = scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


class _PageResponse(Response):
    """A live page's first render with its browser cookie, built with its raw headers at once:
    ``set_cookie`` would run ``http.cookies`` on every page for the same few bytes."""

    def __init__(self, html: str, browser_id: str, *, max_age: int, secure: bool) -> None:
        self.status_code = 200
        self.background = None
        self.body = html.encode()
        self.raw_headers = [
            (b"cache-control", b"no-store"),
            (b"content-length", str(len(self.body)).encode()),
            (b"content-type", b"text/html; charset=utf-8"),
        ]
        if _COOKIE_VALUE.fullmatch(browser_id):
            cookie = f"{BROWSER_COOKIE}={browser_id}; HttpOnly; Max-Age={max_age}; Path=/; SameSite=lax{'; Secure' if secure else ''}"
            self.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))
        else:  # a cookie the browser sent with other characters: quoted as http.cookies quotes it
            self.set_cookie(BROWSER_COOKIE, browser_id, max_age=max_age, httponly=True, samesite="lax", path="/", secure=secure)


def _json_header(value: Any) -> bytes:
    """``value`` as JSON fit for a header (ASCII only)."""
    return json.dumps(value, default=str, ensure_ascii=True).encode()


def _answer_response(answer: EventAnswer, *, gzip: bool = False) -> Response:
    if answer.status == 200:
        return _EventReply(answer.body, answer.reply, gzip=gzip)
    return JSONResponse({"detail": answer.detail, "errors": answer.errors}, status_code=answer.status)


class _FastPath:
    """ASGI app in front of an app's middleware stack: live endpoints first, the rest as before.

    The live endpoints skip every middleware but the host guard: ``guards`` are the app's
    ``TrustedHostMiddleware`` entries, applied to them too (a DNS-rebinding page must not pass).
    """

    def __init__(self, app: ASGIApp, router: LiveRouter, guards: Sequence[Any] = ()) -> None:
        self.app = app
        self.router = router
        live: ASGIApp = self._serve
        for guard in reversed(guards):
            live = guard.cls(live, *guard.args, **guard.kwargs)
        self.live = live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method, router = scope["path"], scope["method"], self.router
            if (
                (path == router.event_url and method == "POST")
                or (path == router.stream_url and method in ("GET", "POST"))
                or (path == router.upload_url and method == "POST")
            ):
                await self.live(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        router, path = self.router, scope["path"]
        endpoint: Callable[[Request], typing.Awaitable[Response]]
        if path == router.event_url:
            endpoint = router._event_endpoint
        elif path == router.upload_url:
            endpoint = router._upload_endpoint
        elif scope["method"] == "POST":
            endpoint = router._multiplex_endpoint
        else:
            endpoint = router._stream_endpoint
        scope[_FAST_PATH_KEY] = True
        try:
            response = await endpoint(Request(scope, receive))
        except Exception:  # the app's error middleware is not in front of us: do its job
            log.exception("fastapi-live: %s %s failed", scope["method"], scope["path"])
            response = JSONResponse({"detail": "internal error"}, status_code=500)
        await response(scope, receive, send)


class LiveHook:
    """A reusable on_mount hook: subclass it and define ``on_mount(self, socket, ...)``.

    ``on_mount`` may declare FastAPI dependencies, like an endpoint; returning ``HALT``
    (after ``socket.redirect(...)``) stops the page from mounting.
    """

    async def on_mount(self, socket: LiveSocket) -> Any:
        return None


OnMount = Callable[..., Any] | LiveHook | type[LiveHook]


class _Callable:
    """A user callable whose parameters FastAPI resolves as part of the page endpoint."""

    def __init__(self, fn: Callable[..., Any], prefix: str, skip: int, path_params: set[str]) -> None:
        self.fn = fn
        self.name = callable_name(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
        params = list(inspect.signature(fn).parameters.values())[skip:]
        self.arguments: list[tuple[str, str]] = []  # (endpoint name, argument name)
        self.parameters: list[inspect.Parameter] = []
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            annotation = hints.get(p.name, p.annotation)
            if inspect.isclass(annotation) and issubclass(annotation, Request):
                # FastAPI hands the request to one parameter only: the page endpoint's own.
                self.arguments.append((_REQUEST_PARAM, p.name))
                continue
            shared = p.name in path_params or not isinstance(p.default, DependsParam)
            endpoint_name = p.name if shared else f"{prefix}{p.name}"
            self.arguments.append((endpoint_name, p.name))
            self.parameters.append(p.replace(name=endpoint_name, annotation=annotation, kind=p.KEYWORD_ONLY))

    def kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        return {arg: values[name] for name, arg in self.arguments}


class LiveSessionGroup:
    """Pages registered through ``LiveRouter.session(...)``: its hooks run after the router's."""

    def __init__(self, router: LiveRouter, name: str, on_mount: list[OnMount]) -> None:
        self.router = router
        self.name = name
        self.on_mount = on_mount

    def page(self, path: str, *, on_mount: Sequence[OnMount] = (), **kwargs: Any) -> Callable[[V], V]:
        """Register a page of this group; see ``LiveRouter.page``."""
        return self.router.page(path, on_mount=[*self.on_mount, *on_mount], **kwargs)


def _hook_callable(hook: OnMount) -> Callable[..., Any]:
    if inspect.isclass(hook) and issubclass(hook, LiveHook):
        return hook().on_mount
    if isinstance(hook, LiveHook):
        return hook.on_mount
    if callable(hook):
        return hook
    raise ConfigurationError(f"on_mount hooks must be callables or LiveHook classes/instances, got {hook!r}")


def _serves(loader: BaseLoader, directory: str) -> bool:
    """Whether ``loader`` already loads from ``directory`` (a second router on one environment)."""
    if isinstance(loader, ChoiceLoader):
        return any(_serves(inner, directory) for inner in loader.loaders)
    return isinstance(loader, FileSystemLoader) and directory in loader.searchpath


def _several_processes(pubsub: PubSub) -> str | None:
    """Why this app's live sessions may span processes, or None when nothing says they do."""
    if isinstance(pubsub, RedisPubSub):
        return "the PubSub is Redis, which routes sessions across processes"
    owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)  # the server, when it handles signals
    workers = getattr(getattr(owner, "config", None), "workers", None)
    if isinstance(workers, int) and workers > 1:
        return f"uvicorn runs {workers} worker processes"
    concurrency = os.environ.get("WEB_CONCURRENCY", "")
    if concurrency.isdigit() and int(concurrency) > 1:
        return f"WEB_CONCURRENCY is {concurrency}"
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        return "gunicorn runs the app in worker processes it restarts and multiplies"
    return None


def _allowed_origins(origins: Sequence[str] | None) -> frozenset[str] | None:
    if origins is None:
        return None
    if isinstance(origins, str):
        origins = [origins]
    normal: set[str] = set()
    for origin in origins:
        value = normal_origin(origin) if isinstance(origin, str) else None
        if value is None:
            raise ConfigurationError(
                "LiveRouter(allowed_origins=...) takes origins like 'https://app.example.com' or 'http://localhost:8000': "
                f"a scheme (http or https) and a host, with an optional port and nothing after it\nGot: {origin!r}"
            )
        normal.add(value)
    return frozenset(normal)


class LiveRouter(APIRouter):
    """Serves live pages: include it in a FastAPI app like any router.

    >>> templates = Jinja2Templates(directory="templates")
    >>> live = LiveRouter(templates=templates, on_mount=[ensure_authenticated])
    >>> @live.page("/counter", template="counter.html")
    ... class Counter(LiveView): ...
    >>> app.include_router(live)
    """

    def __init__(
        self,
        *,
        templates: Any,
        secret_key: str | bytes | None = None,
        on_mount: Sequence[OnMount] = (),
        pubsub: PubSub | None = None,
        config: SessionConfig | None = None,
        live_prefix: str = "/_live",
        client_config: dict[str, Any] | None = None,
        token_max_age: float = 86_400.0,
        fast_path: bool = True,
        allowed_origins: Sequence[str] | None = None,
        cookie_secure: bool | None = None,
        cookie_max_age: float | None = None,
        **router_kwargs: Any,
    ) -> None:
        super().__init__(lifespan=self._lifespan, **router_kwargs)
        self.environment = self._environment(templates)
        if secret_key is None:
            secret_key = os.environ.get(SECRET_ENV)
        self._random_key = not secret_key  # checked at startup: fine for one process, refused for several
        secret_key = secret_key or secrets.token_hex(32)
        self.signer = TokenSigner(secret_key, max_age=token_max_age)
        self.flash_carrier = FlashCarrier(secret_key)
        self.fast_path = fast_path
        self.allowed_origins = _allowed_origins(allowed_origins)
        self.cookie_secure = cookie_secure
        # A minute past the token's life: a browser rounds Max-Age down to whole seconds, and the
        # cookie must never expire before the page token it binds does.
        self.cookie_max_age = token_max_age + 60 if cookie_max_age is None else cookie_max_age
        self.on_mount = list(on_mount)
        self.pubsub = pubsub or create_pubsub(os.environ.get("REDIS_URL"))
        self.config = config or SessionConfig()
        base = self.prefix + live_prefix
        self.stream_url = base + "/stream"
        self.event_url = base + "/event"
        self.static_url = base + "/static"
        self.upload_url = base + "/upload"
        # Who is on each topic (``await live.presence.list(topic)``): in Redis when the PubSub is.
        self.presence = Presence(self.pubsub, RedisPresenceStore(self.pubsub.client()) if isinstance(self.pubsub, RedisPubSub) else None)
        self.telemetry = telemetry  # the process's: live.telemetry.attach(handler)
        # ASGI middleware (class, options) kept in front of the fast path's endpoints, e.g. tracing's.
        self.fast_path_middleware: list[tuple[Any, dict[str, Any]]] = []
        self.manager = SessionManager(self.config, self.pubsub, self.presence, upload_signer=UploadSigner(secret_key, max_age=token_max_age))
        self.locator: SessionLocator = LocalLocator(self.manager)
        if isinstance(self.pubsub, RedisPubSub):  # shared across processes: route to session owners
            self.locator = ClusterLocator(self.manager, RedisDirectory(self.pubsub.client(), token_max_age))
        self.multiplex = Multiplexer(self.manager, self.locator)  # one stream for all of a browser's pages
        self.helpers = TemplateHelpers(self.event_url, self.static_url, client_config, upload_url=self.upload_url, resolve=self.resolve)
        self.environment.globals.setdefault("live", self.helpers)
        self._pages: dict[str, PageTemplate] = {}
        self._registered: list[tuple[str, str, str]] = []  # (path, view, template) of each page, checked at startup
        self._page_routes: list[tuple[APIRoute, type[LiveView]]] = []  # what a live navigation or patch can reach
        self._static_dir = _asset_dir("static")
        self.add_route(self.stream_url, self._stream_endpoint, methods=["GET"], include_in_schema=False)
        self.add_route(self.stream_url, self._multiplex_endpoint, methods=["POST"], include_in_schema=False)
        self.add_route(self.event_url, self._event_endpoint, methods=["POST"], include_in_schema=False)
        self.add_route(self.upload_url, self._upload_endpoint, methods=["POST"], include_in_schema=False)
        self.add_route(self.static_url + "/{path:path}", self._static_endpoint, methods=["GET"], include_in_schema=False)

    # -- setup -------------------------------------------------------------------------------
    @staticmethod
    def _environment(templates: Any) -> Environment:
        environment = templates if isinstance(templates, Environment) else getattr(templates, "env", None)
        if not isinstance(environment, Environment):
            raise ConfigurationError(
                f"LiveRouter(templates=...) takes a fastapi.templating.Jinja2Templates or a jinja2.Environment, got {templates!r}"
            )
        if LiveExtension.identifier not in environment.extensions:
            environment.add_extension(LiveExtension)
        package_dir = str(_asset_dir("templates"))
        loader = environment.loader
        if loader is None:
            environment.loader = FileSystemLoader(package_dir)
        elif not _serves(loader, package_dir):
            environment.loader = ChoiceLoader([loader, FileSystemLoader(package_dir)])
        return environment

    @asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        self.check_secret()
        self.check_templates()
        for _, view_cls in self._page_routes:
            params_binding(view_cls)  # a handle_params the URL cannot bind to fails the startup
        if self.fast_path:
            self._install_fast_path(app)
        await self.pubsub.start()
        await self.presence.start()
        await self.locator.start()
        await self.multiplex.start()
        if self.config.freeze_gc_at_startup:
            freeze_startup_objects()
        try:
            yield
        finally:
            await self.multiplex.stop()
            await self.manager.close_all()
            await self.presence.stop()
            await self.locator.stop()
            await self.pubsub.stop()

    def check_secret(self) -> None:
        """Refuse to start without a secret key where sessions span processes; the startup calls this.

        With one process, a random key works until the process ends (a warning says so). With
        a Redis PubSub or several workers, each process would sign with its own key and about
        half the events would fail their signature check, so the startup fails instead.
        """
        if not self._random_key:
            return
        reason = _several_processes(self.pubsub)
        if reason is not None:
            raise ConfigurationError(
                f"LiveRouter needs a secret key: {reason}, so every process must sign page tokens with the same key\n"
                f"Got: no LiveRouter(secret_key=...) and {SECRET_ENV} unset\n"
                f"Set one key for every process, e.g. export {SECRET_ENV}=$(python -c 'import secrets; print(secrets.token_hex(32))'), "
                "or pass LiveRouter(secret_key=...) from your settings"
            )
        log.warning(
            "fastapi-live: %s is unset and no secret_key was given: page tokens are signed with a random key for this run "
            "(pages open now stop working when the process ends). Set %s for real use",
            SECRET_ENV,
            SECRET_ENV,
        )

    def check_templates(self) -> None:
        """Compile and analyse every registered page's template; the app's startup calls this.

        A template that does not parse fails the startup, naming the template, line and page,
        instead of failing the first user who opens the page.
        """
        for path, view_name, template_name in self._registered:
            try:
                self.page_template(template_name)
            except TemplateSyntaxError as exc:
                where = f"{exc.name or exc.filename or template_name}, line {exc.lineno}"
                raise ConfigurationError(
                    f"template {where} of live page {path!r} ({view_name}) does not compile: {exc.message}"
                ) from exc
            except TemplateNotFound as exc:
                raise ConfigurationError(
                    f"live page {path!r} ({view_name}) uses template {exc.name!r}, which the router's templates cannot find"
                ) from exc

    def _install_fast_path(self, app: Any) -> None:
        """Serve the stream and event endpoints ahead of the app's middleware and routing.

        They authenticate by the signed page token and run no user dependencies, so the
        per-request machinery in front of them (middleware, route matching, dependency
        solving) is pure cost on the hottest paths. The app's ``TrustedHostMiddleware`` still
        guards them; every other middleware is skipped. Pass ``fast_path=False`` to keep them
        behind the app's middleware, e.g. for request logging of every event.
        """
        stack = getattr(app, "middleware_stack", None)
        if stack is not None and not isinstance(stack, _FastPath):
            guards = [m for m in getattr(app, "user_middleware", ()) if isinstance(m.cls, type) and issubclass(m.cls, TrustedHostMiddleware)]
            guards += [Middleware(cls, **options) for cls, options in self.fast_path_middleware]
            app.middleware_stack = _FastPath(stack, self, guards)

    def page_template(self, name: str) -> PageTemplate:
        page = self._pages.get(name)
        if page is None or page.template is not self.environment.get_template(name):
            page = self._pages[name] = PageTemplate(self.environment, name)
        return page

    # -- page routes -------------------------------------------------------------------------
    def page(
        self, path: str, *, template: str | None = None, on_mount: Sequence[OnMount] = (), name: str | None = None, **route_kwargs: Any
    ) -> Callable[[V], V]:
        """Register a live page: decorate a ``LiveView`` class, or an async ``mount(socket, ...)`` function."""

        def decorate(target: V) -> V:
            view_cls = self._view_class(target)
            template_name = template or view_cls.template
            if not template_name:
                raise ConfigurationError(f"live page {path!r} ({view_cls.__name__}) needs a template: @live.page({path!r}, template='...')")
            endpoint = self._page_endpoint(path, view_cls, template_name, [*self.on_mount, *on_mount])
            self.add_api_route(path, endpoint, methods=["GET"], response_class=HTMLResponse, name=name or view_cls.__name__, **route_kwargs)
            route = self.routes[-1]
            if isinstance(route, APIRoute):
                self._page_routes.append((route, view_cls))
            self._registered.append((path, view_cls.__name__, template_name))
            return target

        return decorate

    def resolve(self, path: str) -> PageRoute | None:
        """The live page of this router that serves ``path`` (its view and path params), or None.

        A live navigation or patch reaches only these pages; any other URL is a full load.
        """
        for route, view_cls in self._page_routes:
            match = route.path_regex.match(path)
            if match is not None:
                converters = route.param_convertors
                params = {key: converters[key].convert(value) for key, value in match.groupdict().items()}
                return PageRoute(view_cls, params)
        return None

    def session(self, name: str, *, on_mount: Sequence[OnMount] = ()) -> LiveSessionGroup:
        """A group of pages sharing on_mount hooks, like LiveView's ``live_session``.

        >>> authenticated = live.session("authenticated", on_mount=[ensure_authenticated])
        >>> @authenticated.page("/dashboard/{slug}", template="dashboard.html")
        ... class Dashboard(LiveView): ...
        """
        return LiveSessionGroup(self, name, list(on_mount))

    async def publish(self, topic: str, message: Any) -> None:
        """Publish ``message`` to every session subscribed to ``topic``, in every process.

        Callable from handlers, background tasks and plain FastAPI endpoints.
        """
        await self.pubsub.publish(topic, message)

    async def disconnect(self, identity: str) -> None:
        """End every live session that joined ``identity`` (``socket.identify``), in every process.

        Their pages reload, as whoever the browser is by then: call it when a user signs out,
        or signs in as someone else (LiveView's ``Endpoint.broadcast(live_socket_id, "disconnect", %{})``).

        >>> await live.disconnect(f"login:{login_id}")
        """
        await self.pubsub.publish(identity_topic(identity), DISCONNECT)

    @staticmethod
    def _view_class(target: Any) -> type[LiveView]:
        if inspect.isclass(target) and issubclass(target, LiveView):
            return target
        if inspect.iscoroutinefunction(target):
            mount_fn = target

            async def mount(self: LiveView, socket: LiveSocket, **kwargs: Any) -> None:
                await mount_fn(socket, **kwargs)

            mount.__signature__ = inspect.signature(mount_fn).replace(  # type: ignore[attr-defined]
                parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *inspect.signature(mount_fn).parameters.values()]
            )
            mount.__annotations__ = typing.get_type_hints(mount_fn, include_extras=True)
            return type(target.__name__, (LiveView,), {"mount": mount, "__module__": target.__module__})
        raise ConfigurationError(f"@live.page() decorates a LiveView subclass or an async mount function, got {target!r}")

    def _page_endpoint(self, path: str, view_cls: type[LiveView], template_name: str, hooks: list[OnMount]) -> Callable[..., Any]:
        path_params = {part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{") and part.endswith("}")}
        mount = _Callable(view_cls.mount, "", 2, path_params)
        hook_callables = [_Callable(_hook_callable(h), f"hook{i}__", 1, path_params) for i, h in enumerate(hooks)]
        parameters: dict[str, inspect.Parameter] = {
            _REQUEST_PARAM: inspect.Parameter(_REQUEST_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=Request)
        }
        for item in (*hook_callables, mount):
            for parameter in item.parameters:
                parameters.setdefault(parameter.name, parameter)
        router = self

        async def endpoint(**values: Any) -> Response:
            request: Request = values[_REQUEST_PARAM]
            calls: list[OnMountCall] = [(hook.name, functools.partial(hook.fn, **hook.kwargs(values))) for hook in hook_callables]
            return await router._serve_page(request, view_cls, template_name, calls, mount.kwargs(values))

        endpoint.__signature__ = inspect.Signature(list(parameters.values()))  # type: ignore[attr-defined]
        endpoint.__name__ = f"live_{view_cls.__name__}"
        return endpoint

    async def _serve_page(
        self, request: Request, view_cls: type[LiveView], template_name: str, hooks: list[OnMountCall], mount_kwargs: dict[str, Any]
    ) -> Response:
        remount: PageToken | None = request.scope.get(_REMOUNT_KEY)
        url = _page_url(request.scope)
        carried: dict[str, str] | None = None
        if remount is not None:  # the page's session is gone: a fresh one under the same page id and token
            if remount.view != view_cls.__name__:
                return Response(status_code=409)  # the URL leads to another view than the token's page
            token = PageToken(remount.session_id, remount.view, remount.browser_id, url, remount.issued_at)
            raw = _headers(request).get(TOKEN_HEADER, "")
        else:
            browser_id = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(18)
            # The signature's timestamp is a whole second at or after this one, so the fast
            # path's age check (``_verify``) never accepts a token the signature would not.
            issued_at = float(int(time.time()))
            token = PageToken(secrets.token_urlsafe(18), view_cls.__name__, browser_id, url, issued_at)
            raw = self.signer.sign(token)
            carried = self.flash_carrier.load(request.cookies.get(FLASH_COOKIE), request.cookies.get(BROWSER_COOKIE))
        session = self._new_session(view_cls, template_name, token, raw)
        view = session.view
        try:
            outcome = await session.mount(hooks, lambda socket: view.mount(socket, **mount_kwargs), render=remount is None, carried_flash=carried)
        except ConfigurationError:
            raise  # a setup mistake: let it surface as such
        except EventError as exc:
            if remount is not None or exc.status_code != 422:
                raise
            # The URL's params do not fit handle_params: answered as FastAPI answers a query
            # parameter it cannot validate (and through the app's handler for it, if any).
            raise RequestValidationError(exc.errors) from None
        except Exception as exc:
            log.error("%s: mounting %s failed", view_cls.__name__, oneline(token.url), exc_info=exc)
            if remount is not None:
                raise
            return self._error_page(token.url)
        finally:
            if remount is None:
                await self._leave_previous(request)
        if isinstance(outcome, Redirected):
            redirect = RedirectResponse(outcome.location, status_code=303)
            if outcome.flash is not None:  # bound to this browser: it needs the browser cookie to be read
                redirect.set_cookie(FLASH_COOKIE, outcome.flash, max_age=int(self.flash_carrier.max_age), samesite="lax", path="/")
                if remount is None and request.cookies.get(BROWSER_COOKIE) != token.browser_id:
                    redirect.set_cookie(BROWSER_COOKIE, token.browser_id, httponly=True, samesite="lax", path="/")
            return redirect
        await self.locator.claim(session)
        if remount is not None:
            return Response(status_code=204)
        # Set with every page, so the cookie lives as long as the newest page's token.
        secure = request.scope.get("scheme", "http") == "https" if self.cookie_secure is None else self.cookie_secure
        response = _PageResponse(outcome.html, token.browser_id, max_age=int(self.cookie_max_age), secure=secure)
        if FLASH_COOKIE in request.cookies:
            response.delete_cookie(FLASH_COOKIE, path="/", samesite="lax")
        return response

    async def _leave_previous(self, request: Request) -> None:
        """A live navigation's page request names the page it leaves: that page's session ends now.

        Only a page of the browser that asks (its token verified against its cookie), wherever
        its session lives; a token that does not verify is ignored, as the page then stays live.
        """
        raw = _headers(request).get(NAVIGATE_HEADER)
        if not raw:
            return
        try:
            left = self.signer.verify(raw, browser_id=request.cookies.get(BROWSER_COOKIE))
        except TokenError as exc:
            log.debug("fastapi-live: a live navigation named a page it may not end: %s", exc)
            return
        await self.locator.event(left.session_id, LEAVE_EVENT, {})

    def _new_session(self, view_cls: type[LiveView], template_name: str, token: PageToken, raw: str) -> LiveSession:
        page = self.page_template(template_name)
        root = root_open(page, self.stream_url, self.event_url, view_cls.__name__, raw)
        return LiveSession(
            self.manager,
            session_id=token.session_id,
            view=view_cls(),
            patcher=Patcher(page, self.helpers, root),
            token=raw,
            browser_id=token.browser_id,
            url=token.url,
            resolve=self.resolve,
            flash_carrier=self.flash_carrier,
            token_issued_at=token.issued_at,
        )

    def _error_page(self, url: str) -> Response:
        """The page shown when a page's hooks or mount raised (``live/error.html``, overridable)."""
        html = self.environment.get_template("live/error.html").render(url=url)
        return HTMLResponse(html, status_code=500, headers={"Cache-Control": "no-store"})

    # -- stream and events ---------------------------------------------------------------------
    def _verify(self, request: Request) -> PageToken:
        raw = _headers(request).get(TOKEN_HEADER)
        browser_id = request.cookies.get(BROWSER_COOKIE)
        session = self.manager.by_token.get(raw) if raw else None
        if (
            session is not None
            and browser_id is not None
            and hmac.compare_digest(session.browser_id, browser_id)
            and time.time() - session.token_issued_at < self.signer.max_age
        ):
            # The exact token this process issued (or verified) for a session it holds, still
            # within its max age (counted from when it was signed, which a remount keeps):
            # its signature needs no second check.
            return session.page_token
        return self.signer.verify(raw, browser_id=browser_id)

    def _refuse(self, request: Request, exc: TokenError) -> Response:
        client = request.client.host if request.client else "?"
        log.warning("fastapi-live: refused %s %s from %s: %s", request.method, oneline(request.url.path), client, oneline(exc))
        return JSONResponse({"detail": str(exc), "reason": exc.reason}, status_code=403)

    def _refuse_cross_site(self, request: Request) -> Response | None:
        refused = cross_site(_headers(request), request.scope.get("scheme", "http"), self.allowed_origins)
        if refused is None:
            return None
        client = request.client.host if request.client else "?"
        log.warning("fastapi-live: refused a cross-site %s %s from %s: %s", request.method, request.url.path, client, oneline(refused))
        return JSONResponse({"detail": f"cross-site request refused: {refused}", "reason": "cross-site"}, status_code=403)

    async def _stream_endpoint(self, request: Request) -> Response:
        refused = self._refuse_cross_site(request)
        if refused is not None:
            return refused
        if request.method == "GET" and _headers(request).get(MUX_HEADER) == MUX_OPEN:
            return self._open_multiplex(request)
        try:
            token = self._verify(request)
        except TokenError as exc:
            return self._refuse(request, exc)
        if request.method == "HEAD":  # headers only: a HEAD never opens, or takes over, a stream
            return EventSourceResponse(iter(()), ping=0, headers=_STREAM_HEADERS)
        last_event_id = parse_last_event_id(_headers(request).get(LAST_EVENT_ID_HEADER))
        connection = await self.locator.attach(token.session_id, last_event_id)
        if connection is None:
            remounted = await self._remount(request, token)
            if isinstance(remounted, Response):
                return remounted
            connection = remounted.attach_remount()
        stream, locator = connection, self.locator
        gzip = accepts_gzip(_headers(request).get("accept-encoding"))
        request.scope.pop(_HEADERS_KEY, None)  # read; an open stream need not keep it
        self.manager.watch_shutdown(_server_shutting_down)
        return _LiveStreamResponse(stream, lambda: locator.detach(stream), gzip=gzip)

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
        scope = {**request.scope, "method": "GET", "path": path, "raw_path": path.encode(), "query_string": query.encode(), _REMOUNT_KEY: token}
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
            session = self.manager.get(token.session_id)
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
            return self._refuse(request, exc)
        mux = self.multiplex.open(browser_id)
        self.manager.watch_shutdown(_server_shutting_down)
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-store"), (b"x-accel-buffering", b"no")]
        gzip = accepts_gzip(_headers(request).get("accept-encoding"))
        headers.extend(STREAM_GZIP_HEADERS if gzip else STREAM_PLAIN_HEADERS)
        return typing.cast(Response, MultiplexResponse(self.multiplex, mux, headers, gzip=gzip))

    async def _multiplex_endpoint(self, request: Request) -> Response:
        """Attach a page to its browser's shared stream (its token, like its own stream), or detach pages."""
        headers = _headers(request)
        refused = self._refuse_cross_site(request)
        if refused is not None:
            return refused
        mux_id, browser_id = headers.get(MUX_HEADER, ""), request.cookies.get(BROWSER_COOKIE, "")
        detach = headers.get(MUX_DETACH_HEADER)
        if detach is not None:
            channels = [channel for channel in detach.split(",") if CHANNEL.fullmatch(channel)]
            await self.multiplex.detach(mux_id, channels, browser_id)
            return Response(status_code=204)
        try:
            token = self._verify(request)
        except TokenError as exc:
            return self._refuse(request, exc)
        channel = headers.get(MUX_PAGE_HEADER, "")
        if not mux_id or not CHANNEL.fullmatch(channel):
            detail = f"an attach to the shared live stream names the stream ({MUX_HEADER}) and the page's channel ({MUX_PAGE_HEADER}: 1-64 of A-Za-z0-9._-)"
            return JSONResponse({"detail": f"{detail}\nGot: {mux_id!r}, {channel!r}"[:300]}, status_code=400)
        last_event_id = parse_last_event_id(headers.get(LAST_EVENT_ID_HEADER))
        outcome = await self.multiplex.attach(
            mux_id, channel, token.session_id, browser_id, last_event_id, lambda: self._remount_outcome(request, token)
        )
        if outcome is None:
            return Response(status_code=204)
        return JSONResponse({"detail": outcome.detail}, status_code=outcome.status)

    def _remount_url(self, request: Request, token: PageToken) -> str:
        current = _headers(request).get(CURRENT_URL_HEADER)
        if current:
            parts = urlsplit(current)
            route = self.resolve(parts.path or "/")
            if route is not None and route.view.__name__ == token.view:
                return parts.path + (f"?{parts.query}" if parts.query else "")
        return token.url

    @staticmethod
    def _redirect_stream(location: str) -> Response:
        async def redirect_frame() -> AsyncIterator[bytes]:
            yield encode_message(push_element(OP_REDIRECT, location, None), event_id="0")

        return EventSourceResponse(redirect_frame(), ping=0, headers=_STREAM_HEADERS)

    async def _event_endpoint(self, request: Request) -> Response:
        headers = _headers(request)
        refused = self._refuse_cross_site(request)
        if refused is not None:
            return refused
        try:
            token = self._verify(request)
        except TokenError as exc:
            return self._refuse(request, exc)
        try:
            name = event_name(headers.get(EVENT_HEADER), EVENT_HEADER)
            params = parse_params(await read_body(request.stream(), headers.get("content-length")), headers.get("content-type", ""))
        except EventError as exc:
            log.warning("fastapi-live: malformed event %r: %s", headers.get(EVENT_HEADER), oneline(exc))
            return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)
        return _answer_response(await self.locator.event(token.session_id, name, params), gzip=accepts_gzip(headers.get("accept-encoding")))

    async def _upload_endpoint(self, request: Request) -> Response:
        """One chunk of an upload entry: the page token, the entry's upload token, its offset;
        the body is the raw bytes (``application/octet-stream``), written as they arrive."""
        headers = _headers(request)
        refused_response = self._refuse_cross_site(request)
        if refused_response is not None:
            return refused_response
        try:
            page = self._verify(request)
        except TokenError as exc:
            return self._refuse(request, exc)
        try:
            chunk = self._chunk(page, headers)
        except UploadRefused as exc:
            log.warning("fastapi-live: refused an upload chunk: %s", exc)
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        answer = await self.locator.upload(page.session_id, chunk, _upload_body(request))
        if answer.status == 200:
            return JSONResponse({"offset": answer.offset, "done": answer.done}, headers={"Cache-Control": "no-store"})
        return JSONResponse({"detail": answer.detail}, status_code=answer.status)

    def _chunk(self, page: PageToken, headers: dict[str, str]) -> Chunk:
        token = self.manager.upload_signer.verify(headers.get(UPLOAD_TOKEN_HEADER))
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

    async def _static_endpoint(self, request: Request) -> Response:
        relative = request.path_params["path"]
        if "\0" in relative:  # no file has one, and the OS refuses to look one up
            return JSONResponse({"detail": "not found"}, status_code=404)
        target = (self._static_dir / relative).resolve()
        if not target.is_relative_to(self._static_dir) or not target.is_file():
            return JSONResponse({"detail": "not found"}, status_code=404)
        return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})


async def _upload_body(request: Request) -> AsyncIterator[bytes]:
    """A chunk's bytes as they arrive; the client going away mid-chunk is an ``UploadRefused``."""
    try:
        async for piece in request.stream():
            yield piece
    except ClientDisconnect:
        raise UploadRefused(499, "the client went away mid-chunk") from None


__all__ = ["HALT", "LiveHook", "LiveRouter"]
