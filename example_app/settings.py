"""The example service's own settings, declared once with their defaults and checked at start-up.

Values come from ``app.config``: Flask's ``FLASK_*`` environment variables (read with
``app.config.from_prefixed_env()``, so ``FLASK_HOOK_DEADLINE=1.5`` sets ``HOOK_DEADLINE``),
then the mapping given to :func:`example_app.create_app`. A wrong value stops the app at
start-up with the key's name, instead of failing on Okta's first call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .passwords import HashCosts, Scheme


class SettingsError(ValueError):
    """A setting of the example service is invalid; the message names the key."""


def _number(low: float, high: float) -> Callable[[str, Any], float]:
    def parse(key: str, value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise SettingsError(f"{key} must be a number from {low} to {high}")
        return float(value)

    return parse


def _whole(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SettingsError(f"{key} must be a whole number from {low} to {high}")
        return value

    return parse


def _optional(parse: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    return lambda key, value: None if value is None else parse(key, value)


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{key} must be a non-empty string")
    return value


def _scheme(key: str, value: Any) -> Scheme:
    try:
        return Scheme(value)
    except ValueError:
        choices = ", ".join(scheme.value for scheme in Scheme)
        raise SettingsError(f"{key} must be one of {choices}") from None


def _names(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, str) and item for item in value
    ):
        raise SettingsError(
            f"{key} must be a list of attribute names (or a comma-separated string)"
        )
    return tuple(value)


@dataclass(frozen=True)
class Option:
    """One setting: its ``app.config`` key, default, parser and a one-line doc."""

    key: str
    default: Any
    parse: Callable[[str, Any], Any]
    doc: str


OPTIONS: tuple[Option, ...] = (
    Option(
        "DATABASE_URL",
        None,
        _optional(_text),
        "SQLAlchemy URL of the database; default: a SQLite file in the instance folder.",
    ),
    Option(
        "PUBLIC_URL",
        None,
        _optional(_text),
        "The HTTPS address Okta reaches this service at, shown in the start-up banner.",
    ),
    Option(
        "HOOK_DEADLINE",
        2.0,
        _number(0.2, 2.5),
        "Seconds after a call arrived by which it must be answered; Okta gives up at 3. "
        "The library holds calls to it (it becomes OKTA_HOOKS_DEADLINE).",
    ),
    Option(
        "PASSWORD_SCHEME",
        Scheme.BCRYPT.value,
        _scheme,
        "Legacy hash format of new users (add-user) and of the dummy check for unknown users.",
    ),
    Option("PASSWORD_BCRYPT_ROUNDS", 12, _whole(4, 16), "bcrypt cost of new hashes."),
    Option("PASSWORD_ARGON2_TIME_COST", 2, _whole(1, 16), "argon2id passes of new hashes."),
    Option(
        "PASSWORD_ARGON2_MEMORY_KIB",
        19_456,
        _whole(8, 262_144),
        "argon2id memory of new hashes, in KiB.",
    ),
    Option(
        "PASSWORD_PBKDF2_ITERATIONS",
        600_000,
        _whole(1_000, 10_000_000),
        "PBKDF2-SHA256 iterations of new hashes.",
    ),
    Option(
        "PASSWORD_CONCURRENCY",
        None,
        _optional(_whole(1, 256)),
        "Password checks running at once in this process; default: the cores divided "
        "by WEB_CONCURRENCY (gunicorn's worker count).",
    ),
    Option(
        "REQUIRED_PROFILE_ATTRIBUTES",
        ("employeeNumber", "department"),
        _names,
        "Okta profile attributes progressive profiling insists on.",
    ),
    Option(
        "TELEPHONY_PROVIDER",
        None,
        lambda key, value: value,
        "An object with send(message) -> Delivery; default: the outbox table.",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The checked settings of one app."""

    database_url: str | None
    public_url: str | None
    hook_deadline: float
    password_scheme: Scheme
    password_bcrypt_rounds: int
    password_argon2_time_cost: int
    password_argon2_memory_kib: int
    password_pbkdf2_iterations: int
    password_concurrency: int | None
    required_profile_attributes: tuple[str, ...]
    telephony_provider: Any

    @property
    def hash_costs(self) -> HashCosts:
        return HashCosts(
            bcrypt_rounds=self.password_bcrypt_rounds,
            argon2_time_cost=self.password_argon2_time_cost,
            argon2_memory_kib=self.password_argon2_memory_kib,
            pbkdf2_iterations=self.password_pbkdf2_iterations,
        )

    @property
    def verify_slots(self) -> int:
        """How many password checks may run at once in this process.

        Hashing is CPU-bound: more checks than cores only make every check slower. The
        cores are shared by gunicorn's workers, each of which has its own slots.
        """
        if self.password_concurrency is not None:
            return self.password_concurrency
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        cores = cores or os.cpu_count() or 1
        try:
            workers = max(1, int(os.environ.get("WEB_CONCURRENCY", "1")))
        except ValueError:
            workers = 1
        return max(1, cores // workers)


def load_settings(config: Mapping[str, Any]) -> Settings:
    """The checked settings found in ``config`` (defaults for the keys it lacks).

    Raises :class:`SettingsError` naming the key and what it must be.
    """
    values = {}
    for option in OPTIONS:
        value = config.get(option.key, option.default)
        values[option.key.lower()] = option.parse(option.key, value)
    return Settings(**values)
