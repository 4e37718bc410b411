"""Call an app's hook endpoints in process, the way Okta does.

The engine of ``flask okta-hooks simulate`` and of the test kit's ``okta_client``.

:class:`OktaClient` finds the endpoint of a hook type in the app's URL map, builds the
call (or takes yours), and authenticates it as the endpoint is configured: the shared
secret from ``app.config``, or, for OAuth 2.0, a bearer token signed by a local
:class:`SigningKey` whose public key the app's verifier is given, so no network is used.

Event hooks get Okta's verification GET (:meth:`OktaClient.verify`) and deliveries whose
handlers, which run after the answer, are waited for (:meth:`OktaClient.deliver`,
:meth:`OktaClient.drain`).

Example::

    client = OktaClient(app)
    result = client.post("token", access_claims={"tier": "silver"})
    assert result.status_code == 200
    assert_okta_accepts(result)

    assert_verification_answered(client.verify("a-challenge"), "a-challenge")
    assert_events_accepted(client.deliver(log_event("user.lifecycle.suspend")))
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
import sys
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.datastructures import Headers
from werkzeug.test import TestResponse

from .blueprint import OktaHooks
from .config import OAuthSettings
from .errors import HookRequestError
from .failure import FAILURE_ENVIRON_KEY, Failure
from .hook_types import EVENTS, HOOK_TYPES, HookType
from .logs import FALLBACK, OK, REFUSED
from .oauth import verifier_for
from .redaction import LOGGER_NAME
from .request import HookRequest
from .routes import HookRoute, hook_type_named, route_for
from .samples import make_payload
from .signals import hook_failed

JSON = "application/json"
#: Lifetime of the bearer tokens minted for test calls.
TOKEN_LIFETIME = 300
#: Seconds :meth:`OktaClient.drain` waits for event handlers by default.
DRAIN_TIMEOUT = 5.0


class HookWarning(UserWarning):
    """The extension logged a warning while serving a call: the answer was sent, but
    something in it deserves a look (a precaution rule, a handler that ran late)."""


class SigningKey:
    """An RSA key standing in for the authorization server that signs Okta's tokens.

    Example::

        key = SigningKey()
        key.install(app)                       # the app's verifier now trusts this key
        token = key.token(issuer="https://example.okta.com/oauth2/default",
                          audience="api://default")
    """

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or f"flask-okta-hooks-test-{secrets.token_hex(4)}"
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWKS document."""
        public: dict[str, Any] = json.loads(
            jwt.algorithms.RSAAlgorithm.to_jwk(self._private.public_key())
        )
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def fetch(self, url: str, timeout: float) -> bytes:
        """A JWKS fetch that answers this key's JWKS whatever the URL (see :meth:`install`)."""
        return json.dumps(self.jwks()).encode()

    def install(self, app: Flask, config_prefix: str = "OKTA_HOOKS_") -> None:
        """Make the app's bearer-token verifier for ``config_prefix`` fetch this key's JWKS."""
        verifier_for(app, config_prefix).fetch = self.fetch

    def token(
        self,
        *,
        issuer: str,
        audience: str,
        now: float | None = None,
        lifetime: int = TOKEN_LIFETIME,
        **claims: Any,
    ) -> str:
        """A signed access token as the authorization server would mint it for Okta.

        ``claims`` add to or replace the standard ones (``iss``, ``aud``, ``iat``, ``exp``,
        ``jti``); a claim given as ``None`` is left out.
        """
        issued = int(time.time() if now is None else now)
        body = {
            "ver": 1,
            "jti": f"AT.{uuid.uuid4().hex}",
            "iss": issuer,
            "aud": audience,
            "iat": issued,
            "exp": issued + lifetime,
            **claims,
        }
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, self._private, "RS256", headers={"kid": self.kid})

    def token_for(self, oauth: OAuthSettings, *, now: float | None = None, **claims: Any) -> str:
        """A token that passes every check ``oauth`` configures (issuer, audience, cid, scp)."""
        standard: dict[str, Any] = {}
        if oauth.client_id is not None:
            standard.update(cid=oauth.client_id, sub=oauth.client_id)
        if oauth.scope is not None:
            standard["scp"] = [oauth.scope]
        return self.token(
            issuer=oauth.issuer, audience=oauth.audience, now=now, **{**standard, **claims}
        )


@dataclass(frozen=True)
class HookResult:
    """The answer to one call made by :class:`OktaClient`, with the call that produced it.

    It reads like a Flask test response (``status_code``, ``get_json()``, ``data``,
    ``headers``); ``response`` is the test response itself, ``request`` the typed request
    the call stands for, so assertions can check Okta's rules without being told more.
    """

    hook_type: HookType
    route: HookRoute
    payload: Any
    """The call sent: a ``dict``, the raw ``bytes`` when the test sent bytes, ``None``
    for a verification GET."""
    response: TestResponse
    method: str = "POST"
    challenge: str | None = None
    """The challenge a verification GET sent."""
    failure: Failure | None = None
    """Why the handler's answer was not sent, when the call got the endpoint's failure
    outcome: the reason, and the broken rules with their messages when there are some."""
    warnings: tuple[str, ...] = ()
    """The warnings the extension logged while serving the call (redacted as logged)."""

    @property
    def outcome(self) -> str:
        """``"ok"`` (the handler's answer was sent), ``"fallback"`` (the failure outcome
        was sent in its place) or ``"refused"`` (a 4xx or 5xx error: auth, body, envelope ...)."""
        if self.failure is not None:
            return FALLBACK
        return REFUSED if self.status_code >= 400 else OK

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> Headers:
        return self.response.headers

    @property
    def data(self) -> bytes:
        return self.response.get_data()

    @property
    def mimetype(self) -> str | None:
        return self.response.mimetype

    def get_json(self) -> Any:
        """The response body parsed (``None`` for an empty body)."""
        return json.loads(self.data) if self.data else None

    @property
    def json(self) -> Any:
        return self.get_json()

    @property
    def body(self) -> Any:
        """Alias of :meth:`get_json`: the JSON body, or ``None`` for an empty answer."""
        return self.get_json()

    @cached_property
    def request(self) -> HookRequest | None:
        """The typed request of the call sent; ``None`` when it is not a valid call."""
        if not isinstance(self.payload, dict):
            return None
        try:
            return self.hook_type.request_class.from_payload(copy.deepcopy(self.payload))
        except HookRequestError:
            return None

    def __repr__(self) -> str:
        method = "" if self.method == "POST" else f"{self.method} "
        return f"<HookResult {self.hook_type.slug} {method}{self.route.rule} -> {self.status_code}>"


class OktaClient:
    """Calls the hook endpoints of ``app`` as Okta would: POST, JSON, authenticated.

    Example::

        client = OktaClient(app)
        result = client.post("registration", profile={"email": "eve@blocked.test"})
        assert_registration_denied(result, field="email")

        client.post("token", token_request(drop=("identity",)))     # a ready call
        client.post("token", path="/okta/hooks/token/partners")    # a second endpoint
        client.post("token", authenticated=False).status_code      # 401

        client.verify("a-challenge")                               # event hook verification
        client.deliver(log_event("user.lifecycle.suspend"))        # handlers done on return
    """

    def __init__(self, app: Flask, *, signing_key: SigningKey | None = None) -> None:
        self.app = app
        self._signing_key = signing_key
        self._installed: set[str] = set()
        self.test_client: FlaskClient = app.test_client()

    @property
    def signing_key(self) -> SigningKey:
        """The key that signs bearer tokens for OAuth endpoints (made when first needed)."""
        if self._signing_key is None:
            self._signing_key = SigningKey()
        return self._signing_key

    def route(self, hook: str | HookType, path: str | None = None) -> HookRoute:
        """The endpoint serving ``hook`` (the one at URL ``path`` if several do)."""
        return route_for(self.app, hook, path)

    def auth_headers(self, route: HookRoute, **token_claims: Any) -> dict[str, str]:
        """The headers that authenticate a call to ``route`` as configured now."""
        settings = route.settings(self.app)
        auth = route.auth(self.app)
        # WSGI carries header values as latin-1 text: this gives Okta's exact bytes.
        custom = {h.name: h.values[0].decode("latin-1") for h in settings.required_headers}
        if auth == "header":
            return {settings.auth_header: settings.secrets[0].decode("latin-1")} | custom
        if auth == "oauth" and settings.oauth is not None:
            verifier = verifier_for(self.app, route.config_prefix)
            if route.config_prefix not in self._installed:
                self.signing_key.install(self.app, route.config_prefix)
                self._installed.add(route.config_prefix)
            token = self.signing_key.token_for(settings.oauth, now=verifier.clock(), **token_claims)
            return {"Authorization": f"Bearer {token}"} | custom
        return custom

    def post(
        self,
        hook: str | HookType,
        payload: Mapping[str, Any] | bytes | None = None,
        *,
        path: str | None = None,
        variant: str | None = None,
        authenticated: bool = True,
        headers: Mapping[str, str] | None = None,
        token_claims: Mapping[str, Any] | None = None,
        **factory_kwargs: Any,
    ) -> HookResult:
        """POST a call of hook type ``hook`` to its endpoint and return the result.

        ``payload`` is the call (a ``dict``, or ``bytes`` sent as they are); without it
        the hook type's factory builds one from ``variant`` and ``factory_kwargs``.
        ``headers`` add to or replace Okta's headers (a value of ``""`` removes one);
        ``token_claims`` change the claims of an OAuth bearer token.
        """
        hook_type = hook_type_named(hook)
        if payload is not None and (factory_kwargs or variant is not None):
            raise TypeError("pass a ready payload or factory arguments, not both")
        if payload is None:
            payload = make_payload(hook_type, variant, **factory_kwargs)
        route = self.route(hook_type, path)
        sent: Any = payload if isinstance(payload, bytes) else copy.deepcopy(dict(payload))
        body = sent if isinstance(sent, bytes) else json.dumps(sent).encode()
        all_headers = {"Content-Type": JSON, "Accept": JSON}
        if authenticated:
            all_headers.update(self.auth_headers(route, **(token_claims or {})))
        all_headers.update(headers or {})
        with _recording(self.app) as recorder:
            response = self.test_client.post(
                route.rule,
                data=body,
                headers={name: value for name, value in all_headers.items() if value != ""},
            )
        return recorder.result(HookResult(hook_type, route, sent, response))

    def verify(
        self,
        challenge: str | None = None,
        *,
        hook: str | HookType | None = None,
        path: str | None = None,
        authenticated: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> HookResult:
        """Send Okta's one-time verification GET, as when an admin clicks *Verify*.

        ``challenge`` defaults to a random token; ``result.challenge`` holds the one
        sent. ``hook`` is needed only when several hook types are verified by GET; ``headers``
        add to or replace Okta's (a value of ``""`` removes one, e.g. the challenge).

        Example::

            result = okta_client.verify("3d1e0c9a")
            assert_verification_answered(result, "3d1e0c9a")
        """
        hook_type = verified_type(hook)
        verification = hook_type.request_class.verification
        if verification is None or "GET" not in hook_type.methods:
            raise ValueError(f"Okta sends no verification GET to a {hook_type.slug} hook")
        route = self.route(hook_type, path)
        if challenge is None:
            challenge = secrets.token_urlsafe(24)
        all_headers = {"Accept": JSON, verification.header: challenge}
        if authenticated:
            all_headers.update(self.auth_headers(route))
        all_headers.update(headers or {})
        with _recording(self.app) as recorder:
            response = self.test_client.get(
                route.rule,
                headers={name: value for name, value in all_headers.items() if value != ""},
            )
        return recorder.result(
            HookResult(hook_type, route, None, response, method="GET", challenge=challenge)
        )

    def deliver(
        self,
        *events: Mapping[str, Any] | str,
        path: str | None = None,
        wait: bool = True,
        timeout: float = DRAIN_TIMEOUT,
        authenticated: bool = True,
        headers: Mapping[str, str] | None = None,
        **factory_kwargs: Any,
    ) -> HookResult:
        """POST one event hook delivery carrying ``events`` and wait for its handlers.

        Events are in wire format (see :func:`~flask_okta_hooks.samples.log_event`) or
        bare event types; without any, the shipped batch is sent. ``factory_kwargs`` go to
        :func:`~flask_okta_hooks.samples.event_hook_request` (``event_id``, ``overrides``
        ...). Handlers run after the 204 on background threads: with ``wait`` (the
        default) this returns once they are done, as :meth:`drain` does. ``wait=False``
        returns at the 204.

        Example::

            result = okta_client.deliver(log_event("user.lifecycle.deactivate", uuid="u-1"))
            assert_events_accepted(result)
            assert directory.is_disabled("ada@example.com")     # the handler has run
        """
        if events:
            factory_kwargs["events"] = list(events)
        result = self.post(
            EVENTS, path=path, authenticated=authenticated, headers=headers, **factory_kwargs
        )
        if wait:
            self.drain(timeout)
        return result

    def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait until the app has handled every event it took on.

        Event handlers run after the answer, on background threads; call this before
        checking what they did. Raises :class:`AssertionError` when some are still
        running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        blueprints = {
            id(blueprint): blueprint
            for blueprint in self.app.blueprints.values()
            if isinstance(blueprint, OktaHooks)
        }
        for blueprint in blueprints.values():
            if not blueprint.drain(self.app, max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"event handlers still running after {timeout:g} s")


def verified_type(hook: str | HookType | None = None) -> HookType:
    """The hook type ``hook`` names, or else the one hook type Okta verifies with a GET."""
    if hook is not None:
        return hook_type_named(hook)
    verified = [t for t in HOOK_TYPES if t.request_class.verification is not None]
    if len(verified) != 1:
        raise TypeError("name the hook type whose verification GET is meant: hook=...")
    return verified[0]


class _Recorder(logging.Handler):
    """What the app records of the calls made meanwhile: the failure (from the
    ``hook_failed`` signal, on the request thread) and the warnings the extension logs
    (from any thread: handlers run on workers), redacted by its logger as logged."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.failure: Failure | None = None
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The one line per call is left out: its outcome is on the result already.
        if not hasattr(record, "okta_hook"):
            self.warnings.append(record.getMessage())

    def failed(self, sender: Flask, **extra: Any) -> None:
        self.failure = request.environ.get(FAILURE_ENVIRON_KEY)

    def result(self, result: HookResult) -> HookResult:
        for line in self.warnings:
            warnings.warn(
                f"{result.hook_type.slug} hook: {line}", HookWarning, stacklevel=_caller_level()
            )
        return replace(result, failure=self.failure, warnings=tuple(self.warnings))


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this module: the test's own line."""
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__") == __name__:
        level, frame = level + 1, frame.f_back
    return level


@contextmanager
def _recording(app: Flask) -> Iterator[_Recorder]:
    recorder = _Recorder()
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(recorder)
    try:
        with hook_failed.connected_to(recorder.failed, sender=app):
            yield recorder
    finally:
        logger.removeHandler(recorder)
