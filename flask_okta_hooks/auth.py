"""Authentication of Okta's calls: the shared header secret or an OAuth 2.0 bearer token.

The check runs on the raw header bytes, before the body is read or parsed. A shared
secret is compared exactly (no trimming, case-sensitive) and in constant time against
every configured secret, so a secret can be rotated by listing the old and the new value.
Bearer tokens are verified by :mod:`.oauth`. Custom headers an admin added to the hook in
Okta (``REQUIRED_HEADERS``, such as an API gateway's key) are checked the same way as the
secret, in every mode.
"""

from __future__ import annotations

import hmac
from typing import Any

from .config import RequiredHeader, Settings
from .errors import Unauthorized
from .oauth import AUTHORIZATION_ENVIRON_KEY, BearerVerifier, bearer_token

#: Longest auth header value that is compared at all; longer values are refused unread.
MAX_HEADER_BYTES = 8192


def header_value(environ: dict[str, Any], environ_key: str) -> bytes | None:
    """The raw bytes of one request header, or ``None`` when it is absent or unreadable.

    WSGI hands header values over as latin-1 decoded text (PEP 3333), so encoding them
    back to latin-1 recovers the bytes that were on the wire.
    """
    value = environ.get(environ_key)
    if not isinstance(value, str):
        return None
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return None


def secret_matches(presented: bytes, secrets: tuple[bytes, ...]) -> bool:
    """Whether ``presented`` equals one of ``secrets``, in constant time.

    Every secret is compared, whichever matches, so timing reveals neither the match nor
    its position in the list.
    """
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(presented, secret)
    return matched


def header_matches(environ: dict[str, Any], environ_key: str, accepted: tuple[bytes, ...]) -> bool:
    """Whether the header at ``environ_key`` holds one of ``accepted``, in constant time."""
    presented = header_value(environ, environ_key)
    if presented is None or len(presented) > MAX_HEADER_BYTES:
        return False
    return secret_matches(presented, accepted)


def required_headers_match(environ: dict[str, Any], headers: tuple[RequiredHeader, ...]) -> bool:
    """Whether every header of ``headers`` is present with one of its accepted values.

    Every header is compared even after a mismatch, so timing does not tell which failed.
    """
    matched = True
    for header in headers:
        matched &= header_matches(environ, header.environ_key, header.values)
    return matched


def authenticate(
    environ: dict[str, Any],
    settings: Settings,
    verifier: BearerVerifier | None = None,
    *,
    bearer: bool = True,
) -> None:
    """Raise :class:`~.errors.Unauthorized` unless the call is authenticated.

    In OAuth mode ``verifier`` is the app's :class:`~.oauth.BearerVerifier` (see
    :func:`~.oauth.verifier_for`), and :class:`~.errors.JwksUnavailable` (503) is raised
    when the issuer's signing keys cannot be fetched. With ``bearer`` false (hook types
    Okta cannot call with OAuth 2.0) the header secret is checked in OAuth mode too.
    The required custom headers are checked first, in every mode, as they cost no key fetch.
    """
    required = settings.required_headers
    if required and not required_headers_match(environ, required):
        raise Unauthorized
    if settings.auth == "none":
        return
    if settings.auth == "oauth" and bearer:
        if verifier is None or settings.oauth is None:
            raise TypeError("OAuth mode needs the app's BearerVerifier and OAuth settings")
        token = bearer_token(header_value(environ, AUTHORIZATION_ENVIRON_KEY))
        # Authentication runs first, so the call's whole deadline is still ahead.
        verifier.verify(token, settings.oauth, within=settings.deadline)
        return
    if not header_matches(environ, settings.auth_environ_key, settings.secrets):
        raise Unauthorized
