"""The pytest plugin (entry point ``fastapi_live``): the ``live_client`` fixtures, and every
live view still open is closed when its test ends, with a warning for tasks still running."""

# It loads in every pytest run of a project that installs fastapi-live, with or without
# the test extra: the clients (and httpx under them) are imported by the fixtures that use them.

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._open_views import close_open_views, warn_pending

if TYPE_CHECKING:
    from ._client import LiveTestClient
    from .sync import SyncLiveTestClient


@pytest.fixture
def live_app() -> Any:
    """Your ASGI app: override this fixture (e.g. in conftest.py) to use ``live_client``."""
    pytest.fail(
        "the live_client and sync_live_client fixtures need your app: define a `live_app` fixture that returns it\n"
        "Expected, in conftest.py:\n"
        "    @pytest.fixture\n"
        "    def live_app():\n"
        "        return app",
        pytrace=False,
    )


try:
    from pytest_asyncio import fixture as async_fixture
except ImportError:  # pragma: no cover - reason: the test extra installs pytest-asyncio
    async_fixture = None  # type: ignore[assignment]

if async_fixture is not None:

    @async_fixture
    async def live_client(live_app: Any) -> AsyncIterator[LiveTestClient]:
        """A ``LiveTestClient`` for ``live_app``, its lifespan running, for async tests.

        >>> async def test_counter(live_client):
        ...     view, html = await live(live_client, "/counter")
        """
        from ._client import LiveTestClient

        async with LiveTestClient(live_app) as client:
            yield client

else:  # pragma: no cover - reason: the test extra installs pytest-asyncio

    @pytest.fixture(name="live_client")
    def live_client_without_pytest_asyncio(live_app: Any) -> Any:
        """Async tests need pytest-asyncio."""
        pytest.fail("pytest-asyncio must be installed to use the live_client fixture: pip install 'fastapi-live[test]'", pytrace=False)


@pytest.fixture
def sync_live_client(live_app: Any) -> Iterator[SyncLiveTestClient]:
    """A ``SyncLiveTestClient`` for ``live_app``, for sync tests (use ``fastapi_live.testing.sync``).

    >>> def test_counter(sync_live_client):
    ...     view, html = live(sync_live_client, "/counter")
    """
    from .sync import SyncLiveTestClient

    with SyncLiveTestClient(live_app) as client:
        yield client


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_CALL_FAILED] = True
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    # Before the fixtures are torn down: the test's event loop (and a sync client's
    # thread) still exists, so the views close normally and their sessions cancel their
    # tasks. The warnings come after the teardown, so a warning turned into an error
    # never skips a fixture's cleanup; a test that already failed is not told twice.
    messages = close_open_views()
    result = yield
    if not item.stash.get(_CALL_FAILED, False):
        warn_pending(messages)
    return result
