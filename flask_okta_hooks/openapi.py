"""An OpenAPI 3.1 document of an app's hook endpoints, from the marshmallow schemas.

Each endpoint is described with the call Okta sends (the envelope plus every typed
section of ``data``, from the request class's :attr:`~.HookRequest.sections`), an example
(the shipped sample), the answers it gives (``commands``, ``error`` and ``debugContext``
with the command types of its hook type, or the empty acknowledgement of hook types whose
answer Okta does not read) and the error statuses of this extension. Every method of the
hook type's row is documented: event hook endpoints also get Okta's verification GET
(from the request class's :attr:`~.HookRequest.verification`). Needs the ``openapi``
extra (apispec).

Example::

    document = build_openapi(app, base_url="https://hooks.example.com")
    json.dumps(document)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema, fields, validate

from .constants import (
    ACCESS_PATCH,
    ACTION_UPDATE,
    APP_USER_PROFILE_UPDATE,
    ASSERTION_PATCH,
    IDENTITY_PATCH,
    PROGRESSIVE_PROFILE_UPDATE,
    TELEPHONY_ACTION,
    USER_PROFILE_UPDATE,
    USER_UPDATE,
)
from .hook_types import HookType
from .hooks.events import _Number, _Object
from .hooks.telephony import _Text
from .hooks.user_import import _AnyTuple
from .request import OktaSchema, OpenEnum, StringTuple, Verification
from .routes import HookRoute, hook_routes
from .samples import load_sample
from .secret import SecretString
from .verdict import OKTA_ON_FAILURE

OPENAPI_VERSION = "3.1.0"

#: What the ``value`` of each command type holds, in words (Okta's reference has the detail).
COMMAND_VALUES: Mapping[str, str] = {
    IDENTITY_PATCH: "Array of patch operations on the ID token: add, replace or remove "
    "/claims/<name>[/...], or replace /token/lifetime/expiration (300 to 86400 s).",
    ACCESS_PATCH: "Array of patch operations on the access token, as for the ID token.",
    ASSERTION_PATCH: "Array of patch operations on the assertion: add /claims/<name> or "
    "/authentication/sessionLifetime; replace below /subject, /authentication, "
    "/conditions or /claims.",
    ACTION_UPDATE: 'An object with the decision: {"registration": "ALLOW"|"DENY"}, '
    '{"credential": "VERIFIED"|"UNVERIFIED"} or {"result": "CREATE_USER"|"LINK_USER"}, '
    "by hook type.",
    USER_PROFILE_UPDATE: "Object of Okta user profile attributes to set.",
    PROGRESSIVE_PROFILE_UPDATE: "Object of profile attributes to set (progressive profile).",
    APP_USER_PROFILE_UPDATE: "Object of app user profile attributes to set.",
    USER_UPDATE: 'The Okta user to link to: {"id": "<user id>"}.',
    TELEPHONY_ACTION: "Array of delivery results: {status: SUCCESSFUL|PENDING|FAILED, "
    "provider?, transactionId?, transactionMetadata?}.",
}

#: The error statuses of this extension for a POST, and when each is sent; the 405 of an
#: endpoint names its methods (:func:`method_not_allowed`).
ERROR_STATUSES: Mapping[int, str] = {
    400: "The body is not a valid Okta call of this hook type (bad JSON, envelope or section).",
    401: "The call is not authenticated (wrong or missing secret or bearer token).",
    405: "Any method the hook type does not answer; Allow lists those it does.",
    413: "The body is larger than the configured limit.",
    415: "The body is not uncompressed application/json.",
}


def method_not_allowed(hook_type: HookType) -> str:
    """When a ``hook_type`` endpoint answers 405: every method its table row does not list."""
    return f"Any method but {' and '.join(hook_type.methods)}; Allow lists those."


class ErrorCauseSchema(Schema):
    error_summary = fields.String(data_key="errorSummary", required=True)
    reason = fields.String()
    location_type = fields.String(
        data_key="locationType", validate=validate.OneOf(["body", "header", "url", "query"])
    )
    location = fields.String(
        metadata={"description": "Path into the request, e.g. data.userProfile.email"}
    )
    domain = fields.String()


class OktaErrorSchema(Schema):
    """Okta's ``error`` object; what Okta does with it depends on the hook type."""

    error_summary = fields.String(data_key="errorSummary")
    error_causes = fields.List(fields.Nested(ErrorCauseSchema), data_key="errorCauses")


class _ProblemSchema(Schema):
    code = fields.String(required=True, metadata={"description": "Stable machine-readable code"})
    message = fields.String(required=True)
    fields_ = fields.List(fields.String(), data_key="fields")


class HookErrorSchema(Schema):
    """The one error shape of this extension (never sent for business outcomes)."""

    error = fields.Nested(_ProblemSchema, required=True)


def _schema_name(schema: type[Schema] | Schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    # An empty name makes apispec describe the schema inline: the private helpers of one
    # section are not worth a component of their own.
    if cls.__name__.startswith("_"):
        return ""
    return cls.__name__.removesuffix("Schema")


@dataclass
class _Node:
    """A member of ``data`` in the tree of sections: its own schema, its typed children."""

    schema: Schema | None = None
    children: dict[str, _Node] = field(default_factory=dict)
    array: bool = False
    """The member is an array of such objects (a path segment ending in ``[]``)."""


def _section_tree(sections: Iterable[tuple[str, Schema]]) -> _Node:
    root = _Node()
    for path, schema in sections:
        node = root
        for segment in path.split("."):
            name = segment.removesuffix("[]")
            node = node.children.setdefault(name, _Node())
            node.array = node.array or name != segment
        node.schema = schema
    return root


def _nested(name: str, node: _Node) -> fields.Field[Any]:
    """A field for one node of the section tree: a section's schema, its children, or both."""
    if not node.children and node.schema is not None:
        nested: fields.Field[Any] = fields.Nested(node.schema)
    else:
        declared: dict[str, fields.Field[Any]] = {}
        if node.schema is not None:
            declared.update(type(node.schema)._declared_fields)
        for key, child in node.children.items():
            declared[key] = _nested(f"{name}_{key}", child)
        nested = fields.Nested(OktaSchema.from_dict(declared, name=f"_{name}"))
    return fields.List(nested) if node.array else nested


def request_schema(hook_type: HookType) -> type[Schema]:
    """The marshmallow schema of a whole call of ``hook_type``, for documentation."""
    name = hook_type.request_class.__name__
    tree = _section_tree(hook_type.request_class.sections)
    data = _nested(f"{name}_data", tree) if tree.children else fields.Dict()
    data.required = True
    # The hook type's own envelope: event hooks spell cloudEventsVersion differently.
    declared = dict(type(hook_type.request_class.envelope_loader.schema)._declared_fields)
    declared["event_type"] = fields.String(
        data_key="eventType", required=True, validate=validate.Equal(hook_type.event_type)
    )
    declared["data"] = data
    return OktaSchema.from_dict(declared, name=name)


def response_schema(hook_type: HookType) -> type[Schema]:
    """The marshmallow schema of a 200 answer of ``hook_type``."""
    name = hook_type.response_class.__name__
    command_types = sorted(hook_type.response_class.command_types)
    command = Schema.from_dict(
        {
            "type": fields.String(required=True, validate=validate.OneOf(command_types)),
            "value": fields.Raw(
                required=True,
                metadata={
                    "description": " ".join(COMMAND_VALUES.get(t, "") for t in command_types)
                },
            ),
        },
        name=f"{name}Command",
    )
    return Schema.from_dict(
        {
            "commands": fields.List(
                fields.Nested(command), metadata={"description": "Applied in order."}
            ),
            "error": fields.Nested(OktaErrorSchema),
            "debugContext": fields.Dict(
                keys=fields.String(),
                values=fields.Raw(),
                metadata={"description": "Copied into Okta's System Log; never put secrets here."},
            ),
        },
        name=name,
    )


def _plugin() -> MarshmallowPlugin:
    return MarshmallowPlugin(schema_name_resolver=_schema_name)


def _register_fields(plugin: MarshmallowPlugin) -> None:
    mappings: list[tuple[type[fields.Field[Any]], str, str | None]] = [
        (StringTuple, "array", None),
        (_AnyTuple, "array", None),
        (OpenEnum, "string", None),
        (SecretString, "string", "password"),
        (_Text, "string", None),
        (_Number, "number", None),
        (_Object, "object", None),
    ]
    for field_class, openapi_type, openapi_format in mappings:
        plugin.map_to_openapi_type(field_class, openapi_type, openapi_format)  # type: ignore[no-untyped-call]

    def items(self: Any, field: fields.Field[Any], **kwargs: Any) -> dict[str, Any]:
        if isinstance(field, StringTuple):
            return {"items": {"type": "string"}}
        if isinstance(field, OpenEnum):
            return {"description": "Known values: " + ", ".join(m.value for m in field.enum)}
        return {}

    plugin.converter.add_attribute_function(items)  # type: ignore[union-attr]


def _security(spec: APISpec, route: HookRoute, app: Flask) -> list[dict[str, list[str]]]:
    settings = route.settings(app)
    name = route.config_prefix.rstrip("_").lower()
    auth = route.auth(app)
    if auth == "header":
        if f"{name}_secret" not in spec.components.security_schemes:
            spec.components.security_scheme(
                f"{name}_secret",
                {
                    "type": "apiKey",
                    "in": "header",
                    "name": settings.auth_header,
                    "description": "The hook's authentication secret, sent verbatim.",
                },
            )
        return [{f"{name}_secret": []}]
    if auth == "oauth":
        if f"{name}_oauth" not in spec.components.security_schemes:
            spec.components.security_scheme(
                f"{name}_oauth",
                {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            )
        return [{f"{name}_oauth": []}]
    return []


def _errors(statuses: Mapping[int, str]) -> dict[str, Any]:
    return {
        str(status): {
            "description": description,
            "content": {"application/json": {"schema": "HookError"}},
        }
        for status, description in sorted(statuses.items())
    }


def _server_errors(route: HookRoute, app: Flask) -> dict[int, str]:
    if route.auth(app) == "oauth":
        return {503: "The signing keys of the OAuth issuer cannot be fetched."}
    return {}


def _post_operation(spec: APISpec, route: HookRoute, app: Flask) -> dict[str, Any]:
    hook_type = route.hook_type
    response_class = hook_type.response_class
    body: dict[str, Any] = {"schema": hook_type.request_class.__name__}
    with contextlib.suppress(LookupError):  # a hook type without a shipped sample
        body["example"] = load_sample(hook_type.slug)
    responses: dict[str, Any] = {}
    if response_class.reads_body:
        responses["200"] = {
            "description": "Okta applies the commands, or acts on the error object.",
            "content": {"application/json": {"schema": response_class.__name__}},
        }
    if hook_type.empty_allowed:
        responses["204"] = {"description": response_class.empty_meaning}
    statuses = {
        **ERROR_STATUSES,
        405: method_not_allowed(hook_type),
        **response_class.extra_statuses,
        **_server_errors(route, app),
    }
    responses.update(_errors(statuses))
    return {
        "operationId": route.endpoint,
        "summary": hook_type.title,
        "description": f"Okta calls this endpoint with eventType `{hook_type.event_type}`. "
        f"If it fails or times out: {OKTA_ON_FAILURE[hook_type.okta_fails]}.",
        "tags": [hook_type.slug],
        "security": _security(spec, route, app),
        "requestBody": {"required": True, "content": {"application/json": body}},
        "responses": responses,
    }


def _get_operation(
    spec: APISpec, route: HookRoute, app: Flask, verification: Verification
) -> dict[str, Any]:
    hook_type = route.hook_type
    example = "3d1e0c9a-7b2f-4c55-9e0d-1f6a8b4c2d7e"
    answer = {
        "type": "object",
        "required": [verification.member],
        "properties": {verification.member: {"type": "string"}},
        "additionalProperties": False,
    }
    statuses = {
        400: f"The {verification.header} header is missing, empty, longer than "
        f"{verification.max_bytes} bytes or not UTF-8 text.",
        401: ERROR_STATUSES[401],
        405: method_not_allowed(hook_type),
        **_server_errors(route, app),
    }
    return {
        "operationId": f"{route.endpoint}_verification",
        "summary": f"{hook_type.title}: Okta's verification",
        "description": "Okta sends this GET once, when an admin verifies the hook, and "
        f"sends events only once the {verification.header} header's value came back as "
        f"`{verification.member}`.",
        "tags": [hook_type.slug],
        "security": _security(spec, route, app),
        "parameters": [
            {
                "name": verification.header,
                "in": "header",
                "required": True,
                "description": "The challenge to echo.",
                "schema": {"type": "string", "minLength": 1},
            }
        ],
        "responses": {
            "200": {
                "description": "The challenge, echoed: Okta marks the hook verified.",
                "content": {
                    "application/json": {
                        "schema": answer,
                        "example": verification.answer(example),
                    }
                },
            },
            **_errors(statuses),
        },
    }


def _operations(spec: APISpec, route: HookRoute, app: Flask) -> dict[str, Any]:
    operations = {"post": _post_operation(spec, route, app)}
    verification = route.hook_type.request_class.verification
    if "GET" in route.hook_type.methods and verification is not None:
        operations["get"] = _get_operation(spec, route, app, verification)
    return operations


def build_openapi(
    app: Flask,
    *,
    title: str = "Okta hooks",
    version: str = "1.0.0",
    base_url: str | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every hook endpoint ``app`` serves, as a ``dict``."""
    plugin = _plugin()
    spec = APISpec(title=title, version=version, openapi_version=OPENAPI_VERSION, plugins=[plugin])
    _register_fields(plugin)
    spec.components.schema("HookError", schema=HookErrorSchema)
    routes = hook_routes(app)
    for hook_type in {route.hook_type.slug: route.hook_type for route in routes}.values():
        spec.components.schema(hook_type.request_class.__name__, schema=request_schema(hook_type))
        if hook_type.response_class.reads_body:
            spec.components.schema(
                hook_type.response_class.__name__, schema=response_schema(hook_type)
            )
    for route in routes:
        spec.path(path=route.rule, operations=_operations(spec, route, app))
    # A JSON round trip turns tuple defaults (immutable ``load_default``s) into arrays.
    document: dict[str, Any] = json.loads(json.dumps(spec.to_dict()))
    if base_url is not None:
        document["servers"] = [{"url": base_url.rstrip("/")}]
    return document
