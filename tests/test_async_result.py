"""``AsyncResult``: LiveView's four fields, constructors and stale-while-reloading."""

from __future__ import annotations

import pytest

from fastapi_live import AsyncResult


def fields(result: AsyncResult) -> tuple:
    return (result.ok, result.loading, result.failed, result.result)


def test_loading_starts_empty():
    assert fields(AsyncResult.loading()) == (False, True, None, None)


def test_ok_with_one_argument_builds_a_loaded_result():
    assert fields(AsyncResult.ok("Acme")) == (True, None, None, "Acme")


def test_ok_from_loading_holds_the_value():
    assert fields(AsyncResult.ok(AsyncResult.loading(), "Acme")) == (True, None, None, "Acme")


def test_failed_from_loading_keeps_no_result():
    failed = AsyncResult.failed(AsyncResult.loading(), "boom")
    assert fields(failed) == (False, None, "boom", None)


def test_reloading_keeps_the_stale_result_and_ok():
    loaded = AsyncResult.ok(AsyncResult.loading(), "Acme")
    reloading = AsyncResult.loading(loaded)
    assert fields(reloading) == (True, True, None, "Acme")


def test_a_failed_reload_keeps_the_stale_result():
    loaded = AsyncResult.ok(AsyncResult.loading(), "Acme")
    failed = AsyncResult.failed(AsyncResult.loading(loaded), "timeout")
    assert fields(failed) == (True, None, "timeout", "Acme")


def test_reloading_clears_an_earlier_failure():
    failed = AsyncResult.failed(AsyncResult.loading(), "boom")
    assert fields(AsyncResult.loading(failed)) == (False, True, None, None)


def test_a_successful_reload_replaces_the_value():
    first = AsyncResult.ok(AsyncResult.loading(), "v1")
    second = AsyncResult.ok(AsyncResult.loading(first), "v2")
    assert fields(second) == (True, None, None, "v2")


def test_loading_with_a_state_on_a_previous_result():
    loaded = AsyncResult.ok(AsyncResult.loading(), "Acme")
    assert fields(AsyncResult.loading(loaded, {"step": 2})) == (True, {"step": 2}, None, "Acme")


def test_loading_with_only_a_state_as_in_liveview():
    assert fields(AsyncResult.loading({"step": 1})) == (False, {"step": 1}, None, None)


def test_instance_methods_mirror_the_constructors():
    loading = AsyncResult.loading()
    assert loading.ok_with(1) == AsyncResult.ok(loading, 1)
    assert loading.failed_with("x") == AsyncResult.failed(loading, "x")
    assert AsyncResult.ok(1).reloading() == AsyncResult.loading(AsyncResult.ok(1))


def test_equal_results_are_equal_and_hash_alike():
    a = AsyncResult.ok(AsyncResult.loading(), [1, 2])
    b = AsyncResult.ok(AsyncResult.loading(), [1, 2])
    assert a == b
    assert hash(a) == hash(b)
    assert a != AsyncResult.ok(AsyncResult.loading(), [1, 3])
    assert a != "not a result"


def test_results_are_immutable_and_say_how_to_build_a_new_one():
    result = AsyncResult.loading()
    with pytest.raises(AttributeError, match=r"AsyncResult is immutable; use AsyncResult\.ok\(previous, \.\.\.\)"):
        result.ok = True  # type: ignore[misc]
    assert result.ok is False


def test_repr_shows_all_four_fields():
    assert repr(AsyncResult.ok(AsyncResult.loading(), "Acme")) == "AsyncResult(ok=True, loading=None, failed=None, result='Acme')"
