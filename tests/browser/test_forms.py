"""Forms in a real Chromium: errors for touched fields only, the submit lock, server values after a submit."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.gates import GATES
from tests.support.views.forms import make_app

pytestmark = pytest.mark.browser
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def example_url(serve):
    from examples.app.main import app

    return serve(app)


def signed_in_dashboard(page, url: str) -> None:
    page.goto(url + "/login?user=alice")
    expect(page.locator("#live-root")).to_have_class(CONNECTED)
    expect(page.locator(".org-name")).to_have_text("Acme Corp")


def test_errors_show_only_for_the_fields_the_user_touched(page, example_url):
    signed_in_dashboard(page, example_url)
    page.fill("#settings-name", "A")
    expect(page.locator("#settings-name-error")).to_have_text("Name must be at least 2 characters")
    expect(page.locator("#settings-name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#settings-name")).to_have_attribute("aria-describedby", "settings-name-error")
    # The email is empty, so invalid, but nobody touched it: no error under it.
    expect(page.locator("#settings-email-error")).to_have_text("")
    expect(page.locator("#settings-email")).not_to_have_attribute("aria-invalid", "true")
    page.fill("#settings-name", "Ada")
    expect(page.locator("#settings-name-error")).to_have_text("")
    expect(page.locator("#settings-email-error")).to_have_text("")
    page.fill("#settings-email", "ada@")
    expect(page.locator("#settings-email-error")).to_have_text("Enter a valid email address")
    page.fill("#settings-email", "ada@example.com")
    expect(page.locator("#settings-email-error")).to_have_text("")


def test_a_submit_shows_the_errors_of_every_field(page, example_url):
    signed_in_dashboard(page, example_url)
    page.fill("#settings-name", "Ada")
    expect(page.locator("#settings-name")).to_have_attribute("data-live-touched", "")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-email-error")).to_have_text("Enter a valid email address")
    expect(page.locator("#settings-name-error")).to_have_text("")
    expect(page.locator("#saved")).to_have_count(0)
    page.fill("#settings-email", "ada@example.com")
    expect(page.locator("#settings-email-error")).to_have_text("")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#saved")).to_have_text("Saved — hello, Ada!")


# -- the submit lock ------------------------------------------------------------------------------


class HeldReplies:
    """A Playwright route holding one event's requests in flight until the test releases them:
    then each goes to the server and its reply back to the page (no timer decides when)."""

    def __init__(self, page, event: str) -> None:
        self.event = event
        self.held: list = []
        self.sent = 0
        page.route("**/_live/event", self._route)

    def _route(self, route) -> None:
        if route.request.headers.get("x-live-event") != self.event:
            route.continue_()
            return
        self.sent += 1
        self.held.append(route)

    def release(self) -> None:
        held, self.held = self.held, []
        for route in held:
            route.fulfill(response=route.fetch())


def test_a_submit_locks_the_form_until_its_reply_lands(page, example_url):
    signed_in_dashboard(page, example_url)
    page.fill("#settings-name", "Ada")
    page.fill("#settings-email", "ada@example.com")
    expect(page.locator("#settings-email-error")).to_have_text("")
    replies = HeldReplies(page, "save")
    form, button = page.locator("#settings-form"), page.locator("#settings-form button[type=submit]")

    button.dblclick()
    expect(button).to_be_disabled()
    expect(button).to_have_text("Saving…")
    expect(form).to_have_class(re.compile(r"\blive-submit-loading\b"))
    expect(page.locator("#settings-name")).to_have_js_property("readOnly", True)
    expect(page.locator("#settings-email")).to_have_js_property("readOnly", True)
    page.locator("#settings-email").press("Enter")  # an implicit submit, then a scripted one: both dropped
    page.evaluate("document.getElementById('settings-form').requestSubmit()")

    replies.release()
    expect(page.locator("#saved")).to_have_text("Saved — hello, Ada!")
    expect(button).to_be_enabled()
    expect(button).to_have_text("Save")
    expect(form).not_to_have_class(re.compile(r"\blive-submit-loading\b"))
    expect(page.locator("#settings-name")).to_have_js_property("readOnly", False)
    assert replies.sent == 1


@pytest.fixture
def forms_url(serve):
    return serve(make_app())


def open_page(page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#live-root")).to_have_class(CONNECTED)


def test_a_double_click_and_every_other_way_to_submit_again_send_one_submit(page, forms_url, run):
    open_page(page, f"{forms_url}/signup?run={run}")
    page.fill("#signup-name", "Ada")
    page.fill("#signup-email", "ada@example.com")
    page.check("#signup-terms")
    expect(page.locator("#signup-terms-error")).to_have_text("")
    page.dblclick("#save")
    expect(page.locator("#save")).to_be_disabled()
    expect(page.locator("#save")).to_have_text("Saving…")
    page.locator("#signup-name").press("Enter")
    page.evaluate("document.getElementById('signup').requestSubmit()")
    # Checkboxes and selects stay put while the form is locked, as read-only text does.
    page.locator("#signup-terms").click()
    expect(page.locator("#signup-terms")).to_be_checked()
    expect(page.locator("#signup-bio")).to_have_js_property("readOnly", True)
    GATES.get(run, "save").open()
    expect(page.locator("#status")).to_have_text("saves: 1 · clicks: 0 · saved Ada")
    expect(page.locator("#save")).to_have_text("Sign up")
    # A later event reaches the session after any second submit would have: there was none.
    page.click("#ping")
    GATES.get(run, "ping").open()
    expect(page.locator("#status")).to_have_text("saves: 1 · clicks: 1 · saved Ada")


def test_the_focused_input_takes_the_servers_value_when_the_submits_reply_lands(page, forms_url):
    open_page(page, f"{forms_url}/tasks")
    title = page.locator("#task-title")
    title.click()
    title.fill("Buy milk")
    title.press("Enter")
    expect(page.locator("#tasks li")).to_have_text(["Buy milk"])
    expect(title).to_be_focused()
    expect(title).to_have_value("")  # the server's fresh form, though the input has focus
    expect(title).to_have_js_property("readOnly", False)
    title.fill("Walk the dog")
    title.press("Enter")
    expect(page.locator("#tasks li")).to_have_text(["Buy milk", "Walk the dog"])
    expect(title).to_have_value("")
    title.press("Enter")  # empty: the error shows (a submit touches the field), the input keeps focus
    expect(page.locator("#task-title-error")).to_have_text("Title is required")
    expect(page.locator("#submits")).to_have_text("submits: 3")


def test_loading_classes_mark_the_element_and_its_form_while_the_event_is_in_flight(page, forms_url, run):
    open_page(page, f"{forms_url}/signup?run={run}")
    loading = re.compile(r"\blive-click-loading\b")
    page.click("#ping")
    expect(page.locator("#ping")).to_have_class(loading)
    expect(page.locator("#signup")).to_have_class(loading)
    GATES.get(run, "ping").open()
    expect(page.locator("#status")).to_have_text("saves: 0 · clicks: 1")
    expect(page.locator("#ping")).not_to_have_class(loading)
    expect(page.locator("#signup")).not_to_have_class(loading)

    changing = re.compile(r"\blive-change-loading\b")
    replies = HeldReplies(page, "validate")
    page.locator("#signup-name").press_sequentially("A")
    expect(page.locator("#signup-name")).to_have_class(changing)
    expect(page.locator("#signup")).to_have_class(changing)
    expect(page.locator("#signup-email")).not_to_have_class(changing)
    replies.release()
    expect(page.locator("#signup-name-error")).to_have_text("Name must be at least 2 characters")
    expect(page.locator("#signup-name")).not_to_have_class(changing)
    expect(page.locator("#signup")).not_to_have_class(changing)


def test_a_patch_of_the_form_while_its_submit_is_in_flight_keeps_it_locked(page, forms_url):
    open_page(page, f"{forms_url}/signup")
    page.fill("#signup-name", "Ada")
    page.fill("#signup-email", "ada@example.com")
    page.check("#signup-terms")
    expect(page.locator("#signup-terms-error")).to_have_text("")
    replies = HeldReplies(page, "save")
    page.click("#save")
    expect(page.locator("#save")).to_have_text("Saving…")
    page.click("#ping")  # its reply re-renders the whole form while the save's is held
    expect(page.locator("#pings")).to_have_text("Pings: 1")
    expect(page.locator("#save")).to_be_disabled()
    expect(page.locator("#save")).to_have_text("Saving…")
    expect(page.locator("#signup-name")).to_have_js_property("readOnly", True)
    replies.release()
    expect(page.locator("#status")).to_have_text("saves: 1 · clicks: 1 · saved Ada")
    expect(page.locator("#save")).to_be_enabled()
    expect(page.locator("#save")).to_have_text("Sign up")
    expect(page.locator("#signup-name")).to_have_js_property("readOnly", False)


def test_the_examples_tips_open_in_the_browser_alone(page, example_url):
    signed_in_dashboard(page, example_url)
    events: list[str] = []
    page.on("request", lambda request: events.append(request.headers.get("x-live-event", "")) if "/_live/event" in request.url else None)
    toggle = page.locator("#settings-tips-toggle")
    expect(page.locator("#settings-tips")).to_be_hidden()
    toggle.click()
    expect(page.locator("#settings-tips")).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.fill("#settings-name", "Ada")  # a real event after the toggle, and a patch of the card
    expect(page.locator("#settings-name")).to_have_attribute("data-live-touched", "")
    expect(page.locator("#settings-tips")).to_be_visible()
    assert events == ["validate"]
