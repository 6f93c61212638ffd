"""``to_form`` and ``Form``: values as typed, per-field errors, touched fields, and the fields' HTML."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import pytest
from markupsafe import Markup
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from fastapi_live import ConfigurationError, Form, to_form
from fastapi_live.forms import default_form_id, render_checkbox, render_error, render_field_attrs, render_input, render_label, render_select, render_textarea


class SettingsForm(BaseModel):
    name: str = Field("", title="Your name")
    email: str = ""
    age: int | None = None
    newsletter: bool = False
    tags: list[str] = []

    @field_validator("name")
    @classmethod
    def long_enough(cls, value: str) -> str:
        if len(value.strip()) < 2:
            raise ValueError("Name must be at least 2 characters")
        return value.strip()

    @field_validator("email")
    @classmethod
    def looks_like_email(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("Enter a valid email address")
        return value


class Signup(BaseModel):
    password: str = Field(min_length=8)
    confirm: str

    @model_validator(mode="after")
    def same(self) -> Signup:
        if self.password != self.confirm:
            raise ValueError("Passwords do not match")
        return self


# -- values and validation ------------------------------------------------------------------------


def test_a_fresh_form_holds_the_defaults_and_shows_no_error():
    form = to_form(SettingsForm)
    assert form.values == {"name": "", "email": "", "age": None, "newsletter": False, "tags": []}
    assert form.touched == frozenset()
    assert [field.errors for field in form] == [(), (), (), (), ()]
    assert form.data == SettingsForm()  # pydantic leaves defaults unvalidated


def test_a_fresh_form_of_a_model_with_required_fields_knows_they_are_missing():
    form = to_form(Signup)
    assert form.values == {"password": None, "confirm": None}
    assert form.errors == {"password": ("Field required",), "confirm": ("Field required",)}
    assert form.password.errors == () and form.data is None


def test_params_are_validated_and_kept_as_typed():
    form = to_form(SettingsForm, {"name": " Ada ", "email": "ada@example.com", "age": "36"})
    assert form.valid
    assert form.data == SettingsForm(name="Ada", email="ada@example.com", age=36)
    assert form.values["name"] == " Ada " and form.values["age"] == "36"  # re-rendered as typed


def test_a_validators_message_reads_as_raised():
    form = to_form(SettingsForm, {"name": "A", "email": "nope"})
    assert form.errors["name"] == ("Name must be at least 2 characters",)
    assert form.errors["email"] == ("Enter a valid email address",)


def test_pydantic_messages_come_per_field():
    class Limits(BaseModel):
        count: Annotated[int, Field(ge=1)]

    assert to_form(Limits, {"count": "0"}).errors == {"count": ("Input should be greater than or equal to 1",)}
    assert to_form(Limits, {"count": "many"}).errors == {"count": ("Input should be a valid integer, unable to parse string as an integer",)}


def test_an_empty_value_is_no_value_for_a_field_that_takes_no_text():
    form = to_form(SettingsForm, {"name": "Ada", "email": "a@b.c", "age": ""})
    assert form.valid and form.data is not None and form.data.age is None

    class Required(BaseModel):
        count: int

    assert to_form(Required, {"count": ""}).errors == {"count": ("Field required",)}


def test_repeated_values_take_the_last_for_a_single_field_and_all_for_a_list():
    form = to_form(SettingsForm, {"name": "Ada", "email": "a@b.c", "newsletter": ["false", "true"], "tags": ["a", "b"]})
    assert form.data is not None
    assert (form.data.newsletter, form.data.tags) == (True, ["a", "b"])
    assert to_form(SettingsForm, {"name": "Ada", "email": "a@b.c", "tags": "a"}).data.tags == ["a"]  # type: ignore[union-attr]


def test_an_instance_gives_the_values_and_params_edit_them():
    current = SettingsForm(name="Ada", email="ada@example.com", age=36)
    form = to_form(current)
    assert form.valid and form.data is current
    assert form.values["age"] == 36
    edited = to_form(current, {"email": "nope"})
    assert edited.values == {"name": "Ada", "email": "nope", "age": 36, "newsletter": False, "tags": []}
    assert edited.errors == {"email": ("Enter a valid email address",)}


def test_a_mapping_gives_fields_and_values_without_validation():
    form = to_form({"query": "", "page": 1}, {"query": "rockets"}, errors={"query": "Too vague"})
    assert form.fields == ("query", "page")
    assert form.values == {"query": "rockets", "page": 1}
    assert form.query.errors == ("Too vague",) and form.model is None and form.id == "form"


def test_a_model_validator_error_belongs_to_the_whole_form_and_shows_after_a_submit():
    typing = to_form(Signup, {"password": "longenough", "confirm": "x", "_unused_password": ""})
    assert typing.form_errors == ()
    submitted = to_form(Signup, {"password": "longenough", "confirm": "x"})
    assert submitted.form_errors == ("Passwords do not match",)
    assert submitted.errors == {} and not submitted.valid


# -- touched fields -------------------------------------------------------------------------------


def test_only_touched_fields_show_their_errors():
    # What the client sends while the user types into Name: Email is not touched yet.
    form = to_form(SettingsForm, {"name": "A", "email": "", "_target": "name", "_unused_email": ""})
    assert form.touched == {"name"}
    assert form.name.errors == ("Name must be at least 2 characters",)
    assert form.email.errors == () and form.email.error is None
    assert form.errors["email"] == ("Enter a valid email address",)  # known, not shown


def test_the_target_is_touched_even_when_marked_unused():
    form = to_form(SettingsForm, {"name": "A", "_target": "name", "_unused_name": ""})
    assert form.touched == {"name"}


def test_params_without_markers_count_as_touched_as_after_a_submit():
    form = to_form(SettingsForm, {"name": "A", "email": ""})
    assert form.touched == {"name", "email"}
    assert form.email.error == "Enter a valid email address"


def test_the_clients_bookkeeping_never_reaches_the_model():
    class Strict(BaseModel, extra="forbid"):
        name: str

    form = to_form(Strict, {"name": "Ada", "_target": "name", "_unused_other": ""})
    assert form.valid


# -- added errors ---------------------------------------------------------------------------------


def test_errors_can_be_added_by_field_or_from_a_validation_error():
    form = to_form(SettingsForm, {"name": "Ada", "email": "ada@example.com"}, errors={"email": "Email already taken"})
    assert form.email.errors == ("Email already taken",) and form.data is None
    with pytest.raises(ValidationError) as raised:
        SettingsForm(name="A", email="ada@example.com")
    form = to_form(SettingsForm, {"name": "A"}, errors=raised.value)
    assert form.errors["name"] == ("Name must be at least 2 characters", "Name must be at least 2 characters")


def test_add_error_returns_an_invalid_copy():
    form = to_form(SettingsForm, {"name": "Ada", "email": "ada@example.com"})
    taken = form.add_error("email", "Email already taken")
    assert form.valid and not taken.valid
    assert taken.email.errors == ("Email already taken",)
    assert taken.add_error(None, "Try later").errors == {"email": ("Email already taken",)}


# -- bad input ------------------------------------------------------------------------------------


def test_an_unknown_field_in_errors_names_the_model_and_the_field():
    with pytest.raises(ConfigurationError) as raised:
        to_form(SettingsForm, {}, errors={"emial": "Taken"})
    assert str(raised.value) == (
        "to_form(SettingsForm): errors name a field SettingsForm does not have: 'emial'\n"
        "Expected one of: name, email, age, newsletter, tags, or None for the whole form\n"
        "Got: 'emial'"
    )
    with pytest.raises(ConfigurationError, match=r"^to_form\(SettingsForm\): errors name a field"):
        to_form(SettingsForm).add_error("nope", "x")


def test_a_class_that_is_not_a_pydantic_model_is_refused_by_name():
    @dataclasses.dataclass
    class Plain:
        name: str = ""

    with pytest.raises(ConfigurationError) as raised:
        to_form(Plain)
    assert str(raised.value).startswith(
        "to_form() cannot build a form from the class test_a_class_that_is_not_a_pydantic_model_is_refused_by_name.<locals>.Plain: it is not a pydantic model\n"
        "Expected one of: a pydantic BaseModel subclass, an instance of one, a mapping of field names to values\n"
    )
    with pytest.raises(ConfigurationError, match=r"^to_form\(\) cannot build a form from int 3: it is not a pydantic model"):
        to_form(3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"errors": ["name"]}, r"^to_form\(SettingsForm\): errors must map field names to messages"),
        ({"errors": {"name": 3}}, r"^to_form\(SettingsForm\): the errors of 'name' must be a message or a list of messages"),
        ({"id": "my form"}, r"^to_form\(SettingsForm\): the form id prefixes DOM ids, so it must be one"),
    ],
)
def test_malformed_options_are_refused(kwargs: dict[str, Any], message: str):
    with pytest.raises(ConfigurationError, match=message):
        to_form(SettingsForm, **kwargs)


def test_data_must_be_a_mapping():
    with pytest.raises(ConfigurationError, match=r"^to_form\(\) takes the event's params as data"):
        to_form(SettingsForm, ["name"])  # type: ignore[arg-type]


def test_an_unknown_field_is_a_key_error_naming_the_fields():
    form = to_form(SettingsForm)
    with pytest.raises(KeyError, match="SettingsForm has no field 'nope'; fields: name, email, age, newsletter, tags"):
        form["nope"]
    with pytest.raises(AttributeError):
        _ = form.nope


# -- ids, labels, access --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"), [("SettingsForm", "settings"), ("UserProfile", "user-profile"), ("Form", "form"), ("HTTPOptions", "http-options")]
)
def test_the_default_id_comes_from_the_models_name(name: str, expected: str):
    assert default_form_id(type(name, (BaseModel,), {})) == expected


def test_fields_know_their_ids_labels_and_values():
    form = to_form(SettingsForm, {"email": "x"}, id="profile")
    field = form["email"]
    assert (field.id, field.error_id, field.name, field.value, field.touched) == ("profile-email", "profile-email-error", "email", "x", True)
    assert form.name.label == "Your name" and form.email.label == "Email"
    assert [f.name for f in form] == ["name", "email", "age", "newsletter", "tags"]
    assert "email" in form and "nope" not in form


def test_a_form_is_generic_over_its_model():
    form: Form[SettingsForm] = to_form(SettingsForm, {"name": "Ada", "email": "a@b.c"})
    assert form.data is not None and form.data.name == "Ada"
    assert "SettingsForm" in repr(form)


# -- the fields' HTML -----------------------------------------------------------------------------


def typed_email() -> Form[Any]:
    return to_form(SettingsForm, {"name": "", "email": "nope", "_target": "email", "_unused_name": ""})


def test_an_input_renders_value_name_id_and_its_error_only_when_touched():
    form = typed_email()
    assert render_input(form.email, "email", label="Email") == Markup(
        '<label for="settings-email">Email</label>\n'
        '<input type="email" id="settings-email" name="email" data-live-touched aria-invalid="true" aria-describedby="settings-email-error" value="nope">\n'
        '<p id="settings-email-error" class="field-error" aria-live="polite">Enter a valid email address</p>'
    )
    assert render_input(form.name) == Markup(
        '<input type="text" id="settings-name" name="name" value="">\n<p id="settings-name-error" class="field-error" aria-live="polite"></p>'
    )


def test_input_attributes_pass_through_and_values_are_escaped():
    form = to_form(SettingsForm, {"name": "<"})
    html = render_input(form.name, label=True, error=False, autocomplete="off", class_="wide", data_role="x", required=True, disabled=False)
    assert html == Markup(
        '<label for="settings-name">Your name</label>\n'
        '<input type="text" id="settings-name" name="name" data-live-touched aria-invalid="true" aria-describedby="settings-name-error" '
        'value="&lt;" autocomplete="off" class="wide" data-role="x" required>'
    )
    assert 'value="&#34;&gt;"' in render_input(to_form(SettingsForm, {"name": '">'}).name)


def test_a_password_is_never_sent_back():
    form = to_form({"password": ""}, {"password": "hunter2"})
    assert "hunter2" not in render_input(form.password, "password")


def test_the_field_renders_its_own_id_name_and_value():
    with pytest.raises(ConfigurationError, match=r"^live\.input\(email\): the field renders its own id"):
        render_input(typed_email().email, id="other")


def test_helpers_take_fields_only():
    with pytest.raises(ConfigurationError, match=r"^live\.input\(\) renders a form's field\nExpected: a field of a form"):
        render_input("email")
    with pytest.raises(ConfigurationError, match=r"for 'checkbox' use live\.checkbox\(field\)"):
        render_input(typed_email().email, "checkbox")


def test_textarea_select_and_checkbox():
    form = to_form(SettingsForm, {"name": "\nAda", "tags": ["b"], "newsletter": ["false", "true"], "email": "a@b.c"})
    assert render_textarea(form.name, error=False) == Markup('<textarea id="settings-name" name="name" data-live-touched>\n\nAda</textarea>')
    assert render_select(form.tags, ["a", ("b", "Bee")], prompt="Pick", multiple=True, error=False) == Markup(
        '<select id="settings-tags" name="tags" data-live-touched multiple><option value="">Pick</option>'
        '<option value="a">a</option><option value="b" selected>Bee</option></select>'
    )
    assert render_checkbox(form.newsletter, label="Send news", error=False) == Markup(
        '<input type="hidden" name="newsletter" value="false">'
        '<input type="checkbox" id="settings-newsletter" name="newsletter" data-live-touched value="true" checked>\n'
        '<label for="settings-newsletter">Send news</label>'
    )
    assert "checked" not in render_checkbox(to_form(SettingsForm).newsletter)


def test_label_error_and_bare_attributes_for_hand_written_controls():
    form = typed_email()
    assert render_label(form.email) == Markup('<label for="settings-email">Email</label>')
    assert render_error(form.email, class_="oops") == Markup('<p id="settings-email-error" class="oops" aria-live="polite">Enter a valid email address</p>')
    assert render_field_attrs(form.email) == Markup(
        'id="settings-email" name="email" data-live-touched aria-invalid="true" aria-describedby="settings-email-error"'
    )
    assert render_field_attrs(form.name) == Markup('id="settings-name" name="name"')


def test_literal_choices_validate_a_select():
    class Plan(BaseModel):
        tier: Literal["free", "pro"] = "free"

    assert to_form(Plan, {"tier": "gold"}).tier.errors == ("Input should be 'free' or 'pro'",)
    assert to_form(Plan, {"tier": ""}).valid  # the prompt's empty value: the default
