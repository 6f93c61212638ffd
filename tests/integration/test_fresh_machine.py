"""CI turns any skip into a failure (``FASTAPI_LIVE_REQUIRE_REAL_PARTS=1``), so a fresh machine
that lacks Chromium or Redis can never pass the browser or Redis tests by skipping them."""

from __future__ import annotations

import textwrap

import pytest

from tests.support.real_parts import REQUIRE_REAL_PARTS

pytest_plugins = ["pytester"]


SKIPS = textwrap.dedent(
    """
    import pytest

    def test_needs_chromium():
        pytest.skip("no Chromium here")

    @pytest.mark.xfail(reason="a known bug", strict=True)
    def test_known_bug():
        assert False
    """
)


@pytest.fixture
def skips(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        """
        [pytest]
        asyncio_default_fixture_loop_scope = function
        """
    )
    pytester.makepyfile(test_skips=SKIPS)
    return pytester


def test_a_skip_fails_when_real_parts_are_required(skips: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_REAL_PARTS, "1")
    result = skips.runpytest("-p", "tests.support.real_parts")
    result.assert_outcomes(failed=1, xfailed=1)
    result.stdout.fnmatch_lines([f"*skipped, but {REQUIRE_REAL_PARTS}=1 makes a skip a failure: Skipped: no Chromium here*"])


def test_a_skip_stays_a_skip_when_real_parts_are_not_required(skips: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_REAL_PARTS, raising=False)
    result = skips.runpytest("-p", "tests.support.real_parts")
    result.assert_outcomes(skipped=1, xfailed=1)
