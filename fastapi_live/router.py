"""``LiveRouter``: page routes, the stream and event endpoints and the client assets.

The only module that knows URLs.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
import os
import secrets
import time
import typing
from collections.abc import AsyncIterator, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from fastapi.params import Depends as DependsParam
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from sse_starlette import EventSourceResponse
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from .cluster import Cluster, RedisDirectory
from .exceptions import ConfigurationError, EventError, LiveError, TokenError
from .lifecycle import HALT, callable_name, check_signal, maybe_await
from .pubsub import PubSub, create_pubsub
from .rendering import LiveExtension, PageTemplate, TemplateHelpers, push_element
from .session import Connection, LiveSession, SessionConfig, SessionManager
from .tokens import PageToken, TokenSigner
from .transport import EVENT_HEADER, REPLY_HEADER, TOKEN_HEADER, encode_message, parse_last_event_id
from .view import LiveSocket, LiveView

log = logging.getLogger("fastapi_live")
V = TypeVar("V")

BROWSER_COOKIE = "fastapi_live_browser"
MAX_EVENT_BODY = 1_000_000
MAX_EVENT_NAME = 200
MAX_PARAMS = 1_000
_REQUEST_PARAM = "live_request__"
_REMOUNT_KEY = "fastapi_live.remount"
_FAST_PATH_KEY = "fastapi_live.fast_path"  # set on requests the fast path serves, ahead of all middleware
_STREAM_HEADERS = {"Cache-Control": "no-store"}
_PACKAGE_DIR = Path(__file__).resolve().parent


def _asset_dir(name: str) -> Path:
    """``static/`` or ``templates/``: inside the installed package, or beside it in a checkout."""
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigurationError(f"fastapi-live's {name}/ directory is missing from the installation ({_PACKAGE_DIR})")


@dataclass(slots=True)
class _Remount:
    """The state of one remount: the token it serves and what the page route produced."""

    token: PageToken
    raw: str
    session: LiveSession | None = None
    redirect: str | None = None
    status: int | None = None
    error: str | None = None


class _LiveStreamResponse(EventSourceResponse):
    """sse-starlette's response, run lean: one task writes frames, one waits for the disconnect.

    The stock ``EventSourceResponse`` starts a task group with a ping task, a disconnect
    listener and a shutdown listener per connection. Here heartbeats come from one shared
    timer and shutdown from one process-wide watcher (``SessionManager.shutdown_event``), so a
    stream costs its request task plus one small disconnect watcher.
    """

    def __init__(self, connection: Connection, on_close: Callable[[], None]) -> None:
        super().__init__(connection.frames(), ping=0, headers=_STREAM_HEADERS)
        self._connection = connection
        self._on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        watcher = asyncio.get_running_loop().create_task(self._watch(receive))
        connection = self._connection
        if scope.get(_FAST_PATH_KEY):
            # Straight to the server, no middleware between: senders may write on their own
            # turn while this task is idle (see ``Connection``).
            connection.attach_writer(send)
        iterator = self.body_iterator
        try:
            async for chunk in iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            connection.attach_writer(None)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        finally:
            connection.attach_writer(None)
            watcher.cancel()
            await iterator.aclose()  # type: ignore[attr-defined]
            self._on_close()

    async def _watch(self, receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._connection.close()


def _headers(request: Request) -> dict[str, str]:
    """The request's headers as a plain dict (first value wins), built once per request."""
    scope = request.scope
    cached: dict[str, str] | None = scope.get("fastapi_live.headers")
    if cached is None:
        cached = {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])}
        scope["fastapi_live.headers"] = cached
    return cached


class _EventReply(Response):
    """An event's answer: its fragments, and the handler's reply for a JS hook, if any.

    Built with its raw headers at once: this is the hottest response of a live app.
    """

    def __init__(self, body: str, reply: Any = None) -> None:
        self.status_code = 200
        self.background = None
        self.body = body.encode()
        self.raw_headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if reply is not None:
            self.raw_headers.append((REPLY_HEADER.encode(), json.dumps(reply, default=str, ensure_ascii=True).encode()))


class _FastPath:
    """ASGI app in front of an app's middleware stack: live endpoints first, the rest as before."""

    def __init__(self, app: Any, router: LiveRouter) -> None:
        self.app = app
        self.router = router

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path, method, router = scope["path"], scope["method"], self.router
            if path == router.event_url and method == "POST":
                endpoint = router._event_endpoint
            elif path == router.stream_url and method == "GET":
                endpoint = router._stream_endpoint
            else:
                await self.app(scope, receive, send)
                return
            scope[_FAST_PATH_KEY] = True
            try:
                response = await endpoint(Request(scope, receive))
            except Exception:  # the app's error middleware is not in front of us: do its job
                log.exception("fastapi-live: %s %s failed", method, path)
                response = JSONResponse({"detail": "internal error"}, status_code=500)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


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
        **router_kwargs: Any,
    ) -> None:
        super().__init__(lifespan=self._lifespan, **router_kwargs)
        self.environment = self._environment(templates)
        if secret_key is None:
            secret_key = os.environ.get("FASTAPI_LIVE_SECRET")
        if not secret_key:
            secret_key = secrets.token_hex(32)
            log.warning(
                "fastapi-live: no secret_key given and FASTAPI_LIVE_SECRET is unset; using a random key, "
                "so page tokens will not survive a restart or work across processes"
            )
        self.signer = TokenSigner(secret_key, max_age=token_max_age)
        self.fast_path = fast_path
        self.on_mount = list(on_mount)
        self.pubsub = pubsub or create_pubsub(os.environ.get("REDIS_URL"))
        self.config = config or SessionConfig()
        base = self.prefix + live_prefix
        self.stream_url = base + "/stream"
        self.event_url = base + "/event"
        self.static_url = base + "/static"
        self.manager = SessionManager(self.config, self.pubsub, self.stream_url)
        self.cluster: Cluster | None = None
        client = getattr(self.pubsub, "client", None)
        if callable(client):  # a backend shared across processes: route to session owners
            self.cluster = Cluster(self.manager, RedisDirectory(client(), token_max_age))
            self.manager.on_forget = self.cluster.release
        self.helpers = TemplateHelpers(self.event_url, self.static_url, client_config)
        self.environment.globals.setdefault("live", self.helpers)
        self._pages: dict[str, PageTemplate] = {}
        self._static_dir = _asset_dir("static")
        self.add_route(self.stream_url, self._stream_endpoint, methods=["GET"], include_in_schema=False)
        self.add_route(self.event_url, self._event_endpoint, methods=["POST"], include_in_schema=False)
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
        package_loader = FileSystemLoader(str(_asset_dir("templates")))
        if environment.loader is None:
            environment.loader = package_loader
        elif not getattr(environment, "live_loader_added", False):
            environment.loader = ChoiceLoader([environment.loader, package_loader])
        environment.live_loader_added = True  # type: ignore[attr-defined]
        return environment

    @asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        if self.fast_path:
            self._install_fast_path(app)
        await self.pubsub.start()
        if self.cluster is not None:
            await self.cluster.start()
        try:
            yield
        finally:
            await self.manager.close_all()
            if self.cluster is not None:
                await self.cluster.stop()
            await self.pubsub.stop()

    def _install_fast_path(self, app: Any) -> None:
        """Serve the stream and event endpoints ahead of the app's middleware and routing.

        They authenticate by the signed page token and run no user dependencies, so the
        per-request machinery in front of them (middleware, route matching, dependency
        solving) is pure cost on the hottest paths. Pass ``fast_path=False`` to keep them
        behind the app's middleware, e.g. for request logging of every event.
        """
        stack = getattr(app, "middleware_stack", None)
        if stack is not None and not isinstance(stack, _FastPath):
            app.middleware_stack = _FastPath(stack, self)

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
            self.add_api_route(
                path,
                endpoint,
                methods=["GET"],
                response_class=HTMLResponse,
                name=name or view_cls.__name__,
                **route_kwargs,
            )
            return target

        return decorate

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
            return await router._serve_page(request, view_cls, template_name, hook_callables, mount, values)

        endpoint.__signature__ = inspect.Signature(list(parameters.values()))  # type: ignore[attr-defined]
        endpoint.__name__ = f"live_{view_cls.__name__}"
        return endpoint

    async def _serve_page(
        self,
        request: Request,
        view_cls: type[LiveView],
        template_name: str,
        hooks: list[_Callable],
        mount: _Callable,
        values: dict[str, Any],
    ) -> Response:
        page = self.page_template(template_name)
        remount: _Remount | None = request.scope.get(_REMOUNT_KEY)
        if remount is not None:
            # The page's session is gone: mount a fresh one under the same page id and token.
            browser_id, session_id, token = remount.token.browser_id, remount.token.session_id, remount.raw
            url = remount.token.url
        else:
            browser_id = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(18)
            session_id = secrets.token_urlsafe(18)
            url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            token = self.signer.sign(PageToken(session_id, view_cls.__name__, browser_id, url))
        session = LiveSession(
            self.manager,
            session_id=session_id,
            view=view_cls(),
            page=page,
            token=token,
            browser_id=browser_id,
            url=url,
            helpers=self.helpers,
        )
        socket = session.socket
        try:
            halted_by: _Callable | None = None
            for hook in hooks:
                if check_signal(await maybe_await(hook.fn(socket, **hook.kwargs(values))), f"on_mount hook {hook.name}"):
                    halted_by = hook
                    break
            if halted_by is None:
                started = time.perf_counter()
                await mount.fn(session.view, socket, **mount.kwargs(values))
                self._warn_if_slow(view_cls, (time.perf_counter() - started) * 1000.0)
            redirect = self._redirect_of(socket)
            if redirect is None and halted_by is not None:
                raise ConfigurationError(
                    f"on_mount hook {halted_by.name} halted without a redirect: call socket.redirect(url) before returning HALT"
                )
            if redirect is not None:
                await session.close()
                if remount is not None:
                    remount.redirect = redirect.headers["location"]
                return redirect
            html = "" if remount is not None else session.render_page()
        except Exception as exc:
            await session.close()
            if isinstance(exc, ConfigurationError):
                raise  # a setup mistake: let it surface as such
            log.error("%s: mounting %s failed", view_cls.__name__, url, exc_info=exc)
            if remount is not None:
                raise
            return self._error_page(url)
        except BaseException:
            await session.close()
            raise
        socket.mounted = True
        self.manager.add(session)
        session.open()
        if self.cluster is not None:
            await self.cluster.start()
            await self.cluster.claim(session)
        if remount is not None:
            remount.session = session
            return Response(status_code=204)
        response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
        if request.cookies.get(BROWSER_COOKIE) != browser_id:
            response.set_cookie(BROWSER_COOKIE, browser_id, httponly=True, samesite="lax", path="/")
        return response

    def _error_page(self, url: str) -> Response:
        """The page shown when a page's hooks or mount raised (``live/error.html``, overridable)."""
        html = self.environment.get_template("live/error.html").render(url=url)
        return HTMLResponse(html, status_code=500, headers={"Cache-Control": "no-store"})

    @staticmethod
    def _redirect_of(socket: LiveSocket) -> Response | None:
        for op in socket._client_ops:
            if op.kind in ("redirect", "navigate"):
                return RedirectResponse(op.name, status_code=303)
        return None

    def _warn_if_slow(self, view_cls: type[LiveView], elapsed_ms: float) -> None:
        threshold = self.config.mount_warning_ms
        if threshold is not None and elapsed_ms > threshold:
            log.warning(
                "%s.mount() took %.0f ms, blocking the first render (threshold %.0f ms). "
                "Load slow data with socket.assign_async(...) so the page shows at once with a loading state.",
                view_cls.__name__,
                elapsed_ms,
                threshold,
            )

    # -- stream and events ---------------------------------------------------------------------
    def _verify(self, request: Request) -> PageToken:
        raw = _headers(request).get(TOKEN_HEADER)
        browser_id = request.cookies.get(BROWSER_COOKIE)
        session = self.manager.by_token.get(raw) if raw else None
        if (
            session is not None
            and browser_id is not None
            and hmac.compare_digest(session.browser_id, browser_id)
            and time.monotonic() - session.created < self.signer.max_age
        ):
            # The exact token this process issued (or verified) for a session it holds, still
            # within its max age: its signature needs no second check.
            return session.page_token
        return self.signer.verify(raw, browser_id=browser_id)

    def _refuse(self, request: Request, exc: TokenError) -> Response:
        client = request.client.host if request.client else "?"
        log.warning("fastapi-live: refused %s %s from %s: %s", request.method, request.url.path, client, exc)
        return JSONResponse({"detail": str(exc), "reason": exc.reason}, status_code=403)

    async def _stream_endpoint(self, request: Request) -> Response:
        try:
            token = self._verify(request)
        except TokenError as exc:
            return self._refuse(request, exc)
        if request.method == "HEAD":  # headers only: a HEAD never opens, or takes over, a stream
            return EventSourceResponse(iter(()), ping=0, headers=_STREAM_HEADERS)
        last_event_id = parse_last_event_id(_headers(request).get("last-event-id"))
        session = self.manager.get(token.session_id)
        connection: Connection | None = None
        if session is not None:
            connection = session.attach(last_event_id)
        elif self.cluster is not None and (owner := await self.cluster.owner(token.session_id)) is not None:
            connection = await self.cluster.attach_remote(token.session_id, owner, last_event_id)
        if connection is None:
            remount = await self._remount(request, token)
            if remount.session is None:
                return self._remount_failed(remount)
            session = remount.session
            connection = session.attach_remount()
        stream = connection

        def on_close() -> None:
            if session is not None:
                session.detach(stream)
            elif self.cluster is not None:
                self.cluster.detach_remote(stream)

        # sse-starlette's process-wide signal: set when uvicorn starts a graceful shutdown.
        self.manager.watch_shutdown(EventSourceResponse._listen_for_exit_signal)
        return _LiveStreamResponse(stream, on_close)

    async def _remount(self, request: Request, token: PageToken) -> _Remount:
        """Mount a fresh session for a page whose session is gone, from the stream request.

        The page's request runs again through the app — middleware, on_mount hooks,
        dependencies and ``mount`` — with the page's original URL and the stream request's
        headers and cookies.
        """
        remount = _Remount(token, _headers(request).get(TOKEN_HEADER, ""))
        path, _, query = token.url.partition("?")
        scope = {
            **request.scope,
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            _REMOUNT_KEY: remount,
        }
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                remount.status = message["status"]

        # Through the whole app, as the page request went: its middleware and routing apply.
        app = request.scope.get("app")
        if app is None:
            remount.error = "the request carries no app to remount the page with"
            return remount
        try:
            await app(scope, receive, send)
        except Exception as exc:
            log.error("fastapi-live: remounting %s failed", token.url, exc_info=exc)
            remount.error = f"remounting the page failed ({type(exc).__name__})"
        if remount.session is None and remount.error is None and remount.redirect is None:
            remount.error = f"remounting the page answered {remount.status}"
        return remount

    @staticmethod
    def _remount_failed(remount: _Remount) -> Response:
        if remount.redirect is not None:
            # e.g. the user signed out meanwhile: the hooks halted with a redirect.
            async def redirect_frame() -> AsyncIterator[bytes]:
                yield encode_message(push_element("redirect", remount.redirect or "/", None), event_id="0")

            return EventSourceResponse(redirect_frame(), ping=0, headers=_STREAM_HEADERS)
        return JSONResponse({"detail": f"the live session is gone: {remount.error}; reload the page"}, status_code=410)

    @staticmethod
    def _cross_site(request: Request) -> str | None:
        """Why a request comes from another site, or None: Sec-Fetch-Site, then Origin vs Host."""
        headers = _headers(request)
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return f"Sec-Fetch-Site is {fetch_site!r}"
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            host = headers.get("host", "")
            if urlsplit(origin).netloc.lower() != host.lower():
                return f"Origin {origin!r} does not match Host {host!r}"
        elif origin == "null":
            return "Origin is 'null'"
        return None

    async def _event_endpoint(self, request: Request) -> Response:
        cross_site = self._cross_site(request)
        if cross_site is not None:
            log.warning("fastapi-live: refused a cross-site event from %s: %s", request.client.host if request.client else "?", cross_site)
            return JSONResponse({"detail": f"cross-site event refused: {cross_site}", "reason": "cross-site"}, status_code=403)
        try:
            token = self._verify(request)
        except TokenError as exc:
            return self._refuse(request, exc)
        name = _headers(request).get(EVENT_HEADER, "")
        if not name or len(name) > MAX_EVENT_NAME:
            detail = f"missing or invalid {EVENT_HEADER} header: expected an event name of 1 to {MAX_EVENT_NAME} characters"
            return JSONResponse({"detail": detail}, status_code=400)
        try:
            params = await self._read_params(request)
        except EventError as exc:
            log.warning("fastapi-live: malformed event %r: %s", name, exc)
            return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)
        session = self.manager.get(token.session_id)
        if session is None:
            return await self._forward_event(token, name, params)
        try:
            body, reply = await session.handle_event(name, params)
        except EventError as exc:
            return JSONResponse({"detail": str(exc), "errors": exc.errors}, status_code=exc.status_code)
        except LiveError as exc:
            if session.closed:
                return JSONResponse({"detail": "the live session is gone; reload the page"}, status_code=410)
            return JSONResponse({"detail": f"event {name!r} failed: {type(exc).__name__}"}, status_code=500)
        except Exception as exc:
            return JSONResponse({"detail": f"event {name!r} failed on the server ({type(exc).__name__}); see the server log"}, status_code=500)
        return _EventReply(body, reply)

    async def _forward_event(self, token: PageToken, name: str, params: dict[str, Any]) -> Response:
        gone = JSONResponse({"detail": "the live session is gone; its stream will remount it"}, status_code=410)
        if self.cluster is None or (owner := await self.cluster.owner(token.session_id)) is None:
            return gone
        answer = await self.cluster.forward_event(token.session_id, owner, name, params)
        if answer is None:
            return gone
        status = int(answer.get("status", 500))
        if status != 200:
            return JSONResponse({"detail": answer.get("detail"), "errors": answer.get("errors", [])}, status_code=status)
        return _EventReply(str(answer.get("body", "")), answer.get("reply"))

    @staticmethod
    async def _read_params(request: Request) -> dict[str, Any]:
        headers = _headers(request)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_EVENT_BODY):
            raise EventError(f"event body too large: at most {MAX_EVENT_BODY} bytes", status_code=413)
        if declared is not None:
            raw = await request.body()  # its size is known and within the cap
        else:
            raw = b""
            async for chunk in request.stream():
                raw += chunk
                if len(raw) > MAX_EVENT_BODY:
                    raise EventError(f"event body too large: at most {MAX_EVENT_BODY} bytes", status_code=413)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if not raw:
            return {}
        if content_type == "application/json":
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise EventError(f"malformed JSON event body: {exc}") from None
            if not isinstance(data, dict):
                raise EventError(f"event params must be a JSON object, got {type(data).__name__}")
            params: dict[str, Any] = data
        elif content_type in ("application/x-www-form-urlencoded", ""):
            try:
                pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_PARAMS)
            except (UnicodeDecodeError, ValueError) as exc:
                raise EventError(f"malformed form event body: {exc}") from None
            params = {}
            for key, value in pairs:
                if key in params:
                    existing = params[key]
                    params[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
                else:
                    params[key] = value
        else:
            raise EventError(
                f"unsupported event body type {content_type!r}\nExpected one of: application/x-www-form-urlencoded, application/json",
                status_code=415,
            )
        if len(params) > MAX_PARAMS:
            raise EventError(f"too many event params: at most {MAX_PARAMS}", status_code=413)
        return params

    async def _static_endpoint(self, request: Request) -> Response:
        relative = request.path_params["path"]
        target = (self._static_dir / relative).resolve()
        if not target.is_relative_to(self._static_dir) or not target.is_file():
            return JSONResponse({"detail": "not found"}, status_code=404)
        return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})


__all__ = ["HALT", "LiveHook", "LiveRouter"]
