"""A quick path through a marshmallow schema for payloads that are already well typed.

Okta's payloads are almost always exactly what the schemas expect, and marshmallow's
general machinery costs several times more than the rest of a hook call. A
:class:`SectionLoader` reads the schema's declared fields once and, for each load, only
checks that every value has the JSON type its field expects and builds the same result
the schema would. Whenever anything is unusual (a wrong type, a missing required field,
a field kind it does not know) it hands the payload to ``schema.load`` itself, which
decides and produces the validation messages. The schema stays the single definition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from marshmallow import Schema, fields, missing

#: Returned by a converter that cannot decide; the schema then loads the payload.
_UNSURE: Any = object()

Converter = Callable[[Any], Any]
_T = TypeVar("_T")


class SectionLoader:
    """Load payload sections with ``schema``, skipping its machinery when safe.

    ``schema`` must have a ``build(data, original)`` method that its post-load hook
    also uses, so both paths construct results the same way.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._quick = _plan(schema)

    def load(self, raw: Any) -> Any:
        """What ``schema.load(raw)`` returns (or raises)."""
        if self._quick is not None:
            result = self._quick(raw)
            if result is not _UNSURE:
                return result
        return self.schema.load(raw)


def _plan(schema: Schema) -> Converter | None:
    """A converter reproducing ``schema.load`` for well-typed input, or ``None``."""
    steps = []
    for name, field in schema.load_fields.items():
        convert = _converter(field)
        if convert is None:
            return None
        # Plain JSON types are checked inline: most fields are strings.
        kind = convert.exact_type if isinstance(convert, _Exactly) else None
        key = field.data_key or name
        steps.append((name, key, kind, convert, field.load_default))
    build: Callable[[dict[str, Any], Any], Any] = schema.build  # type: ignore[attr-defined]

    def quick(raw: Any) -> Any:
        if type(raw) is not dict:
            return _UNSURE
        get = raw.get
        data: dict[str, Any] = {}
        for name, key, kind, convert, default in steps:
            value = get(key)
            if type(value) is kind:
                data[name] = value
            elif value is None:  # absent, or null, which the schemas read as absent
                if default is missing:
                    return _UNSURE  # required, or left out by marshmallow: let it decide
                data[name] = default() if callable(default) else default
            elif kind is not None:
                return _UNSURE
            else:
                value = convert(value)
                if value is _UNSURE:
                    return _UNSURE
                data[name] = value
        return build(data, raw)

    return quick


class _Exactly:
    """Converter for a plain JSON type, e.g. a string: the value as it is, or unsure."""

    __slots__ = ("exact_type",)

    def __init__(self, exact_type: type) -> None:
        self.exact_type = exact_type

    def __call__(self, value: Any) -> Any:
        return value if type(value) is self.exact_type else _UNSURE


def _converter(field: fields.Field[Any]) -> Converter | None:
    """How to take one well-typed value for ``field``; ``None`` if the kind is unknown."""
    convert = _plain_converter(field)
    if convert is None or not field.validators:
        return convert
    validators = tuple(field.validators)

    def validated(value: Any) -> Any:
        value = convert(value)
        if value is _UNSURE:
            return _UNSURE
        try:
            for validator in validators:
                validator(value)
        except Exception:
            return _UNSURE
        return value

    return validated


def _plain_converter(field: fields.Field[Any]) -> Converter | None:
    # Subclasses with their own rules are matched by exact type, never by isinstance.
    kind = type(field)
    if kind is fields.String:
        return _Exactly(str)
    if kind is fields.Raw:
        return lambda value: value
    if kind is fields.Integer and field.strict:  # type: ignore[attr-defined]
        return _Exactly(int)
    if kind is fields.AwareDateTime and field.format in (None, "iso", "iso8601"):  # type: ignore[attr-defined]
        return _aware_datetime
    if kind is fields.Nested and not field.many:  # type: ignore[attr-defined]
        nested = _plan(field.schema)  # type: ignore[attr-defined]
        return nested
    if kind is fields.Dict:
        return _mapping_converter(field)
    quick = getattr(field, "quick_convert", None)
    return quick if callable(quick) else None


def _mapping_converter(field: fields.Field[Any], *, skip_null: bool = False) -> Converter | None:
    key_field = field.key_field  # type: ignore[attr-defined]
    value_field = field.value_field  # type: ignore[attr-defined]
    if key_field is not None and type(key_field) is not fields.String:
        return None
    if value_field is None:
        if skip_null:
            return None  # rare enough to leave to the schema
        return lambda value: dict(value) if type(value) is dict else _UNSURE
    convert_value = _converter(value_field)
    if convert_value is None:
        return None

    def mapping(value: Any) -> Any:
        if type(value) is not dict:
            return _UNSURE
        result = {}
        for key, item in value.items():
            if item is None:
                if skip_null:
                    continue
                return _UNSURE
            item = convert_value(item)
            if item is _UNSURE:
                return _UNSURE
            result[key] = item
        return result

    return mapping


def _aware_datetime(value: Any) -> Any:
    if type(value) is not str:
        return _UNSURE
    try:
        result = datetime.fromisoformat(value)
    except ValueError:
        return _UNSURE
    return result if result.tzinfo is not None else _UNSURE


def members(field: fields.Dict) -> Converter | None:
    """The ``quick_convert`` of a mapping field whose null values are absent members."""
    return _mapping_converter(field, skip_null=True)


def items(field: fields.Field[Any]) -> Converter | None:
    """The ``quick_convert`` of an array field loaded as a tuple of ``field`` values."""
    convert = _converter(field)
    if convert is None:
        return None

    def as_tuple(value: Any) -> Any:
        if type(value) is not list:
            return _UNSURE
        result = tuple(map(convert, value))
        return _UNSURE if any(item is _UNSURE for item in result) else result

    return as_tuple


class QuickField(fields.Field[_T]):
    """A field whose whole rule is its ``quick_convert``: a value it cannot take is invalid.

    A subclass defines ``quick_convert(value)``, returning the loaded value or
    :func:`unsure`, and an ``invalid`` message that never quotes the input.
    """

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> _T:
        result = self.quick_convert(value)
        if result is _UNSURE:
            raise self.make_error("invalid")
        return result  # type: ignore[no-any-return]

    def quick_convert(self, value: Any) -> Any:
        raise NotImplementedError


def exactly(kind: type) -> Converter:
    """A ``quick_convert`` for a field that takes one plain JSON type as it is."""
    return _Exactly(kind)


def unsure() -> Any:
    """The value a field's ``quick_convert`` returns when the schema must decide."""
    return _UNSURE
