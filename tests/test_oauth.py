"""OAuth 2.0 bearer-token authentication, end to end over loopback HTTP.

A Flask app serving a token hook runs in a threaded werkzeug server; the issuer's JWKS is
served by pytest-httpserver from locally generated RSA keys. Every call posts Okta's own
sample token-hook request. Time is a fake clock injected into the app's verifier.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from flask import Flask
from pytest_httpserver import HTTPServer
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from flask_okta_hooks import ConfigurationError, OktaHooks, TokenHookRequest, TokenHookResponse
from flask_okta_hooks.oauth import KEY_MAX_AGE, RETRY_WITHOUT_KEYS, fetch_jwks, verifier_for

from .conftest import sample_bytes

ISSUER = "https://dev-123456.okta.example/oauth2/default"
AUDIENCE = "api://default"
CLIENT_ID = "0oa1hookclient"
SCOPE = "okta.hooks.call"
NOW = 1_700_000_000.0
LEEWAY = 60
REFRESH = 60
JWKS_PATH = "/oauth2/default/v1/keys"
HOOK_PATH = "/okta/hooks/token"

UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "The request is not authenticated."}}
JWKS_UNAVAILABLE = {
    "error": {
        "code": "jwks_unavailable",
        "message": "The keys that verify the request's token cannot be fetched right now.",
    }
}
ENRICHED = {
    "commands": [
        {
            "type": "com.okta.access.patch",
            "value": [{"op": "add", "path": "/claims/tier", "value": "gold"}],
        }
    ]
}
DROP = object()
"""Claim or header value meaning "leave this member out"."""


# --- keys and tokens ---------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: dict[str, Any] | bytes) -> str:
    return b64(value if isinstance(value, bytes) else json.dumps(value).encode())


def public_jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    jwk_: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk_, "kid": kid, "use": "sig", "alg": "RS256", **extra}


class Tokens:
    """Mints tokens as the test issuer would, and the broken ones an attacker would."""

    def __init__(self) -> None:
        self.key_a = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_b = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())

    def claims(self, **changes: Any) -> dict[str, Any]:
        claims = {
            "ver": 1,
            "jti": "AT.test-" + uuid.uuid4().hex,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(NOW),
            "exp": int(NOW) + 3600,
            "cid": CLIENT_ID,
            "scp": [SCOPE],
            "sub": CLIENT_ID,
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not DROP}

    def make(
        self,
        *,
        key: Any = None,
        kid: Any = "kid-a",
        alg: str = "RS256",
        header: dict[str, Any] | None = None,
        **changes: Any,
    ) -> str:
        """A token signed by PyJWT: ``alg`` in the header is the algorithm really used."""
        headers = {"kid": kid, **(header or {})}
        headers = {name: value for name, value in headers.items() if value is not DROP}
        return jwt.encode(
            self.claims(**changes), self.key_a if key is None else key, alg, headers=headers
        )

    def compact(
        self,
        header: dict[str, Any] | bytes,
        payload: dict[str, Any] | bytes,
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        """A token whose header says anything, RS256-signed with ``key`` (default: A)."""
        signing_input = f"{segment(header)}.{segment(payload)}".encode()
        signer = self.key_a if key is None else key
        signature = signer.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{b64(signature)}"

    def hs256_with_public_key(self) -> str:
        """The classic confusion attack: HMAC keyed with the issuer's public key bytes."""
        pem = self.key_a.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = {"alg": "HS256", "typ": "JWT", "kid": "kid-a"}
        signing_input = f"{segment(header)}.{segment(self.claims())}".encode()
        signature = hmac.new(pem, signing_input, hashlib.sha256).digest()
        return f"{signing_input.decode()}.{b64(signature)}"


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens()


# --- the issuer's JWKS -------------------------------------------------------------------


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


@dataclass
class Jwks:
    """The JWKS endpoint: its keys can change, it can fail, and it counts its hits."""

    url: str
    keys: list[Any]
    mode: str = "ok"
    hits: int = 0
    release: threading.Event = field(default_factory=threading.Event)

    def handle(self, request: Request) -> Response:
        self.hits += 1
        if self.mode == "slow":
            self.release.wait(2.0)
        if self.mode == "error":
            return Response("upstream unavailable", status=500)
        if self.mode == "garbage":
            return Response("<html>maintenance</html>", content_type="text/html")
        if self.mode == "redirect":
            return Response(status=302, headers={"Location": self.url})
        return Response(json.dumps({"keys": self.keys}), content_type="application/json")


@pytest.fixture
def jwks(httpserver: HTTPServer, tokens: Tokens) -> Iterator[Jwks]:
    stub = Jwks(httpserver.url_for(JWKS_PATH), [public_jwk(tokens.key_a, "kid-a")])
    httpserver.expect_request(JWKS_PATH).respond_with_handler(stub.handle)
    yield stub
    stub.release.set()  # never leave the server thread asleep for the next test


# --- the app under test, over real HTTP --------------------------------------------------


@dataclass
class Reply:
    status: int
    content_type: str | None
    body: bytes
    seconds: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class LiveServer:
    """One threaded HTTP server for the module; each test points it at its own app."""

    def __init__(self) -> None:
        self.app: Flask | None = None
        self.sent: list[bytes] = []
        self.bodies: list[bytes] = []
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)

    def post(self, authorization: str | bytes | None, body: bytes, path: str = HOOK_PATH) -> Reply:
        if authorization is not None:
            raw = authorization if isinstance(authorization, bytes) else authorization.encode()
            self.sent.append(raw)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        started = time.perf_counter()
        try:
            connection.putrequest("POST", path, skip_accept_encoding=True)
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Accept", "application/json")
            if authorization is not None:
                connection.putheader("Authorization", authorization)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        self.bodies.append(data)
        return Reply(
            response.status, response.getheader("Content-Type"), data, time.perf_counter() - started
        )

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join()


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def sample() -> bytes:
    return sample_bytes("token.request.json")


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def hooks_with_handler(name: str = "okta_hooks", **options: Any) -> OktaHooks:
    hooks = OktaHooks(name, **options)

    @hooks.token
    def enrich(call: TokenHookRequest) -> TokenHookResponse:
        return call.respond().add_access_claim("tier", "gold")

    return hooks


def oauth_config(jwks_url: str, prefix: str = "OKTA_HOOKS_", **changes: Any) -> dict[str, Any]:
    config = {
        "AUTH": "oauth",
        "OAUTH_ISSUER": ISSUER,
        "OAUTH_AUDIENCE": AUDIENCE,
        "OAUTH_JWKS_URL": jwks_url,
        "OAUTH_CLIENT_ID": CLIENT_ID,
        "OAUTH_SCOPE": SCOPE,
        "OAUTH_LEEWAY": LEEWAY,
        "OAUTH_JWKS_REFRESH": REFRESH,
        **changes,
    }
    return {prefix + name: value for name, value in config.items()}


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(jwks: Jwks, live: LiveServer, clock: FakeClock) -> AppFactory:
    def make(**changes: Any) -> Flask:
        app = Flask("oauth_test")
        app.config.update(oauth_config(jwks.url, **changes))
        app.register_blueprint(hooks_with_handler())
        verifier_for(app).clock = clock
        live.app = app
        return app

    return make


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def call(live: LiveServer, sample: bytes) -> Callable[..., Reply]:
    def post(authorization: str | bytes | None, path: str = HOOK_PATH) -> Reply:
        return live.post(authorization, sample, path)

    return post


def bearer(token: str) -> str:
    return f"Bearer {token}"


def assert_unauthorized(reply: Reply) -> None:
    assert reply.status == 401
    assert reply.content_type == "application/json"
    assert reply.json == UNAUTHORIZED


def assert_jwks_unavailable(reply: Reply) -> None:
    assert reply.status == 503
    assert reply.content_type == "application/json"
    assert reply.json == JWKS_UNAVAILABLE


def assert_enriched(reply: Reply) -> None:
    assert reply.status == 200, reply.body
    assert reply.content_type == "application/json"
    assert reply.json == ENRICHED


def _formatted(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


@pytest.fixture(autouse=True)
def no_token_leaks(caplog: pytest.LogCaptureFixture, live: LiveServer) -> Iterator[None]:
    """No credential sent during a test may reach a log record or a response body."""
    caplog.set_level(logging.DEBUG)
    live.sent.clear()
    live.bodies.clear()
    yield
    logged = _formatted(caplog.get_records("setup") + caplog.get_records("call"))
    for credential in live.sent:
        token = credential.partition(b" ")[2] or credential
        signature = token.rpartition(b".")[2]
        for secret in (credential, token, signature):
            if len(secret) < 16:  # too short to be told apart from ordinary text
                continue
            assert secret.decode("latin-1") not in logged
            assert all(secret not in body for body in live.bodies)


# --- valid tokens --------------------------------------------------------------------------


def test_valid_token_is_served(app: Flask, call: Callable[..., Reply], tokens: Tokens) -> None:
    assert_enriched(call(bearer(tokens.make())))


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR", "Bearer  "], ids=repr)
def test_scheme_is_case_insensitive(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, scheme: str
) -> None:
    assert_enriched(call(f"{scheme} {tokens.make()}"))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"exp": int(NOW) - LEEWAY + 1}, id="expired within the leeway"),
        pytest.param({"nbf": int(NOW) + LEEWAY}, id="nbf within the leeway"),
        pytest.param({"iat": int(NOW) + LEEWAY}, id="iat within the leeway"),
        pytest.param({"iat": DROP}, id="no iat"),
        pytest.param({"scp": ["openid", SCOPE, "other"]}, id="scope among others"),
        pytest.param({"scp": f"openid {SCOPE}"}, id="scope as a space-separated string"),
        pytest.param({"exp": NOW + 3600.5}, id="fractional exp"),
    ],
)
def test_valid_edge_cases(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, changes: dict[str, Any]
) -> None:
    assert_enriched(call(bearer(tokens.make(**changes))))


def test_cid_and_scp_are_optional_checks(
    make_app: AppFactory, call: Callable[..., Reply], tokens: Tokens
) -> None:
    make_app(OAUTH_CLIENT_ID=None, OAUTH_SCOPE=None)
    assert_enriched(call(bearer(tokens.make(cid=DROP, scp=DROP))))


# --- rejected tokens (RELIABILITY 3.2 row 4 and more) ---------------------------------------

BAD_TOKENS: dict[str, Callable[[Tokens], str]] = {
    # algorithm
    "alg none, empty signature": lambda t: jwt.encode(
        t.claims(), "", "none", headers={"kid": "kid-a"}
    ),
    "alg none, RS256 signature kept": lambda t: (
        t.compact({"alg": "none", "kid": "kid-a"}, t.claims()).rpartition(".")[0]
        + "."
        + t.make().rpartition(".")[2]
    ),
    "alg None spelled differently": lambda t: t.compact(
        {"alg": "nOnE", "kid": "kid-a"}, t.claims()
    ),
    "HS256 keyed with the public key": lambda t: t.hs256_with_public_key(),
    "RS384": lambda t: t.make(alg="RS384"),
    "RS512": lambda t: t.make(alg="RS512"),
    "PS256": lambda t: t.make(alg="PS256"),
    "ES256": lambda t: t.make(alg="ES256", key=t.ec_key),
    "alg lower-case rs256": lambda t: t.compact({"alg": "rs256", "kid": "kid-a"}, t.claims()),
    "alg missing": lambda t: t.compact({"kid": "kid-a"}, t.claims()),
    "alg not a string": lambda t: t.compact({"alg": ["RS256"], "kid": "kid-a"}, t.claims()),
    "crit header, unknown extension": lambda t: t.compact(
        {"alg": "RS256", "kid": "kid-a", "crit": ["exp"]}, t.claims()
    ),
    "crit header, b64 extension": lambda t: t.compact(
        {"alg": "RS256", "kid": "kid-a", "crit": ["b64"], "b64": True}, t.claims()
    ),
    # key
    "unknown kid": lambda t: t.make(kid="kid-unknown"),
    "kid missing": lambda t: t.make(kid=DROP),
    "kid not a string": lambda t: t.compact({"alg": "RS256", "kid": 7}, t.claims()),
    "kid empty": lambda t: t.make(kid=""),
    "kid too long": lambda t: t.make(kid="k" * 300),
    # signature
    "signed by another key": lambda t: t.make(key=t.key_b),
    "payload changed after signing": lambda t: (
        t.make().split(".")[0] + "." + segment(t.claims(sub="admin")) + "." + t.make().split(".")[2]
    ),
    "signature truncated": lambda t: t.make()[:-10],
    "signature empty": lambda t: t.make().rpartition(".")[0] + ".",
    # time
    "expired beyond the leeway": lambda t: t.make(exp=int(NOW) - LEEWAY - 1),
    "expired at the leeway edge": lambda t: t.make(exp=int(NOW) - LEEWAY),
    "nbf in the future": lambda t: t.make(nbf=int(NOW) + LEEWAY + 1),
    "iat in the future": lambda t: t.make(iat=int(NOW) + LEEWAY + 1),
    "exp missing": lambda t: t.make(exp=DROP),
    "exp null": lambda t: t.make(exp=None),
    "exp a string": lambda t: t.make(exp=str(int(NOW) + 3600)),
    "exp true": lambda t: t.make(exp=True),
    "exp NaN": lambda t: t.make(exp=float("nan")),
    "exp Infinity": lambda t: t.make(exp=float("inf")),
    "nbf a string": lambda t: t.make(nbf="0"),
    # issuer
    "wrong iss": lambda t: t.make(iss=ISSUER.replace("default", "other")),
    "iss with a trailing slash": lambda t: t.make(iss=ISSUER + "/"),
    "iss a prefix of the issuer": lambda t: t.make(iss=ISSUER[:-3]),
    "iss in a list": lambda t: t.compact({"alg": "RS256", "kid": "kid-a"}, t.claims(iss=[ISSUER])),
    "iss of the org server": lambda t: t.make(iss="https://dev-123456.okta.example"),
    "iss missing": lambda t: t.make(iss=DROP),
    # audience
    "wrong aud": lambda t: t.make(aud="api://other"),
    "aud a prefix": lambda t: t.make(aud="api://"),
    "aud in a list with another": lambda t: t.make(aud=[AUDIENCE, "api://other"]),
    "aud missing": lambda t: t.make(aud=DROP),
    # client and scope
    "wrong cid": lambda t: t.make(cid="0oa1otherclient"),
    "cid missing": lambda t: t.make(cid=DROP),
    "scope missing from scp": lambda t: t.make(scp=["openid", "profile"]),
    "scope only as a prefix": lambda t: t.make(scp=[SCOPE + ".admin"]),
    "scp missing": lambda t: t.make(scp=DROP),
    "scp an object": lambda t: t.make(scp={SCOPE: True}),
    # malformed segments
    "two segments": lambda t: t.make().rpartition(".")[0],
    "four segments": lambda t: t.make() + ".abc",
    "not base64 characters": lambda t: "eyJ!bGciOiJSUzI1NiJ9." + t.make().split(".", 1)[1],
    "base64 padding": lambda t: t.make().replace(".", "=.", 1),
    "impossible base64 length": lambda t: "eyJhb." + t.make().split(".", 1)[1],
    "header not JSON": lambda t: t.compact(b"{alg: RS256}", t.claims()),
    "header a JSON array": lambda t: t.compact(b'["RS256"]', t.claims()),
    "header nested 5000 deep": lambda t: t.compact(b"[" * 5000, t.claims()),
    "payload not JSON, signed": lambda t: t.compact({"alg": "RS256", "kid": "kid-a"}, b"{x"),
    "payload a JSON array, signed": lambda t: t.compact(
        {"alg": "RS256", "kid": "kid-a"}, b'["iss"]'
    ),
    "payload invalid UTF-8, signed": lambda t: t.compact(
        {"alg": "RS256", "kid": "kid-a"}, b'{"iss": "\xff"}'
    ),
    "all segments empty": lambda t: "..",
    "just dots and junk": lambda t: "a.b.c",
}


@pytest.mark.parametrize("make_token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_bad_token_is_401(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, make_token: Callable[[Tokens], str]
) -> None:
    assert_unauthorized(call(bearer(make_token(tokens))))


def test_token_over_8_kb_is_refused_unread(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks
) -> None:
    token = tokens.make(padding="x" * 8192)
    assert len(token) > 8192
    assert_unauthorized(call(bearer(token)))
    assert jwks.hits == 0  # refused before any key was looked up
    assert_enriched(call(bearer(tokens.make(padding="x" * 5000))))


BAD_HEADERS: dict[str, Callable[[str], str | bytes | None]] = {
    "no Authorization header": lambda token: None,
    "empty header": lambda token: "",
    "Basic scheme": lambda token: "Basic dXNlcjpwYXNzd29yZA==",
    "Token scheme": lambda token: f"Token {token}",
    "scheme only": lambda token: "Bearer",
    "scheme and a space": lambda token: "Bearer ",
    "no space after the scheme": lambda token: f"Bearer{token}",
    "tab after the scheme": lambda token: f"Bearer\t{token}",
    "token without a scheme": lambda token: token,
    "scheme as a prefix": lambda token: f"Bearerx {token}",
    "text after the token": lambda token: f"Bearer {token} extra",
    "two tokens, comma-joined": lambda token: f"Bearer {token}, Bearer {token}",
    "non-ASCII bytes": lambda token: b"Bearer \xff\xfe" + token.encode(),
    "control characters": lambda token: f"Bearer \x01{token}",
    "header of 20 KB": lambda token: "Bearer " + "a" * 20_000,
}


@pytest.mark.parametrize("make_header", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_bad_authorization_header_is_401(
    app: Flask,
    call: Callable[..., Reply],
    tokens: Tokens,
    make_header: Callable[[str], str | bytes | None],
) -> None:
    assert_unauthorized(call(make_header(tokens.make())))


def test_rejections_are_logged_by_reason_only(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    for token in (tokens.make(exp=int(NOW) - 3600), tokens.make(aud="api://other")):
        assert_unauthorized(call(bearer(token)))
    messages = [r.getMessage() for r in caplog.records if r.name == "flask_okta_hooks"]
    assert "okta hook call refused: bearer token rejected (expired)" in messages
    assert "okta hook call refused: bearer token rejected (audience)" in messages


# --- JWKS: caching, refetch budget, rollover ----------------------------------------------


def test_keys_are_fetched_once_and_cached(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks
) -> None:
    assert jwks.hits == 0  # registration fetches nothing
    for _ in range(5):
        assert_enriched(call(bearer(tokens.make())))
    assert jwks.hits == 1


def test_unknown_kids_refetch_at_most_once_per_interval(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks, clock: FakeClock
) -> None:
    assert_enriched(call(bearer(tokens.make())))
    assert jwks.hits == 1

    def random_kids() -> None:
        for _ in range(20):
            assert_unauthorized(call(bearer(tokens.make(kid=uuid.uuid4().hex))))

    random_kids()
    assert jwks.hits == 2  # one refetch for twenty unknown kids
    clock.advance(REFRESH - 1)
    random_kids()
    assert jwks.hits == 2
    clock.advance(1)
    random_kids()
    assert jwks.hits == 3
    assert_enriched(call(bearer(tokens.make())))  # known keys never wait for the budget
    assert jwks.hits == 3


def test_unknown_kid_on_a_cold_cache_is_401_not_503(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks
) -> None:
    assert_unauthorized(call(bearer(tokens.make(kid="kid-unknown"))))
    assert jwks.hits == 1
    assert_enriched(call(bearer(tokens.make())))
    assert jwks.hits == 1


def test_key_rollover(app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks) -> None:
    assert_enriched(call(bearer(tokens.make())))
    jwks.keys = [public_jwk(tokens.key_a, "kid-a"), public_jwk(tokens.key_b, "kid-b")]
    assert_enriched(call(bearer(tokens.make(key=tokens.key_b, kid="kid-b"))))
    assert_enriched(call(bearer(tokens.make())))
    assert jwks.hits == 2


def test_withdrawn_key_stops_working_once_the_cache_is_old(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks, clock: FakeClock
) -> None:
    assert_enriched(call(bearer(tokens.make())))
    jwks.keys = [public_jwk(tokens.key_b, "kid-b")]
    clock.advance(KEY_MAX_AGE - 1)
    assert_enriched(call(bearer(tokens.make(iat=int(clock.now), exp=int(clock.now) + 600))))
    assert jwks.hits == 1
    clock.advance(1)
    assert_unauthorized(call(bearer(tokens.make(iat=int(clock.now), exp=int(clock.now) + 600))))
    assert jwks.hits == 2


def test_cold_start_under_concurrency_fetches_once(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks
) -> None:
    credentials = [bearer(tokens.make()) for _ in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(call, credentials))
    for reply in replies:
        assert_enriched(reply)
    assert jwks.hits == 1


def test_concurrent_unknown_kids_refetch_once(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks
) -> None:
    assert_enriched(call(bearer(tokens.make())))
    credentials = [bearer(tokens.make(kid=uuid.uuid4().hex)) for _ in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(call, credentials))
    for reply in replies:
        assert_unauthorized(reply)
    assert jwks.hits == 2


def test_default_jwks_url_is_below_the_issuer(
    make_app: AppFactory,
    call: Callable[..., Reply],
    tokens: Tokens,
    jwks: Jwks,
    httpserver: HTTPServer,
) -> None:
    issuer = httpserver.url_for("/oauth2/default")
    make_app(OAUTH_ISSUER=issuer, OAUTH_JWKS_URL=None)
    assert_enriched(call(bearer(tokens.make(iss=issuer))))
    assert jwks.hits == 1


# --- JWKS failures ---------------------------------------------------------------------------


def test_slow_jwks_is_503_within_the_timeout(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks
) -> None:
    jwks.mode = "slow"
    reply = call(bearer(tokens.make()))
    assert_jwks_unavailable(reply)
    assert reply.seconds < 1.5


class TricklingJwks:
    """A JWKS server that sends its status line and headers one byte at a time, then its
    body: each byte comes well within a read timeout, the headers take seconds."""

    def __init__(self, keys: list[Any], seconds: float = 8.0) -> None:
        body = json.dumps({"keys": keys}).encode()
        self.head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        )
        self.body = body
        self.interval = seconds / len(self.head)
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}{JWKS_PATH}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while not self.stop.is_set():
                conn, _ = self.listener.accept()
                threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            for i in range(len(self.head)):
                if self.stop.wait(self.interval):
                    return
                conn.sendall(self.head[i : i + 1])
            conn.sendall(self.body)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def trickling(tokens: Tokens) -> Iterator[TricklingJwks]:
    server = TricklingJwks([public_jwk(tokens.key_a, "kid-a")])
    yield server
    server.close()


def test_a_jwks_fetch_ends_within_its_timeout_in_total(trickling: TricklingJwks) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        fetch_jwks(trickling.url, 0.5)

    assert time.monotonic() - started < 1.5  # the headers alone take 8 s


def test_a_trickling_jwks_holds_no_call_past_the_jwks_timeout(
    make_app: AppFactory, call: Callable[..., Reply], tokens: Tokens, trickling: TricklingJwks
) -> None:
    make_app(OAUTH_JWKS_URL=trickling.url, OAUTH_JWKS_TIMEOUT=0.5)

    with ThreadPoolExecutor(3) as pool:  # the others wait for the key set's lock
        replies = list(pool.map(lambda _: call(bearer(tokens.make())), range(3)))

    for reply in replies:
        assert_jwks_unavailable(reply)
        assert reply.seconds < 2.0


def test_a_jwks_fetch_never_outlasts_the_calls_deadline(
    make_app: AppFactory, call: Callable[..., Reply], tokens: Tokens, trickling: TricklingJwks
) -> None:
    make_app(OAUTH_JWKS_URL=trickling.url, OAUTH_JWKS_TIMEOUT=1.0, DEADLINE=0.25)

    reply = call(bearer(tokens.make()))

    assert_jwks_unavailable(reply)
    assert reply.seconds < 0.8


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{JWKS_PATH}"


def test_jwks_down_is_503(make_app: AppFactory, call: Callable[..., Reply], tokens: Tokens) -> None:
    make_app(OAUTH_JWKS_URL=closed_port_url())
    assert_jwks_unavailable(call(bearer(tokens.make())))


@pytest.mark.parametrize("mode", ["error", "garbage", "redirect"])
def test_jwks_failing_is_503(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks, mode: str
) -> None:
    jwks.mode = mode
    assert_jwks_unavailable(call(bearer(tokens.make())))
    assert jwks.hits == 1


def test_jwks_without_usable_keys_is_503(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks
) -> None:
    # A weak key on purpose: the verifier must skip it.
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    jwks.keys = [
        public_jwk(weak, "kid-a"),
        public_jwk(tokens.key_a, "kid-a", use="enc"),
        public_jwk(tokens.key_a, "kid-a", alg="RS512"),
        {"kty": "oct", "kid": "kid-a", "k": b64(b"secret")},
        {"kty": "RSA", "kid": "kid-a", "n": "!!", "e": "AQAB"},
        "not a key",
    ]
    assert_jwks_unavailable(call(bearer(tokens.make())))


def test_failed_first_fetch_is_retried_after_a_pause(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks, clock: FakeClock
) -> None:
    jwks.mode = "error"
    assert_jwks_unavailable(call(bearer(tokens.make())))
    assert_jwks_unavailable(call(bearer(tokens.make())))
    assert jwks.hits == 1  # the second caller did not wait for another failure
    jwks.mode = "ok"
    clock.advance(RETRY_WITHOUT_KEYS)
    assert_enriched(call(bearer(tokens.make())))
    assert jwks.hits == 2


def test_cached_key_keeps_working_while_jwks_is_down(
    app: Flask, call: Callable[..., Reply], tokens: Tokens, jwks: Jwks, clock: FakeClock
) -> None:
    assert_enriched(call(bearer(tokens.make())))
    jwks.mode = "error"
    clock.advance(KEY_MAX_AGE + 1)  # the cache is old: a refresh is tried and fails
    fresh: dict[str, Any] = {"iat": int(clock.now), "exp": int(clock.now) + 600}
    assert_enriched(call(bearer(tokens.make(**fresh))))
    assert jwks.hits == 2
    assert_enriched(call(bearer(tokens.make(**fresh))))
    assert_unauthorized(call(bearer(tokens.make(kid="kid-unknown", **fresh))))
    assert jwks.hits == 2  # the failed refresh used this interval's refetch
    clock.advance(REFRESH)
    assert_unauthorized(call(bearer(tokens.make(kid="kid-unknown", **fresh))))
    assert jwks.hits == 3


# --- app state and configuration -------------------------------------------------------------


def test_each_config_prefix_has_its_own_verifier(
    jwks: Jwks, live: LiveServer, clock: FakeClock, call: Callable[..., Reply], tokens: Tokens
) -> None:
    partners = ISSUER.replace("default", "partners")
    app = Flask("oauth_test")
    app.config.update(oauth_config(jwks.url))
    app.config.update(
        oauth_config(jwks.url, "PARTNER_HOOKS_", OAUTH_ISSUER=partners, OAUTH_AUDIENCE="api://p")
    )
    app.register_blueprint(hooks_with_handler())
    app.register_blueprint(
        hooks_with_handler(
            "partner_hooks", url_prefix="/partner/hooks", config_prefix="PARTNER_HOOKS_"
        )
    )
    assert verifier_for(app) is not verifier_for(app, "PARTNER_HOOKS_")
    verifier_for(app).clock = verifier_for(app, "PARTNER_HOOKS_").clock = clock
    live.app = app
    ours = bearer(tokens.make())
    theirs = bearer(tokens.make(iss=partners, aud="api://p"))
    assert_enriched(call(ours))
    assert_unauthorized(call(ours, "/partner/hooks/token"))
    assert_enriched(call(theirs, "/partner/hooks/token"))
    assert_unauthorized(call(theirs))


def test_settings_changed_at_run_time_apply(
    app: Flask, call: Callable[..., Reply], tokens: Tokens
) -> None:
    app.config["OKTA_HOOKS_OAUTH_AUDIENCE"] = "api://other"
    assert_unauthorized(call(bearer(tokens.make())))
    assert_enriched(call(bearer(tokens.make(aud="api://other"))))


def test_registration_does_not_need_the_jwks(
    make_app: AppFactory, call: Callable[..., Reply], tokens: Tokens
) -> None:
    make_app(OAUTH_JWKS_URL=closed_port_url())  # does not raise, fetches nothing


CONFIG_ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    "issuer missing": (
        {"OAUTH_ISSUER": None},
        "set OKTA_HOOKS_OAUTH_ISSUER to the issuer of the custom authorization server",
    ),
    "audience missing": ({"OAUTH_AUDIENCE": None}, "set OKTA_HOOKS_OAUTH_AUDIENCE"),
    "org authorization server": (
        {"OAUTH_ISSUER": "https://dev-123456.okta.example"},
        "is an Okta org authorization server",
    ),
    "org authorization server, trailing slash": (
        {"OAUTH_ISSUER": "https://dev-123456.okta.example/"},
        "is an Okta org authorization server",
    ),
    "issuer over plain http": (
        {"OAUTH_ISSUER": "http://dev-123456.okta.example/oauth2/default"},
        "OKTA_HOOKS_OAUTH_ISSUER must be an https:// URL",
    ),
    "issuer not a URL": ({"OAUTH_ISSUER": "default"}, "must be an https:// URL"),
    "issuer with a query": ({"OAUTH_ISSUER": ISSUER + "?x=1"}, "must not contain a query"),
    "issuer with credentials": (
        {"OAUTH_ISSUER": "https://user:pw@dev-123456.okta.example/oauth2/default"},
        "must not contain credentials",
    ),
    "audience with spaces around": ({"OAUTH_AUDIENCE": " api://default"}, "OAUTH_AUDIENCE"),
    "leeway too large": (
        {"OAUTH_LEEWAY": 121},
        "OKTA_HOOKS_OAUTH_LEEWAY must be a whole number from 0 to 120",
    ),
    "leeway negative": ({"OAUTH_LEEWAY": -1}, "OKTA_HOOKS_OAUTH_LEEWAY must be a whole number"),
    "leeway as text": ({"OAUTH_LEEWAY": "60"}, "OKTA_HOOKS_OAUTH_LEEWAY must be a whole number"),
    "timeout over 1 s": ({"OAUTH_JWKS_TIMEOUT": 1.5}, "at most 1.0"),
    "timeout zero": ({"OAUTH_JWKS_TIMEOUT": 0}, "OKTA_HOOKS_OAUTH_JWKS_TIMEOUT must be"),
    "timeout NaN": ({"OAUTH_JWKS_TIMEOUT": float("nan")}, "OKTA_HOOKS_OAUTH_JWKS_TIMEOUT"),
    "refresh zero": ({"OAUTH_JWKS_REFRESH": 0}, "OKTA_HOOKS_OAUTH_JWKS_REFRESH must be"),
    "JWKS URL a file": (
        {"OAUTH_JWKS_URL": "file:///etc/passwd"},
        "OKTA_HOOKS_OAUTH_JWKS_URL must be an https:// URL",
    ),
    "scope with a space": ({"OAUTH_SCOPE": "a b"}, "OKTA_HOOKS_OAUTH_SCOPE must be"),
    "client id empty": ({"OAUTH_CLIENT_ID": ""}, "OKTA_HOOKS_OAUTH_CLIENT_ID must be"),
    "mode misspelt": ({"AUTH": "oauth2"}, "OKTA_HOOKS_AUTH must be one of"),
}


@pytest.mark.parametrize(("changes", "message"), CONFIG_ERRORS.values(), ids=CONFIG_ERRORS.keys())
def test_configuration_errors_fail_registration(changes: dict[str, Any], message: str) -> None:
    app = Flask("oauth_test")
    app.config.update(oauth_config("https://dev-123456.okta.example/keys", **changes))
    hooks = hooks_with_handler()
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        app.register_blueprint(hooks)
