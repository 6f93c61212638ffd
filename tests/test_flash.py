"""The flash: put and clear on the socket, and the signed carrier to the next page."""

from __future__ import annotations

import pytest

from fastapi_live import LiveError, LiveSocket
from fastapi_live.flash import FlashCarrier, clear_event, start
from fastapi_live.socket import ClientOp


@pytest.fixture
def socket() -> LiveSocket:
    socket = LiveSocket(view_name="Page")
    start(socket, None)
    return socket


def test_put_flash_sets_one_message_per_kind_and_marks_the_flash_changed(socket):
    socket.put_flash("info", "Saved").put_flash("error", "Oops").put_flash("info", "Saved again")
    assert dict(socket.flash) == {"info": "Saved again", "error": "Oops"}
    assert socket.assigns.flash == {"info": "Saved again", "error": "Oops"}
    assert "flash" in socket.changed


def test_clear_flash_removes_one_kind_or_all(socket):
    socket.put_flash("info", "a").put_flash("error", "b")
    socket.clear_flash("info")
    assert dict(socket.flash) == {"error": "b"}
    socket.clear_flash()
    assert dict(socket.flash) == {}


def test_the_flash_is_read_only_and_not_assigned_directly(socket):
    with pytest.raises(TypeError):
        socket.flash["info"] = "x"  # type: ignore[index]
    with pytest.raises(LiveError, match=r"^'flash' is a reserved name"):
        socket.assign(flash={})


@pytest.mark.parametrize(
    ("kind", "message", "error"), [("", "x", r"^put_flash\(\) needs a kind"), ("info", 3, r"^put_flash\('info', \.\.\.\) needs a message")]
)
def test_put_flash_checks_what_it_is_given(socket, kind, message, error):
    with pytest.raises(LiveError, match=error):
        socket.put_flash(kind, message)


def test_a_failed_handlers_rollback_restores_the_flash(socket):
    socket.put_flash("info", "before")
    snapshot = socket._snapshot()
    socket.put_flash("info", "during")
    socket._restore(snapshot)
    assert dict(socket.flash) == {"info": "before"}


def test_the_close_button_event_clears_its_kind(socket):
    socket.put_flash("info", "a")
    clear_event(socket, {"kind": "info"})
    assert dict(socket.flash) == {}


def test_the_carrier_round_trips_for_the_same_browser_only():
    carrier = FlashCarrier("secret")
    raw = carrier.dump({"info": "Welcome"}, "browser-a")
    assert carrier.load(raw, "browser-a") == {"info": "Welcome"}
    assert carrier.load(raw, "browser-b") == {}
    assert carrier.load(raw, None) == {}
    assert FlashCarrier("other secret").load(raw, "browser-a") == {}
    assert carrier.load("forged", "browser-a") == {} and carrier.load(None, "browser-a") == {}


def test_an_expired_carrier_shows_nothing():
    carrier = FlashCarrier("secret", max_age=-1)
    assert carrier.load(carrier.dump({"info": "late"}, "b"), "b") == {}


def test_carry_gives_navigations_and_redirects_the_flash(socket):
    carrier = FlashCarrier("secret")
    socket.put_flash("info", "Bye").push_navigate("/a").push_event("x").redirect("/b")
    carrier.carry(socket, "browser")
    navigate, push, redirect = socket._client_ops
    assert carrier.load(navigate.payload["flash"], "browser") == {"info": "Bye"}
    assert carrier.load(redirect.payload["flash"], "browser") == {"info": "Bye"}
    assert push == ClientOp("push", "x", {})


def test_put_flash_clear_after_is_seconds_above_zero():
    from fastapi_live import LiveError, LiveSocket

    socket = LiveSocket()
    socket.put_flash("info", "Saved", clear_after=1.5)
    assert socket.assigns["flash_clear_after"] == {"info": 1500}
    socket.put_flash("info", "Saved again")  # no clear_after: kept until closed
    assert socket.assigns["flash_clear_after"] == {}
    for wrong in (0, -1, "soon", True):
        with pytest.raises(LiveError, match=r"^put_flash\('info', \.\.\., clear_after=\) takes seconds\nExpected: a number above 0"):
            socket.put_flash("info", "x", clear_after=wrong)
