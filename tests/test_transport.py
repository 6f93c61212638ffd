"""SSE framing: what the codec writes is what a spec-following SSE parser reads back."""

from __future__ import annotations

import gzip
import json
import re
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fastapi_live import EventError, LiveError
from fastapi_live.testing._sse import SSEDecoder
from fastapi_live.transport import (
    GZIP_HISTORY,
    MAX_JSON_DEPTH,
    GzipStream,
    accepts_gzip,
    cross_site,
    encode_comment,
    encode_message,
    normal_origin,
    parse_last_event_id,
    parse_params,
)

# No example database: the suite writes no files outside tests/ and runs in parallel.
settings.register_profile("fastapi-live-transport", database=None, deadline=None, max_examples=300)
PROPERTY = settings.get_profile("fastapi-live-transport")

_SSE_LINE = re.compile(r"\r\n|\r|\n")


def parse_sse(raw: bytes) -> list[dict[str, object]]:
    """The WHATWG event-stream interpretation (the toolkit's SSE parser), each message as a dict."""
    return [
        {"data": m.data, "event": m.event or "message", "id": m.id, "retry": m.retry, "fields": list(m.fields)} for m in SSEDecoder().feed(raw)
    ]


def normalise_breaks(text: str) -> str:
    return _SSE_LINE.sub("\n", text)


# -- examples ------------------------------------------------------------------------------------


def test_a_message_has_event_id_retry_and_data_lines_in_order():
    raw = encode_message("<p>hi</p>", event_id="7", event="toast", retry=500)
    assert raw == b"event: toast\nid: 7\nretry: 500\ndata: <p>hi</p>\n\n"


def test_multiline_data_becomes_one_data_line_each():
    assert encode_message("a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"


def test_empty_data_is_still_a_message():
    assert parse_sse(encode_message("", event_id="0")) == [{"data": "", "event": "message", "id": "0", "retry": None, "fields": ["id", "data"]}]


@pytest.mark.parametrize("field", ["event", "event_id"])
@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "a\0b", "\n"])
def test_a_line_break_or_nul_in_a_field_is_refused(field, bad):
    name = "event" if field == "event" else "id"
    with pytest.raises(LiveError, match=rf"^SSE {name} may not contain a line break or NUL, got {re.escape(repr(bad))}$"):
        encode_message("x", **{field: bad})


@pytest.mark.parametrize("retry", [-1, 1.5, "500"])
def test_retry_must_be_a_non_negative_int(retry):
    with pytest.raises(LiveError, match=rf"^SSE retry must be a non-negative int of milliseconds, got {re.escape(repr(retry))}$"):
        encode_message("x", retry=retry)


def test_a_comment_is_ignored_by_parsers_and_cannot_break_out():
    raw = encode_comment("hb\n\ndata: injected\n\n") + encode_message("real")
    assert raw.startswith(b": hb")
    assert [m["data"] for m in parse_sse(raw)] == ["real"]


def test_an_empty_comment_is_a_keepalive():
    assert encode_comment() == b": \n\n"
    assert parse_sse(encode_comment()) == []


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("0", 0), (" 42 ", 42), ("17\n", 17), ("", None), ("abc", None),
                                               ("-1", None), ("1.5", None), ("1e3", None), ("9" * 18, 10**18 - 1), ("9" * 19, None)])
def test_last_event_id(raw, expected):
    assert parse_last_event_id(raw) == expected


@pytest.mark.parametrize("raw", ["²", "1²", "¹", "³3"])
def test_last_event_id_with_a_latin1_superscript_digit_is_malformed_not_an_error(raw):
    # Starlette decodes header bytes as Latin-1, so a client can send byte 0xB2 here.
    assert parse_last_event_id(raw) is None


# -- properties ---------------------------------------------------------------------------------


@PROPERTY
@given(event=st.text(), event_id=st.text(), data=st.text())
@example(event="x\ndata: evil", event_id="1", data="")
@example(event="ok", event_id="1\r\nevent: evil", data="")
@example(event="\x85\u2028\u2029\x0b\x0c\x1c", event_id="\u2028", data="a")
def test_no_value_can_inject_a_line_break_into_an_event_name_or_id(event, event_id, data):
    try:
        raw = encode_message(data, event_id=event_id, event=event)
    except LiveError:
        assert any(c in event + event_id for c in "\r\n\0")
        return
    messages = parse_sse(raw)
    assert len(messages) == 1
    (message,) = messages
    assert message["event"] == (event or "message")
    assert message["id"] == event_id
    assert message["fields"].count("event") == 1
    assert message["fields"].count("id") == 1
    assert message["retry"] is None


@PROPERTY
@given(data=st.lists(st.sampled_from(["\n", "\r", "\r\n", "a", " ", ":", "data: x", "é", "\u2028", "\0", "id: 9", "<p>"])).map("".join))
def test_data_with_any_line_breaks_round_trips(data):
    messages = parse_sse(encode_message(data, event_id="3"))
    assert messages == [{"data": normalise_breaks(data), "event": "message", "id": "3", "retry": None, "fields": messages[0]["fields"]}]
    assert set(messages[0]["fields"]) == {"id", "data"}


@PROPERTY
@given(data=st.text())
def test_any_text_round_trips_as_data(data):
    (message,) = parse_sse(encode_message(data))
    assert message["data"] == normalise_breaks(data)


@PROPERTY
@given(st.lists(st.tuples(st.text(), st.integers(min_value=0, max_value=10**12), st.text(max_size=5)), max_size=8))
def test_consecutive_messages_and_comments_stay_separate(items):
    raw = b"".join(encode_comment(comment) + encode_message(data, event_id=str(n)) for data, n, comment in items)
    messages = parse_sse(raw)
    assert [(m["data"], m["id"]) for m in messages] == [(normalise_breaks(d), str(n)) for d, n, _ in items]


@PROPERTY
@given(n=st.integers(min_value=0, max_value=10**18 - 1))
def test_any_frame_number_round_trips_through_last_event_id(n):
    assert parse_last_event_id(str(n)) == n


@PROPERTY
# The superscript digits are covered by their own test above.
@given(raw=st.text(alphabet=st.characters(codec="latin-1", exclude_characters="¹²³")))
@example(" 007 ")
def test_last_event_id_never_raises_on_a_latin1_header(raw):
    result = parse_last_event_id(raw)
    assert result is None or result == int(raw.strip())


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 100_000])
def test_json_params_nested_past_the_limit_are_malformed(depth):
    body = ('{"a":' + "[" * depth + "]" * depth + "}").encode()
    with pytest.raises(EventError, match=rf"^malformed JSON event body: nested deeper than {MAX_JSON_DEPTH} levels$"):
        parse_params(body, "application/json")


def test_json_params_at_the_depth_limit_parse():
    depth = MAX_JSON_DEPTH - 1
    body = ('{"a":' + "[" * depth + "]" * depth + "}").encode()
    assert parse_params(body, "application/json") == json.loads(body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("https://app.example.com:443/", "https://app.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://app.example.com/path", None),
        ("app.example.com", None),
        ("ftp://app.example.com", None),
        ("https://user@app.example.com", None),
        ("http://host:notaport", None),
        ("null", None),
    ],
)
def test_normal_origin(value, expected):
    assert normal_origin(value) == expected


@pytest.mark.parametrize(
    ("headers", "scheme", "allowed", "refused"),
    [
        ({"origin": "http://a.test:8000", "host": "a.test:8000"}, "http", None, False),
        ({"origin": "https://a.test:8000", "host": "a.test:8000"}, "http", None, True),  # the scheme counts
        ({"origin": "http://a.test", "host": "a.test:80"}, "http", None, False),  # default ports are the same origin
        ({"origin": "http://b.test", "host": "a.test"}, "http", None, True),
        ({"origin": "https://app.example.com", "host": "10.0.0.5:8000"}, "http", frozenset({"https://app.example.com"}), False),
        ({"origin": "http://10.0.0.5:8000", "host": "10.0.0.5:8000"}, "http", frozenset({"https://app.example.com"}), True),
        ({"sec-fetch-site": "cross-site", "host": "a.test"}, "http", None, True),
        ({"sec-fetch-site": "same-origin", "host": "a.test"}, "http", None, False),
        ({"host": "a.test"}, "http", frozenset({"https://app.example.com"}), False),  # no browser's: the token decides
        ({"origin": "null", "host": "a.test"}, "http", None, True),
    ],
)
def test_cross_site(headers, scheme, allowed, refused):
    assert (cross_site(headers, scheme, allowed) is not None) is refused


# -- gzip of a stream ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("accept_encoding", "gzip"),
    [
        ("gzip, deflate, br, zstd", True),
        ("GZip;Q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("*;q=0, gzip", True),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("br, *;q=0", False),
        ("identity", False),
        ("", False),
        (None, False),
    ],
)
def test_gzip_is_chosen_when_accept_encoding_takes_it(accept_encoding, gzip):
    assert accepts_gzip(accept_encoding) is gzip


@given(st.lists(st.binary(max_size=3000), max_size=30))
@PROPERTY
def test_each_piece_of_a_gzip_stream_inflates_at_once_and_the_whole_is_valid_gzip(pieces):
    stream = GzipStream()
    reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
    written = b""
    for piece in pieces:
        encoded = stream.encode(piece)
        written += encoded
        assert reader.decompress(encoded) == piece  # nothing held back: the reader has the piece now
    written += stream.finish()
    assert gzip.decompress(written) == b"".join(pieces)  # the trailer's checksum and length hold


def test_a_message_that_repeats_the_last_ones_costs_a_few_bytes():
    stream = GzipStream()
    fragment = (
        '<hx-partial hx-target="#m3" hx-swap="outerMorph"><section id="m3" data-live-region="region" data-live-v="{}" class="card">'
        '<h2>Metric 3</h2><p class="value">{}</p></section></hx-partial>'
    )
    first = encode_message(fragment.format(1, 1), event_id="1")
    stream.encode(first)
    again = encode_message(fragment.format(2, 2), event_id="2")
    assert len(stream.encode(again)) < 30 < len(again) // 4
    # Only the stream's last GZIP_HISTORY bytes are kept between messages.
    stream.encode(b"x" * 5000)
    assert len(stream._history) == GZIP_HISTORY
