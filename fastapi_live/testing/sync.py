"""The testing verbs for sync tests: the same names as ``fastapi_live.testing``, blocking.

The app, its sessions and their tasks run in an event loop on a background thread (an
anyio blocking portal, as Starlette's ``TestClient`` does); each call waits for it.

>>> from fastapi_live.testing.sync import SyncLiveTestClient, live, render_click
>>> def test_counter(app):
...     with SyncLiveTestClient(app) as client:
...         view, html = live(client, "/counter")
...         assert "Count: 1" in render_click(view, "#inc")
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from http.cookiejar import CookieJar
from types import TracebackType
from typing import Any, TypeVar, overload

from anyio.from_thread import BlockingPortal, start_blocking_portal

from ..components import LiveComponent
from ..router import OnMount
from ..socket import Assigns
from . import _uploads, _verbs
from ._client import LiveTestClient
from ._errors import LiveRedirect, LiveTestError, PendingTasksWarning
from ._httpx import httpx
from ._open_views import register_open, unregister_open, warn_pending
from ._uploads import Upload
from ._verbs import ASSERT_TIMEOUT, DEFAULT_TIMEOUT, Values
from ._view import Element, FormElement, LiveTestView

T = TypeVar("T")
_MISSING = _verbs._MISSING  # "no payload given": the async verbs' own marker, passed straight on


class SyncLiveTestClient:
    """A test browser for sync tests: ``LiveTestClient`` with its loop on a background thread.

    Use it as a context manager: entering starts the loop and the app's lifespan, leaving
    closes the views (warning about tasks still running) and stops both.

    >>> with SyncLiveTestClient(app) as client:
    ...     client.get("/login?user=alice")
    ...     view, html = live(client, "/dashboard/acme")
    """

    def __init__(
        self,
        app: Any,
        *,
        base_url: str = "http://testserver",
        lifespan: bool = True,
        cookies: dict[str, str] | httpx.Cookies | CookieJar | None = None,
    ) -> None:
        self.app = app
        self._base_url = base_url
        self._lifespan = lifespan
        self._cookies = cookies
        self._portal_context: AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._client: LiveTestClient | None = None

    def __enter__(self) -> SyncLiveTestClient:
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        """Start the loop thread and the lifespan (``with`` does it): ``client.open()``."""
        if self._portal is not None:
            return
        self._portal_context = start_blocking_portal("asyncio")
        self._portal = self._portal_context.__enter__()
        try:
            self._client = self._portal.call(self._start)
        except BaseException:
            self._stop_portal()
            raise

    async def _start(self) -> LiveTestClient:
        client = LiveTestClient(self.app, base_url=self._base_url, lifespan=self._lifespan, cookies=self._cookies)
        await client.__aenter__()
        return client

    def close(self) -> None:
        """Close the views and the lifespan, stop the loop, then warn about cancelled tasks.

        >>> client.close()  # what leaving ``with SyncLiveTestClient(app)`` does
        """
        if self._portal is None or self._client is None:
            return
        client = self._client
        try:
            messages = self._portal.call(client.close_views)
            self._portal.call(client.aclose)
        finally:
            self._stop_portal()
        warn_pending(messages)

    def _stop_portal(self) -> None:
        context, self._portal_context, self._portal, self._client = self._portal_context, None, None, None
        if context is not None:
            context.__exit__(None, None, None)

    @property
    def is_open(self) -> bool:
        """Whether the loop runs: ``assert client.is_open``."""
        return self._portal is not None

    @property
    def client(self) -> LiveTestClient:
        """The async client underneath (it lives on the portal's loop)."""
        if self._client is None:
            raise LiveTestError("the SyncLiveTestClient is not open\nExpected: with SyncLiveTestClient(app) as client: ...\nGot: a closed client")
        return self._client

    @overload
    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T: ...
    @overload
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` (sync or async) on the client's loop and wait for its result.

        >>> client.call(router.publish, "notifications:alice", NewNotification(1, "hi"))
        """
        if self._portal is None:
            raise LiveTestError("the SyncLiveTestClient is not open\nExpected: with SyncLiveTestClient(app) as client: ...\nGot: a closed client")
        return self._portal.call(functools.partial(fn, *args, **kwargs))

    @property
    def cookies(self) -> httpx.Cookies:
        """The cookie jar (httpx's): ``client.cookies["user"]``."""
        return self.client.cookies

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request with this client's cookies; takes what ``httpx.AsyncClient.request`` takes.

        >>> client.request("GET", "/login?user=alice", follow_redirects=True)
        """
        response: httpx.Response = self.call(self.client.request, method, url, **kwargs)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """``GET url``: ``client.get("/login?user=alice")``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """``POST url``: ``client.post("/api/notifications", json={...})``."""
        return self.request("POST", url, **kwargs)


class SyncLiveTestView:
    """A ``LiveTestView`` for sync tests; pass it to the verbs of ``fastapi_live.testing.sync``.

    >>> view, html = live(client, "/counter")
    >>> html = render_click(view, "#inc")
    """

    def __init__(self, view: LiveTestView, client: SyncLiveTestClient, owns_client: bool) -> None:
        self.view = view
        self.client = client
        self._owns_client = owns_client
        if owns_client:
            # The plugin must stop this view's own loop too, so it tracks the wrapper.
            unregister_open(view)
            register_open(self)

    def __repr__(self) -> str:
        return f"<SyncLiveTestView {self.view.view_name} {self.url}{' closed' if self.closed else ''}>"

    @property
    def url(self) -> str:
        return self.view.url

    @property
    def view_name(self) -> str:
        return self.view.view_name

    @property
    def assigns(self) -> Assigns:
        assigns: Assigns = self.client.call(lambda: self.view.assigns)
        return assigns

    @property
    def flash(self) -> dict[str, str]:
        """The flash messages the page shows in ``#flash``, by kind."""
        flash: dict[str, str] = self.client.call(lambda: self.view.flash)
        return flash

    @property
    def closed(self) -> bool:
        return self.view.closed

    @overload
    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T: ...
    @overload
    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.client.call(fn, *args, **kwargs)

    def close(self) -> None:
        """Close the view like closing its tab; warns when async tasks were still running.

        >>> view.close()
        """
        warn_pending(self._close_blocking())

    def _close_blocking(self) -> list[str]:
        unregister_open(self)
        messages: list[str] = []
        if self.client.is_open:
            messages = self.client.call(self.view._shutdown_messages)
        if self._owns_client:
            self._owns_client = False
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PendingTasksWarning)  # already reported in `messages`
                self.client.close()
        return messages


class SyncElement:
    """An ``Element`` of a sync view, from ``element(view, selector, text=None)``; read it the same way.

    >>> button = element(view, "button", text="Dismiss")
    >>> button.text(), button.attributes.get("disabled")
    ('Dismiss', None)
    >>> html = render_click(button)
    """

    def __init__(self, view: SyncLiveTestView, element: Element) -> None:
        self.view = view
        self.element = element

    def __repr__(self) -> str:
        return repr(self.element)

    def text(self, *, raw: bool = False) -> str:
        """``Element.text``: the element's text, whitespace collapsed (``raw=True``: untouched).

        >>> element(view, "#count").text()
        'Count: 3'
        """
        text: str = self.view.call(self.element.text, raw=raw)
        return text

    def html(self) -> str:
        """``Element.html``: the element's HTML, itself included.

        >>> element(view, "#count").html()
        '<p id="count">Count: 3</p>'
        """
        html: str = self.view.call(self.element.html)
        return html

    def inner_html(self) -> str:
        """``Element.inner_html``: the HTML inside the element.

        >>> element(view, "#count").inner_html()
        'Count: 3'
        """
        html: str = self.view.call(self.element.inner_html)
        return html

    @property
    def attributes(self) -> dict[str, str]:
        """``Element.attributes``: the element's attributes now.

        >>> element(view, "#save").attributes["type"]
        'submit'
        """
        attributes: dict[str, str] = self.view.call(lambda: self.element.attributes)
        return attributes


class SyncFormElement(SyncElement):
    """A ``FormElement`` of a sync view, from ``form(view, selector, values)``.

    >>> settings = form(view, "#settings-form", {"email": "nope"})
    >>> render_change(settings)
    >>> settings.errors
    {'email': 'Enter a valid email address'}
    """

    element: FormElement

    def __init__(self, view: SyncLiveTestView, element: FormElement) -> None:
        super().__init__(view, element)

    @property
    def values(self) -> dict[str, str | list[str]]:
        """``FormElement.values``: what the form holds now."""
        values: dict[str, str | list[str]] = self.view.call(lambda: self.element.values)
        return values

    @property
    def errors(self) -> dict[str, str]:
        """``FormElement.errors``: each field's error as shown."""
        errors: dict[str, str] = self.view.call(lambda: self.element.errors)
        return errors

    @property
    def touched(self) -> frozenset[str]:
        """``FormElement.touched``: the fields touched."""
        touched: frozenset[str] = self.view.call(lambda: self.element.touched)
        return touched


def _open_client(app_or_client: Any, verb: str) -> tuple[SyncLiveTestClient, bool]:
    if isinstance(app_or_client, SyncLiveTestClient):
        app_or_client.open()
        return app_or_client, False
    if isinstance(app_or_client, (LiveTestClient, LiveTestView, SyncLiveTestView)) or not callable(app_or_client):
        raise LiveTestError(
            f"{verb}() needs the app to open the page in\n"
            f"Expected: an ASGI app or a SyncLiveTestClient (fastapi_live.testing.sync)\nGot: {app_or_client!r}"
        )
    client = SyncLiveTestClient(app_or_client, lifespan=False)
    client.open()
    return client, True


def _wrap(client: SyncLiveTestClient, owned: bool, opened: Callable[[], Any]) -> tuple[SyncLiveTestView, str]:
    try:
        view, html = client.call(opened)
    except LiveRedirect as redirect:
        if owned:
            client.close()
        raise LiveRedirect(str(redirect), to=redirect.to, client=client) from None
    except BaseException:
        if owned:
            client.close()
        raise
    return SyncLiveTestView(view, client, owned), html


def live(app_or_client: Any, path: str, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[SyncLiveTestView, str]:
    """``fastapi_live.testing.live``, blocking.

    >>> view, html = live(client, "/dashboard/acme")
    """
    client, owned = _open_client(app_or_client, "live")
    return _wrap(client, owned, lambda: _verbs.live(client.client, path, timeout=timeout))


def live_isolated(
    app_or_client: Any,
    view: Any,
    *,
    template: str | None = None,
    params: Mapping[str, Any] | None = None,
    on_mount: Sequence[OnMount] = (),
    templates: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[SyncLiveTestView, str]:
    """``fastapi_live.testing.live_isolated``, blocking.

    >>> view, html = live_isolated(app, Counter, template="counter.html")
    """
    client, owned = _open_client(app_or_client, "live_isolated")
    return _wrap(
        client,
        owned,
        lambda: _verbs.live_isolated(client.client, view, template=template, params=params, on_mount=on_mount, templates=templates, timeout=timeout),
    )


def _unwrap(target: SyncLiveTestView | SyncElement) -> tuple[SyncLiveTestView, LiveTestView | Element]:
    if isinstance(target, SyncElement):
        return target.view, target.element
    if isinstance(target, SyncLiveTestView):
        return target, target.view
    raise LiveTestError(f"not a view of a sync test\nExpected: a view or an element from fastapi_live.testing.sync\nGot: {target!r}")


def render(target: SyncLiveTestView | SyncElement) -> str:
    """``fastapi_live.testing.render``: the HTML the browser shows now.

    >>> assert "Count: 3" in render(view)
    """
    view, inner = _unwrap(target)
    return view.call(_verbs.render, inner)


def render_async(view: SyncLiveTestView, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_async``: wait for the view's async tasks, return the HTML.

    >>> assert "Acme Corp" in render_async(view)
    """
    return view.call(_verbs.render_async, view.view, timeout)


def element(view: SyncLiveTestView, selector: str, text: str | re.Pattern[str] | None = None) -> SyncElement:
    """``fastapi_live.testing.element``: the one element matching ``selector`` (and ``text``).

    >>> render_click(element(view, "button", text="Dismiss"))
    """
    return SyncElement(view, view.call(_verbs.element, view.view, selector, text))


def form(view: SyncLiveTestView, selector: str, values: Values | None = None) -> SyncFormElement:
    """``fastapi_live.testing.form``: the one form matching ``selector``, with values to type into it.

    >>> render_submit(form(view, "#settings-form", {"name": "Ada", "email": "ada@example.com"}))
    """
    return SyncFormElement(view, view.call(_verbs.form, view.view, selector, values))


def has_element(target: SyncLiveTestView | SyncElement, selector: str | None = None, text: str | re.Pattern[str] | None = None) -> bool:
    """``fastapi_live.testing.has_element``.

    >>> assert has_element(view, "#post-1")
    """
    view, inner = _unwrap(target)
    return view.call(_verbs.has_element, inner, selector, text)


def _event(verb: Callable[..., Any], target: SyncLiveTestView | SyncElement, second: Any, values: Values | None, timeout: float) -> str:
    view, inner = _unwrap(target)
    if isinstance(inner, Element):
        return view.call(verb, inner, second if second is not None else values, timeout=timeout)  # type: ignore[no-any-return]
    return view.call(verb, inner, second, values, timeout=timeout)  # type: ignore[no-any-return]


@overload
def render_click(target: SyncElement, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
def render_click(target: SyncLiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
def render_click(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_click``, blocking.

    >>> html = render_click(view, "#inc")
    """
    return _event(_verbs.render_click, target, second, values, timeout)


@overload
def render_change(target: SyncElement, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
def render_change(target: SyncLiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
def render_change(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_change``, blocking.

    >>> html = render_change(view, "#settings", {"email": "ada@example.com"})
    """
    return _event(_verbs.render_change, target, second, values, timeout)


@overload
def render_submit(target: SyncElement, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
def render_submit(target: SyncLiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
def render_submit(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_submit``, blocking.

    >>> html = render_submit(view, "#settings")
    """
    return _event(_verbs.render_submit, target, second, values, timeout)


@overload
def render_keydown(target: SyncElement, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
def render_keydown(target: SyncLiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
def render_keydown(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_keydown``, blocking.

    >>> html = render_keydown(view, "#search", {"key": "Enter"})
    """
    return _event(_verbs.render_keydown, target, second, values, timeout)


@overload
def render_keyup(target: SyncElement, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
def render_keyup(target: SyncLiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
def render_keyup(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_keyup``, blocking.

    >>> html = render_keyup(view, "#search", {"key": "a"})
    """
    return _event(_verbs.render_keyup, target, second, values, timeout)


@overload
def render_blur(target: SyncElement, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
def render_blur(target: SyncLiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
def render_blur(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_blur``, blocking.

    >>> html = render_blur(view, "#name")
    """
    return _event(_verbs.render_blur, target, second, values, timeout)


@overload
def render_focus(target: SyncElement, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
@overload
def render_focus(target: SyncLiveTestView, selector_or_event: str, values: Values | None = None, /, *, timeout: float = ...) -> str: ...
def render_focus(target: Any, second: Any = None, values: Values | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_focus``, blocking.

    >>> html = render_focus(view, "#name")
    """
    return _event(_verbs.render_focus, target, second, values, timeout)


def render_hook(target: SyncLiveTestView | SyncElement, event: str, values: Values | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_hook``, blocking.

    >>> html = render_hook(element(view, "#chart"), "chart-ready", {"width": 640})
    """
    view, inner = _unwrap(target)
    return view.call(_verbs.render_hook, inner, event, values, timeout=timeout)


class SyncUpload:
    """``file_input``'s files for the sync verbs (``render_upload``, ``preflight_upload``)."""

    def __init__(self, upload: Upload, view: SyncLiveTestView) -> None:
        self.upload = upload
        self.view = view

    def __repr__(self) -> str:
        return repr(self.upload)


def file_input(view: SyncLiveTestView, form_selector: str, name: str, files: Sequence[Mapping[str, Any]]) -> SyncUpload:
    """``fastapi_live.testing.file_input``.

    >>> upload = file_input(view, "#upload-form", "photos", [{"name": "cat.png", "content": PNG}])
    """
    return SyncUpload(view.call(lambda: _uploads.file_input(view.view, form_selector, name, files)), view)


def preflight_upload(upload: SyncUpload, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.preflight_upload``, blocking.

    >>> assert "Too large" in preflight_upload(upload)
    """
    html: str = upload.view.call(_uploads.preflight_upload, upload.upload, timeout=timeout)
    return html


def render_upload(upload: SyncUpload, name: str, percent: int = 100, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_upload``, blocking.

    >>> html = render_upload(upload, "cat.png", 50)
    """
    html: str = upload.view.call(_uploads.render_upload, upload.upload, name, percent, timeout=timeout)
    return html


def send_info(view: SyncLiveTestView, message: Any, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.send_info``, blocking.

    >>> html = send_info(view, ("set", 41))
    """
    html: str = view.call(_verbs.send_info, view.view, message, timeout=timeout)
    return html


def component_assigns(view: SyncLiveTestView, component: type[LiveComponent], id: Any) -> Assigns:
    """``fastapi_live.testing.component_assigns``.

    >>> assert component_assigns(view, TodoItem, 3).editing is True
    """
    assigns: Assigns = view.call(_verbs.component_assigns, view.view, component, id)
    return assigns


def send_update(view: SyncLiveTestView, component: type[LiveComponent], id: Any, /, *, timeout: float = DEFAULT_TIMEOUT, **assigns: Any) -> str:
    """``fastapi_live.testing.send_update``, blocking.

    >>> html = send_update(view, TodoItem, 3, todo=Todo(id=3, title="Renamed"))
    """
    html: str = view.call(_verbs.send_update, view.view, component, id, timeout=timeout, **assigns)
    return html


def assert_push_event(view: SyncLiveTestView, event: str, payload: Any = _MISSING, *, timeout: float = ASSERT_TIMEOUT) -> Any:
    """``fastapi_live.testing.assert_push_event``, blocking.

    >>> assert_push_event(view, "saved", {"name": "Ada"})
    """
    return view.call(_verbs.assert_push_event, view.view, event, payload, timeout=timeout)


def assert_reply(view: SyncLiveTestView, payload: Any = _MISSING) -> Any:
    """``fastapi_live.testing.assert_reply``.

    >>> assert_reply(view, {"points": 3})
    """
    return view.call(_verbs.assert_reply, view.view, payload)


def render_patch(view: SyncLiveTestView, url: str, *, replace: bool = False, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``fastapi_live.testing.render_patch``, blocking.

    >>> html = render_patch(view, "?tab=settings")
    """
    return view.call(_verbs.render_patch, view.view, url, replace=replace, timeout=timeout)


def assert_patch(view: SyncLiveTestView, to: str | None = None, *, timeout: float = ASSERT_TIMEOUT) -> str:
    """``fastapi_live.testing.assert_patch``, blocking.

    >>> assert_patch(view, "/posts?page=2")
    """
    return view.call(_verbs.assert_patch, view.view, to, timeout=timeout)


def assert_redirect(view: SyncLiveTestView, to: str | None = None, *, timeout: float = ASSERT_TIMEOUT) -> str:
    """``fastapi_live.testing.assert_redirect``, blocking.

    >>> assert_redirect(view, "/dashboard/acme")
    """
    return view.call(_verbs.assert_redirect, view.view, to, timeout=timeout)


def follow_redirect(redirect: SyncLiveTestView | LiveRedirect, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[SyncLiveTestView, str]:
    """``fastapi_live.testing.follow_redirect``, blocking.

    >>> view, html = follow_redirect(view)
    """
    if isinstance(redirect, LiveRedirect):
        client = redirect.client
        if isinstance(client, SyncLiveTestClient) and client.is_open:
            return _wrap(client, False, lambda: _verbs.follow_redirect(LiveRedirect(str(redirect), to=redirect.to, client=client.client), timeout=timeout))
        app = client.app if isinstance(client, SyncLiveTestClient) else None
        if app is None:
            raise LiveTestError(f"cannot follow {redirect!r}: it does not know the app\nExpected: a LiveRedirect raised by live()\nGot: {client!r}")
        fresh, _ = _open_client(app, "follow_redirect")
        return _wrap(fresh, True, lambda: _verbs.follow_redirect(LiveRedirect(str(redirect), to=redirect.to, client=fresh.client), timeout=timeout))
    owned = redirect._owns_client
    new_view, html = redirect.call(_verbs.follow_redirect, redirect.view, timeout=timeout)
    unregister_open(redirect)
    redirect._owns_client = False
    return SyncLiveTestView(new_view, redirect.client, owned), html


__all__ = [
    "SyncElement",
    "SyncFormElement",
    "SyncLiveTestClient",
    "SyncLiveTestView",
    "SyncUpload",
    "assert_patch",
    "assert_push_event",
    "assert_redirect",
    "assert_reply",
    "component_assigns",
    "element",
    "file_input",
    "follow_redirect",
    "form",
    "has_element",
    "live",
    "live_isolated",
    "preflight_upload",
    "render",
    "render_async",
    "render_blur",
    "render_change",
    "render_click",
    "render_focus",
    "render_hook",
    "render_keydown",
    "render_keyup",
    "render_patch",
    "render_submit",
    "render_upload",
    "send_info",
    "send_update",
]
