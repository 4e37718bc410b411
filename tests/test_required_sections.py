"""A call without a section every real call of its hook type has is not Okta's.

Each hook type's row names those sections (``required_sections``). A call that lacks
one, or carries null or another JSON type there, is refused with ``400
invalid_envelope`` naming it, before the handler runs, whatever the handler reads.
"""

from __future__ import annotations

from typing import Any

import pytest

from flask_okta_hooks import HOOK_TYPES, HookRequest, HookType, OktaHooks
from flask_okta_hooks.errors import InvalidEnvelope
from flask_okta_hooks.hook_types import HOOK_TYPES_BY_SLUG
from flask_okta_hooks.testing import make_payload

from .conftest import build_app, post_json, sample, sample_names
from .test_fastload import SAMPLE_PREFIX
from .test_http import expect_error

CASES = [
    pytest.param(hook_type, section, id=f"{hook_type.slug}:{section}")
    for hook_type in HOOK_TYPES
    for section in hook_type.required_sections
]
#: What stands in for the section: nothing at all, null, or the wrong JSON type.
CHANGES = {
    "missing": lambda parent, key: parent.pop(key),
    "null": lambda parent, key: parent.__setitem__(key, None),
    "a string": lambda parent, key: parent.__setitem__(key, "x"),
    "the other container": lambda parent, key: parent.__setitem__(
        key, {} if isinstance(parent[key], list) else []
    ),
}


def call_without(hook_type: HookType, section: str, change: Any) -> tuple[dict[str, Any], str]:
    """The test kit's call of ``hook_type`` with ``section`` changed; the name refused."""
    payload = make_payload(hook_type)
    *parents, key = section.removesuffix("[]").split(".")
    parent = payload["data"]
    for name in parents:
        parent = parent[name]
    change(parent, key)
    return payload, "data." + section.removesuffix("[]")


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
@pytest.mark.parametrize(("hook_type", "section"), CASES)
def test_a_call_without_a_required_section_is_refused_before_the_handler(
    hook_type: HookType, section: str, change: Any
) -> None:
    called: list[HookRequest] = []
    hooks = OktaHooks()
    hooks.mount(hook_type, lambda call: called.append(call))  # reads nothing
    client = build_app(hooks).test_client()
    payload, name = call_without(hook_type, section, change)

    response = post_json(client, hook_type.default_path, payload)

    expect_error(response, 400, "invalid_envelope")
    assert response.get_json()["error"]["fields"] == [name]
    assert called == []


#: Calls a handler that did not read the section used to answer with a 204.
NEVER_OKTA_S = {
    "SAML without its assertion": ("saml", "assertion"),
    "telephony without its message": ("telephony", "messageProfile"),
    "password import without the credential": ("password-import", "context.credential"),
}


@pytest.mark.parametrize(("slug", "section"), NEVER_OKTA_S.values(), ids=NEVER_OKTA_S.keys())
def test_a_call_okta_never_sends_is_refused(slug: str, section: str) -> None:
    hook_type = HOOK_TYPES_BY_SLUG[slug]
    hooks = OktaHooks()
    hooks.mount(hook_type, hook_type.response_class.safe_outcome)
    payload, name = call_without(hook_type, section, CHANGES["missing"])

    response = post_json(build_app(hooks).test_client(), hook_type.default_path, payload)

    expect_error(response, 400, "invalid_envelope")
    assert response.get_json()["error"]["fields"] == [name]


@pytest.mark.parametrize(("hook_type", "section"), CASES)
def test_building_the_request_refuses_it_too(hook_type: HookType, section: str) -> None:
    payload, name = call_without(hook_type, section, CHANGES["missing"])

    with pytest.raises(InvalidEnvelope) as refused:
        hook_type.request_class.from_payload(payload)
    assert refused.value.fields == (name,)


def documented_requests() -> list[Any]:
    cases = [
        pytest.param(hook_type, name, id=name)
        for hook_type in HOOK_TYPES
        for name in sample_names(
            f"{SAMPLE_PREFIX.get(hook_type.slug, hook_type.slug)}.request*.json"
        )
        if name is not None and not hasattr(name, "marks")
    ]
    return cases or [pytest.param(None, None, marks=pytest.mark.skip(reason="no Okta samples"))]


@pytest.mark.parametrize(("hook_type", "name"), documented_requests())
def test_every_documented_request_has_its_required_sections(hook_type: HookType, name: str) -> None:
    data = sample(name)["data"]
    for section in hook_type.required_sections:
        node: Any = data
        for key in section.removesuffix("[]").split("."):
            node = node[key]
        assert isinstance(node, list if section.endswith("[]") else dict), section
