"""``LiveView``: events bound by name, params bound and validated by signature."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from fastapi_live import CallbackReturnError, EventError, Exit, LiveError, LiveSocket, LiveView, Ok, event
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


async def test_an_unknown_event_names_the_view_and_the_known_events(socket):
    with pytest.raises(EventError) as info:
        await dispatch_event(Page(), "nope", {}, socket)
    assert str(info.value) == (
        "unknown event 'nope' for Page\nExpected one of: bad-return, inc, mixed, raw, returns-socket, save, select\nGot: 'nope'"
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
