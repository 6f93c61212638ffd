"""``LiveTestClient``: one test browser (an httpx client with its cookie jar) driving an app in-process."""

from __future__ import annotations

from http.cookiejar import CookieJar
from typing import TYPE_CHECKING, Any, Self

from ..router import LiveRouter
from ..session import LiveSession
from ._asgi import StreamingASGITransport
from ._errors import LiveTestError
from ._httpx import httpx
from ._open_views import warn_pending

if TYPE_CHECKING:
    from types import TracebackType

    from ._view import LiveTestView


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


class LiveTestClient(httpx.AsyncClient):
    """A test browser for a FastAPI app: an ``httpx.AsyncClient`` whose requests the app serves in-process.

    Cookies, redirects (``follow_redirects=True``), bodies and responses are httpx's;
    responses stream as the app sends them, so ``client.stream(...)`` reads an event stream
    while it is open. Used as an async context manager it runs the app's lifespan, like a
    server; its live views are closed when it exits (with a warning for tasks still running).

    >>> async with LiveTestClient(app) as client:
    ...     await client.get("/login?user=alice")        # cookies are kept
    ...     view, html = await live(client, "/dashboard/acme")
    """

    def __init__(
        self,
        app: Any,
        *,
        base_url: str = "http://testserver",
        lifespan: bool = True,
        cookies: dict[str, str] | httpx.Cookies | CookieJar | None = None,
    ) -> None:
        origin = base_url.rstrip("/")
        self._asgi = StreamingASGITransport(app, origin)
        super().__init__(transport=self._asgi, base_url=origin, cookies=cookies)
        self.app = app
        self._origin = origin
        self._lifespan = lifespan
        self._started = False
        self._views: list[LiveTestView] = []

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        if self._lifespan and not self._started:
            await self._asgi.startup()
            self._started = True
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None = None, error: BaseException | None = None, traceback: TracebackType | None = None
    ) -> None:
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
        try:
            if self._started:
                self._started = False
                await self._asgi.shutdown()
        finally:
            await super().aclose()
        warn_pending(messages)

    def path_of(self, url: str) -> str:
        """``url`` relative to this client's host: absolute URLs to it become paths."""
        if url.startswith(self._origin):
            url = url[len(self._origin) :] or "/"
        elif "://" in url.split("?", 1)[0]:
            raise LiveTestError(
                f"cannot request {url!r}: the test client serves only its app\nExpected: a path, or a URL under {self._origin}\nGot: {url!r}"
            )
        return url if url.startswith("/") else "/" + url
