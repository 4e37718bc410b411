"""Legacy password hashes: bcrypt, argon2id and PBKDF2-SHA256, created and checked.

The legacy system stored hashes in three real formats, told apart by their prefix:

* bcrypt, modular crypt format: ``$2b$12$<22 salt><31 hash>`` (``$2a$`` and PHP's ``$2y$`` too);
* argon2, PHC string format: ``$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>``;
* PBKDF2-HMAC-SHA256 as Django stores it: ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``.

:func:`verify_password` raises for anything it cannot check honestly (a malformed
stored hash, costs beyond sane limits, a password a format cannot represent); callers
turn every exception into a rejection, never into an acceptance.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from enum import StrEnum

import argon2
import bcrypt
from argon2.exceptions import InvalidHashError, VerifyMismatchError

#: bcrypt only ever reads the first 72 bytes of a password.
BCRYPT_MAX_BYTES = 72
#: Costs above these are refused rather than computed: a corrupt or planted stored hash
#: must not be able to pin a core for minutes or allocate gigabytes.
MAX_BCRYPT_ROUNDS = 16
MAX_ARGON2_MEMORY_KIB = 262_144
MAX_ARGON2_TIME_COST = 16
MAX_ARGON2_PARALLELISM = 16
MAX_PBKDF2_ITERATIONS = 10_000_000
ARGON2_MIN_SALT = 8
ARGON2_MIN_HASH = 4

_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
_PBKDF2 = re.compile(r"pbkdf2_sha256\$(\d{1,9})\$([A-Za-z0-9./+=_-]{1,128})\$([A-Za-z0-9+/=]{44})")
_SALT_CHARS = string.ascii_letters + string.digits


class Scheme(StrEnum):
    """The legacy hash formats this service can check."""

    BCRYPT = "bcrypt"
    ARGON2 = "argon2"
    PBKDF2 = "pbkdf2"


@dataclass(frozen=True)
class HashCosts:
    """Work factors for new hashes (OWASP's minimums by default)."""

    bcrypt_rounds: int = 12
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19_456
    argon2_parallelism: int = 1
    pbkdf2_iterations: int = 600_000


class UnusableHash(ValueError):
    """The stored hash is malformed, of an unknown format, or asks for absurd costs."""


class UnusablePassword(ValueError):
    """The password cannot be checked faithfully against this format."""


def scheme_of(stored: str) -> Scheme:
    """The format of a stored hash; :class:`UnusableHash` when it is none of ours."""
    if stored.startswith("$2"):
        return Scheme.BCRYPT
    if stored.startswith("$argon2"):
        return Scheme.ARGON2
    if stored.startswith("pbkdf2_sha256$"):
        return Scheme.PBKDF2
    raise UnusableHash("unknown hash format")


def password_bytes(password: str | bytes) -> bytes:
    """The bytes a legacy system hashed for ``password``.

    Passwords with a NUL byte are refused: a sign-in form never produces one, and
    C-based legacy verifiers stopped reading at it, so a match would not prove that the
    whole password was right.
    """
    data = password.encode("utf-8") if isinstance(password, str) else password
    if b"\x00" in data:
        raise UnusablePassword("password holds a NUL byte")
    return data


def check_fits(password: str | bytes, scheme: Scheme) -> bytes:
    """The password's bytes, if ``scheme`` can check them all; :class:`UnusablePassword` if not.

    bcrypt reads at most 72 bytes. Older bcrypt libraries silently checked only those,
    and accepting on that basis would let Okta store a password the legacy system never
    checked in full; so longer passwords are refused for bcrypt hashes.
    """
    data = password_bytes(password)
    if scheme is Scheme.BCRYPT and len(data) > BCRYPT_MAX_BYTES:
        raise UnusablePassword("bcrypt reads at most 72 bytes")
    return data


def hash_password(password: str | bytes, scheme: Scheme, costs: HashCosts) -> str:
    """A new hash of ``password`` in ``scheme``, as the legacy system would have stored it."""
    data = check_fits(password, scheme)
    if scheme is Scheme.BCRYPT:
        return bcrypt.hashpw(data, bcrypt.gensalt(costs.bcrypt_rounds)).decode("ascii")
    if scheme is Scheme.ARGON2:
        hasher = argon2.PasswordHasher(
            time_cost=costs.argon2_time_cost,
            memory_cost=costs.argon2_memory_kib,
            parallelism=costs.argon2_parallelism,
            type=argon2.Type.ID,
        )
        return hasher.hash(data)
    salt = "".join(secrets.choice(_SALT_CHARS) for _ in range(22))
    digest = hashlib.pbkdf2_hmac("sha256", data, salt.encode("ascii"), costs.pbkdf2_iterations)
    encoded = base64.b64encode(digest).decode("ascii")
    return f"pbkdf2_sha256${costs.pbkdf2_iterations}${salt}${encoded}"


def parse_hash(stored: str) -> Scheme:
    """The format of a stored hash, after checking its structure and costs.

    Raises :class:`UnusableHash` for a hash that is malformed, of an unknown format, or
    asks for costs beyond the limits above; checking it could not give an honest answer.
    """
    scheme = scheme_of(stored)
    if scheme is Scheme.BCRYPT:
        match = _BCRYPT.fullmatch(stored)
        if match is None or not 4 <= int(match[1]) <= MAX_BCRYPT_ROUNDS:
            raise UnusableHash("malformed bcrypt hash")
    elif scheme is Scheme.ARGON2:
        try:
            params = argon2.extract_parameters(stored)
        except InvalidHashError:
            raise UnusableHash("malformed argon2 hash") from None
        # Below these lengths argon2 itself refuses to decode the hash.
        if params.salt_len < ARGON2_MIN_SALT or params.hash_len < ARGON2_MIN_HASH:
            raise UnusableHash("malformed argon2 hash")
        if (
            params.memory_cost > MAX_ARGON2_MEMORY_KIB
            or params.time_cost > MAX_ARGON2_TIME_COST
            or params.parallelism > MAX_ARGON2_PARALLELISM
        ):
            raise UnusableHash("argon2 costs beyond the accepted limits")
    else:
        _pbkdf2_parts(stored)
    return scheme


def verify_password(password: str | bytes, stored: str) -> bool:
    """Whether ``password`` matches the stored legacy hash.

    Raises :class:`UnusableHash` or :class:`UnusablePassword` when no honest answer is
    possible; the argon2 and bcrypt libraries may raise their own errors too.
    """
    scheme = parse_hash(stored)
    data = check_fits(password, scheme)
    if scheme is Scheme.BCRYPT:
        return bcrypt.checkpw(data, stored.encode("ascii"))
    if scheme is Scheme.ARGON2:
        try:
            return argon2.PasswordHasher().verify(stored, data)
        except VerifyMismatchError:
            return False
    salt, iterations, expected = _pbkdf2_parts(stored)
    actual = hashlib.pbkdf2_hmac("sha256", data, salt, iterations)
    return hmac.compare_digest(actual, expected)


def _pbkdf2_parts(stored: str) -> tuple[bytes, int, bytes]:
    """Salt, iterations and digest of a ``pbkdf2_sha256$...`` hash."""
    match = _PBKDF2.fullmatch(stored)
    if match is None:
        raise UnusableHash("malformed pbkdf2_sha256 hash")
    iterations = int(match[1])
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise UnusableHash("pbkdf2_sha256 iterations beyond the accepted limits")
    try:
        digest = base64.b64decode(match[3], validate=True)
    except binascii.Error:
        raise UnusableHash("malformed pbkdf2_sha256 hash") from None
    if len(digest) != hashlib.sha256().digest_size:
        raise UnusableHash("malformed pbkdf2_sha256 hash")
    return match[2].encode("ascii"), iterations, digest
