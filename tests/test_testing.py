"""Unit tests of fastapi_live.testing: the SSE parser, the DOM updates, form values, the
HTTP layer (httpx over the streaming ASGI transport), and the pytest plugin."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, StreamingResponse
from starlette.routing import Route

from fastapi_live.testing import LiveRedirect, LiveTestClient, LiveTestError, _asgi, element, follow_redirect, live, render_click
from fastapi_live.testing._dom import LiveDocument, SwapSpec, css_escape, parse_attribute_object
from fastapi_live.testing._forms import form_data, js_string, key_filter, request_params
from fastapi_live.testing._sse import SSEDecoder, SSEMessage, read_messages
from tests.support.testing_plugin import PLUGIN, plugins
from tests.support.views.toolkit_views import make_toolkit_app

pytest_plugins = [*plugins(), "pytester"]

# No example database: the suite writes no files outside tests/ and runs in parallel.
settings.register_profile("fastapi-live-testing", database=None, deadline=None, max_examples=300)
PROPERTY = settings.get_profile("fastapi-live-testing")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def toolkit_app():
    return make_toolkit_app()[0]


# -- SSE ----------------------------------------------------------------------------------------------


def feed_in_pieces(raw: bytes, size: int) -> list[SSEMessage]:
    decoder = SSEDecoder()
    return [message for index in range(0, len(raw), size) for message in decoder.feed(raw[index : index + size])]


def test_sse_messages_across_chunks_and_line_endings():
    stream = "\ufeffid: 1\r\ndata: <a>\r\ndata: b\r\n\r\n: heartbeat\n\nevent: saved\rid: 2\rdata: {}\r\r\n"
    for size in (1, 2, 3, len(stream.encode())):  # one byte at a time splits "\r\n", the BOM and every character
        messages = feed_in_pieces(stream.encode(), size)
        assert [(m.id, m.event, m.data) for m in messages] == [("1", "", "<a>\nb"), ("2", "saved", "{}")]


def test_sse_keeps_a_character_split_between_chunks():
    decoder = SSEDecoder()
    raw = "data: café\n\n".encode()
    split = raw.index("é".encode()) + 1
    assert decoder.feed(raw[:split]) == []
    assert [m.data for m in decoder.feed(raw[split:])] == ["café"]


def test_sse_the_id_outlives_its_message_and_retry_is_read():
    decoder = SSEDecoder()
    messages = decoder.feed(b"id: 7\nretry: 500\ndata: \n\ndata: next\n\n")
    assert [(m.id, m.retry, m.data) for m in messages] == [("7", 500, ""), ("7", None, "next")]
    assert (decoder.last_event_id, decoder.retry) == ("7", 500)


def test_sse_a_lone_cr_ends_a_message_at_once():
    # The CR could be the start of a CRLF, but the line it ends is complete: no waiting for more.
    decoder = SSEDecoder()
    assert [m.data for m in decoder.feed(b"data: x\r\r")] == ["x"]
    assert [m.data for m in decoder.feed(b"\ndata: y\n\n")] == ["y"]  # that LF ended an empty line: nothing to dispatch


def test_sse_fields_follow_the_spec():
    raw = (
        b"data\n\n"  # no colon: the whole line names the field, its value is empty
        b"data:no space\ndata:  two spaces\n\n"  # only one leading space is dropped
        b"event: lonely\nid: 3\n\n"  # no data line: not dispatched, but the id is kept
        b"id: 4\0x\nretry: 1e3\nretry: \xc2\xb2\nunknown: x\ndata: after\n\n"  # NUL id, non-digit retries: ignored
        b": a comment\ndata: last\n\n"
        b"data: never dispatched"  # the stream ends mid-message
    )
    decoder = SSEDecoder()
    messages = decoder.feed(raw)
    assert [(m.data, m.event, m.id, m.retry) for m in messages] == [
        ("", "", None, None),
        ("no space\n two spaces", "", None, None),
        ("after", "", "3", None),
        ("last", "", "3", None),
    ]
    assert messages[2].fields == ("id", "retry", "retry", "unknown", "data")
    assert decoder.retry is None


def test_sse_only_the_first_bom_is_dropped():
    # A BOM later in the stream belongs to its line: "\ufeffdata" is an unknown field.
    messages = SSEDecoder().feed("\ufeffdata: a\n\n\ufeffdata: b\n\n".encode())
    assert [m.data for m in messages] == ["a"]


@PROPERTY
@given(
    pieces=st.lists(st.sampled_from(["data: a", "data:é", "id: 1", "event: e", "retry: 9", ": c", "x", "\r", "\n", "\r\n", "\ufeff"]), max_size=30),
    size=st.integers(min_value=1, max_value=8),
)
def test_sse_any_split_of_a_stream_reads_the_same(pieces, size):
    raw = "".join(pieces).encode()
    assert feed_in_pieces(raw, size) == SSEDecoder().feed(raw)


async def test_sse_messages_are_read_from_an_async_stream():
    async def chunks():
        yield b"id: 1\ndata: a\n"
        yield b"\nevent: b\ndata: c\n\n"

    assert [(m.id, m.event, m.data) async for m in read_messages(chunks())] == [("1", "", "a"), ("1", "b", "c")]


# -- DOM updates ---------------------------------------------------------------------------------------------

PAGE = """<!doctype html><html><head><title>t</title></head><body>
<div id="live-root" data-live-root data-live-token="tok">
<h1>Title</h1>
<p id="count" data-live-region="region" data-live-v="2">Count: 2</p>
<ul id="posts" data-live-stream="posts" hx-morph-skip-children><li id="post-1">One</li><li id="post-2">Two</li></ul>
<div id="chart" hx-morph-skip><canvas>drawn</canvas></div>
<table><tbody id="rows"><tr id="row-1"><td>1</td></tr></tbody></table>
</div></body></html>"""


def partial(target: str, content: str, swap: str = "outerMorph") -> str:
    return f'<hx-partial hx-target="#{target}" hx-swap="{swap}">{content}</hx-partial>'


def ids(document: LiveDocument, selector: str) -> list[str]:
    return [node.attrs.get("id") or "" for node in document.select(selector)]


def test_outer_morph_replaces_a_region():
    document = LiveDocument(PAGE)
    document.apply(partial("count", '<p id="count" data-live-region="region" data-live-v="3">Count: 3</p>'))
    assert document.select("#count")[0].html == '<p id="count" data-live-region="region" data-live-v="3">Count: 3</p>'


def test_a_region_fragment_older_than_the_dom_is_dropped():
    document = LiveDocument(PAGE)
    document.apply(partial("count", '<p id="count" data-live-v="1">Count: 1</p>'))
    assert "Count: 2" in document.root_html()
    document.apply(partial("count", '<p id="count" data-live-v="2">Count: two</p>'))  # same version: applied
    assert "Count: two" in document.root_html()


def test_inner_morph_keeps_stream_items_and_skipped_elements():
    document = LiveDocument(PAGE)
    content = '<h1>New</h1><p id="count">Count: 9</p><ul id="posts" data-live-stream="posts" hx-morph-skip-children></ul><div id="chart" hx-morph-skip></div>'
    document.apply(partial("live-root", content, "innerMorph"))
    assert ids(document, "#posts li") == ["post-1", "post-2"]
    assert document.select("#chart canvas")[0].text() == "drawn"
    assert document.select("h1")[0].text() == "New"
    assert document.select("#live-root")[0].attrs.get("data-live-token") == "tok"  # inner: the root itself stays


def test_stream_inserts_follow_at_limit_and_update_only():
    document = LiveDocument(PAGE)
    document.apply(partial("posts", '<li id="post-3">Three</li>', "liveStream at:0 limit:3"))
    assert ids(document, "#posts li") == ["post-3", "post-1", "post-2"]
    document.apply(partial("posts", '<li id="post-4">Four</li>', "liveStream at:-1 limit:-3"))
    assert ids(document, "#posts li") == ["post-1", "post-2", "post-4"]
    document.apply(partial("posts", '<li id="post-2">Two, edited</li>', "liveStream at:0"))  # replaced in place
    assert ids(document, "#posts li") == ["post-1", "post-2", "post-4"]
    assert document.select("#post-2")[0].text() == "Two, edited"
    document.apply(partial("posts", '<li id="post-9">Nine</li>', "liveStream at:-1 updateOnly:true"))
    assert ids(document, "#posts li") == ["post-1", "post-2", "post-4"]
    document.apply(partial("post-1", "", "delete") + partial("posts", "", "innerHTML") + partial("posts", '<li id="post-5">Five</li>', "liveStream at:-1"))
    assert ids(document, "#posts li") == ["post-5"]


def test_table_rows_parse_in_their_context():
    document = LiveDocument(PAGE)
    document.apply(partial("rows", '<tr id="row-2"><td>2</td></tr>', "liveStream at:-1"))
    assert ids(document, "#rows tr") == ["row-1", "row-2"]


def test_missing_targets_are_skipped_and_client_operations_returned():
    document = LiveDocument(PAGE)
    ops = document.apply(
        partial("nowhere", "<p>x</p>")
        + '<hx-live>{"kind":"push","name":"saved","payload":{"html":"&lt;b&gt;"}}</hx-live>'
        + '<hx-live>{"kind":"redirect","name":"/next","payload":null}</hx-live>'
    )
    assert [(op.kind, op.name, op.payload) for op in ops] == [("push", "saved", {"html": "<b>"}), ("redirect", "/next", None)]


def test_an_unknown_swap_style_is_an_error():
    document = LiveDocument(PAGE)
    with pytest.raises(LiveTestError, match=r"unknown swap style 'sideways' in an update\nExpected one of: none, innerHTML"):
        document.apply(partial("count", "<p>x</p>", "sideways"))


def test_swap_specs_and_attribute_objects_parse_as_htmx_does():
    spec = SwapSpec.parse("liveStream at:0 limit:-5 updateOnly:true")
    assert (spec.style, spec.modifiers) == ("liveStream", {"at": 0, "limit": -5, "updateOnly": True})
    assert SwapSpec.parse("append").style == "beforeend"
    assert parse_attribute_object('{"id": 1}') == {"id": 1}
    assert parse_attribute_object("a:1, b:'x y', c.d:true") == {"a": 1, "b": "x y", "c": {"d": True}}
    assert css_escape("a:b.c") == "a\\:b\\.c"
    assert css_escape("1st") == "\\31 st"


# -- form values -------------------------------------------------------------------------------------------------

FORM_PAGE = """<div data-live-root>
<form id="f" data-live-submit="save" hx-vals='{"source": "form", "n": 2.0}'>
  <input name="text" value="t"><input name="empty"><input type="checkbox" name="box"><input type="checkbox" name="on-box" checked>
  <input type="radio" name="r" value="1"><input type="radio" name="r" value="2" checked>
  <select name="first"><option disabled>x</option><option>  Plain   text </option></select>
  <select name="many" multiple><option value="a" selected>A</option><option value="b" selected disabled>B</option></select>
  <textarea name="notes">line one
line two</textarea>
  <input name="off" disabled value="no"><input type="submit" name="go" value="Go"><button name="b" value="v">B</button>
  <fieldset disabled><legend><input name="in-legend" value="yes"></legend><input name="in-fieldset" value="no"></fieldset>
  <datalist><option>not a field</option></datalist>
</form>
<input name="outside" form="f" value="o">
<div id="plain" data-live-click="go" hx-vals='{"id": 3}'><input name="inner" value="i"><button name="skipped">x</button></div>
<button id="alone" name="who" value="me" data-live-click="x">x</button>
<input id="search" data-live-keydown="search" hx-trigger='keydown[key=="Enter"], click'>
</div>"""


def test_form_data_follows_the_html_rules():
    document = LiveDocument(FORM_PAGE)
    form = document.select("#f")[0]
    assert form_data(document, form) == [
        ("text", "t"),
        ("empty", ""),
        ("on-box", "on"),
        ("r", "2"),
        ("first", "Plain text"),
        ("many", "a"),
        ("notes", "line one\nline two"),
        ("in-legend", "yes"),
        ("outside", "o"),
    ]


def test_request_params_add_the_submitter_and_hx_vals():
    document = LiveDocument(FORM_PAGE)
    pairs = request_params(document, document.select("#f")[0], submitter=document.select("[name=go]")[0])
    assert pairs[-3:] == [("go", "Go"), ("source", "form"), ("n", "2")]
    assert request_params(document, document.select("#plain")[0]) == [("inner", "i"), ("id", "3")]
    assert request_params(document, document.select("#alone")[0]) == [("who", "me")]


def test_key_filters_and_js_strings():
    document = LiveDocument(FORM_PAGE)
    assert key_filter(document.select("#search")[0], "keydown") == "Enter"
    assert key_filter(document.select("#search")[0], "keyup") is None
    assert [js_string(v) for v in (None, True, 2.0, 2.5, [1, None, "a"], {"a": 1}, float("nan"))] == [
        "null",
        "true",
        "2",
        "2.5",
        "1,,a",
        "[object Object]",
        "NaN",
    ]


# -- the HTTP layer: httpx over the streaming ASGI transport ---------------------------------------------------------


class Ticker:
    """A streaming app: one chunk now, one when released, then it waits for a disconnect."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.closed = asyncio.Event()
        self.started_with = ""

        async def ticks(request: Request) -> StreamingResponse:
            async def body():
                try:
                    yield b"first"
                    await self.release.wait()
                    yield b"second"
                    await asyncio.Event().wait()
                finally:
                    self.closed.set()

            return StreamingResponse(body(), media_type="text/plain")

        async def state(request: Request) -> PlainTextResponse:
            return PlainTextResponse(request.state.greeting)

        async def boom(request: Request) -> PlainTextResponse:
            raise RuntimeError("broken route")

        async def prime(request: Request) -> PlainTextResponse:
            response = PlainTextResponse("primed")
            response.set_cookie("stale", "x")
            return response

        async def login(request: Request) -> RedirectResponse:
            response = RedirectResponse("/page", status_code=303)
            response.set_cookie("user", "alice")
            response.delete_cookie("stale")
            return response

        async def page(request: Request) -> PlainTextResponse:
            return PlainTextResponse(request.headers.get("cookie", ""))

        async def echo(request: Request) -> PlainTextResponse:
            return PlainTextResponse(f"{request.method} {request.headers.get('content-type')} {(await request.body()).decode()}")

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette):
            yield {"greeting": "hello from the lifespan"}

        self.app = Starlette(
            routes=[
                Route("/ticks", ticks),
                Route("/state", state),
                Route("/boom", boom),
                Route("/prime", prime),
                Route("/login", login),
                Route("/page", page),
                Route("/echo", echo, methods=["POST", "PUT"]),
            ],
            lifespan=lifespan,
        )


async def test_a_stream_is_read_while_it_is_sent_and_closed_on_demand():
    ticker = Ticker()
    async with LiveTestClient(ticker.app, lifespan=False) as client, client.stream("GET", "/ticks") as response:
        assert response.status_code == 200
        chunks = response.aiter_raw()
        assert await asyncio.wait_for(anext(chunks), 5) == b"first"
        ticker.release.set()
        assert await asyncio.wait_for(anext(chunks), 5) == b"second"
        assert not ticker.closed.is_set()
    assert ticker.closed.is_set()  # closing the response disconnected the request


async def test_an_app_that_ignores_the_disconnect_is_cancelled(monkeypatch):
    monkeypatch.setattr(_asgi, "_CLOSE_TIMEOUT", 0.05)
    cancelled = asyncio.Event()

    async def deaf(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"data: hi\n\n", "more_body": True})
        try:
            await asyncio.Event().wait()  # never reads receive(), so never hears the disconnect
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with LiveTestClient(deaf, lifespan=False) as client:
        response = await client.send(client.build_request("GET", "/stream"), stream=True)
        assert [m.data async for m in _first(read_messages(response.aiter_bytes()))] == ["hi"]
        await response.aclose()
    assert cancelled.is_set()


async def _first(messages):
    async for message in messages:
        yield message
        return


async def test_lifespan_state_reaches_requests_and_errors_propagate():
    ticker = Ticker()
    async with LiveTestClient(ticker.app) as client:
        assert (await client.get("/state")).text == "hello from the lifespan"
        with pytest.raises(RuntimeError, match="broken route"):
            await client.get("/boom")


async def test_the_client_keeps_cookies_follows_redirects_and_sends_bodies():
    async with LiveTestClient(Ticker().app, lifespan=False, cookies={"theme": "dark"}) as client:
        await client.get("/prime")
        assert client.cookies == {"theme": "dark", "stale": "x"}
        response = await client.get("/login")
        assert (response.status_code, response.headers["location"]) == (303, "/page")
        assert client.cookies == {"theme": "dark", "user": "alice"}  # a Max-Age=0 cookie is deleted
        assert (await client.get("http://testserver/page")).text == "theme=dark; user=alice"
        followed = await client.get("/login", follow_redirects=True)
        assert (followed.url.path, followed.text) == ("/page", "theme=dark; user=alice")
        assert (await client.post("/echo", json={"a": 1})).text == 'POST application/json {"a":1}'
        assert (await client.put("/echo", data={"b": "2"})).text == "PUT application/x-www-form-urlencoded b=2"


async def test_the_client_serves_only_its_app():
    async with LiveTestClient(Ticker().app, lifespan=False) as client:
        with pytest.raises(LiveTestError, match=r"cannot request 'http://elsewhere/page': the test client serves only its app\nExpected: a path"):
            await client.get("http://elsewhere/page")


async def test_live_refuses_pages_that_are_not_live():
    app = Ticker().app
    with pytest.raises(LiveTestError, match=r"GET /missing answered 404\nExpected: 200 with a live page"):
        await live(app, "/missing")
    with pytest.raises(LiveTestError, match=r"GET /page did not return a live page: no element with data-live-root"):
        await live(app, "/page")
    with pytest.raises(LiveRedirect, match=r"GET /login redirected to '/page' \(303\)"):
        await live(app, "/login")
    with pytest.raises(LiveTestError, match=r"live\(\) needs the app to open the page in\nExpected: an ASGI app .*\nGot: 'not an app'"):
        await live("not an app", "/")


async def test_follow_redirect_gives_up_on_a_redirect_loop():
    async def loop(request: Request) -> RedirectResponse:
        return RedirectResponse("/loop", status_code=302)

    async with LiveTestClient(Starlette(routes=[Route("/loop", loop)]), lifespan=False) as client:
        with pytest.raises(LiveRedirect) as redirected:
            await live(client, "/loop")
        with pytest.raises(LiveTestError, match=r"follow_redirect\(\): more than 20 redirects in a row from '/loop'\nExpected: a live page at the end"):
            await follow_redirect(redirected.value)


# -- the pytest plugin ----------------------------------------------------------------------------------------------


def test_the_plugin_closes_open_views_and_warns_about_running_tasks(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    # Under CI=true pytest prints its short summary untruncated, repeating each message.
    monkeypatch.delenv("CI", raising=False)
    pytester.makeini(
        """
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        """
    )
    pytester.makepyfile(
        test_views=textwrap.dedent(
            """
            import pytest
            from fastapi_live.testing import live, render_async
            from fastapi_live.testing import sync as live_sync
            from tests.support.views.toolkit_views import make_toolkit_app

            @pytest.fixture
            def live_app():
                return make_toolkit_app()[0]

            async def test_async_client_left_running(live_client):
                await live(live_client, "/tasks")

            def test_sync_client_left_running(sync_live_client):
                live_sync.live(sync_live_client, "/tasks")

            async def test_bare_app_left_running():
                await live(make_toolkit_app()[0], "/tasks")

            def test_bare_app_left_running_sync():
                live_sync.live(make_toolkit_app()[0], "/tasks")

            async def test_waited(live_client):
                view, _ = await live(live_client, "/tasks?mode=quick")
                assert "quick: report ready" in await render_async(view)

            async def test_failed_before_waiting(live_client):
                await live(live_client, "/tasks")
                assert False, "the failure is the news, not the running tasks"

            def test_waited_sync():
                view, _ = live_sync.live(make_toolkit_app()[0], "/tasks?mode=quick")
                assert "quick: report ready" in live_sync.render_async(view)
            """
        ),
        test_no_app="async def test_needs_an_app(live_client):\n    pass\n",
    )
    arguments = ["-p", "no:cacheprovider", "-p", "no:randomly"]
    if plugins():
        arguments += ["-p", PLUGIN]
    result = pytester.runpytest_subprocess(*arguments, timeout=120)
    result.assert_outcomes(passed=6, failed=1, errors=5)
    output = result.stdout.str()
    assert output.count("PendingTasksWarning: Tasks (/tasks) was closed with async tasks still running: start_async('forever')") == 4
    assert re.search(r"ERROR at teardown of test_async_client_left_running", output)
    assert "html = await render_async(view)" in output
    assert "define a `live_app` fixture that returns it" in output


def test_the_plugin_loads_without_httpx_and_the_toolkit_names_the_extra(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        no_httpx="import sys\nsys.modules['httpx'] = None  # import httpx now fails, as where it is not installed\n",
        test_plain=textwrap.dedent(
            """
            import pytest

            def test_unrelated():
                assert True

            def test_the_toolkit_says_what_to_install():
                import fastapi_live.testing
                with pytest.raises(Exception, match=r"httpx must be installed to use fastapi_live.testing: pip install 'fastapi-live\\[test\\]'"):
                    fastapi_live.testing.live
            """
        ),
    )
    arguments = ["-p", "no:cacheprovider", "-p", "no_httpx"]
    if plugins():
        arguments += ["-p", PLUGIN]
    result = pytester.runpytest_subprocess(*arguments, timeout=120)
    result.assert_outcomes(passed=2)


async def test_a_bad_selector_and_a_closed_view_say_what_is_wrong(toolkit_app):
    view, _ = await live(toolkit_app, "/settings")
    with pytest.raises(LiveTestError, match=r"invalid CSS selector: .*\nExpected: a selector such as '#inc'.*\nGot: 'button\['"):
        element(view, "button[")
    await view.close()
    with pytest.raises(LiveTestError, match=r"cannot render_click: the view of /settings is closed\nExpected: an open view"):
        await render_click(view, "#leave")

