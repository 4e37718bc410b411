"""Checking a password Okta received against the legacy directory, safely and in time.

Rules, each for a reason:

* Only a successful check of the right password against a usable legacy hash of an
  active account yields ``verified``; every error, doubt or overload is a rejection.
* Every call that gets as far as the directory costs exactly one hash check, also for
  unknown accounts and unusable hashes (a dummy check), so response times do not tell
  which accounts exist.
* Checks go through :class:`~example_app.admission.Admission`: a call that could not
  finish before its deadline is rejected at once instead of timing out.
* Passwords over :data:`MAX_PASSWORD_BYTES` or empty are rejected without hashing.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from .admission import Admission, Shed
from .db import Database
from .directory import find_user, mark_migrated
from .passwords import (
    HashCosts,
    Scheme,
    UnusableHash,
    UnusablePassword,
    check_fits,
    hash_password,
    parse_hash,
    verify_password,
)

logger = logging.getLogger(__name__)

#: Longer passwords are rejected unhashed; no real password is this long.
MAX_PASSWORD_BYTES = 1024


class Reason(StrEnum):
    """Why a check ended as it did (recorded in the audit, never shown to users)."""

    VERIFIED = "verified"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 (a reason code)
    UNKNOWN_USER = "unknown_user"
    NO_PASSWORD = "no_password"  # noqa: S105 (a reason code)
    INACTIVE_USER = "inactive_user"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    UNUSABLE_PASSWORD = "unusable_password"  # noqa: S105 (a reason code)
    UNUSABLE_HASH = "unusable_hash"
    VERIFIER_ERROR = "verifier_error"
    DIRECTORY_ERROR = "directory_error"
    SHED = "shed"


@dataclass(frozen=True)
class Verdict:
    verified: bool
    reason: Reason


@dataclass(frozen=True)
class _Account:
    id: int
    password_hash: str | None
    active: bool


class LegacyPasswords:
    """Checks passwords against the legacy hashes, marking accounts migrated on success.

    ``scheme`` and ``costs`` shape the dummy hash that unknown accounts are checked
    against; set them to what most legacy hashes use.
    """

    def __init__(
        self, db: Database, admission: Admission, scheme: Scheme, costs: HashCosts
    ) -> None:
        self._db = db
        self.admission = admission
        started = time.monotonic()
        self._dummy_hash = hash_password(secrets.token_urlsafe(16), scheme, costs)
        # Hashing and checking cost the same, so this seeds the duration estimate.
        admission.learn(scheme, time.monotonic() - started)
        self._dummy_scheme = scheme

    def check(self, username: str, password: bytes, deadline: float) -> Verdict:
        """Check ``password`` for the account named ``username`` before ``deadline``.

        ``deadline`` is a :func:`time.monotonic` reading.
        """
        if not username or not password:
            return Verdict(False, Reason.EMPTY)
        if len(password) > MAX_PASSWORD_BYTES:
            return Verdict(False, Reason.TOO_LONG)
        try:
            account = self._account(username)
        except Exception as exc:
            logger.error("legacy directory lookup failed: error=%s", type(exc).__name__)
            return Verdict(False, Reason.DIRECTORY_ERROR)
        if account is None:
            return self._dummy_check(deadline, Reason.UNKNOWN_USER)
        if account.password_hash is None:
            return self._dummy_check(deadline, Reason.NO_PASSWORD)
        stored = account.password_hash
        try:
            scheme = parse_hash(stored)
            check_fits(password, scheme)
        except UnusableHash:
            return self._dummy_check(deadline, Reason.UNUSABLE_HASH)
        except UnusablePassword:
            return self._dummy_check(deadline, Reason.UNUSABLE_PASSWORD)
        try:
            matched = self.admission.run(
                scheme, deadline, lambda: verify_password(password, stored)
            )
        except Shed:
            return Verdict(False, Reason.SHED)
        except Exception as exc:
            # The type only: messages of verifier errors may quote their input.
            logger.warning("legacy password check failed: error=%s", type(exc).__name__)
            return Verdict(False, Reason.VERIFIER_ERROR)
        if not matched:
            return Verdict(False, Reason.WRONG_PASSWORD)
        if not account.active:
            return Verdict(False, Reason.INACTIVE_USER)
        self._mark_migrated(account.id)
        return Verdict(True, Reason.VERIFIED)

    def _account(self, username: str) -> _Account | None:
        with self._db.session() as session:
            user = find_user(session, username)
            if user is None:
                return None
            return _Account(user.id, user.password_hash, user.active)

    def _dummy_check(self, deadline: float, reason: Reason) -> Verdict:
        try:
            self.admission.run(
                self._dummy_scheme,
                deadline,
                lambda: verify_password(b"not the password", self._dummy_hash),
            )
        except Shed:
            return Verdict(False, Reason.SHED)
        return Verdict(False, reason)

    def _mark_migrated(self, user_id: int) -> None:
        try:
            with self._db.session() as session:
                mark_migrated(session, user_id)
        except Exception as exc:
            # The password is right and Okta will keep it; refusing now would only lock
            # the user out. The legacy row stays unmigrated until the next success.
            logger.error("could not mark a legacy account migrated: error=%s", type(exc).__name__)
