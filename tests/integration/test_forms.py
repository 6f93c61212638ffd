"""Forms through fastapi_live.testing: touched fields, errors, the submit lock, the form object."""

from __future__ import annotations

import asyncio

import pytest

from fastapi_live.testing import LiveTestError, element, form, has_element, live, render_change, render_click, render_hook, render_submit
from fastapi_live.testing import sync as live_sync
from tests.support.gates import GATES, flag
from tests.support.views.forms import Signup, make_app


@pytest.fixture
def app():
    return make_app()


async def test_typing_touches_only_the_typed_fields(app):
    view, _ = await live(app, "/signup")
    await render_change(view, "#signup", {"name": "A"})
    assert view.assigns.form.touched == {"name"}  # the client said email, plan, terms and bio are untouched
    signup = form(view, "#signup")
    assert signup.errors == {"name": "Name must be at least 2 characters"}
    assert signup.touched == {"name"}
    await render_change(view, "#signup", {"email": "nope"})
    assert signup.errors == {"name": "Name must be at least 2 characters", "email": "Enter a valid email address"}


async def test_a_submit_touches_every_field(app):
    view, _ = await live(app, "/signup")
    signup = form(view, "#signup", {"name": "Ada"})
    await render_submit(signup)
    assert signup.errors == {"email": "Enter a valid email address", "terms": "Accept the terms to sign up"}
    assert signup.touched == {"name", "email", "plan", "terms", "bio"}
    assert element(view, "#signup-terms").attributes["aria-describedby"] == "signup-terms-error"


async def test_a_form_is_submitted_from_a_model_instance(app):
    view, _ = await live(app, "/signup")
    signup = form(view, "#signup", Signup(name="Ada", email="ada@example.com", plan="pro", terms=True, bio="Hi"))
    await render_submit(signup)
    assert signup.errors == {}
    assert element(view, "#status").text() == "saves: 1 · clicks: 0 · saved Ada"
    assert view.assigns.form.data == Signup(name="Ada", email="ada@example.com", plan="pro", terms=True, bio="Hi")
    assert signup.values == {"name": "Ada", "email": "ada@example.com", "plan": "pro", "terms": ["false", "true"], "bio": "Hi"}


async def test_unchecking_sends_the_hidden_false(app):
    view, _ = await live(app, "/signup")
    await render_change(view, "#signup", {"terms": "true"})
    assert element(view, "#signup-terms").attributes.get("checked") == ""
    await render_change(view, "#signup", {"terms": "false"})
    assert "checked" not in element(view, "#signup-terms").attributes
    assert form(view, "#signup").errors == {"terms": "Accept the terms to sign up"}


async def test_a_submit_locks_the_form_until_its_reply_lands(app, run):
    view, _ = await live(app, f"/signup?run={run}")
    signup = form(view, "#signup", {"name": "Ada", "email": "ada@example.com", "terms": "true"})
    submit = asyncio.create_task(render_submit(signup))
    await flag(GATES.get(run, "save").started)

    button = element(view, "#save")
    assert button.text() == "Saving…" and "disabled" in button.attributes
    assert all("readonly" in element(view, f"#signup-{name}").attributes for name in ("name", "email", "bio"))
    assert "live-submit-loading" in element(view, "#signup").attributes["class"].split()
    assert "live-submit-loading" not in element(view, "#save").attributes.get("class", "")  # a submit from the form itself
    # A second submit is dropped, as a double click's is; nothing can be typed meanwhile.
    assert "Saving…" in await render_submit(view, "#signup")
    with pytest.raises(LiveTestError, match=r"^render_change\(\): nothing can be typed into the field 'name': its form's submit is in flight"):
        await render_change(view, "#signup", {"name": "Bob"})

    GATES.get(run, "save").open()
    await submit
    assert element(view, "#status").text() == "saves: 1 · clicks: 0 · saved Ada"
    button = element(view, "#save")
    assert button.text() == "Sign up" and "disabled" not in button.attributes
    assert "readonly" not in element(view, "#signup-name").attributes
    assert "live-submit-loading" not in element(view, "#signup").attributes.get("class", "")


async def test_the_lock_lifts_from_what_the_reply_did_not_re_render(app, run):
    # The page's "tasks" region is all the reply re-renders when the form is unchanged: the lock
    # on the untouched form is lifted by the client itself.
    view, _ = await live(app, "/tasks")
    await render_submit(view, "#add-task", {"title": ""})
    await render_submit(view, "#add-task", {"title": ""})  # the same error again: the form region is not re-rendered
    assert element(view, "#add-button").text() == "Add" and "disabled" not in element(view, "#add-button").attributes
    assert "readonly" not in element(view, "#task-title").attributes
    assert "readonly" in element(view, "#task-list").attributes  # rendered so: the lock gives it back
    await render_submit(view, "#add-task", {"title": "Buy milk"})
    assert element(view, "#add-button").text() == "Add" and "disabled" not in element(view, "#add-button").attributes
    assert element(view, "#task-title").attributes["value"] == ""  # the server's fresh form


async def test_loading_classes_mark_the_element_and_its_form_while_in_flight(app, run):
    view, _ = await live(app, f"/signup?run={run}")
    click = asyncio.create_task(render_click(view, "#ping"))
    await flag(GATES.get(run, "ping").started)
    assert "live-click-loading" in element(view, "#ping").attributes["class"]
    assert "live-click-loading" in element(view, "#signup").attributes["class"]
    GATES.get(run, "ping").open()
    await click
    assert "live-click-loading" not in element(view, "#ping").attributes.get("class", "")
    assert not has_element(view, ".live-click-loading")


async def test_a_fresh_form_from_the_server_forgets_what_was_touched(app):
    view, _ = await live(app, "/tasks")
    await render_submit(view, "#add-task", {"title": ""})
    tasks = form(view, "#add-task")
    assert tasks.errors == {"title": "Title is required"} and tasks.touched == {"title", "list"}
    await render_submit(view, "#add-task", {"title": "Buy milk"})
    # The server's fresh form no longer marks the title touched; the hand-written input (no
    # live.input) stays as the user left it, as in LiveView.
    assert tasks.errors == {} and tasks.touched == {"list"}
    assert element(view, "#tasks").text() == "Buy milk"


async def test_a_field_rendered_readonly_cannot_be_typed_into(app):
    view, _ = await live(app, "/tasks")
    with pytest.raises(LiveTestError) as raised:
        await render_submit(view, "#add-task", {"title": "Buy milk", "list": "Work"})
    assert str(raised.value) == (
        "render_submit(): nothing can be typed into the field 'list': it is rendered readonly\n"
        "Expected: a field the user can type into\n"
        'Got: <input#task-list name="list" value="Inbox">'
    )


async def test_params_that_do_not_fit_the_model_never_reach_the_handler_as_data(app):
    view, _ = await live(app, "/signup")
    garbage = {"name": {"first": "A"}, "email": ["x", "ada@example.com"], "plan": "gold", "terms": "maybe", "bio": "x" * 100, "role": "admin"}
    await render_hook(view, "save", garbage)  # JSON, as a script could send it
    assert view.assigns.saved is None and view.assigns.form.data is None
    assert form(view, "#signup").errors == {
        "name": "Input should be a valid string",
        "plan": "Input should be 'free' or 'pro'",
        "terms": "Input should be a valid boolean, unable to interpret input",
        "bio": "String should have at most 40 characters",
    }
    assert element(view, "#signup-email").attributes["value"] == "ada@example.com"  # the last of repeated values
    assert element(view, "#status").text() == "saves: 1 · clicks: 0"


async def test_form_refuses_what_a_user_could_not_type(app):
    view, _ = await live(app, "/signup")
    expected = r"^form\(\): <form#signup .*> .* has no field 'nickname'\nExpected one of: name, email, plan, terms, bio\nGot: 'nickname'$"
    with pytest.raises(LiveTestError, match=expected):
        form(view, "#signup", {"nickname": "x"})
    with pytest.raises(LiveTestError, match=r"^form\(view, '#save'\) matched an element that is not a form"):
        form(view, "#save")


def test_the_sync_toolkit_reads_forms_too(app):
    view, _ = live_sync.live(app, "/signup")
    try:
        signup = live_sync.form(view, "#signup", {"email": "nope"})
        live_sync.render_change(signup)
        assert signup.errors == {"email": "Enter a valid email address"}
        assert signup.touched == {"email"}
        assert signup.values["email"] == "nope"
    finally:
        view.close()
