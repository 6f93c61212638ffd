"""The errors and the warning the testing toolkit raises."""

from __future__ import annotations

from typing import Any

from ..exceptions import LiveError

DOCS = "https://github.com/fastapi-live/fastapi-live#testing-live-pages"


class LiveTestError(LiveError, AssertionError):
    """A test expectation about a live page failed: an element, an event, a wait.

    It is an ``AssertionError`` too, so pytest reports it as a failed assertion.

    >>> with pytest.raises(LiveTestError, match="matched no element"):
    ...     element(view, "#missing")
    """


class EventFailedError(LiveTestError):
    """The server refused or failed an event: ``status_code``, ``detail`` and field ``errors``.

    >>> with pytest.raises(EventFailedError) as failed:
    ...     await render_click(view, "inc", {"by": "many"})
    >>> failed.value.errors[0]["loc"]
    ['by']
    """

    def __init__(self, message: str, *, status_code: int, detail: Any = None, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
        self.errors = errors or []


class LiveRedirect(LiveError):
    """The page redirected instead of mounting; ``to`` is where it sent the browser.

    Pass it to ``follow_redirect`` to open the page it names.

    >>> with pytest.raises(LiveRedirect) as redirected:
    ...     await live(client, "/private")
    >>> view, html = await follow_redirect(redirected.value)
    """

    def __init__(self, message: str, *, to: str, client: Any = None) -> None:
        super().__init__(message)
        self.to = to
        self.client = client


class PendingTasksWarning(UserWarning):
    """A live view was closed while its async tasks were still running; they were cancelled.

    >>> with pytest.warns(PendingTasksWarning, match="assign_async"):
    ...     await view.close()
    """


def pending_tasks_message(view_name: str, url: str, pending: list[str]) -> str:
    """The warning shown when a view is closed with tasks still running, with the fix."""
    return (
        f"{view_name} ({url}) was closed with async tasks still running: {', '.join(pending)}. "
        "They were cancelled, so their results were never rendered or checked.\n\n"
        "Instead of:\n"
        f'    view, html = await live(client, "{url}")\n'
        "    # the test ends while the tasks run\n\n"
        "Do: wait for them before asserting and before the test ends\n"
        "    html = await render_async(view)\n\n"
        f"See {DOCS}"
    )
