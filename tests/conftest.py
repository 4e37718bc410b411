"""Shared fixtures: Okta's reference samples, apps with an OktaHooks blueprint, HTTP calls.

Okta's documented samples and schemas live outside the repository, in ``../shared/okta``
beside the clone (or where ``OKTA_REFERENCE_DIR`` points). Tests that need them skip with
a clear reason when they are absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_okta_hooks import HOOK_TYPES, HookType, OktaHooks
from flask_okta_hooks.hook_types import HOOK_TYPES_BY_SLUG
from flask_okta_hooks.testing import HookResult, OktaClient

pytest_plugins = ["pytester"]

REFERENCE_DIR = Path(
    os.environ.get("OKTA_REFERENCE_DIR", Path(__file__).resolve().parents[2] / "shared" / "okta")
)
SECRET = "test-secret-2f9c1e7a5b3d"
PREFIX = "/okta/hooks"

#: The documented request sample used for each hook type in cross-cutting tests.
REQUEST_SAMPLE = {
    "token": "token.request.json",
    "saml": "saml.request.json",
    "registration": "registration.request.ssr.json",
    "password-import": "password-import.request.json",
    "user-import": "user-import.request.json",
    "telephony": "telephony.request.json",
    "events": "event-hook.request.json",
}


#: Why a test of the Okta samples skips on a clone without the reference data.
SAMPLES_MISSING = (
    f"Okta samples not found under {REFERENCE_DIR / 'samples'} (place shared/ beside the clone)"
)


def reference_file(*parts: str) -> Path:
    """A file of Okta's reference data; skips the test when the data is absent."""
    path = REFERENCE_DIR.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"Okta reference data not found at {path} (place shared/ beside the clone)")
    return path


def sample(name: str) -> Any:
    """A parsed sample from ``shared/okta/samples``."""
    return json.loads(reference_file("samples", name).read_text())


def sample_bytes(name: str) -> bytes:
    return reference_file("samples", name).read_bytes()


def sample_names(pattern: str, folder: str = "samples") -> list[Any]:
    """Sample file names matching ``pattern``, for ``parametrize``.

    When the reference data is absent the one parameter is a skip, so the test reports
    why instead of vanishing.
    """
    names = sorted(p.name for p in (REFERENCE_DIR / folder).glob(pattern))
    if names:
        return names
    reason = f"no {folder}/{pattern} under {REFERENCE_DIR} (place shared/ beside the clone)"
    return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]


def token_payload_sample() -> Any:
    """Okta's documented token hook request."""
    return sample("token.request.json")


def response_schema(name: str) -> dict[str, Any]:
    """A derived response schema from ``shared/okta/schemas/corrected``."""
    result: dict[str, Any] = json.loads(
        reference_file("schemas", "corrected", f"{name}.response.schema.json").read_text()
    )
    return result


def okta_headers(secret: str | None = SECRET, **extra: str) -> dict[str, str]:
    """Headers as Okta sends them: JSON content type and the configured auth header."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if secret is not None:
        headers["Authorization"] = secret
    headers.update(extra)
    return headers


class FakeClock:
    """A monotonic clock that moves only when a test sets ``now``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def build_app(hooks: OktaHooks, **config: Any) -> Flask:
    """A Flask app with ``hooks`` registered and a shared secret configured."""
    app = Flask("okta_hooks_test")
    app.config.update(TESTING=True, OKTA_HOOKS_SECRETS=[SECRET])
    app.config.update(config)
    app.register_blueprint(hooks)
    return app


def safe_outcome_handler(hook_type: HookType) -> Callable[[Any], Any]:
    """A handler that answers what the hook type answers on failure (valid for every type)."""
    return hook_type.response_class.safe_outcome


@pytest.fixture
def every_hook_app() -> Flask:
    """An app serving every hook type at its default path with a neutral handler."""
    hooks = OktaHooks()
    for hook_type in HOOK_TYPES:
        hooks.mount(hook_type, safe_outcome_handler(hook_type))
    return build_app(hooks)


@pytest.fixture
def every_hook_client(every_hook_app: Flask) -> Iterator[FlaskClient]:
    with every_hook_app.test_client() as client:
        yield client


def post_json(
    client: FlaskClient, path: str, body: Any, *, secret: str | None = SECRET, **headers: str
) -> TestResponse:
    """POST ``body`` (bytes as is, anything else as JSON) to ``path`` below the prefix."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(PREFIX + path, data=data, headers=okta_headers(secret, **headers))


def serve(
    hook: str | HookType,
    handler: Callable[[Any], Any],
    payload: Any = None,
    **config: Any,
) -> HookResult:
    """Mount ``handler`` for ``hook`` on a fresh app and call it as Okta would.

    ``payload`` defaults to the test kit's realistic call of that hook type.
    """
    hooks = OktaHooks()
    hooks.mount(HOOK_TYPES_BY_SLUG[hook] if isinstance(hook, str) else hook, handler)
    return OktaClient(build_app(hooks, **config)).post(hook, payload)


# --- real services: PostgreSQL, Redis, RabbitMQ ----------------------------------------------
#
# Tests marked ``postgres``, ``redis`` or ``rabbitmq`` talk to a real server. Where none
# answers they skip with a reason that says how to run them; under CI (``CI=true``) such a
# skip is a failure, so CI cannot go green without the services.

POSTGRES_HOST = os.environ.get("OKTA_HOOKS_TEST_POSTGRES", "postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("OKTA_HOOKS_TEST_REDIS", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("OKTA_HOOKS_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")
SERVICE_MARKERS = {
    "postgres": f"PostgreSQL at {POSTGRES_HOST} (OKTA_HOOKS_TEST_POSTGRES)",
    "redis": f"Redis at {REDIS_URL} (OKTA_HOOKS_TEST_REDIS)",
    "rabbitmq": "RabbitMQ at 127.0.0.1:5672 (OKTA_HOOKS_TEST_RABBITMQ)",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, what in SERVICE_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: needs {what}")


def _service_skip(what: str, error: BaseException) -> None:
    pytest.skip(
        f"{what} is not reachable ({type(error).__name__}): start it, or run .ci/run, "
        f"which starts the services the suite needs"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or os.environ.get("CI", "").lower() not in ("true", "1"):
        return
    services = [name for name in SERVICE_MARKERS if item.get_closest_marker(name)]
    if services:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = (
            f"CI=true and a service test was skipped ({', '.join(services)}): {reason}"
        )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL of a fresh PostgreSQL database, dropped after the test."""
    psycopg = pytest.importorskip("psycopg", reason="the 'sql' extra is not installed")
    name = f"okta_hooks_test_{os.urandom(6).hex()}"
    user, _, hostport = POSTGRES_HOST.rpartition("@")
    host, _, port = hostport.partition(":")
    admin = f"host={host} port={port or 5432} user={user or 'postgres'} dbname=postgres"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _service_skip(SERVICE_MARKERS["postgres"], exc)
    try:
        yield f"postgresql+psycopg://{user or 'postgres'}@{host}:{port or 5432}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test on the Redis server; its keys are deleted after the test."""
    redis = pytest.importorskip("redis", reason="the 'redis' extra is not installed")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        _service_skip(SERVICE_MARKERS["redis"], exc)
    prefix = f"okta-hooks-test:{os.urandom(6).hex()}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def rabbitmq_url() -> str:
    """The URL of the RabbitMQ server; tests name their own queues."""
    kombu = pytest.importorskip("kombu", reason="the 'celery' extra is not installed")
    connection = kombu.Connection(RABBITMQ_URL, connect_timeout=3)
    try:
        connection.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu's OperationalError, or a socket error
        _service_skip(SERVICE_MARKERS["rabbitmq"], exc)
    finally:
        connection.release()
    return RABBITMQ_URL
