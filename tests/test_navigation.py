"""Navigation: URLs read as links, handle_params' binding, the Navigator's patches, and link helpers."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from fastapi_live import ConfigurationError, EventError, LiveError, LiveSocket, LiveView, event
from fastapi_live.helpers import TemplateHelpers
from fastapi_live.navigation import Navigator, PageRoute, ParamsBinding, local_url, params_binding, query_values, raw_params
from fastapi_live.socket import ClientOp


@pytest.mark.parametrize(
    ("to", "current", "expected"),
    [
        ("?tab=settings", "/dashboard/acme?tab=overview", "/dashboard/acme?tab=settings"),
        ("/counter", "/dashboard/acme", "/counter"),
        ("initech", "/dashboard/acme", "/dashboard/initech"),
        ("?page=2#posts", "/dashboard/acme", "/dashboard/acme?page=2#posts"),
    ],
)
def test_a_url_is_read_as_a_browser_reads_a_link(to, current, expected):
    assert local_url(to, current) == expected


def test_another_site_is_refused():
    with pytest.raises(LiveError, match=r"^cannot patch or navigate to 'https://example.com/x': it is another site"):
        local_url("https://example.com/x", "/")


def test_query_values_keep_order_blanks_and_repeats():
    assert query_values("a=1&b=&a=2") == {"a": ["1", "2"], "b": [""]}
    assert raw_params("/p/7?a=1&a=2&b=x", {"id": 7}) == {"a": ["1", "2"], "b": "x", "id": 7}


# -- binding -------------------------------------------------------------------------------------------------


class Fields(LiveView):
    async def handle_params(self, socket: LiveSocket, url: str, page: Annotated[int, Field(ge=1)] = 1, tag: list[str] | None = None) -> None:
        socket.assign(page=page, tag=tag, url=url)


class Model(BaseModel):
    q: str = ""
    ids: list[int] = []


class ByModel(LiveView):
    async def handle_params(self, filters: Model, socket: LiveSocket) -> None:
        socket.assign(filters=filters)


def bind(view_cls: type[LiveView], url: str, path: dict[str, Any] | None = None) -> dict[str, Any]:
    socket = LiveSocket(view_name=view_cls.__name__)
    kwargs = ParamsBinding(view_cls).bind(socket, url, path or {})
    assert kwargs.pop("socket") is socket
    return kwargs


def test_typed_fields_bind_from_the_query_the_last_value_winning_and_lists_taking_all():
    assert bind(Fields, "/p?page=2&page=3&tag=a&tag=b") == {"url": "/p?page=2&page=3&tag=a&tag=b", "page": 3, "tag": ["a", "b"]}
    assert bind(Fields, "/p") == {"url": "/p", "page": 1, "tag": None}


def test_path_params_bind_over_the_query():
    class Item(LiveView):
        async def handle_params(self, socket: LiveSocket, id: int) -> None: ...

    assert bind(Item, "/items/3?id=9", {"id": "3"}) == {"id": 3}


def test_a_model_takes_them_all():
    kwargs = bind(ByModel, "/s?q=x&ids=1&ids=2")
    assert kwargs["filters"] == Model(q="x", ids=[1, 2])


def test_params_that_do_not_fit_raise_a_422_naming_where_they_came_from():
    class Item(LiveView):
        async def handle_params(self, socket: LiveSocket, id: int, page: int = 1) -> None: ...

    with pytest.raises(EventError, match=r"^invalid params for Item.handle_params\(\): id, page$") as raised:
        bind(Item, "/items/x?page=y", {"id": "x"})
    assert raised.value.status_code == 422
    assert [(e["loc"], e["type"]) for e in raised.value.errors] == [(["path", "id"], "int_parsing"), (["query", "page"], "int_parsing")]


def test_handle_params_must_take_the_socket():
    class NoSocket(LiveView):
        async def handle_params(self, page: int = 1) -> None: ...

    with pytest.raises(ConfigurationError, match=r"^NoSocket.handle_params\(\) must take the socket\nExpected: async def handle_params"):
        ParamsBinding(NoSocket)


def test_a_model_and_loose_fields_do_not_mix():
    class Both(LiveView):
        async def handle_params(self, socket: LiveSocket, filters: Model, page: int = 1) -> None: ...

    with pytest.raises(ConfigurationError, match=r"takes the model 'filters' and the fields \['page'\]"):
        ParamsBinding(Both)


def test_the_binding_is_built_once_per_class_and_not_inherited():
    class Child(Fields):
        async def handle_params(self, socket: LiveSocket, other: str = "") -> None: ...

    assert params_binding(Fields) is params_binding(Fields)
    assert params_binding(Child) is not params_binding(Fields)
    assert not params_binding(LiveView).defined


# -- the navigator ------------------------------------------------------------------------------------------


class Pages(LiveView):
    async def handle_params(self, socket: LiveSocket, page: int = 1, loop: bool = False, canonical: bool = False) -> None:
        socket.assign(page=page)
        if loop:
            socket.push_patch(f"?loop=1&page={page + 1}")
        if canonical:
            socket.push_patch(f"?page={page}", replace=True)


class Elsewhere(LiveView):
    pass


def resolver(path: str) -> PageRoute | None:
    return {"/pages": PageRoute(Pages, {}), "/elsewhere": PageRoute(Elsewhere, {})}.get(path)


@pytest.fixture
def navigator() -> Navigator:
    return Navigator(Pages(), "/pages?page=1", resolver)


@pytest.fixture
def socket() -> LiveSocket:
    return LiveSocket(view_name="Pages")


async def test_the_last_push_patch_of_a_callback_wins_and_leaves_one_operation(navigator, socket):
    socket.push_patch("?page=2").push_event("ping").push_patch("?page=3")
    await navigator.settle(socket)
    assert socket.assigns.page == 3 and navigator.url == "/pages?page=3"
    assert socket._client_ops == [ClientOp("push", "ping", {}), ClientOp("patch", "/pages?page=3", {"replace": False})]


async def test_a_canonicalising_patch_keeps_the_first_ones_history_mode(navigator, socket):
    socket.push_patch("?page=4&canonical=1")
    await navigator.settle(socket)
    assert socket._client_ops == [ClientOp("patch", "/pages?page=4", {"replace": False})]


async def test_push_patch_from_handle_params_forever_is_a_loop(navigator, socket):
    socket.push_patch("?loop=1")
    with pytest.raises(LiveError, match=r"^Pages.handle_params\(\) called push_patch 8 times in a row: a loop$"):
        await navigator.settle(socket)


async def test_a_navigation_wins_over_patches(navigator, socket):
    socket.push_patch("?page=2").push_navigate("/elsewhere")
    await navigator.settle(socket)
    assert socket._client_ops == [ClientOp("navigate", "/elsewhere", {"replace": False})]
    assert navigator.url == "/pages?page=1"


async def test_a_navigation_no_live_page_serves_is_a_redirect(navigator, socket):
    socket.push_navigate("/plain", replace=True)
    await navigator.settle(socket)
    assert socket._client_ops == [ClientOp("redirect", "/plain", {"replace": True})]


async def test_a_browser_patch_to_another_view_navigates_and_to_no_live_page_redirects(navigator, socket):
    await navigator.patch(socket, "/elsewhere")
    await navigator.patch(socket, "/nowhere")
    assert socket._client_ops == [ClientOp("navigate", "/elsewhere", {"replace": True}), ClientOp("redirect", "/nowhere", {"replace": True})]
    assert navigator.url == "/pages?page=1"


async def test_push_patch_to_another_view_is_refused(navigator, socket):
    socket.push_patch("/elsewhere")
    with pytest.raises(LiveError, match=r"^Pages cannot push_patch\('/elsewhere'\): that URL is served by Elsewhere, not Pages\n"):
        await navigator.settle(socket)


def test_socket_operations_need_a_url(socket):
    with pytest.raises(LiveError, match=r"^push_patch\(\) needs a URL\nExpected: a path such as '/dashboard/acme' or a query such as '\?page=2'\nGot: ''$"):
        socket.push_patch("")
    socket.navigate("/x", replace=True)
    assert socket._client_ops == [ClientOp("navigate", "/x", {"replace": True})]


def test_library_event_names_are_reserved():
    with pytest.raises(LiveError, match=r"^event name 'live:patch' is reserved"):
        event("live:patch")


# -- link helpers ------------------------------------------------------------------------------------------


def test_patch_and_navigate_links_are_plain_hrefs_with_a_marker():
    helpers = TemplateHelpers("/_live/event", "/_live/static", resolve=lambda path: object() if path == "/counter" else None)
    assert helpers.patch("?tab=settings&page=2") == 'href="?tab=settings&amp;page=2" data-live-link="patch"'
    assert helpers.patch("?tab=a", replace=True) == 'href="?tab=a" data-live-link="patch" data-live-link-state="replace"'
    assert helpers.navigate("/counter") == 'href="/counter" data-live-link="navigate"'
    assert helpers.navigate("/") == 'href="/"'  # no live page of this router: a full load
    with pytest.raises(ConfigurationError, match=r"^live.patch\(\) needs a URL, got ''$"):
        helpers.patch("")
