"""A member Okta sends as ``null`` reads as absent, unless the call cannot do without it.

Okta writes ``null`` for members it has no value for. Every documented request sample is
fed with its optional members set to null, each one alone and in generated combinations
(fixed seed), and every typed accessor of the request must load, the same through the
quick loader and through marshmallow. A required member set to null stays a 400 that
names it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields

from flask_okta_hooks import HOOK_TYPES, HookRequest, HookType, OktaHooks
from flask_okta_hooks.errors import HookRequestError
from flask_okta_hooks.fastload import SectionLoader
from flask_okta_hooks.lazy import lazy_property

from .conftest import SAMPLES_MISSING, build_app, post_json, sample, sample_names
from .test_fastload import SAMPLE_PREFIX, read

Path = tuple[str | int, ...]
#: Generated combinations per sample: enough to mix parents and children, quick to run.
COMBINATION_EXAMPLES = 60

SAMPLES = [
    pytest.param(hook_type, name, id=name)
    for hook_type in HOOK_TYPES
    for name in sample_names(f"{SAMPLE_PREFIX.get(hook_type.slug, hook_type.slug)}.request*.json")
    if name is not None and not hasattr(name, "marks")
]


def unpack(case: Any) -> tuple[HookType, str]:
    hook_type, name = case.values
    return hook_type, name


def no_samples(arity: int) -> list[Any]:
    """The one skipped case when the reference data is absent."""
    return [pytest.param(*[None] * arity, marks=pytest.mark.skip(reason=SAMPLES_MISSING))]


def pattern(path: Path) -> str:
    """``("data", "events", 0, "eventType")`` as ``data.events[].eventType``."""
    text = ""
    for step in path:
        text += "[]" if isinstance(step, int) else ("." if text else "") + step
    return text


def schema_required(schema: Schema, prefix: str) -> Iterator[str]:
    """Patterns of the members ``schema`` (and the objects nested in it) requires."""
    for name, field in schema.load_fields.items():
        where = f"{prefix}.{field.data_key or name}"
        if field.required:
            yield where
        if type(field) is fields.Nested and not field.many:
            yield from schema_required(field.schema, where)


def required_patterns(hook_type: HookType) -> frozenset[str]:
    request_class = hook_type.request_class
    found = set(schema_required(request_class.envelope_loader.schema, "").__iter__())
    found = {name.lstrip(".") for name in found}
    found |= {"data." + section.removesuffix("[]") for section in hook_type.required_sections}
    for section, schema in request_class.sections:
        found |= set(schema_required(schema, "data." + section))
    return frozenset(found)


def members(node: Any, prefix: Path = ()) -> Iterator[Path]:
    """The path of every member of every object in ``node``, parents before children."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from members(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from members(value, (*prefix, index))


def optional_members(hook_type: HookType, payload: Any) -> list[Path]:
    required = required_patterns(hook_type)
    return [path for path in members(payload) if pattern(path) not in required]


def with_nulls(payload: Any, paths: list[Path]) -> Any:
    """A copy of ``payload`` with the members at ``paths`` set to null (children first, so
    a null parent does not hide them)."""
    result = copy.deepcopy(payload)
    for path in sorted(paths, key=len, reverse=True):
        node = result
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = None
    return result


def read_everything(call: Any) -> dict[str, Any]:
    """Every typed section (compared between the two loaders), then every derived property."""
    sections = read(call)
    for target in (call, *getattr(call, "events", ())):
        for name in dir(type(target)):
            if isinstance(getattr(type(target), name, None), property | lazy_property):
                getattr(target, name)
    return sections


def loads_both_ways(hook_type: HookType, payload: Any) -> None:
    quick = read_everything(hook_type.request_class.from_payload(copy.deepcopy(payload)))
    with mock.patch.object(SectionLoader, "load", lambda self, raw: self.schema.load(raw)):
        slow = read_everything(hook_type.request_class.from_payload(copy.deepcopy(payload)))
    assert quick == slow


def each_optional_member() -> list[Any]:
    cases = [
        pytest.param(hook_type, name, path, id=f"{name}:{pattern(path)}")
        for hook_type, name in map(unpack, SAMPLES)
        for path in optional_members(hook_type, sample(name))
    ]
    return cases or no_samples(3)


@pytest.mark.parametrize(("hook_type", "name", "path"), each_optional_member())
def test_each_optional_member_may_be_null(hook_type: HookType, name: str, path: Path) -> None:
    loads_both_ways(hook_type, with_nulls(sample(name), [path]))


@pytest.mark.parametrize(("hook_type", "name"), SAMPLES or no_samples(2))
def test_any_optional_members_may_be_null_together(hook_type: HookType, name: str) -> None:
    payload = sample(name)
    optional = optional_members(hook_type, payload)

    @settings(
        max_examples=COMBINATION_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(st.sampled_from(optional), min_size=1, unique=True))
    def check(paths: list[Path]) -> None:
        loads_both_ways(hook_type, with_nulls(payload, paths))

    check()


def each_required_member() -> list[Any]:
    cases = [
        pytest.param(hook_type, name, path, id=f"{name}:{pattern(path)}")
        for hook_type, name in map(unpack, SAMPLES)
        for path in members(sample(name))
        if pattern(path) in required_patterns(hook_type)
    ]
    return cases or no_samples(3)


@pytest.mark.parametrize(("hook_type", "name", "path"), each_required_member())
def test_a_required_member_that_is_null_is_refused_by_name(
    hook_type: HookType, name: str, path: Path
) -> None:
    payload = with_nulls(sample(name), [path])

    with pytest.raises(HookRequestError) as refused:
        read_everything(hook_type.request_class.from_payload(payload))

    named = {re.sub(r"\[\d+\]", "[]", field) for field in refused.value.fields}
    assert pattern(path) in named


# --- through HTTP: the cases that were a 400 -----------------------------------------------------

NULLS = {
    "session amr": ("token", "token.request.json", ("context", "session", "amr")),
    "assertion claims": ("saml", "saml.request.json", ("assertion", "claims")),
    "attribute NameFormat": (
        "saml",
        "saml.request.json",
        ("assertion", "claims", "array", "attributes", "NameFormat"),
    ),
    "import conflicts": ("user-import", "user-import.request.json", ("context", "conflicts")),
    "import matches": ("user-import", "user-import.request.json", ("context", "matches")),
    "import policy": ("user-import", "user-import.request.json", ("context", "policy")),
}


@pytest.mark.parametrize(("slug", "name", "path"), NULLS.values(), ids=NULLS.keys())
def test_a_handler_reading_a_null_member_is_served(slug: str, name: str, path: Path) -> None:
    (hook_type,) = (hook_type for hook_type in HOOK_TYPES if hook_type.slug == slug)
    read_by_handler: list[dict[str, Any]] = []

    def handler(call: HookRequest) -> None:
        read_by_handler.append(read_everything(call))

    hooks = OktaHooks()
    hooks.mount(hook_type, handler)
    client = build_app(hooks).test_client()
    payload = with_nulls(sample(name), [("data", *path)])

    response = post_json(client, hook_type.default_path, payload)

    assert response.status_code == 204, json.loads(response.data or b"null")
    assert len(read_by_handler) == 1
