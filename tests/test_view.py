"""``LiveView``: events bound by name, params bound and validated by signature."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from fastapi_live import CallbackReturnError, ConfigurationError, EventError, Exit, Form, LiveError, LiveSocket, LiveView, Ok, event, to_form
from fastapi_live.view import check_reply, dispatch_event


class Settings(BaseModel):
    name: str = Field(min_length=2)
    email: str
    newsletter: bool = False


class Page(LiveView):
    @event("inc")
    async def inc(self, socket: LiveSocket, by: int = 1) -> None:
        socket.assign(count=socket.assigns.get("count", 0) + by)

    @event("select")
    async def select(self, socket: LiveSocket, id: int, tags: list[str] | None = None) -> None:
        socket.assign(selected=(id, tags))

    @event("save")
    async def save(self, socket: LiveSocket, form: Settings) -> dict[str, Any]:
        socket.assign(saved=form)
        return {"saved": form.name}

    @event("raw")
    def raw(self, socket: LiveSocket, params: dict[str, Any]) -> None:
        socket.assign(raw=params)

    @event("mixed")
    async def mixed(self, socket: LiveSocket, page: Annotated[int, Field(ge=1)], params: dict) -> None:
        socket.assign(mixed=(page, params))

    @event("validate")
    async def validate(self, socket: LiveSocket, form: Form[Settings]) -> None:
        socket.assign(form=form)

    @event("save-form")
    async def save_form(self, socket: LiveSocket, form: Form[Settings], params: dict[str, Any], id: int = 0) -> None:
        socket.assign(form=form, raw=params, id=id)

    @event("own-validation")
    async def own_validation(self, socket: LiveSocket, params: dict[str, Any]) -> None:
        socket.assign(form=to_form(Settings, params))

    @event("bad-return")
    async def bad_return(self, socket: LiveSocket) -> Any:
        return 42

    @event("returns-socket")
    async def returns_socket(self, socket: LiveSocket) -> Any:
        return socket


@pytest.fixture
def socket() -> LiveSocket:
    return LiveSocket(view_name="Page")


async def test_params_are_converted_to_the_annotated_types(socket):
    await dispatch_event(Page(), "inc", {"by": "5"}, socket)
    assert socket.assigns.count == 5


async def test_defaults_fill_missing_params_and_unknown_params_are_ignored(socket):
    await dispatch_event(Page(), "inc", {"unrelated": "x"}, socket)
    assert socket.assigns.count == 1


async def test_lists_and_optionals_bind(socket):
    await dispatch_event(Page(), "select", {"id": "3", "tags": ["a", "b"]}, socket)
    assert socket.assigns.selected == (3, ["a", "b"])


async def test_a_single_pydantic_model_param_takes_all_params(socket):
    reply = await dispatch_event(Page(), "save", {"name": "Ann", "email": "ann@example.com", "newsletter": "on"}, socket)
    assert socket.assigns.saved == Settings(name="Ann", email="ann@example.com", newsletter=True)
    assert reply == {"saved": "Ann"}


async def test_a_params_dict_receives_everything_raw(socket):
    await dispatch_event(Page(), "raw", {"a": "1", "b": ["x", "y"]}, socket)
    assert socket.assigns.raw == {"a": "1", "b": ["x", "y"]}


async def test_typed_params_and_the_raw_dict_together(socket):
    await dispatch_event(Page(), "mixed", {"page": "2", "q": "x"}, socket)
    assert socket.assigns.mixed == (2, {"page": "2", "q": "x"})


async def test_a_sync_handler_works_too(socket):
    await dispatch_event(Page(), "raw", {}, socket)
    assert socket.assigns.raw == {}


async def test_invalid_params_are_a_422_listing_each_field(socket):
    with pytest.raises(EventError, match=r"^invalid params for Page\.inc\(\): by$") as info:
        await dispatch_event(Page(), "inc", {"by": "many"}, socket)
    assert info.value.status_code == 422
    assert info.value.errors == [{"loc": ["by"], "msg": "Input should be a valid integer, unable to parse string as an integer", "type": "int_parsing"}]
    assert "count" not in socket.assigns


async def test_a_missing_required_param_is_a_422(socket):
    with pytest.raises(EventError, match=r"^invalid params for Page\.select\(\): id$") as info:
        await dispatch_event(Page(), "select", {}, socket)
    assert info.value.errors[0]["type"] == "missing"


async def test_model_validation_errors_name_every_failing_field(socket):
    with pytest.raises(EventError, match=r"^invalid params for Page\.save\(\): name, email$") as info:
        await dispatch_event(Page(), "save", {"name": "A"}, socket)
    assert [(e["loc"], e["type"]) for e in info.value.errors] == [(["name"], "string_too_short"), (["email"], "missing")]
    assert info.value.status_code == 422


async def test_field_constraints_from_annotated_apply(socket):
    with pytest.raises(EventError, match=r"^invalid params for Page\.mixed\(\): page$") as info:
        await dispatch_event(Page(), "mixed", {"page": "0"}, socket)
    assert info.value.errors[0]["type"] == "greater_than_equal"


async def test_a_form_parameter_gets_the_errors_instead_of_a_422(socket):
    await dispatch_event(Page(), "validate", {"name": "A", "_target": "name", "_unused_email": ""}, socket)
    form = socket.assigns.form
    assert isinstance(form, Form) and form.data is None
    assert form.name.errors == ("String should have at least 2 characters",)
    assert form.email.errors == ()  # not touched yet: missing, but not shown
    assert form.errors["email"] == ("Field required",)


async def test_a_valid_form_carries_the_model(socket):
    await dispatch_event(Page(), "validate", {"name": "Ann", "email": "ann@example.com", "newsletter": "on"}, socket)
    assert socket.assigns.form.data == Settings(name="Ann", email="ann@example.com", newsletter=True)


async def test_a_form_binds_beside_the_raw_params_and_typed_ones(socket):
    await dispatch_event(Page(), "save-form", {"name": "Ann", "email": "a@b.c", "id": "7", "_target": "name"}, socket)
    assert socket.assigns.form.valid and socket.assigns.id == 7
    assert socket.assigns.raw == {"name": "Ann", "email": "a@b.c", "id": "7", "_target": "name"}


async def test_a_handler_may_validate_the_raw_params_itself(socket):
    await dispatch_event(Page(), "own-validation", {"name": "A"}, socket)
    assert socket.assigns.form.name.errors == ("String should have at least 2 characters",)


class Strict(BaseModel, extra="forbid"):
    name: str


class StrictPage(LiveView):
    @event("save")
    async def save(self, socket: LiveSocket, form: Strict) -> None:
        socket.assign(saved=form)


async def test_the_clients_bookkeeping_never_reaches_a_model_param(socket):
    await dispatch_event(StrictPage(), "save", {"name": "Ann", "_target": "name", "_unused_x": ""}, socket)
    assert socket.assigns.saved == Strict(name="Ann")


@pytest.mark.parametrize("annotation", ["Form", "Form[int]"])
async def test_a_form_without_a_pydantic_model_names_the_handler(socket, annotation):
    namespace: dict[str, Any] = {}
    exec(
        "from typing import Any\n"
        "from fastapi_live import Form, LiveSocket, LiveView, event\n"
        "class Broken(LiveView):\n"
        "    @event('go')\n"
        f"    async def go(self, socket: LiveSocket, form: {annotation}) -> None: ...\n",
        namespace,
    )
    with pytest.raises(ConfigurationError) as info:
        await dispatch_event(namespace["Broken"](), "go", {}, socket)
    got = "Form without a model" if annotation == "Form" else "Form[int]"
    assert str(info.value).startswith(
        "Broken.go(): the parameter 'form' is a Form, but a Form needs the pydantic model it validates\n"
        "Expected: form: Form[SomeModel], SomeModel a pydantic BaseModel subclass; or form: dict[str, Any] for the raw params\n"
    )
    assert str(info.value).endswith(f"Got: {got}")


async def test_an_unknown_event_names_the_view_and_the_known_events(socket):
    with pytest.raises(EventError) as info:
        await dispatch_event(Page(), "nope", {}, socket)
    assert str(info.value) == (
        "unknown event 'nope' for Page\n"
        "Expected one of: bad-return, inc, mixed, own-validation, raw, returns-socket, save, save-form, select, validate\nGot: 'nope'"
    )
    assert info.value.status_code == 400


async def test_a_view_without_events_says_so(socket):
    class Empty(LiveView):
        pass

    with pytest.raises(EventError, match=r"^unknown event 'x' for Empty\nExpected one of: \(no events\)\nGot: 'x'$"):
        await dispatch_event(Empty(), "x", {}, socket)


async def test_handle_event_catches_events_without_a_method(socket):
    class CatchAll(LiveView):
        async def handle_event(self, event: str, params: dict[str, Any], socket: LiveSocket) -> Any:
            socket.assign(last=(event, params))
            return {"handled": event}

    reply = await dispatch_event(CatchAll(), "anything", {"a": 1}, socket)
    assert socket.assigns.last == ("anything", {"a": 1})
    assert reply == {"handled": "anything"}


async def test_an_invalid_return_names_the_handler_and_the_choices(socket):
    with pytest.raises(CallbackReturnError) as info:
        await dispatch_event(Page(), "bad-return", {}, socket)
    assert str(info.value) == (
        "invalid return from Page.bad_return(): expected None, or a mapping to reply to a JS hook's pushEvent\n"
        "Expected one of: None, socket, dict\nGot: 42"
    )


async def test_returning_the_socket_is_like_returning_none(socket):
    assert await dispatch_event(Page(), "returns-socket", {}, socket) is None


def test_check_reply_names_handle_event():
    with pytest.raises(CallbackReturnError, match=r"(?s)^invalid return from Page\.handle_event\(\): .*\nGot: \['x'\]$"):
        check_reply(["x"], "Page.handle_event()")


async def test_events_are_inherited_and_may_be_overridden(socket):
    class Child(Page):
        @event("inc")
        async def inc_twice(self, socket: LiveSocket, by: int = 1) -> None:
            socket.assign(count=2 * by)

        @event("extra")
        async def extra(self, socket: LiveSocket) -> None:
            socket.assign(extra=True)

    await dispatch_event(Child(), "inc", {"by": "4"}, socket)
    await dispatch_event(Child(), "extra", {}, socket)
    await dispatch_event(Child(), "select", {"id": "1"}, socket)
    assert (socket.assigns.count, socket.assigns.extra, socket.assigns.selected) == (8, True, (1, None))
    assert "extra" not in Page._events()


async def test_type_hints_may_name_classes_defined_after_the_view(socket):
    class Later(LiveView):
        @event("go")
        async def go(self, socket: LiveSocket, form: LaterForm) -> None:
            socket.assign(form=form)

    global LaterForm

    class LaterForm(BaseModel):
        x: int

    try:
        await dispatch_event(Later(), "go", {"x": "1"}, socket)
    finally:
        del LaterForm
    assert socket.assigns.form.x == 1


@pytest.mark.parametrize("name", ["", None])
def test_an_event_needs_a_name(name):
    with pytest.raises(LiveError, match=rf"^event name must be a non-empty string, got {name!r}$"):
        event(name)


@pytest.mark.parametrize("outcome", [Ok(1), Exit("boom")])
async def test_the_default_handle_async_names_the_view_and_the_task(socket, outcome):
    with pytest.raises(CallbackReturnError) as info:
        await Page().handle_async("fetch_org", outcome, socket)
    assert str(info.value) == (
        f"Page has no handle_async for task 'fetch_org': define handle_async(self, name, outcome, socket) "
        f"to receive its {type(outcome).__name__} outcome"
    )


async def test_the_default_handle_info_ignores_messages(socket):
    assert await Page().handle_info("anything", socket) is None
    assert dict(socket.assigns) == {}


def test_outcomes_match_by_pattern():
    def describe(outcome):
        match outcome:
            case Ok(value):
                return f"ok {value}"
            case Exit(reason):
                return f"exit {reason}"

    assert (describe(Ok(1)), describe(Exit("x"))) == ("ok 1", "exit x")
