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

from typing import Any

from ..exceptions import MissingDependencyError

try:
    from ._client import LiveTestClient
    from ._errors import EventFailedError, LiveRedirect, LiveTestError, PendingTasksWarning
    from ._uploads import Upload, file_input, preflight_upload, render_upload
    from ._verbs import (
        ASSERT_TIMEOUT,
        DEFAULT_TIMEOUT,
        assert_patch,
        assert_push_event,
        assert_redirect,
        assert_reply,
        component_assigns,
        element,
        follow_redirect,
        form,
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
        render_patch,
        render_submit,
        send_info,
        send_update,
    )
    from ._view import Element, FormElement, LiveTestView
except MissingDependencyError as missing:  # pragma: no cover - reason: the test extra is always installed in this repository
    # The pytest plugin lives in this package and loads without the test extra; the
    # toolkit itself says what to install when it is used.
    _missing = str(missing)

    def __getattr__(name: str) -> Any:
        raise MissingDependencyError(_missing)


__all__ = [
    "ASSERT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "Element",
    "EventFailedError",
    "FormElement",
    "LiveRedirect",
    "LiveTestClient",
    "LiveTestError",
    "LiveTestView",
    "PendingTasksWarning",
    "Upload",
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
