"""The PubSub wire codec: round trips, the wire shape, and what it refuses to encode or decode."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import sys
import types
import uuid
import zoneinfo
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from fastapi_live.exceptions import LiveError
from fastapi_live.pubsub._codec import (
    Envelope,
    MessageDecodeError,
    MessageEncodeError,
    decode,
    decode_value,
    encode,
    encode_value,
)


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Level(enum.IntEnum):
    DEBUG = 10
    INFO = 20


class Author(BaseModel):
    name: str
    email: str | None = None


class StrictEvent(BaseModel):
    model_config = ConfigDict(strict=True)

    at: datetime.datetime
    span: tuple[int, int]
    blob: bytes
    id: uuid.UUID


class Aliased(BaseModel):
    user_name: str = Field(alias="userName")


@dataclasses.dataclass(frozen=True)
class Tag:
    label: str


@dataclasses.dataclass
class Notification:
    id: int
    text: str
    author: Author
    priority: Priority = Priority.LOW
    tags: tuple[Tag, ...] = ()
    seen_by: set[int] = dataclasses.field(default_factory=set)
    length: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.length = len(self.text)


@dataclasses.dataclass
class Positive:
    value: int

    def __post_init__(self) -> None:
        if self.value <= 0:
            raise ValueError("value must be positive")


class Outer:
    @dataclasses.dataclass
    class Inner:
        x: int


def same(left: Any, right: Any) -> bool:
    """Equal and of the same types all the way down (1, 1.0 and True are all ==)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, datetime.datetime | datetime.time):
        return left == right and left.tzinfo == right.tzinfo and left.fold == right.fold
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same(value, right[key]) for key, value in left.items())
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    if isinstance(left, float):
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    return bool(left == right)


def round_trip(value: Any) -> Any:
    return decode(encode(value, origin="origin", seq=1)).message


json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(json_leaves, lambda children: st.lists(children) | st.dictionaries(st.text(), children), max_leaves=40)

hashable_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary()
hashables = st.recursive(hashable_leaves, lambda children: st.tuples(children, children) | st.frozensets(children, max_size=4), max_leaves=8)
rich_leaves = (
    hashable_leaves
    | st.floats()
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.dates()
    | st.times(timezones=st.none() | st.timezones())
    | st.timedeltas()
    | st.uuids()
    | st.decimals(allow_nan=False)
    | st.sampled_from(Priority)
    | st.sampled_from(Level)
    | st.builds(Tag, st.text())
)
rich_values = st.recursive(
    rich_leaves,
    lambda children: (
        st.lists(children)
        | st.tuples(children, children)
        | st.sets(hashables, max_size=4)
        | st.dictionaries(st.text(), children)
        | st.dictionaries(hashables, children, max_size=4)
        | st.builds(Author, name=st.text(), email=st.none() | st.text())
    ),
    max_leaves=30,
)


# -- round trips -------------------------------------------------------------------------------


@given(json_values)
def test_json_safe_values_round_trip_with_their_types(value: Any) -> None:
    assert same(round_trip(value), value)


@given(json_values.filter(lambda value: "$" not in json.dumps(value)))
def test_json_safe_values_are_plain_json_on_the_wire(value: Any) -> None:
    assert encode_value(value) == value


@given(rich_values)
def test_rich_values_round_trip_with_their_types(value: Any) -> None:
    assert same(round_trip(value), value)


def test_zoned_datetimes_keep_their_zone_and_fold() -> None:
    zone = zoneinfo.ZoneInfo("Europe/Paris")
    ambiguous = datetime.datetime(2024, 10, 27, 2, 30, tzinfo=zone, fold=1)  # the second 02:30 of the night
    fixed = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
    for value in (ambiguous, ambiguous.replace(fold=0), fixed):
        assert same(round_trip(value), value)
    assert round_trip(ambiguous).utcoffset() == datetime.timedelta(hours=1)


def test_a_zone_from_the_wire_must_be_a_zone() -> None:
    with pytest.raises(MessageDecodeError, match=r"invalid datetime zone '../../etc/passwd'"):
        decode(payload_with({"$": "datetime", "value": "2024-01-01T00:00:00", "zone": "../../etc/passwd", "fold": 0}))


def test_tuples_sets_and_odd_dict_keys_keep_their_shape() -> None:
    value = {"pair": (1, (2, 3)), "ids": {1, 2}, "frozen": frozenset({"a"}), 7: "int key", (1, 2): "tuple key", "$": "dollar key"}
    decoded = round_trip(value)
    assert decoded == value
    assert same(decoded["pair"], (1, (2, 3)))
    assert type(decoded["ids"]) is set and type(decoded["frozen"]) is frozenset


def test_dataclass_round_trip_rebuilds_the_instance() -> None:
    note = Notification(7, "hello", Author(name="ann"), Priority.HIGH, (Tag("a"), Tag("b")), {1, 2})
    decoded = round_trip(note)
    assert type(decoded) is Notification
    assert decoded == note
    assert type(decoded.author) is Author and type(decoded.tags[0]) is Tag and type(decoded.tags) is tuple
    assert decoded.length == 5  # init=False fields are recomputed by the class


def test_nested_class_round_trip() -> None:
    assert round_trip(Outer.Inner(3)) == Outer.Inner(3)


def test_strict_pydantic_model_round_trip() -> None:
    event = StrictEvent(at=datetime.datetime(2024, 5, 1, 12, 30), span=(1, 2), blob=b"ok", id=uuid.uuid4())
    decoded = round_trip(event)
    assert type(decoded) is StrictEvent
    assert decoded == event


def test_aliased_model_round_trip() -> None:
    assert round_trip(Aliased(userName="bo")) == Aliased(userName="bo")


def test_enum_members_come_back_as_members() -> None:
    assert round_trip([Priority.HIGH, Level.INFO]) == [Priority.HIGH, Level.INFO]
    assert type(round_trip(Level.INFO)) is Level


def test_envelope_carries_origin_and_seq() -> None:
    payload = encode({"a": 1}, origin="proc-1", seq=42)
    assert json.loads(payload) == {"v": 1, "origin": "proc-1", "seq": 42, "message": {"a": 1}}
    assert decode(payload) == Envelope("proc-1", 42, {"a": 1})
    assert decode(payload.decode()) == Envelope("proc-1", 42, {"a": 1})


# -- refusing to encode ------------------------------------------------------------------------


class Opaque:
    pass


class Shout(str):
    pass


@pytest.mark.parametrize(
    ("value", "path", "got"),
    [
        (Opaque(), "message", "Opaque object"),
        ({"a": [1, object()]}, r"message\['a'\]\[1\]", "object object"),
        (Notification(1, "x", Author(name="a"), tags=(Tag("ok"), Opaque())), r"message\.tags\[1\]", "Opaque"),  # type: ignore[arg-type]
        (lambda: None, "message", "lambda"),
        (Shout("hi"), "message", "'hi'"),
    ],
)
def test_encode_refuses_what_it_cannot_carry(value: Any, path: str, got: str) -> None:
    with pytest.raises(MessageEncodeError, match=rf"^cannot publish {path}: .* Expected one of: None, bool, .* Got: .*{got}"):
        encode(value, origin="o", seq=1)


def test_encode_error_is_a_live_error_and_a_type_error() -> None:
    with pytest.raises(LiveError) as caught:
        encode_value({"x": Opaque()})
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, MessageEncodeError)
    assert caught.value.path == "message['x']"


def test_encode_refuses_classes_defined_in_a_function() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    with pytest.raises(MessageEncodeError, match=r"Local is defined inside a function, so no other process can find it"):
        encode_value(Local(1))


def test_encode_refuses_cycles() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(MessageEncodeError, match=r"nested too deeply or contains itself.*Got: a list"):
        encode_value(cycle)


# -- refusing to decode ------------------------------------------------------------------------


def payload_with(message: Any) -> bytes:
    return json.dumps({"v": 1, "origin": "o", "seq": 1, "message": message}).encode()


@pytest.mark.parametrize(
    ("message", "kind", "text"),
    [
        ({"$": "dataclass", "type": "os:system", "value": {}}, "refused-type", r"expected a dataclass, got <built-in function system>"),
        ({"$": "dataclass", "type": "collections:OrderedDict", "value": {}}, "refused-type", r"expected a dataclass, got <class"),
        ({"$": "model", "type": f"{__name__}:Tag", "value": {}}, "refused-type", r"expected a pydantic BaseModel subclass"),
        ({"$": "enum", "type": f"{__name__}:Author", "value": 1}, "refused-type", r"expected an Enum subclass"),
        ({"$": "dataclass", "type": f"{__name__}:Missing", "value": {}}, "unknown-type", r"has no 'Missing'"),
        ({"$": "dataclass", "type": "os:<locals>.X", "value": {}}, "malformed", r"expected 'module:qualname'"),
        ({"$": "dataclass", "type": "os.system", "value": {}}, "malformed", r"expected 'module:qualname'"),
        ({"$": "pickle", "value": "gASV"}, "unknown-tag", r"unknown tag: expected one of .*, got 'pickle'"),
        ({"$": "bytes", "value": "not base64!"}, "malformed", r"invalid bytes"),
        ({"$": "datetime", "value": "yesterday"}, "malformed", r"invalid datetime 'yesterday'"),
        ({"$": "set", "value": [[1]]}, "malformed", r"invalid set"),
        ({"$": "dict", "value": [[[1], 2]]}, "malformed", r"unhashable"),
        ({"$": "dataclass", "type": f"{__name__}:Positive", "value": {"value": -1}}, "invalid-value", r"value must be positive"),
        ({"$": "dataclass", "type": f"{__name__}:Tag", "value": {"nope": 1}}, "invalid-value", r"cannot rebuild dataclass"),
        ({"$": "model", "type": f"{__name__}:Author", "value": {"name": 3}}, "invalid-value", r"cannot rebuild model"),
        ({"$": "enum", "type": f"{__name__}:Priority", "value": "urgent"}, "invalid-value", r"cannot rebuild enum"),
    ],
)
def test_decode_refuses_bad_messages(message: Any, kind: str, text: str) -> None:
    with pytest.raises(MessageDecodeError, match=text) as caught:
        decode(payload_with(message))
    assert caught.value.kind == kind


@pytest.mark.parametrize(
    ("payload", "kind", "text"),
    [
        (b"\x80\x03pickle", "malformed", r"expected a JSON envelope"),
        (b"[1, 2]", "malformed", r"expected an object with v, origin, seq and message"),
        (b'{"v": 2, "origin": "o", "seq": 1, "message": null}', "version", r"expected 1, got 2"),
        (b'{"v": 1, "origin": 5, "seq": "1", "message": null}', "malformed", r"expected a str origin and an int seq"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed", r"expected a JSON envelope"),
    ],
)
def test_decode_refuses_bad_envelopes(payload: bytes, kind: str, text: str) -> None:
    with pytest.raises(MessageDecodeError, match=text) as caught:
        decode(payload)
    assert caught.value.kind == kind


def test_decode_never_imports_a_module() -> None:
    name = "fastapi_live_codec_test_never_imported"
    with pytest.raises(MessageDecodeError, match=rf"module '{name}' is not imported in this process") as caught:
        decode(payload_with({"$": "dataclass", "type": f"{name}:Thing", "value": {}}))
    assert caught.value.kind == "unknown-type"
    assert name not in sys.modules
    # a module that exists on disk but is not imported stays unimported too
    assert "antigravity" not in sys.modules
    with pytest.raises(MessageDecodeError, match="not imported"):
        decode(payload_with({"$": "dataclass", "type": "antigravity:X", "value": {}}))
    assert "antigravity" not in sys.modules


def test_decode_does_not_run_module_getattr() -> None:
    calls: list[str] = []
    module = types.ModuleType("fastapi_live_codec_test_lazy")

    def lazy(name: str) -> Any:
        calls.append(name)
        raise AttributeError(name)

    module.__getattr__ = lazy  # type: ignore[method-assign]
    sys.modules[module.__name__] = module
    try:
        with pytest.raises(MessageDecodeError, match="has no 'Thing'"):
            decode(payload_with({"$": "dataclass", "type": f"{module.__name__}:Thing", "value": {}}))
    finally:
        del sys.modules[module.__name__]
    assert calls == []


def test_decode_value_rejects_deep_nesting() -> None:
    data: Any = []
    for _ in range(5000):
        data = [data]
    with pytest.raises(MessageDecodeError, match="nested too deeply"):
        decode_value(data)


def test_decimal_and_times_round_trip_exactly() -> None:
    value = [decimal.Decimal("1.10"), datetime.timedelta(days=-1, microseconds=5), datetime.time(1, 2, 3, 4)]
    assert same(round_trip(value), value)


TAGS = ["tuple", "set", "frozenset", "dict", "bytes", "datetime", "date", "time", "timedelta", "uuid", "decimal", "dataclass", "model", "enum", "x"]
TYPE_NAMES = [f"{__name__}:Tag", f"{__name__}:Author", f"{__name__}:Priority", f"{__name__}:Positive", "os:system", "builtins:object", "a:b:c", ""]
hostile = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["$", "value", "type", "zone", "fold", "label", "x"]), children, max_size=4)
        | st.fixed_dictionaries(
            {"$": st.sampled_from(TAGS), "value": children},
            optional={"type": st.sampled_from(TYPE_NAMES), "zone": st.sampled_from(["UTC", "Nowhere/City", "", 3]), "fold": children},
        )
    ),
    max_leaves=12,
)


@given(hostile)
def test_decoding_anything_raises_only_decode_errors(data: Any) -> None:
    try:
        decode_value(data)
    except MessageDecodeError:
        pass
