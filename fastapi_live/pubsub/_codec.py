"""The PubSub wire codec: a JSON envelope that carries messages across processes and back to their types."""

# Wire format (UTF-8 JSON, one object per Redis message):
#
#     {"v": 1, "origin": "<publisher id>", "seq": <int>, "message": <value>}
#
# <value> is plain JSON for None, bool, int, float, str, list and dicts whose keys are all
# str and none of them "$". Everything else is a tagged object, recognised by its "$" key:
#
#     {"$": "tuple" | "set" | "frozenset", "value": [<value>, ...]}
#     {"$": "dict", "value": [[<key>, <value>], ...]}   non-str keys, or a "$" key
#     {"$": "bytes", "value": "<base64>"}
#     {"$": "datetime" | "date" | "time", "value": "<isoformat>"[, "fold": 1]}
#     {"$": "datetime" | "time", "value": "<local isoformat>", "zone": "<IANA key>"[, "fold": 1]}   ZoneInfo-aware
#     {"$": "timedelta", "value": [days, seconds, microseconds]}
#     {"$": "uuid" | "decimal", "value": "<str>"}
#     {"$": "dataclass", "type": "module:qualname", "value": {"<init field>": <value>, ...}}
#     {"$": "model", "type": "module:qualname", "value": <the model's JSON (model_dump mode="json")>}
#     {"$": "enum", "type": "module:qualname", "value": <the member's value>}
#
# Decoding a "type" looks the class up among modules this process has already imported (it
# never imports: importing runs code), walks the qualname through class dictionaries (no
# getattr, so no module __getattr__ hooks run), and accepts only a dataclass, a pydantic
# BaseModel subclass or an Enum, each for its own tag. Nothing is ever unpickled.

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import functools
import json
import sys
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any, NamedTuple

from pydantic import BaseModel

from ..exceptions import LiveError

VERSION = 1
TAG = "$"

_ALLOWED = (
    "None, bool, int, float, str, list, tuple, dict, set, frozenset, bytes, datetime, date, time, "
    "timedelta, UUID, Decimal, an Enum member, a dataclass instance or a pydantic model "
    "(nested freely; classes defined at module level)"
)


class MessageEncodeError(LiveError, TypeError):
    """A message cannot be published: it holds a value the codec cannot carry back to its type."""

    def __init__(self, message: str, *, path: str, value: Any) -> None:
        super().__init__(message)
        self.path = path
        self.value = value


class MessageDecodeError(LiveError, ValueError):
    """A payload read from Redis cannot be decoded; ``kind`` groups errors for logging once."""

    def __init__(self, kind: str, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.detail = detail


class Envelope(NamedTuple):
    """A decoded payload: who published it, its sequence number there, and the message."""

    origin: str
    seq: int
    message: Any


# -- encoding --------------------------------------------------------------------------------


class _Refused(Exception):
    """Raised at the offending value; each level on the way up prepends its path segment."""

    def __init__(self, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.value = value
        self.reason = reason
        self.segments: list[str] = []


def _checked_type_name(cls: type, value: Any) -> str:
    name, reason = _reachable(cls)
    if reason:
        raise _Refused(value, reason)
    return name


@functools.lru_cache(maxsize=1024)
def _reachable(cls: type) -> tuple[str, str]:
    """``module:qualname`` of ``cls``, and why a receiver could not find the class by it ("" when it can)."""
    name = f"{cls.__module__}:{cls.__qualname__}"
    if "<locals>" in cls.__qualname__:
        return name, f"{cls.__qualname__} is defined inside a function, so no other process can find it; define it at module level"
    if _lookup(cls.__module__, cls.__qualname__) is not cls:
        return name, f"{cls.__qualname__} is not reachable as {name} (the module's attribute is another object), so no other process can find it"
    return name, ""


def _lookup(module_name: str, qualname: str) -> Any:
    """The object at ``qualname`` in the already imported module ``module_name``, or None."""
    target: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        if target is None:
            return None
        # a lookup in __dict__, not getattr: a module-level __getattr__ could run code
        namespace = getattr(target, "__dict__", None)
        target = namespace.get(part) if namespace is not None else None
    return target


def _items(items: Any) -> list[Any]:
    out = []
    for index, item in enumerate(items):
        try:
            out.append(_encode(item))
        except _Refused as refused:
            refused.segments.append(f"[{index}]")
            raise
    return out


def _encode_dict(value: dict[Any, Any]) -> Any:
    if all(type(key) is str for key in value) and TAG not in value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            try:
                out[key] = _encode(item)
            except _Refused as refused:
                refused.segments.append(f"[{key!r}]")
                raise
        return out
    pairs = []
    for key, item in value.items():
        try:
            pairs.append([_encode(key), _encode(item)])
        except _Refused as refused:
            refused.segments.append(f"[{key!r}]")
            raise
    return {TAG: "dict", "value": pairs}


def _encode_dataclass(value: Any) -> Any:
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        if not field.init:
            continue  # recomputed by the class (__post_init__ or a default) on the receiving side
        try:
            fields[field.name] = _encode(getattr(value, field.name))
        except _Refused as refused:
            refused.segments.append(f".{field.name}")
            raise
    return {TAG: "dataclass", "type": _checked_type_name(type(value), value), "value": fields}


def _encode_model(value: BaseModel) -> Any:
    name = _checked_type_name(type(value), value)
    try:
        data = value.model_dump(mode="json", by_alias=True)
    except Exception as exc:
        raise _Refused(value, f"pydantic could not serialize it ({exc})") from exc
    return {TAG: "model", "type": name, "value": data}


def _encode_time(value: datetime.datetime | datetime.time) -> Any:
    out: dict[str, Any] = {TAG: "datetime" if isinstance(value, datetime.datetime) else "time"}
    if isinstance(value.tzinfo, zoneinfo.ZoneInfo):
        # the zone itself, not today's offset: arithmetic and DST folds stay right on the other side
        out["value"] = value.replace(tzinfo=None).isoformat()
        out["zone"] = value.tzinfo.key
    else:
        out["value"] = value.isoformat()
    if value.fold:
        out["fold"] = 1  # which of a repeated wall-clock time (isoformat drops it)
    return out


_SIMPLE: dict[type, Callable[[Any], Any]] = {
    str: lambda value: value,
    int: lambda value: value,
    float: lambda value: value,
    bool: lambda value: value,
    type(None): lambda value: value,
    list: _items,
    dict: _encode_dict,
    tuple: lambda value: {TAG: "tuple", "value": _items(value)},
    set: lambda value: {TAG: "set", "value": _items(value)},
    frozenset: lambda value: {TAG: "frozenset", "value": _items(value)},
    bytes: lambda value: {TAG: "bytes", "value": base64.b64encode(value).decode("ascii")},
    datetime.datetime: _encode_time,
    datetime.date: lambda value: {TAG: "date", "value": value.isoformat()},
    datetime.time: _encode_time,
    datetime.timedelta: lambda value: {TAG: "timedelta", "value": [value.days, value.seconds, value.microseconds]},
    uuid.UUID: lambda value: {TAG: "uuid", "value": str(value)},
    decimal.Decimal: lambda value: {TAG: "decimal", "value": str(value)},
}


def _encode(value: Any) -> Any:
    encoder = _SIMPLE.get(type(value))
    if encoder is not None:
        return encoder(value)
    if isinstance(value, enum.Enum):
        try:
            member_value = _encode(value.value)
        except _Refused as refused:
            refused.segments.append(".value")
            raise
        return {TAG: "enum", "type": _checked_type_name(type(value), value), "value": member_value}
    if isinstance(value, BaseModel):
        return _encode_model(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value)
    cls = type(value)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    raise _Refused(value, f"a {name} cannot be carried to another process")


def encode_value(value: Any) -> Any:
    """``value`` as a JSON-ready structure; raises ``MessageEncodeError`` naming the offending part."""
    try:
        return _encode(value)
    except _Refused as refused:
        path = "message" + "".join(reversed(refused.segments))
        raise MessageEncodeError(
            f"cannot publish {path}: {refused.reason}. Expected one of: {_ALLOWED}. Got: {_short_repr(refused.value)}",
            path=path,
            value=refused.value,
        ) from None
    except RecursionError:
        raise MessageEncodeError(
            f"cannot publish message: it is nested too deeply or contains itself. Expected: {_ALLOWED}, without cycles. "
            f"Got: a {type(value).__name__}",
            path="message",
            value=value,
        ) from None


def encode(message: Any, *, origin: str, seq: int) -> bytes:
    """The payload for ``message``, published by ``origin`` as its ``seq``-th message."""
    body = {"v": VERSION, "origin": origin, "seq": seq, "message": encode_value(message)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _short_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__qualname__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- decoding --------------------------------------------------------------------------------


def _dotted(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


_CLASS_KINDS: dict[str, tuple[str, Callable[[type], bool]]] = {
    "dataclass": ("a dataclass", dataclasses.is_dataclass),
    "model": ("a pydantic BaseModel subclass", lambda cls: issubclass(cls, BaseModel)),
    "enum": ("an Enum subclass", lambda cls: issubclass(cls, enum.Enum)),
}


def resolve_type(name: Any, tag: str) -> type[Any]:
    """The class ``module:qualname`` names, if this process has imported it and it suits ``tag``."""
    if not isinstance(name, str) or name.count(":") != 1:
        raise MessageDecodeError("malformed", f"invalid {tag} type name: expected 'module:qualname', got {_short_repr(name)}")
    module_name, qualname = name.split(":")
    if not _dotted(module_name) or not _dotted(qualname):
        raise MessageDecodeError("malformed", f"invalid {tag} type name: expected 'module:qualname', got {name!r}", detail=name)
    if module_name not in sys.modules:
        raise MessageDecodeError(
            "unknown-type",
            f"cannot decode a {tag} of type {name!r}: module {module_name!r} is not imported in this process "
            "(the codec never imports modules; import the module that defines the class at startup)",
            detail=name,
        )
    target = _lookup(module_name, qualname)
    if target is None:
        reason = f"cannot decode a {tag} of type {name!r}: {module_name!r} has no {qualname!r}"
        raise MessageDecodeError("unknown-type", reason, detail=name)
    description, allowed = _CLASS_KINDS[tag]
    if not isinstance(target, type) or not allowed(target):
        raise MessageDecodeError(
            "refused-type", f"refused to decode {name!r} as a {tag}: expected {description}, got {_short_repr(target)}", detail=name
        )
    return target


def _decode_list(data: Any, tag: str) -> list[Any]:
    if not isinstance(data, list):
        raise MessageDecodeError("malformed", f"invalid {tag}: expected a JSON array, got {_short_repr(data)}")
    return [_decode(item) for item in data]


def _decode_pairs(data: Any) -> dict[Any, Any]:
    if not isinstance(data, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in data):
        raise MessageDecodeError("malformed", f"invalid dict: expected a list of [key, value] pairs, got {_short_repr(data)}")
    return {_decode(key): _decode(item) for key, item in data}


def _decode_dataclass(name: Any, data: Any) -> Any:
    cls = resolve_type(name, "dataclass")
    if not isinstance(data, dict):
        reason = f"invalid dataclass {name}: expected a JSON object of fields, got {_short_repr(data)}"
        raise MessageDecodeError("malformed", reason, detail=name)
    kwargs = {key: _decode(item) for key, item in data.items()}
    try:
        return cls(**kwargs)
    except Exception as exc:
        raise MessageDecodeError("invalid-value", f"cannot rebuild dataclass {name}: {type(exc).__name__}: {exc}", detail=name) from exc


def _decode_model(name: Any, data: Any) -> Any:
    cls = resolve_type(name, "model")
    try:
        # back to JSON text: a strict model accepts its JSON form only through model_validate_json
        return cls.model_validate_json(json.dumps(data, separators=(",", ":")))
    except Exception as exc:
        raise MessageDecodeError("invalid-value", f"cannot rebuild model {name}: {exc}", detail=name) from exc


def _decode_enum(name: Any, data: Any) -> Any:
    cls = resolve_type(name, "enum")
    try:
        return cls(_decode(data))
    except MessageDecodeError:
        raise
    except Exception as exc:
        raise MessageDecodeError("invalid-value", f"cannot rebuild enum {name}: {exc}", detail=name) from exc


def _from_string(tag: str, parse: Callable[[str], Any], data: Any) -> Any:
    if not isinstance(data, str):
        raise MessageDecodeError("malformed", f"invalid {tag}: expected a string, got {_short_repr(data)}")
    try:
        return parse(data)
    except (ValueError, ArithmeticError) as exc:
        raise MessageDecodeError("malformed", f"invalid {tag} {data!r}: {exc}") from exc


def _base64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _decode_time(obj: dict[str, Any], tag: str, parse: Callable[[str], Any]) -> Any:
    value = _from_string(tag, parse, obj.get("value"))
    fold = obj.get("fold", 0)
    if fold not in (0, 1) or type(fold) is not int:
        raise MessageDecodeError("malformed", f"invalid {tag} fold: expected 0 or 1, got {_short_repr(fold)}")
    if "zone" not in obj:
        return value.replace(fold=fold)
    zone = obj["zone"]
    if not isinstance(zone, str) or value.tzinfo is not None:
        raise MessageDecodeError("malformed", f"invalid {tag} zone: expected an IANA key and a local time, got {_short_repr(zone)}")
    try:
        tzinfo = zoneinfo.ZoneInfo(zone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise MessageDecodeError("malformed", f"invalid {tag} zone {zone!r}: {exc}", detail=zone[:50]) from exc
    return value.replace(tzinfo=tzinfo, fold=fold)


def _decode_timedelta(data: Any) -> datetime.timedelta:
    if not (isinstance(data, list) and len(data) == 3 and all(type(part) is int for part in data)):
        raise MessageDecodeError("malformed", f"invalid timedelta: expected [days, seconds, microseconds], got {_short_repr(data)}")
    try:
        return datetime.timedelta(days=data[0], seconds=data[1], microseconds=data[2])
    except OverflowError as exc:
        raise MessageDecodeError("malformed", f"invalid timedelta {data!r}: {exc}") from exc


def _frozen(items: list[Any], cls: type[set[Any]] | type[frozenset[Any]]) -> Any:
    try:
        return cls(items)
    except TypeError as exc:
        raise MessageDecodeError("malformed", f"invalid {cls.__name__}: {exc}") from exc


_TAGGED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "tuple": lambda obj: tuple(_decode_list(obj.get("value"), "tuple")),
    "set": lambda obj: _frozen(_decode_list(obj.get("value"), "set"), set),
    "frozenset": lambda obj: _frozen(_decode_list(obj.get("value"), "frozenset"), frozenset),
    "dict": lambda obj: _decode_pairs(obj.get("value")),
    "bytes": lambda obj: _from_string("bytes", _base64, obj.get("value")),
    "datetime": lambda obj: _decode_time(obj, "datetime", datetime.datetime.fromisoformat),
    "date": lambda obj: _from_string("date", datetime.date.fromisoformat, obj.get("value")),
    "time": lambda obj: _decode_time(obj, "time", datetime.time.fromisoformat),
    "timedelta": lambda obj: _decode_timedelta(obj.get("value")),
    "uuid": lambda obj: _from_string("uuid", uuid.UUID, obj.get("value")),
    "decimal": lambda obj: _from_string("decimal", decimal.Decimal, obj.get("value")),
    "dataclass": lambda obj: _decode_dataclass(obj.get("type"), obj.get("value")),
    "model": lambda obj: _decode_model(obj.get("type"), obj.get("value")),
    "enum": lambda obj: _decode_enum(obj.get("type"), obj.get("value")),
}


def _decode(data: Any) -> Any:
    if isinstance(data, list):
        return [_decode(item) for item in data]
    if isinstance(data, dict):
        if TAG not in data:
            return {key: _decode(item) for key, item in data.items()}
        tag = data[TAG]
        decoder = _TAGGED.get(tag) if isinstance(tag, str) else None
        if decoder is None:
            reason = f"unknown tag: expected one of {sorted(_TAGGED)}, got {_short_repr(tag)}"
            raise MessageDecodeError("unknown-tag", reason, detail=str(tag)[:50])
        return decoder(data)
    return data


def decode_value(data: Any) -> Any:
    """The value ``encode_value`` turned into ``data``; raises ``MessageDecodeError``."""
    try:
        return _decode(data)
    except RecursionError:
        raise MessageDecodeError("malformed", "invalid message: nested too deeply") from None
    except TypeError as exc:  # e.g. an unhashable decoded dict key
        raise MessageDecodeError("malformed", f"invalid message: {exc}") from exc


def decode(payload: bytes | str) -> Envelope:
    """The envelope in ``payload``; raises ``MessageDecodeError`` for anything else."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise MessageDecodeError("malformed", f"invalid payload: expected a JSON envelope, got {_short_repr(payload)} ({exc})") from None
    if not isinstance(body, dict) or not {"v", "origin", "seq", "message"} <= body.keys():
        reason = f"invalid payload: expected an object with v, origin, seq and message, got {_short_repr(body)}"
        raise MessageDecodeError("malformed", reason)
    if body["v"] != VERSION:
        raise MessageDecodeError(
            "version", f"unsupported envelope version: expected {VERSION}, got {_short_repr(body['v'])}", detail=str(body["v"])[:20]
        )
    origin, seq = body["origin"], body["seq"]
    if not isinstance(origin, str) or type(seq) is not int:
        raise MessageDecodeError("malformed", f"invalid payload: expected a str origin and an int seq, got {origin!r} and {seq!r}")
    return Envelope(origin, seq, decode_value(body["message"]))
