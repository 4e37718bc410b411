"""The app against its own OpenAPI document, with schemathesis: every endpoint, authenticated.

    pytest tests/fuzz/openapi_check.py

Calls generated from the document (and, with Okta's secret, as Okta would authenticate
them) must never get a 5xx, and every answer must match what the document says: its
status, content type and body schema. Not part of the main suite: it takes about a
minute; ``make fuzz`` and CI run it.
"""

from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flask_okta_hooks import HOOK_TYPES, OktaHooks
from flask_okta_hooks.openapi import build_openapi

SECRET = "openapi-check-secret-91c4"


def create_app() -> Flask:
    """Every hook type at its default path, answering its safe outcome."""
    hooks = OktaHooks()
    for hook_type in HOOK_TYPES:
        hooks.mount(hook_type, hook_type.response_class.safe_outcome)
    app = Flask("openapi_check")
    app.config.update(OKTA_HOOKS_SECRETS=[SECRET])
    app.register_blueprint(hooks)
    return app


APP = create_app()
schema = schemathesis.openapi.from_dict(build_openapi(APP))
schema.app = APP


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_endpoint_answers_as_documented(case: schemathesis.Case) -> None:
    # Not "schema-violating data is refused": sections of ``data`` are validated when the
    # handler reads them (an event hook's only when its events are handled), so a call
    # with a malformed section the handler never reads is served, by design.
    case.call_and_validate(headers={"Authorization": SECRET}, checks=CHECKS)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
