"""``LiveRouter``: maps HTTP to live sessions and back — the page routes, and the URLs of the
stream, event, upload and asset endpoints (``endpoints.py``), which it registers.

Mounting is the session's (``LiveSession.mount``), request parsing the transport's, and where a
session lives the locator's (``locator``, ``cluster``).
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import re
import secrets
import signal
import time
import typing
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, TemplateNotFound, TemplateSyntaxError
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .cluster import ClusterLocator, RedisDirectory
from .collector import freeze_startup_objects, widen_young_generation
from .config import SessionConfig
from .endpoints import BROWSER_COOKIE, REMOUNT_KEY, LiveEndpoints, install_fast_path, request_headers
from .exceptions import ConfigurationError, EventError, TokenError
from .flash import FlashCarrier
from .helpers import TemplateHelpers
from .identity import DISCONNECT, identity_topic
from .lifecycle import HALT, OnMountCall, callable_name
from .locator import LocalLocator, SessionLocator
from .logs import oneline
from .manager import SessionManager
from .multiplex import Multiplexer
from .navigation import PageRoute, params_binding
from .patches import Patcher, root_open
from .presence import Presence, RedisPresenceStore
from .pubsub import PubSub, create_pubsub
from .pubsub.redis import RedisPubSub
from .rendering import LiveExtension, PageTemplate
from .session import LiveSession, Redirected
from .telemetry import telemetry
from .tokens import PageToken, TokenSigner
from .transport import normal_origin
from .types import Scope
from .uploads import UploadSigner
from .view import LiveSocket, LiveView
from .wire import (
    FLASH_COOKIE,
    LEAVE_EVENT,
    NAVIGATE_HEADER,
    TOKEN_HEADER,
)

log = logging.getLogger("fastapi_live")
V = TypeVar("V")

SECRET_ENV = "FASTAPI_LIVE_SECRET"
_REQUEST_PARAM = "live_request__"
_PACKAGE_DIR = Path(__file__).resolve().parent


def _asset_dir(name: str) -> Path:
    """``static/`` or ``templates/``: inside the installed package, or beside it in a checkout."""
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigurationError(f"fastapi-live's {name}/ directory is missing from the installation ({_PACKAGE_DIR})")


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
        self.environment = _environment(templates)
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
        self._resolve = self.resolve  # one bound method for every session's navigator, not one each
        self.helpers = TemplateHelpers(self.event_url, self.static_url, client_config, upload_url=self.upload_url, resolve=self._resolve)
        self.environment.globals.setdefault("live", self.helpers)
        self._pages: dict[str, PageTemplate] = {}
        self._registered: list[tuple[str, str, str]] = []  # (path, view, template) of each page, checked at startup
        self._page_routes: list[tuple[APIRoute, type[LiveView]]] = []  # what a live navigation or patch can reach
        self.endpoints = LiveEndpoints(self, _asset_dir("static"))
        self._endpoint_routes = self._add_endpoint_routes(self.endpoints)

    # -- setup -------------------------------------------------------------------------------
    @asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        self.check_secret()
        self.check_templates()
        for _, view_cls in self._page_routes:
            params_binding(view_cls)  # a handle_params the URL cannot bind to fails the startup
        if self.fast_path:  # the stream and event endpoints ahead of the app's middleware and routing
            install_fast_path(app, self.endpoints, self.fast_path_middleware)
        await self.pubsub.start()
        await self.presence.start()
        await self.locator.start()
        await self.multiplex.start()
        if self.config.freeze_gc_at_startup:
            freeze_startup_objects()
        if self.config.gc_young_threshold is not None:
            widen_young_generation(self.config.gc_young_threshold)
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

    def page_template(self, name: str) -> PageTemplate:
        page = self._pages.get(name)
        # What ``get_template`` checks of a cached template, without its cache lookup: here of
        # every template the page extends through, too (their regions may have changed).
        if page is None or (self.environment.auto_reload and not page.is_up_to_date):
            page = self._pages[name] = PageTemplate(self.environment, name)
        return page

    # -- page routes -------------------------------------------------------------------------
    def page(
        self, path: str, *, template: str | None = None, on_mount: Sequence[OnMount] = (), name: str | None = None, **route_kwargs: Any
    ) -> Callable[[V], V]:
        """Register a live page: decorate a ``LiveView`` class, or an async ``mount(socket, ...)`` function."""

        def decorate(target: V) -> V:
            view_cls = _view_class(target)
            template_name = template or view_cls.template
            if not template_name:
                raise ConfigurationError(f"live page {path!r} ({view_cls.__name__}) needs a template: @live.page({path!r}, template='...')")
            endpoint = _page_endpoint(self, path, view_cls, template_name, [*self.on_mount, *on_mount])
            self.add_api_route(path, endpoint, methods=["GET"], response_class=HTMLResponse, name=name or view_cls.__name__, **route_kwargs)
            route = self.routes[-1]
            if isinstance(route, APIRoute):
                self._page_routes.append((route, view_cls))
                self._ahead_of_endpoints(route)
            self._registered.append((path, view_cls.__name__, template_name))
            return target

        return decorate

    def _add_endpoint_routes(self, endpoints: LiveEndpoints) -> dict[int, str]:
        """The live endpoints' routes (the fast path serves them first); their ids and paths."""
        self.add_route(self.stream_url, endpoints.stream, methods=["GET"], include_in_schema=False)
        self.add_route(self.stream_url, endpoints.attach_pages, methods=["POST"], include_in_schema=False)
        self.add_route(self.event_url, endpoints.event, methods=["POST"], include_in_schema=False)
        self.add_route(self.upload_url, endpoints.upload, methods=["POST"], include_in_schema=False)
        self.add_route(self.static_url + "/{path:path}", endpoints.static, methods=["GET"], include_in_schema=False)
        return {id(route): getattr(route, "path", "") for route in self.routes[-5:]}  # by id: routes are unhashable

    def _ahead_of_endpoints(self, route: APIRoute) -> None:
        """Move the page just added ahead of the live endpoints' routes if it cannot take their URLs:
        its request then skips matching them (twice, in FastAPI). It never passes a route of the
        app's own, so routes still match in the order they were added."""
        endpoints, at = self._endpoint_routes, len(self.routes) - 1
        while at > 0 and id(self.routes[at - 1]) in endpoints and _disjoint(route.path, endpoints[id(self.routes[at - 1])]):
            at -= 1
        if at < len(self.routes) - 1:
            self.routes.insert(at, self.routes.pop())

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

    async def _serve_page(
        self, request: Request, view_cls: type[LiveView], template_name: str, hooks: list[OnMountCall], mount_kwargs: dict[str, Any]
    ) -> Response:
        remount: PageToken | None = request.scope.get(REMOUNT_KEY)
        url = _page_url(request.scope)
        carried: dict[str, str] | None = None
        if remount is not None:  # the page's session is gone: a fresh one under the same page id and token
            if remount.view != view_cls.__name__:
                return Response(status_code=409)  # the URL leads to another view than the token's page
            token = PageToken(remount.session_id, remount.view, remount.browser_id, url, remount.issued_at)
            raw = request_headers(request).get(TOKEN_HEADER, "")
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
        raw = request_headers(request).get(NAVIGATE_HEADER)
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
            resolve=self._resolve,
            flash_carrier=self.flash_carrier,
            token_issued_at=token.issued_at,
        )

    def _error_page(self, url: str) -> Response:
        """The page shown when a page's hooks or mount raised (``live/error.html``, overridable)."""
        html = self.environment.get_template("live/error.html").render(url=url)
        return HTMLResponse(html, status_code=500, headers={"Cache-Control": "no-store"})


def _environment(templates: Any) -> Environment:
    """The templates' Jinja2 environment, with the live tags and the package's own templates."""
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


def _disjoint(page_path: str, endpoint_path: str) -> bool:
    """Whether no URL matches both route paths: at some segment both are different literals.

    A ``{name}`` parameter takes one segment; a ``{name:path}`` any number, after which nothing
    can be told apart (then they are not known to be disjoint).
    """
    page, endpoint = page_path.strip("/").split("/"), endpoint_path.strip("/").split("/")
    for mine, theirs in zip(page, endpoint, strict=False):
        if ":path}" in mine or ":path}" in theirs:
            return False
        if "{" not in mine and "{" not in theirs and mine != theirs:
            return True
    return len(page) != len(endpoint) and not any(":path}" in part for part in (*page, *endpoint))


def _view_class(target: Any) -> type[LiveView]:
    """The ``LiveView`` class ``@live.page`` registers: the target, or one whose ``mount`` is the target."""
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


def _page_endpoint(router: LiveRouter, path: str, view_cls: type[LiveView], template_name: str, hooks: list[OnMount]) -> Callable[..., Any]:
    """A page's FastAPI endpoint: its parameters are those of its hooks and ``mount``, which FastAPI
    resolves (path and query parameters, dependencies) before the page is served."""
    path_params = {part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{") and part.endswith("}")}
    mount = _Callable(view_cls.mount, "", 2, path_params)
    hook_callables = [_Callable(_hook_callable(h), f"hook{i}__", 1, path_params) for i, h in enumerate(hooks)]
    parameters: dict[str, inspect.Parameter] = {
        _REQUEST_PARAM: inspect.Parameter(_REQUEST_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=Request)
    }
    for item in (*hook_callables, mount):
        for parameter in item.parameters:
            parameters.setdefault(parameter.name, parameter)

    async def endpoint(**values: Any) -> Response:
        request: Request = values[_REQUEST_PARAM]
        calls: list[OnMountCall] = [(hook.name, functools.partial(hook.fn, **hook.kwargs(values))) for hook in hook_callables]
        return await router._serve_page(request, view_cls, template_name, calls, mount.kwargs(values))

    endpoint.__signature__ = inspect.Signature(list(parameters.values()))  # type: ignore[attr-defined]
    endpoint.__name__ = f"live_{view_cls.__name__}"
    return endpoint


__all__ = ["HALT", "LiveHook", "LiveRouter"]
