"""Every ``OKTA_HOOKS_*`` setting, declared once with its default and a one-line doc.

Defaults are written into ``app.config`` and validated when the blueprint is registered,
so a bad deployment fails at start-up with a message that says what to fix. Values are
read per request: :meth:`SettingsCache.get` re-validates only when a raw value changed.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .lazy import lazy_property
from .redaction import remember_secrets
from .rules import waivable

logger = logging.getLogger("flask_okta_hooks")

DEFAULT_PREFIX = "OKTA_HOOKS_"
#: Where an app keeps the per-prefix state of the extension (``app.extensions``).
EXTENSION_KEY = "okta_hooks"
AUTH_MODES = ("header", "oauth", "none")
#: Shorter secrets are accepted with a warning; Okta sends whatever the admin typed.
MIN_SECRET_BYTES = 16
#: Okta's own token verifiers allow two minutes of clock skew; more only widens replay.
MAX_LEEWAY = 120
#: Okta gives the whole call 3 s, so one key fetch may use at most a third of it.
MAX_JWKS_TIMEOUT = 1.0
#: Okta waits 3 s and that includes the internet path and TLS both ways; a handler's
#: deadline above 2.5 s would leave the answer too little time to reach Okta.
MAX_DEADLINE = 2.5
#: Handlers slower than this are never trusted to run without the deadline's protection.
MAX_INLINE_UNDER = 0.1
_ISSUER_EXAMPLE = "https://{yourOktaDomain}/oauth2/default"


@dataclass(frozen=True)
class Setting:
    """One configuration key: ``name`` without the prefix, its default and its doc."""

    name: str
    default: Any
    doc: str
    parse: Callable[[str, Any], Any]


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if value not in allowed:
            raise ConfigurationError(f"{key} must be one of {', '.join(map(repr, allowed))}")
        return str(value)

    return parse


def _int_between(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        if type(value) is not int or not low <= value <= high:
            raise ConfigurationError(f"{key} must be a whole number from {low} to {high}")
        return value

    return parse


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{key} must be True or False")
    return value


def _optional_bool(key: str, value: Any) -> bool | None:
    return None if value is None else _bool(key, value)


def _waived(key: str, value: Any) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Sequence | frozenset | set):
        raise ConfigurationError(f"{key} is a list of precaution ids, e.g. ['claim_name']")
    try:
        return waivable(value)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{key}: {exc}") from None


_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def _is_header_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and set(value) <= _TOKEN_CHARS


def _header_name(key: str, value: Any) -> str:
    if not _is_header_name(value):
        raise ConfigurationError(f"{key} must be an HTTP header name such as 'Authorization'")
    return str(value)


def environ_key(header: str) -> str:
    """The WSGI environ key of a request header (``X-Gateway-Key`` -> ``HTTP_X_GATEWAY_KEY``)."""
    return "HTTP_" + header.upper().replace("-", "_")


def _optional_word(key: str, value: Any) -> str | None:
    # Client ids and scope names never hold whitespace; a stray space or newline copied
    # from a console would otherwise make every token fail the exact comparison.
    if value is None:
        return None
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise ConfigurationError(f"{key} must be a non-empty string without spaces, or None")
    return value


def _audience(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ConfigurationError(
            f"{key} must be the audience of the authorization server, e.g. 'api://default'"
        )
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(key: str, value: Any, example: str) -> str:
    """An absolute https URL; plain http only for loopback hosts (local tests)."""
    hint = f"{key} must be an https:// URL such as {example!r} (http:// only for localhost)"
    if not isinstance(value, str) or value != value.strip():
        raise ConfigurationError(hint)
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port  # .port raises ValueError when malformed
    except ValueError:
        raise ConfigurationError(hint) from None
    if not host or parts.scheme not in ("https", "http"):
        raise ConfigurationError(hint)
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(hint)
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ConfigurationError(f"{key} must not contain credentials or a #fragment")
    return value


def _issuer(key: str, value: Any) -> str | None:
    if value is None:
        return None
    issuer = _url(key, value, _ISSUER_EXAMPLE)
    parts = urlsplit(issuer)
    if parts.query:
        raise ConfigurationError(f"{key} must not contain a query string")
    if parts.path in ("", "/"):
        raise ConfigurationError(
            f"{key} {issuer!r} is an Okta org authorization server: Okta says only Okta "
            f"can validate its access tokens. Give the hook's tokens a custom authorization "
            f"server and set its issuer, such as {_ISSUER_EXAMPLE!r}"
        )
    return issuer


def _jwks_url(key: str, value: Any) -> str | None:
    return None if value is None else _url(key, value, _ISSUER_EXAMPLE + "/v1/keys")


def _jwks_timeout(key: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_JWKS_TIMEOUT
    ):
        raise ConfigurationError(
            f"{key} must be a number of seconds above 0 and at most {MAX_JWKS_TIMEOUT}: "
            f"Okta waits only 3 s for the whole call"
        )
    return float(value)


def _seconds(high: float) -> Callable[[str, Any], float]:
    def parse(key: str, value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= high
            or not math.isfinite(value)
        ):
            raise ConfigurationError(f"{key} must be a number of seconds from 0 to {high}")
        return float(value)

    return parse


def _dedupe(key: str, value: Any) -> Any:
    if value is None or (isinstance(value, str) and _backend_name(value)):
        return value
    if callable(getattr(value, "claim", None)) and callable(getattr(value, "release", None)):
        return value
    raise ConfigurationError(
        f"{key} must be 'memory', a URL ('redis://host:6379/0', 'sqlite:///dedupe.db', "
        f"'postgresql+psycopg://host/db'), None, or an object with claim(key) -> bool and "
        f"release(key) methods (see flask_okta_hooks.DedupeStore)"
    )


def _intake(key: str, value: Any) -> str:
    if not isinstance(value, str) or not (value == "celery" or _backend_name(value)):
        raise ConfigurationError(
            f"{key} must be 'memory', 'celery' or a SQLAlchemy database URL such as "
            f"'sqlite:///okta-events.db' or 'postgresql+psycopg://host/db'"
        )
    return value


def _celery(key: str, value: Any) -> Any:
    # The shape only: the path is imported, and celery with it, at registration.
    if value is None or callable(getattr(value, "send_task", None)):
        return value
    if isinstance(value, str) and value.count(":") == 1 and all(value.split(":")):
        return value
    raise ConfigurationError(
        f"{key} must be the app's Celery instance or its import path, e.g. "
        f"'myapp.tasks:celery_app', or None"
    )


def _backend_name(value: str) -> bool:
    # The shape only: the backend is made, and its driver imported, at registration.
    return value == "memory" or "://" in value


def _deadline(key: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_DEADLINE
    ):
        raise ConfigurationError(
            f"{key} must be a number of seconds above 0 and at most {MAX_DEADLINE}: "
            f"Okta waits only 3 s for the whole call, network included"
        )
    return float(value)


def _inline_under(key: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= MAX_INLINE_UNDER
    ):
        raise ConfigurationError(
            f"{key} must be a number of seconds from 0 (every call on a worker thread) "
            f"to {MAX_INLINE_UNDER}"
        )
    return float(value)


def _header_values(key: str, value: Any, what: str) -> tuple[bytes, ...]:
    """One accepted header value or a list of them (for rotation), as UTF-8 bytes."""
    values = [value] if isinstance(value, str | bytes) else value
    if not isinstance(values, list | tuple):
        raise ConfigurationError(f"{key} must be a string or a list of strings")
    accepted = []
    for item in values:
        if isinstance(item, str):
            item = item.encode("utf-8")
        if not isinstance(item, bytes) or not item.strip():
            raise ConfigurationError(f"{key} must hold non-empty strings: {what}")
        accepted.append(item)
    return tuple(accepted)


def _secrets(key: str, value: Any) -> tuple[bytes, ...]:
    if value is None:
        return ()
    return _header_values(key, value, "the exact value Okta sends in the auth header")


@dataclass(frozen=True)
class RequiredHeader:
    """A custom header Okta sends with every call (set on the hook in Okta's Admin
    Console) that a call must carry with one of ``values``."""

    name: str
    environ_key: str
    values: tuple[bytes, ...]


def _required_headers(key: str, value: Any) -> tuple[RequiredHeader, ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"{key} must be a dict of header name to value (or list of values), "
            f"such as {{'X-Gateway-Key': '<the value set in Okta>'}}"
        )
    headers: dict[str, RequiredHeader] = {}
    for name, values in value.items():
        if not _is_header_name(name):
            raise ConfigurationError(f"{key} names {name!r}, which is not an HTTP header name")
        where = environ_key(name)
        if where in headers:
            raise ConfigurationError(f"{key} names the header {name!r} twice")
        item_key = f"{key}[{name!r}]"
        accepted = _header_values(item_key, values, "the exact value Okta sends in that header")
        if not accepted:
            raise ConfigurationError(f"{item_key} must hold at least one value")
        headers[where] = RequiredHeader(name, where, accepted)
    return tuple(headers.values())


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "AUTH",
        "header",
        "How Okta's calls are authenticated: 'header' (shared secret), 'oauth' (OAuth 2.0 "
        "bearer token) or 'none' (local development only; logs a warning).",
        _choice(*AUTH_MODES),
    ),
    Setting(
        "AUTH_HEADER",
        "Authorization",
        "Name of the header that carries the shared "
        "secret (Okta's 'Authentication field'); matched case-insensitively.",
        _header_name,
    ),
    Setting(
        "SECRETS",
        None,
        "The accepted header values (Okta's 'Authentication secret'), a "
        "string or a list for rotation without downtime; compared exactly.",
        _secrets,
    ),
    Setting(
        "REQUIRED_HEADERS",
        None,
        "Custom headers Okta is set up to send with every call, as a dict of header name "
        "to value (or a list of values for rotation); a call without one of them, or with "
        "another value, is refused 401 before its body is read.",
        _required_headers,
    ),
    Setting(
        "OAUTH_ISSUER",
        None,
        "OAuth mode: issuer of the custom authorization server that mints Okta's tokens "
        "(e.g. https://{yourOktaDomain}/oauth2/default); must equal the token's iss exactly.",
        _issuer,
    ),
    Setting(
        "OAUTH_AUDIENCE",
        None,
        "OAuth mode: audience of that authorization server (e.g. 'api://default'); must "
        "equal the token's aud exactly.",
        _audience,
    ),
    Setting(
        "OAUTH_JWKS_URL",
        None,
        "OAuth mode: where the signing keys are published; None means '<issuer>/v1/keys'.",
        _jwks_url,
    ),
    Setting(
        "OAUTH_CLIENT_ID",
        None,
        "OAuth mode: the hook's client id; when set, the token's cid must equal it.",
        _optional_word,
    ),
    Setting(
        "OAUTH_SCOPE",
        None,
        "OAuth mode: the hook's custom scope; when set, the token's scp must contain it.",
        _optional_word,
    ),
    Setting(
        "OAUTH_LEEWAY",
        60,
        "OAuth mode: clock skew allowed on exp, iat and nbf, in seconds (at most 120).",
        _int_between(0, MAX_LEEWAY),
    ),
    Setting(
        "OAUTH_JWKS_TIMEOUT",
        1.0,
        "OAuth mode: timeout of one signing-key fetch, in seconds (at most 1.0).",
        _jwks_timeout,
    ),
    Setting(
        "OAUTH_JWKS_REFRESH",
        60,
        "OAuth mode: fewest seconds between key refetches caused by tokens with unknown kids.",
        _int_between(1, 86_400),
    ),
    Setting(
        "MAX_BODY",
        1024 * 1024,
        "Largest request body accepted, in bytes; larger bodies "
        "get 413 and are not read past the limit.",
        _int_between(1024, 64 * 1024 * 1024),
    ),
    Setting(
        "MAX_DEPTH",
        32,
        "Deepest JSON nesting accepted; Okta's payloads are shallow.",
        _int_between(4, 512),
    ),
    Setting(
        "MAX_MEMBERS",
        100_000,
        "Most object members plus array items accepted in one body.",
        _int_between(100, 10_000_000),
    ),
    Setting(
        "MAX_STRING",
        65_536,
        "Longest JSON string accepted, in characters.",
        _int_between(256, 64 * 1024 * 1024),
    ),
    Setting(
        "VALIDATE_RESPONSES",
        True,
        "Check every response against Okta's rules for its hook type before it is sent.",
        _bool,
    ),
    Setting(
        "STRICT",
        None,
        "Raise handler mistakes (broken Okta rules, unusable results, "
        "exceptions) instead of answering with the hook type's safe outcome; None means "
        "strict when app.debug or app.testing is on.",
        _optional_bool,
    ),
    Setting(
        "WAIVED_RULES",
        (),
        "Precautions (rule ids of flask_okta_hooks.rules) not enforced for this app: answers "
        "that break them are sent without a warning, strict mode included. Okta's "
        "documented rules cannot be waived.",
        _waived,
    ),
    Setting(
        "EVENTS_INLINE",
        False,
        "Event hooks: run the handlers before answering (Okta waits at most 3 s; a failed "
        "handler answers 503) instead of on background threads after the 204.",
        _bool,
    ),
    Setting(
        "EVENTS_INTAKE",
        "memory",
        "Event hooks: where events wait for their handlers: 'memory' (this process; lost "
        "if it stops), a SQLAlchemy database URL (kept until handled) or 'celery' (tasks "
        "of EVENTS_CELERY); read when the blueprint is registered.",
        _intake,
    ),
    Setting(
        "EVENTS_CELERY",
        None,
        "Event hooks, Celery intake: the app's Celery instance, or its import path such as "
        "'myapp.tasks:celery_app'; read when the blueprint is registered.",
        _celery,
    ),
    Setting(
        "EVENTS_DEDUPE",
        "memory",
        "Event hooks, memory intake or inline: where the ids of events taken on are kept, "
        "so each is handled once: 'memory' (this process, bounded), a Redis or SQLAlchemy "
        "URL shared by all processes, a DedupeStore, or None (a database intake keeps "
        "them in its own table).",
        _dedupe,
    ),
    Setting(
        "EVENTS_WORKERS",
        4,
        "Event hooks: threads of the web process running the handlers, per app and prefix; "
        "0 leaves a database intake's events to 'flask okta-hooks worker'; read when the "
        "blueprint is registered.",
        _int_between(0, 64),
    ),
    Setting(
        "EVENTS_QUEUE",
        1000,
        "Event hooks, memory intake: most events waiting; a delivery that would take the "
        "queue beyond it is answered 503 (Okta retries it once), unless nothing waits.",
        _int_between(1, 1_000_000),
    ),
    Setting(
        "EVENTS_EXIT_WAIT",
        5.0,
        "Event hooks, memory intake: seconds the interpreter waits at exit for waiting "
        "events to be handled; read when the blueprint is registered.",
        _seconds(300.0),
    ),
    Setting(
        "EVENTS_ATTEMPTS",
        5,
        "Event hooks, database or Celery intake: runs of a failing handler before its event "
        "is parked as failed (database) or given up (Celery); read at registration.",
        _int_between(1, 100),
    ),
    Setting(
        "EVENTS_LEASE",
        60.0,
        "Event hooks, database intake: seconds a consumer holds an event; a handler must "
        "finish within it, and an event of a dead consumer runs again after it.",
        _seconds(86_400.0),
    ),
    Setting(
        "EVENTS_RETRY_DELAY",
        2.0,
        "Event hooks, database or Celery intake: seconds before a failed handler runs "
        "again, doubled per attempt (at most an hour).",
        _seconds(3600.0),
    ),
    Setting(
        "DEADLINE",
        2.0,
        "Seconds a call may take, counted from its arrival; a handler still running then is "
        "left to finish in the background and the call gets its failure outcome (at most 2.5).",
        _deadline,
    ),
    Setting(
        "WORKERS",
        32,
        "Worker threads that run handlers under the deadline, per app and process (started "
        "as needed); read when the blueprint is registered. Give at least the server's "
        "request threads per process (gunicorn --threads), so that calls wait for a worker "
        "only while handlers past their deadline hold some. A call finding all busy waits "
        "in line while half its deadline is left, then gets its failure outcome; when "
        "handlers past their deadline hold all, at once.",
        _int_between(1, 1024),
    ),
    Setting(
        "INLINE_UNDER",
        0.02,
        "A handler whose last 100 calls each took less than this many seconds runs on the "
        "request thread, sparing the hand-off to a worker; any slower call sends it back "
        "to the workers. 0 runs every call on a worker (at most 0.1).",
        _inline_under,
    ),
)


@dataclass(frozen=True)
class OAuthSettings:
    """The validated settings of OAuth mode, complete: present only when ``auth == "oauth"``."""

    issuer: str
    audience: str
    jwks_url: str
    client_id: str | None
    scope: str | None
    leeway: int
    jwks_timeout: float
    jwks_refresh: int


@dataclass(frozen=True)
class Settings:
    """The validated settings of one configuration prefix."""

    auth: str
    auth_header: str
    secrets: tuple[bytes, ...]
    required_headers: tuple[RequiredHeader, ...]
    oauth_issuer: str | None
    oauth_audience: str | None
    oauth_jwks_url: str | None
    oauth_client_id: str | None
    oauth_scope: str | None
    oauth_leeway: int
    oauth_jwks_timeout: float
    oauth_jwks_refresh: int
    max_body: int
    max_depth: int
    max_members: int
    max_string: int
    validate_responses: bool
    strict: bool | None
    waived_rules: frozenset[str]
    events_inline: bool
    events_intake: str
    events_celery: Any
    events_dedupe: Any
    events_workers: int
    events_queue: int
    events_exit_wait: float
    events_attempts: int
    events_lease: float
    events_retry_delay: float
    deadline: float
    workers: int
    inline_under: float
    oauth: OAuthSettings | None = None
    """Filled in OAuth mode, so the verifier needs no ``None`` checks."""

    @lazy_property
    def auth_environ_key(self) -> str:
        """The WSGI environ key of the auth header (``Authorization`` -> ``HTTP_AUTHORIZATION``)."""
        return environ_key(self.auth_header)


def _keys(prefix: str) -> tuple[tuple[str, Any], ...]:
    return tuple((prefix + s.name, s.default) for s in SETTINGS)


def _raw(config: Mapping[str, Any], keys: tuple[tuple[str, Any], ...]) -> tuple[Any, ...]:
    return tuple([config.get(key, default) for key, default in keys])


def _build(raw: tuple[Any, ...], prefix: str) -> Settings:
    values = {
        s.name.lower(): s.parse(prefix + s.name, value)
        for s, value in zip(SETTINGS, raw, strict=True)
    }
    settings = Settings(**values)
    remember_secrets(settings.secrets)
    for header in settings.required_headers:
        remember_secrets(header.values)
        bearer = settings.auth == "oauth" and header.environ_key == "HTTP_AUTHORIZATION"
        if header.environ_key == settings.auth_environ_key or bearer:
            raise ConfigurationError(
                f"{prefix}REQUIRED_HEADERS names {header.name!r}, which carries the "
                f"authentication itself: give that value in {prefix}SECRETS"
            )
    if settings.auth == "header" and not settings.secrets:
        raise ConfigurationError(
            f"set {prefix}SECRETS to the value Okta sends in the {settings.auth_header} header "
            f"(or {prefix}AUTH = 'oauth' for OAuth 2.0 hooks, or, for local development "
            f"only, {prefix}AUTH = 'none')"
        )
    if settings.auth == "oauth":
        settings = replace(settings, oauth=_oauth_settings(settings, prefix))
    return settings


def _oauth_settings(settings: Settings, prefix: str) -> OAuthSettings:
    if settings.oauth_issuer is None:
        raise ConfigurationError(
            f"set {prefix}OAUTH_ISSUER to the issuer of the custom authorization server "
            f"that mints the hook's tokens, such as {_ISSUER_EXAMPLE!r}"
        )
    if settings.oauth_audience is None:
        raise ConfigurationError(
            f"set {prefix}OAUTH_AUDIENCE to the audience of the authorization server "
            f"{settings.oauth_issuer!r}, such as 'api://default'"
        )
    return OAuthSettings(
        issuer=settings.oauth_issuer,
        audience=settings.oauth_audience,
        jwks_url=settings.oauth_jwks_url or settings.oauth_issuer.rstrip("/") + "/v1/keys",
        client_id=settings.oauth_client_id,
        scope=settings.oauth_scope,
        leeway=settings.oauth_leeway,
        jwks_timeout=settings.oauth_jwks_timeout,
        jwks_refresh=settings.oauth_jwks_refresh,
    )


def require_header_secret(settings: Settings, prefix: str, paths: Sequence[str]) -> None:
    """Refuse OAuth mode without a header secret when endpoints at ``paths`` need one.

    Okta calls some hook types (event hooks) with the header secret only, so their
    endpoints take ``SECRETS`` even when ``AUTH`` is ``'oauth'``.
    """
    if settings.auth == "oauth" and paths and not settings.secrets:
        raise ConfigurationError(
            f"{prefix}AUTH is 'oauth', but Okta authenticates event hooks with a header "
            f"secret only: set {prefix}SECRETS to the value Okta sends in the "
            f"{settings.auth_header} header to {', '.join(paths)}"
        )


#: Every configuration prefix an :class:`~flask_okta_hooks.OktaHooks` was made with, so
#: that the keys of ``OKTA_HOOKS_PARTNER_`` are not taken for misspelt ``OKTA_HOOKS_`` keys
#: even when that blueprint is registered after the other.
_prefixes: set[str] = {DEFAULT_PREFIX}


def declare_prefix(prefix: str) -> None:
    """Make ``prefix``'s keys known to the check of every other prefix."""
    _prefixes.add(prefix)


def refuse_unknown_keys(config: Mapping[str, Any], prefix: str) -> None:
    """Raise :class:`ConfigurationError` for a ``prefix`` key that is no setting.

    A misspelt key would otherwise be ignored silently and its setting keep its default,
    which for a secret or a deadline is found out only in production.
    """
    names = {setting.name for setting in SETTINGS}
    nested = [other for other in _prefixes if other != prefix and other.startswith(prefix)]
    for key in config:
        if not isinstance(key, str) or not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if name in names or any(key.startswith(other) for other in nested):
            continue
        close = difflib.get_close_matches(name, sorted(names), n=1)
        fix = f"did you mean {prefix}{close[0]}?" if close else "remove it or correct its name"
        raise ConfigurationError(f"{key} is not a flask-okta-hooks setting: {fix}")


def apply_defaults(config: dict[str, Any], prefix: str = DEFAULT_PREFIX) -> Settings:
    """Write the defaults into ``config``, validate every value and return the settings.

    Raises :class:`ConfigurationError` naming the key and the fix, for a misspelt key too.
    """
    refuse_unknown_keys(config, prefix)
    for setting in SETTINGS:
        config.setdefault(prefix + setting.name, setting.default)
    settings = _build(_raw(config, _keys(prefix)), prefix)
    if settings.auth == "none":
        logger.warning(
            "%sAUTH is 'none': Okta hook endpoints accept unauthenticated calls. "
            "Use this for local development only.",
            prefix,
        )
    elif any(len(secret) < MIN_SECRET_BYTES for secret in settings.secrets):
        logger.warning(
            "a configured %sSECRETS value is shorter than %d bytes; use a long random secret",
            prefix,
            MIN_SECRET_BYTES,
        )
    return settings


class SettingsCache:
    """Per-app holder that re-validates the settings only when a raw value changes."""

    __slots__ = ("_keys", "_raw", "_read", "_settings", "prefix")

    def __init__(self, prefix: str, settings: Settings, config: Mapping[str, Any]) -> None:
        self.prefix = prefix
        self._keys = _keys(prefix)
        # Every call reads every raw value; one C-level lookup of all keys costs a fraction
        # of a loop of get()s. The defaults are in the config since registration, so each
        # key is there unless an app removed one.
        self._read = operator.itemgetter(*(key for key, _ in self._keys))
        self._raw = _raw(config, self._keys)
        self._settings = settings

    def get(self, config: Mapping[str, Any]) -> Settings:
        try:
            raw = self._read(config)
        except KeyError:  # a removed key: its default applies
            raw = _raw(config, self._keys)
        if raw != self._raw:
            self._settings = _build(raw, self.prefix)
            self._raw = raw
        return self._settings
