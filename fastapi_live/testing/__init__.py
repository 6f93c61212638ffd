"""Testing live pages, as ``Phoenix.LiveViewTest`` does: open a page, click, type, wait.

The page request, its stream and its events go through the app's real endpoints,
in-process; updates are applied to a parsed DOM the way htmx 4 and fastapi-live.js
apply them, so the HTML a test reads is what a browser would show.

>>> from fastapi_live.testing import live, render_async, render_click
>>> async def test_dashboard(live_client):
...     view, html = await live(live_client, "/dashboard/acme")
...     assert "Loading organization..." in html
...     html = await render_async(view)
...     assert "Acme Corp" in html

Sync tests use the same verbs from ``fastapi_live.testing.sync``.
"""

from __future__ import annotations

from ._asgi import ClientResponse
from ._client import LiveTestClient
from ._errors import EventFailedError, LiveRedirect, LiveTestError, PendingTasksWarning
from ._verbs import (
    ASSERT_TIMEOUT,
    DEFAULT_TIMEOUT,
    assert_push_event,
    assert_redirect,
    assert_reply,
    element,
    follow_redirect,
    has_element,
    live,
    live_isolated,
    render,
    render_async,
    render_blur,
    render_change,
    render_click,
    render_focus,
    render_hook,
    render_keydown,
    render_keyup,
    render_submit,
    send_info,
)
from ._view import Element, LiveTestView

__all__ = [
    "ASSERT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "ClientResponse",
    "Element",
    "EventFailedError",
    "LiveRedirect",
    "LiveTestClient",
    "LiveTestError",
    "LiveTestView",
    "PendingTasksWarning",
    "assert_push_event",
    "assert_redirect",
    "assert_reply",
    "element",
    "follow_redirect",
    "has_element",
    "live",
    "live_isolated",
    "render",
    "render_async",
    "render_blur",
    "render_change",
    "render_click",
    "render_focus",
    "render_hook",
    "render_keydown",
    "render_keyup",
    "render_submit",
    "send_info",
]
