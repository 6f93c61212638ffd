"""``LiveTestClient``: one test browser (a cookie jar) driving an app in-process."""

from __future__ import annotations

import json as jsonlib
import threading
import warnings
from collections.abc import Mapping, Sequence
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from ..router import LiveRouter
from ..session import LiveSession
from ._asgi import ASGIDriver, ClientResponse
from ._errors import LiveTestError, PendingTasksWarning

if TYPE_CHECKING:
    from types import TracebackType

    from ._view import LiveTestView

Headers = Mapping[str, str] | Sequence[tuple[str, str]]


class Closable(Protocol):
    """An open view the pytest plugin closes when a test ends."""

    def _close_blocking(self) -> list[str]: ...


_open: dict[int, Closable] = {}
_open_lock = threading.Lock()


def register_open(view: Closable) -> None:
    with _open_lock:
        _open[id(view)] = view


def unregister_open(view: Closable) -> None:
    with _open_lock:
        _open.pop(id(view), None)


def close_open_views() -> list[str]:
    """Close every view still open (from any client); returns the pending-task warnings."""
    with _open_lock:
        views = list(_open.values())
        _open.clear()
    messages: list[str] = []
    for view in views:
        messages.extend(view._close_blocking())
    return messages


def warn_pending(messages: Sequence[str], stacklevel: int = 3) -> None:
    for message in messages:
        warnings.warn(PendingTasksWarning(message), stacklevel=stacklevel)


def live_routers(app: Any) -> list[LiveRouter]:
    """Every ``LiveRouter`` an app serves: included, mounted or wrapped in middleware."""
    found: list[LiveRouter] = []
    seen: set[int] = set()

    def visit(node: Any, depth: int) -> None:
        if node is None or depth > 12 or id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, LiveRouter) and node not in found:
            found.append(node)
        routes = getattr(node, "routes", None)
        if isinstance(routes, list):
            for route in routes:
                # FastAPI keeps an included router whole (original_router) or copies its routes.
                visit(getattr(route, "original_router", None), depth + 1)
                owner = getattr(getattr(route, "endpoint", None), "__self__", None)
                if isinstance(owner, LiveRouter):
                    visit(owner, depth + 1)
                if type(route).__name__ == "Mount":
                    visit(getattr(route, "app", None), depth + 1)
        visit(getattr(node, "router", None), depth + 1)
        if not isinstance(routes, list):
            visit(getattr(node, "app", None), depth + 1)  # middleware wrapping an app

    visit(app, 0)
    return found


def find_session(app: Any, token: str) -> LiveSession | None:
    for router in live_routers(app):
        session = router.manager.by_token.get(token)
        if session is not None:
            return session
    return None


class LiveTestClient:
    """A test browser for a FastAPI app: one cookie jar, requests served in-process.

    Used as an async context manager it runs the app's lifespan, like a server; its
    live views are closed when it exits (with a warning for tasks still running).

    >>> async with LiveTestClient(app) as client:
    ...     await client.get("/login?user=alice")        # cookies are kept
    ...     view, html = await live(client, "/dashboard/acme")
    """

    def __init__(
        self, app: Any, *, base_url: str = "http://testserver", lifespan: bool = True, cookies: dict[str, str] | None = None
    ) -> None:
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.cookies: dict[str, str] = {} if cookies is None else cookies
        self._driver = ASGIDriver(app, self.base_url)
        self._lifespan = lifespan
        self._started = False
        self._views: list[LiveTestView] = []

    async def __aenter__(self) -> LiveTestClient:
        if self._lifespan and not self._started:
            await self._driver.startup()
            self._started = True
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        await self.aclose()

    async def close_views(self) -> list[str]:
        """Close this client's open views; returns the pending-task warnings, not yet emitted.

        >>> messages = await client.close_views()
        """
        messages: list[str] = []
        for view in list(self._views):
            messages.extend(await view._shutdown_messages())
        self._views.clear()
        return messages

    async def aclose(self) -> None:
        """Close the views, run the lifespan shutdown, then warn about cancelled tasks.

        >>> await client.aclose()  # what leaving ``async with LiveTestClient(app)`` does
        """
        messages = await self.close_views()
        if self._started:
            self._started = False
            await self._driver.shutdown()
        warn_pending(messages)

    # -- plain HTTP ------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Headers | None = None,
        data: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> ClientResponse:
        """Send a request with this client's cookies and keep the cookies it sets.

        >>> await client.request("POST", "/api/notifications", json={"user": "alice", "message": "hi"})
        """
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        body = b""
        if content is not None:
            body = content
        elif json is not None:
            body = jsonlib.dumps(json, default=str).encode()
            pairs.append(("content-type", "application/json"))
        elif data is not None:
            body = urlencode(list(data.items()) if isinstance(data, Mapping) else list(data), doseq=True).encode()
            pairs.append(("content-type", "application/x-www-form-urlencoded"))
        if body and not any(name.lower() == "content-length" for name, _ in pairs):
            pairs.append(("content-length", str(len(body))))
        cookie = self.cookie_header()
        if cookie:
            pairs.append(("cookie", cookie))
        response = await self._driver.request(method, self.path_of(url), pairs, body)
        self.store_cookies(response.header_list("set-cookie"))
        return response

    async def get(self, url: str, *, headers: Headers | None = None) -> ClientResponse:
        """``GET url``: e.g. a login route that sets a session cookie.

        >>> await client.get("/login?user=alice")
        """
        return await self.request("GET", url, headers=headers)

    async def post(
        self, url: str, *, data: Mapping[str, Any] | None = None, json: Any = None, headers: Headers | None = None
    ) -> ClientResponse:
        """``POST url`` with a form (``data=``) or a JSON body (``json=``).

        >>> await client.post("/api/notifications", json={"user": "alice", "message": "hi"})
        """
        return await self.request("POST", url, headers=headers, data=data, json=json)

    # -- cookies ------------------------------------------------------------------------------------
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def store_cookies(self, headers: Sequence[str]) -> None:
        for header in headers:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            for name, morsel in jar.items():
                max_age = morsel["max-age"]
                if max_age and max_age.lstrip("-").isdigit() and int(max_age) <= 0:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def path_of(self, url: str) -> str:
        """``url`` relative to this client's host: absolute URLs to it become paths."""
        if url.startswith(self.base_url):
            url = url[len(self.base_url) :] or "/"
        elif "://" in url.split("?", 1)[0]:
            raise LiveTestError(
                f"cannot request {url!r}: the test client serves only its app\nExpected: a path, or a URL under {self.base_url}\nGot: {url!r}"
            )
        return url if url.startswith("/") else "/" + url
