"""Forms over pydantic: ``to_form`` and ``Form`` (values, per-field errors, touched fields) and
the HTML of their fields (``live.input`` and friends render through here).

A form is rebuilt from each change or submit event's params, as LiveView's ``to_form``: the
params hold what the user typed, ``_target`` the field that changed and ``_unused_<name>`` every
field the user has not touched yet (the client tracks that; a submit touches them all). A field's
error is shown only once it is touched, so a half-filled form never shouts about the rest.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, Union

from markupsafe import Markup, escape
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from .exceptions import ConfigurationError
from .wire import ATTR_TOUCHED, PARAM_TARGET, PARAM_UNUSED_PREFIX, markup_attrs

M = TypeVar("M", bound=BaseModel)

ErrorsArg = Mapping[str | None, str | Sequence[str]] | ValidationError | None
"""``to_form(..., errors=)``: messages by field name (``None`` for the whole form), or a ``ValidationError``."""

_DOM_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-:.]*$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ERROR_PREFIXES = {"value_error": "Value error, ", "assertion_error": "Assertion failed, "}
_NO_VALUE_TYPES = frozenset({"password"})  # a typed password is never sent back into the page
_SEQUENCES = (list, tuple, set, frozenset, Sequence, AbstractSet)


def is_client_param(name: str) -> bool:
    """Whether a param is the client's bookkeeping (``_target``, ``_unused_*``), not the user's data."""
    return name == PARAM_TARGET or name.startswith(PARAM_UNUSED_PREFIX)


def user_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without the client's bookkeeping."""
    return {key: value for key, value in params.items() if not is_client_param(key)}


def touched_fields(params: Mapping[str, Any], fields: Iterable[str]) -> frozenset[str]:
    """The fields the user has touched, as the params of a form event say (LiveView's ``used_input?``).

    A field is touched when the params hold it without an ``_unused_<name>`` marker, or name it
    in ``_target``. Params from anything but the client (a test, a JSON ``pushEvent``) carry no
    markers: every field they hold counts as touched.
    """
    target = params.get(PARAM_TARGET)
    touched = {name for name in fields if name in params and PARAM_UNUSED_PREFIX + name not in params}
    if isinstance(target, str) and target in fields:
        touched.add(target)
    return frozenset(touched)


def default_form_id(model: type[BaseModel]) -> str:
    """``SettingsForm`` -> ``settings``, ``UserProfile`` -> ``user-profile``."""
    name = model.__name__
    if name.endswith("Form") and len(name) > len("Form"):
        name = name[: -len("Form")]
    return _CAMEL.sub("-", name).lower()


def _unwrap(annotation: Any) -> list[Any]:
    """The types an annotation admits: ``Annotated`` and ``Optional`` / unions flattened."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [member for arg in typing.get_args(annotation) for member in _unwrap(arg)]
    return [annotation]


def _takes_many(annotation: Any) -> bool:
    """Whether a field holds several values (a multiple select, a group of checkboxes)."""
    return any((typing.get_origin(member) or member) in _SEQUENCES for member in _unwrap(annotation) if member is not str)


def _takes_text(annotation: Any) -> bool:
    """Whether an empty string is a value for the field (it is for text; not for a number or a date)."""
    return any(member is Any or (isinstance(member, type) and issubclass(member, str)) for member in _unwrap(annotation))


def _message(error: Any) -> str:
    """A pydantic error's message as the user should read it: a validator's ``ValueError`` text as raised."""
    message = str(error["msg"])
    prefix = _ERROR_PREFIXES.get(error["type"])
    if prefix and message.startswith(prefix):
        return message[len(prefix) :]
    return message


def _humanize(name: str) -> str:
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


class Form(Generic[M]):
    """A form's state for templates and handlers: values as typed, errors, touched fields.

    Build one with ``to_form``, or declare ``form: Form[Model]`` on an event handler to get
    one built from the event's params (invalid params are errors on the form, never a 422).
    In templates, ``form.email`` (or ``form["email"]``) is a ``FormField`` for the helpers:

    >>> @event("validate")
    ... async def validate(self, socket: LiveSocket, form: Form[Settings]) -> None:
    ...     socket.assign(form=form)
    >>> @event("save")
    ... async def save(self, socket: LiveSocket, form: Form[Settings]) -> None:
    ...     if form.data is not None:
    ...         await store(form.data)
    ...     socket.assign(form=form)

    ``{{ live.input(form.email, type="email", label="Email") }}`` renders the input with its
    value, its error once the field is touched, ``aria-invalid`` and ``aria-describedby``.
    """

    __slots__ = ("_data", "_errors", "_fields", "_labels", "_touched", "_values", "id", "model")

    def __init__(
        self,
        *,
        model: type[M] | None,
        form_id: str,
        fields: Sequence[str],
        values: Mapping[str, Any],
        errors: Mapping[str | None, Sequence[str]],
        touched: frozenset[str],
        data: M | None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.model = model
        self.id = form_id
        self._fields = tuple(fields)
        self._values = dict(values)
        self._errors = {key: tuple(messages) for key, messages in errors.items() if messages}
        self._touched = touched
        self._data = data
        self._labels = dict(labels or {})

    # -- the whole form ------------------------------------------------------------------------------
    @property
    def data(self) -> M | None:
        """The validated model, or ``None`` while the form has errors: params that do not fit
        the model never reach your code as data.

        >>> if form.data is not None:
        ...     await store(form.data)
        """
        return None if self._errors else self._data

    @property
    def valid(self) -> bool:
        """Whether the values passed validation (and no errors were added)."""
        return self.data is not None

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names, in the model's order."""
        return self._fields

    @property
    def values(self) -> Mapping[str, Any]:
        """Each field's value as the user typed it (a string from the browser), or its default."""
        return dict(self._values)

    @property
    def errors(self) -> Mapping[str, tuple[str, ...]]:
        """Every field's error messages, shown or not (``FormField.errors`` holds the shown ones)."""
        return {key: messages for key, messages in self._errors.items() if key is not None}

    @property
    def touched(self) -> frozenset[str]:
        """The fields the user has touched: typed into, or submitted."""
        return self._touched

    @property
    def form_errors(self) -> tuple[str, ...]:
        """Errors of the whole form (a model validator's), shown once every field is touched
        (after a submit)."""
        messages = self._errors.get(None, ())
        return messages if self._touched.issuperset(self._fields) else ()

    def add_error(self, field: str | None, message: str) -> Form[M]:
        """A copy of the form with one more error on ``field`` (``None``: the whole form), e.g.
        one only the server can tell. The form is then invalid.

        >>> if await email_taken(form.data.email):
        ...     form = form.add_error("email", "Email already taken")
        """
        errors = _merge_errors(self._owner(), self._fields, dict(self._errors), {field: message})
        return Form(
            model=self.model,
            form_id=self.id,
            fields=self._fields,
            values=self._values,
            errors=errors,
            touched=self._touched,
            data=self._data,
            labels=self._labels,
        )

    # -- fields ----------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> FormField:
        if name not in self._fields:
            raise KeyError(f"{self._owner()} has no field {name!r}; fields: {', '.join(self._fields) or '(none)'}")
        touched = name in self._touched
        messages = self._errors.get(name, ())
        field_id = f"{self.id}-{name}"
        return FormField(
            form_id=self.id,
            name=name,
            id=field_id,
            value=self._values.get(name),
            touched=touched,
            errors=messages if touched else (),
            label=self._labels.get(name) or _humanize(name),
        )

    def __getattr__(self, name: str) -> FormField:
        # Only field names reach here: the form's own attributes are found first (a field named
        # like one of them is form["name"]).
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as missing:
            raise AttributeError(missing.args[0]) from None

    def __iter__(self) -> Iterator[FormField]:
        return (self[name] for name in self._fields)

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __repr__(self) -> str:
        return f"<Form {self._owner()} id={self.id!r} values={self._values!r} errors={self._errors!r} touched={sorted(self._touched)!r}>"

    def _owner(self) -> str:
        return self.model.__name__ if self.model is not None else "form"


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of a ``Form``, as the template helpers render it.

    ``errors`` holds the messages to show: none until the field is touched. ``id`` is the
    control's DOM id (``<form id>-<name>``), ``error_id`` its error element's.

    >>> field = form.email
    >>> field.name, field.id, field.error
    ('email', 'settings-email', 'Enter a valid email address')
    """

    form_id: str
    name: str
    id: str
    value: Any
    touched: bool
    errors: tuple[str, ...]
    label: str

    @property
    def error(self) -> str | None:
        """The first error to show, if any."""
        return self.errors[0] if self.errors else None

    @property
    def error_id(self) -> str:
        return f"{self.id}-error"

    @property
    def html_value(self) -> str:
        """The value as an input's ``value`` attribute carries it (``""`` for none)."""
        return html_value(self.value)


def html_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return html_value(value[-1]) if value else ""
    return str(value)


# ------------------------------------------------------------------------------------------------
# to_form
# ------------------------------------------------------------------------------------------------


@typing.overload
def to_form(source: type[M], data: Mapping[str, Any] | None = None, *, errors: ErrorsArg = None, id: str | None = None) -> Form[M]: ...
@typing.overload
def to_form(source: M, data: Mapping[str, Any] | None = None, *, errors: ErrorsArg = None, id: str | None = None) -> Form[M]: ...
@typing.overload
def to_form(source: Mapping[str, Any], data: Mapping[str, Any] | None = None, *, errors: ErrorsArg = None, id: str | None = None) -> Form[Any]: ...
def to_form(source: Any, data: Mapping[str, Any] | None = None, *, errors: ErrorsArg = None, id: str | None = None) -> Form[Any]:
    """A ``Form`` for templates: from a pydantic model class (its defaults), a model instance
    (its values) or a mapping (fields and values, no validation), with ``data`` (an event's
    params) typed over them and validated against the model.

    >>> to_form(Settings)                                 # a fresh form: defaults, nothing touched
    >>> to_form(Settings, params)                         # validate: what the user typed, errors
    >>> to_form(current_settings, params)                 # edit a record
    >>> to_form({"query": ""}, params, errors={"query": "Too short"})
    >>> to_form(Settings, params, errors={"email": "Email already taken"})

    ``errors`` adds messages by field name (``None`` for the whole form) or takes a
    ``ValidationError``; ``id`` (default: from the model's name, ``SettingsForm`` ->
    ``settings``) prefixes the DOM ids of the fields.
    """
    model, instance = _form_source(source)
    if data is not None and not isinstance(data, Mapping):
        raise ConfigurationError(f"to_form() takes the event's params as data\nExpected: a mapping of field names to values, or None\nGot: {data!r}")
    owner = model.__name__ if model is not None else "form"
    form_id = _form_id(id, model, owner)
    params = dict(data or {})
    validated: BaseModel | None = None
    found: dict[str | None, list[str]] = {}
    if model is None:
        fields = list(source)
        values = {name: params.get(name, source[name]) for name in fields}
        labels: dict[str, str] = {}
    else:
        fields = list(model.model_fields)
        labels = {name: info.title for name, info in model.model_fields.items() if info.title}
        base = instance.model_dump() if instance is not None else {}
        values = _model_values(model, base, params)
        if instance is not None and not params:
            validated = instance
        else:
            validated, found = _validate(model, base, params)
    merged = _merge_errors(owner, fields, {key: list(messages) for key, messages in found.items()}, errors)
    touched = touched_fields(params, fields)
    return Form(model=model, form_id=form_id, fields=fields, values=values, errors=merged, touched=touched, data=validated, labels=labels)


def _form_source(source: Any) -> tuple[type[BaseModel] | None, BaseModel | None]:
    """``to_form``'s source as (model, instance): (None, None) for a mapping."""
    if isinstance(source, type) and issubclass(source, BaseModel):
        return source, None
    if isinstance(source, BaseModel):
        return type(source), source
    if isinstance(source, Mapping):
        return None, None
    kind = f"the class {source.__qualname__}" if isinstance(source, type) else f"{type(source).__name__} {source!r}"
    raise ConfigurationError(
        f"to_form() cannot build a form from {kind}: it is not a pydantic model\n"
        "Expected one of: a pydantic BaseModel subclass, an instance of one, a mapping of field names to values\n"
        f"Got: {source!r}"
    )


def _form_id(id: str | None, model: type[BaseModel] | None, owner: str) -> str:
    form_id = id if id is not None else (default_form_id(model) if model is not None else "form")
    if not isinstance(form_id, str) or not _DOM_ID.match(form_id):
        raise ConfigurationError(
            f"to_form({owner}): the form id prefixes DOM ids, so it must be one\nExpected: letters, digits, '-', '_', starting with a letter\nGot: {form_id!r}"
        )
    return form_id


def _model_values(model: type[BaseModel], base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Each field's value: what the user typed, else the instance's, else the model's default."""
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in params:
            values[name] = params[name]
        elif name in base:
            values[name] = base[name]
        else:
            default = info.get_default(call_default_factory=True)
            values[name] = None if default is PydanticUndefined else default
    return values


def _validate(model: type[BaseModel], base: Mapping[str, Any], params: Mapping[str, Any]) -> tuple[BaseModel | None, dict[str | None, list[str]]]:
    """Validate ``params`` over ``base`` as a browser sends them: the last of repeated values
    for a single-valued field, an empty value as none for a field that takes no text."""
    candidate = dict(base)
    for name, info in model.model_fields.items():
        if name not in params:
            continue
        value = params[name]
        if isinstance(value, list) and not _takes_many(info.annotation):
            value = value[-1] if value else ""
        if value == "" and not _takes_text(info.annotation):
            candidate.pop(name, None)  # an empty number or date is no value (Ecto's empty_values)
            continue
        if _takes_many(info.annotation) and not isinstance(value, (list, tuple)):
            value = [value]
        candidate[name] = value
    try:
        return model.model_validate(candidate), {}
    except ValidationError as exc:
        return None, _errors_by_field(exc, model.model_fields)


def _errors_by_field(exc: ValidationError, fields: Iterable[str]) -> dict[str | None, list[str]]:
    known = set(fields)
    found: dict[str | None, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        loc = error["loc"]
        key = loc[0] if loc and isinstance(loc[0], str) and loc[0] in known else None
        found.setdefault(key, []).append(_message(error))
    return found


def _merge_errors(owner: str, fields: Sequence[str], found: dict[Any, Any], extra: ErrorsArg) -> dict[str | None, list[str]]:
    merged: dict[str | None, list[str]] = {key: list(messages) for key, messages in found.items()}
    if extra is None:
        return merged
    if isinstance(extra, ValidationError):
        additions: Mapping[Any, Any] = _errors_by_field(extra, fields)
    elif isinstance(extra, Mapping):
        additions = extra
    else:
        raise ConfigurationError(
            f"to_form({owner}): errors must map field names to messages\n"
            f"Expected one of: a mapping such as {{'email': 'Email already taken'}}, a ValidationError, None\nGot: {extra!r}"
        )
    for key, messages in additions.items():
        if key is not None and key not in fields:
            raise ConfigurationError(
                f"to_form({owner}): errors name a field {owner} does not have: {key!r}\n"
                f"Expected one of: {', '.join(fields) or '(no fields)'}, or None for the whole form\nGot: {key!r}"
            )
        if isinstance(messages, str):
            messages = [messages]
        elif not (isinstance(messages, Sequence) and all(isinstance(m, str) for m in messages)):
            raise ConfigurationError(
                f"to_form({owner}): the errors of {key!r} must be a message or a list of messages\nExpected: a str or a list of str\nGot: {messages!r}"
            )
        merged.setdefault(key, []).extend(messages)
    return merged


def form_model(annotation: Any) -> tuple[bool, type[BaseModel] | None]:
    """Whether ``annotation`` is ``Form`` (or ``Form[Model]``), and its model."""
    origin = typing.get_origin(annotation)
    if annotation is Form:
        return True, None
    if origin is Form:
        (model,) = typing.get_args(annotation)
        return True, model
    return False, None


# ------------------------------------------------------------------------------------------------
# Field HTML: what live.input(), live.textarea(), live.select() ... render
# ------------------------------------------------------------------------------------------------

_RESERVED_ATTRS = frozenset({"id", "name", "value"})
Options = Iterable[Any] | Mapping[Any, Any]


def _require_field(helper: str, field: Any) -> FormField:
    if not isinstance(field, FormField):
        missing = getattr(field, "_undefined_name", None)  # a Jinja Undefined: form.<a name it lacks>
        got = f"an undefined name {missing!r} (the form has no such field?)" if missing is not None else repr(field)
        raise ConfigurationError(
            f"live.{helper}() renders a form's field\nExpected: a field of a form, e.g. live.{helper}(form.email) with form = to_form(...)\nGot: {got}"
        )
    return field


def _user_attrs(helper: str, field: FormField, attrs: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """Keyword arguments as HTML attributes: ``class_`` is ``class``, ``_`` is ``-``, ``True``
    a bare attribute, ``False`` / ``None`` none."""
    out: list[tuple[str, str | None]] = []
    for key, value in attrs.items():
        name = key.rstrip("_").replace("_", "-")
        if name in _RESERVED_ATTRS:
            raise ConfigurationError(
                f"live.{helper}({field.name}): the field renders its own {name}\n"
                f"Expected: other attributes; to change the DOM ids, to_form(..., id=...)\nGot: {key}={value!r}"
            )
        if value is None or value is False:
            continue
        out.append((name, None if value is True else str(value)))
    return out


def field_attrs(field: FormField) -> list[tuple[str, str | None]]:
    """``id``, ``name``, the touched mark, ``aria-invalid`` and ``aria-describedby`` of a control."""
    attrs: list[tuple[str, str | None]] = [("id", field.id), ("name", field.name)]
    if field.touched:
        attrs.append((ATTR_TOUCHED, None))
    if field.errors:
        attrs += [("aria-invalid", "true"), ("aria-describedby", field.error_id)]
    return attrs


def render_field_attrs(field: Any) -> Markup:
    return markup_attrs(field_attrs(_require_field("field", field)))


def render_label(field: Any, text: str | None = None, **attrs: Any) -> Markup:
    field = _require_field("label", field)
    head = markup_attrs([("for", field.id), *_user_attrs("label", field, attrs)])
    return Markup(f"<label {head}>{escape(field.label if text is None else text)}</label>")


def render_error(field: Any, **attrs: Any) -> Markup:
    """The field's error element, always there (so the layout does not jump), empty until
    the field is touched."""
    field = _require_field("error", field)
    user = _user_attrs("error", field, attrs)
    if not any(name == "class" for name, _ in user):
        user.insert(0, ("class", "field-error"))
    head = markup_attrs([("id", field.error_id), *user, ("aria-live", "polite")])
    return Markup(f"<p {head}>{escape(field.error or '')}</p>")


Label = str | bool | None
"""A helper's ``label=``: its text, ``True`` for the field's own (its ``Field(title=...)`` or its
name, humanized), ``None`` for no label."""


def _wrap(field: FormField, control: str, label: Label, error: bool, label_after: bool = False) -> Markup:
    parts = []
    label_html = "" if label is None or label is False else render_label(field, None if label is True else label)
    if label_html and not label_after:
        parts.append(label_html)
    parts.append(control)
    if label_html and label_after:
        parts.append(label_html)
    if error:
        parts.append(render_error(field))
    return Markup("\n".join(parts))


def render_input(field: Any, type: str = "text", *, label: Label = None, error: bool = True, **attrs: Any) -> Markup:
    field = _require_field("input", field)
    if type in ("checkbox", "radio", "file", "submit", "button", "reset", "image"):
        hint = "live.checkbox(field)" if type == "checkbox" else "live.select(field, options)" if type == "radio" else "a plain <input>"
        raise ConfigurationError(f"live.input({field.name}) renders a value input\nExpected: a text-like type; for {type!r} use {hint}\nGot: type={type!r}")
    pairs: list[tuple[str, str | None]] = [("type", type), *field_attrs(field)]
    if type not in _NO_VALUE_TYPES:
        pairs.append(("value", field.html_value))
    pairs += _user_attrs("input", field, attrs)
    control = f"<input {markup_attrs(pairs)}>"
    return _wrap(field, control, label, error and type != "hidden")


def render_textarea(field: Any, *, label: Label = None, error: bool = True, **attrs: Any) -> Markup:
    field = _require_field("textarea", field)
    pairs = [*field_attrs(field), *_user_attrs("textarea", field, attrs)]
    text = field.html_value
    # The HTML parser drops a newline right after <textarea>: keep the value's own.
    body = ("\n" if text.startswith("\n") else "") + str(escape(text))
    return _wrap(field, f"<textarea {markup_attrs(pairs)}>{body}</textarea>", label, error)


def render_checkbox(field: Any, *, label: Label = None, error: bool = True, value: str = "true", **attrs: Any) -> Markup:
    """A checkbox and a hidden ``false`` before it, so an unchecked box still sends its name
    (as Phoenix does): the field is then known as touched, and a ``bool`` validates."""
    field = _require_field("checkbox", field)
    current = field.value
    values = current if isinstance(current, (list, tuple)) else [current]
    checked = any(v is True or (isinstance(v, str) and v in (value, "on")) for v in values)
    pairs: list[tuple[str, str | None]] = [("type", "checkbox"), *field_attrs(field), ("value", value)]
    if checked:
        pairs.append(("checked", None))
    pairs += _user_attrs("checkbox", field, attrs)
    hidden = markup_attrs([("type", "hidden"), ("name", field.name), ("value", "false")])
    control = f"<input {hidden}><input {markup_attrs(pairs)}>"
    return _wrap(field, control, label, error, label_after=True)


def _option_pairs(options: Options) -> list[tuple[str, str]]:
    if isinstance(options, Mapping):
        return [(html_value(value), str(text)) for value, text in options.items()]
    pairs = []
    for option in options:
        if isinstance(option, tuple) and len(option) == 2:
            pairs.append((html_value(option[0]), str(option[1])))
        else:
            pairs.append((html_value(option), str(option)))
    return pairs


def render_select(
    field: Any, options: Options, *, label: Label = None, prompt: str | None = None, multiple: bool = False, error: bool = True, **attrs: Any
) -> Markup:
    """A ``<select>``: ``options`` are values, ``(value, text)`` pairs or a mapping of value to text."""
    field = _require_field("select", field)
    current = field.value
    chosen = {html_value(v) for v in (current if isinstance(current, (list, tuple, set, frozenset)) else [current]) if v is not None}
    pairs = [*field_attrs(field), *([("multiple", None)] if multiple else []), *_user_attrs("select", field, attrs)]
    lines = [f"<select {markup_attrs(pairs)}>"]
    if prompt is not None:
        lines.append(f'<option value="">{escape(prompt)}</option>')
    for value, text in _option_pairs(options):
        selected = " selected" if value in chosen else ""
        lines.append(f'<option value="{escape(value)}"{selected}>{escape(text)}</option>')
    lines.append("</select>")
    return _wrap(field, "".join(lines), label, error)
