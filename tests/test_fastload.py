"""The quick path of section loading gives exactly what marshmallow gives."""

from __future__ import annotations

import copy
from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import pytest
from marshmallow import fields

from flask_okta_hooks import HOOK_TYPES, HookType
from flask_okta_hooks.fastload import SectionLoader
from flask_okta_hooks.lazy import lazy_property
from flask_okta_hooks.request import OktaSchema, StringTuple

from .conftest import SAMPLES_MISSING, sample, sample_names


def typed_sections(request_class: type) -> list[str]:
    return sorted(
        name
        for klass in request_class.__mro__
        for name, member in vars(klass).items()
        if isinstance(member, lazy_property)
    )


def read(obj: Any) -> dict[str, Any]:
    """Every typed section of a request (or of an event in it), loaded."""
    values = {name: getattr(obj, name) for name in typed_sections(type(obj))}
    for event in getattr(obj, "events", ()):  # event hooks type each System Log event
        values[f"event {event.uuid}"] = read(event)
    return values


def read_all(hook_type: HookType, payload: dict[str, Any]) -> dict[str, Any]:
    return read(hook_type.request_class.from_payload(copy.deepcopy(payload)))


#: Okta's sample files are named by hook, except the event hook's.
SAMPLE_PREFIX = {"events": "event-hook"}

CASES = [
    (hook_type, name)
    for hook_type in HOOK_TYPES
    for name in sample_names(f"{SAMPLE_PREFIX.get(hook_type.slug, hook_type.slug)}.request*.json")
    if name is not None and not hasattr(name, "marks")
] or [pytest.param(None, None, marks=pytest.mark.skip(reason=SAMPLES_MISSING))]


@pytest.mark.parametrize(("hook_type", "name"), CASES)
def test_every_section_of_every_sample_loads_the_same_both_ways(
    hook_type: HookType, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = sample(name)
    quick = read_all(hook_type, payload)

    monkeypatch.setattr(SectionLoader, "load", lambda self, raw: self.schema.load(raw))
    slow = read_all(hook_type, payload)

    assert quick, "no typed sections found"
    assert quick == slow


def test_an_unusual_value_is_left_to_marshmallow() -> None:
    from flask_okta_hooks.hooks.token import MintedTokenSchema

    loader = SectionLoader(MintedTokenSchema())

    token = loader.load({"claims": {"a": 1}, "token": {"lifetime": {"expiration": 3600}}})
    assert token.lifetime == 3600
    with pytest.raises(Exception, match="integer"):
        loader.load({"claims": {}, "token": {"lifetime": {"expiration": "3600"}}})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"url": {"value": "/api/v1/authn"}}, "/api/v1/authn"),
        ({"url": {}}, None),
        ({"url": None}, None),
        ({}, None),
    ],
)
def test_a_path_field_reads_the_value_inside_its_wrapper(raw: Any, expected: Any) -> None:
    from flask_okta_hooks.request import REQUEST_INFO

    assert REQUEST_INFO.load(raw).url == expected
    assert REQUEST_INFO.schema.load(raw).url == expected


@pytest.mark.parametrize("raw", [{"url": "/api"}, {"url": {"value": 5}}, {"url": [1]}])
def test_a_path_field_refuses_a_wrong_shape_both_ways(raw: Any) -> None:
    from marshmallow import ValidationError

    from flask_okta_hooks.request import REQUEST_INFO

    with pytest.raises(ValidationError, match="url"):
        REQUEST_INFO.load(raw)


# --- building the typed objects ----------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


class PointSchema(OktaSchema):
    model = Point
    x = fields.Integer(strict=True, required=True)
    y = fields.Integer(strict=True)
    tags = StringTuple(load_default=())


@pytest.mark.parametrize("raw", [{"x": 1, "y": 2, "tags": ["a"]}, {"x": 1}, {"x": 1, "tags": []}])
def test_built_objects_are_the_dataclass_itself(raw: dict[str, Any]) -> None:
    loaded = SectionLoader(PointSchema()).load(raw)
    expected = Point(raw["x"], raw.get("y", 0), tuple(raw.get("tags", ())))

    assert type(loaded) is Point
    assert loaded == expected
    assert hash(loaded) == hash(expected)
    assert repr(loaded) == repr(expected)
    with pytest.raises(FrozenInstanceError):
        loaded.x = 5  # type: ignore[misc]
    assert PointSchema().load(raw) == expected  # and through marshmallow


class XOnlySchema(PointSchema):
    unwrap = "x"


class TaggedPointSchema(PointSchema):
    def build(self, data: dict[str, Any], original: Any) -> Point:
        return Point(data["x"], 0, ("built", *original.get("tags", ())))


class ChildOfTaggedSchema(TaggedPointSchema):
    y = fields.Integer(strict=True, load_default=7)


@pytest.mark.parametrize("loaded", [SectionLoader(XOnlySchema()).load, XOnlySchema().load])
def test_a_subclass_that_unwraps_returns_the_member(loaded: Any) -> None:
    assert loaded({"x": 3, "y": 4}) == 3


@pytest.mark.parametrize("schema", [TaggedPointSchema, ChildOfTaggedSchema])
def test_a_schema_s_own_build_is_kept_by_its_subclasses(schema: type[OktaSchema]) -> None:
    expected = Point(1, 0, ("built", "a"))

    assert SectionLoader(schema()).load({"x": 1, "tags": ["a"]}) == expected
    assert schema().load({"x": 1, "tags": ["a"]}) == expected
