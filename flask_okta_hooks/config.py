"""Every ``OKTA_HOOKS_*`` setting, declared once with its default and a one-line doc.

Defaults are written into ``app.config`` and validated when the blueprint is registered,
so a bad deployment fails at start-up with a message that says what to fix. Values are
read per request: :func:`settings_for` re-validates only when a raw value changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError

logger = logging.getLogger("flask_okta_hooks")

DEFAULT_PREFIX = "OKTA_HOOKS_"
AUTH_MODES = ("header", "none")
#: Shorter secrets are accepted with a warning; Okta sends whatever the admin typed.
MIN_SECRET_BYTES = 16


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


def _header_name(key: str, value: Any) -> str:
    token_chars = set(
        "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    )
    if not isinstance(value, str) or not value or not set(value) <= token_chars:
        raise ConfigurationError(f"{key} must be an HTTP header name such as 'Authorization'")
    return value


def _secrets(key: str, value: Any) -> tuple[bytes, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str | bytes) else value
    if not isinstance(values, list | tuple):
        raise ConfigurationError(f"{key} must be a string or a list of strings")
    secrets = []
    for item in values:
        if isinstance(item, str):
            item = item.encode("utf-8")
        if not isinstance(item, bytes) or not item.strip():
            raise ConfigurationError(
                f"{key} must hold non-empty strings: the exact value Okta sends in the auth header"
            )
        secrets.append(item)
    return tuple(secrets)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "AUTH",
        "header",
        "How Okta's calls are authenticated: 'header' (shared secret) "
        "or 'none' (local development only; logs a warning).",
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
)


@dataclass(frozen=True)
class Settings:
    """The validated settings of one configuration prefix."""

    auth: str
    auth_header: str
    secrets: tuple[bytes, ...]
    max_body: int
    max_depth: int
    max_members: int
    max_string: int
    validate_responses: bool
    strict: bool | None

    @property
    def auth_environ_key(self) -> str:
        """The WSGI environ key of the auth header (``Authorization`` -> ``HTTP_AUTHORIZATION``)."""
        return "HTTP_" + self.auth_header.upper().replace("-", "_")


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
    if settings.auth == "header" and not settings.secrets:
        raise ConfigurationError(
            f"set {prefix}SECRETS to the value Okta sends in the {settings.auth_header} header "
            f"(or, for local development only, {prefix}AUTH = 'none')"
        )
    return settings


def apply_defaults(config: dict[str, Any], prefix: str = DEFAULT_PREFIX) -> Settings:
    """Write the defaults into ``config``, validate every value and return the settings.

    Raises :class:`ConfigurationError` naming the key and the fix.
    """
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

    __slots__ = ("_keys", "_raw", "_settings", "prefix")

    def __init__(self, prefix: str, settings: Settings, config: Mapping[str, Any]) -> None:
        self.prefix = prefix
        self._keys = _keys(prefix)
        self._raw = _raw(config, self._keys)
        self._settings = settings

    def get(self, config: Mapping[str, Any]) -> Settings:
        raw = _raw(config, self._keys)
        if raw != self._raw:
            self._settings = _build(raw, self.prefix)
            self._raw = raw
        return self._settings
