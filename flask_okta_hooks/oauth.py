"""OAuth 2.0 bearer-token authentication of Okta's calls.

An inline hook set up with OAuth 2.0 receives ``Authorization: Bearer <JWT>``: an access
token that a custom authorization server minted for Okta. The token is checked cheapest
and least trusting step first: size and shape, header (RS256 only, a ``kid``), signing
key from the issuer's JWKS, signature, then the claims (``iss`` and ``aud`` exactly,
``exp``/``iat``/``nbf`` with the configured leeway, ``cid`` and ``scp`` when configured).
The signature itself is checked by PyJWT.

Every rejection is a 401 with one fixed message; the reason is logged as a fixed code,
never with the token. A JWKS that cannot be fetched while no key is cached is a 503: a
token is never accepted unverified.

Keys are cached per app and configuration prefix (see :func:`verifier_for`). A token with
an unknown ``kid`` refetches the JWKS at most once per ``OAUTH_JWKS_REFRESH`` seconds, so
key rollover works while made-up ``kid`` values cannot make the app flood the issuer.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from flask.sansio.app import App

from .config import DEFAULT_PREFIX, EXTENSION_KEY, OAuthSettings
from .errors import JwksUnavailable, Unauthorized

if TYPE_CHECKING:
    from jwt.types import Options

logger = logging.getLogger("flask_okta_hooks")

#: Okta signs access tokens with RS256; accepting any other algorithm only adds attacks.
ALGORITHM = "RS256"
#: Longest token looked at; Okta's access tokens are far smaller.
MAX_TOKEN_BYTES = 8192
MAX_KID_CHARS = 256
#: Largest JWKS document read; an issuer publishes a handful of keys.
MAX_JWKS_BYTES = 256 * 1024
MIN_RSA_BITS = 2048
#: Cached keys older than this are refetched (within the refetch budget), so a key the
#: issuer withdrew stops being accepted even when no new ``kid`` ever shows up.
KEY_MAX_AGE = 3600.0
#: While no key has ever been fetched, a failed fetch is retried at most this often, so an
#: issuer outage costs each caller an immediate 503 instead of another timeout.
RETRY_WITHOUT_KEYS = 5.0
#: How much longer than one fetch a request waits for another thread's fetch.
LOCK_WAIT_SLACK = 0.25
AUTHORIZATION_ENVIRON_KEY = "HTTP_AUTHORIZATION"

Clock = Callable[[], float]
"""Returns the current Unix time in seconds."""
Fetch = Callable[[str, float], bytes]
"""Fetches a JWKS document: ``(url, timeout_seconds) -> body``."""

_BASE64URL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_DECODE_OPTIONS: Options = {
    "require": ["exp", "iss", "aud"],
    "strict_aud": True,
    # Time claims are checked here against the injectable clock.
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
}
# Most specific first: a bad signature is also a DecodeError.
_DECODE_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.InvalidSignatureError, "signature"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidIssuerError, "issuer"),
    (jwt.InvalidAudienceError, "audience"),
    (jwt.DecodeError, "malformed"),
)


def _reject(reason: str) -> NoReturn:
    logger.info("okta hook call refused: bearer token rejected (%s)", reason)
    # ``from None``: the library's exception may describe the token; it stays behind.
    raise Unauthorized from None


def bearer_token(value: bytes | None) -> bytes:
    """The token of an ``Authorization`` header value ``Bearer <token>``, or a 401.

    The scheme is matched case-insensitively (RFC 7235); a value longer than any token we
    accept is refused before it is looked at.
    """
    if value is None:
        _reject("missing")
    if len(value) > len(b"Bearer ") + MAX_TOKEN_BYTES:
        _reject("too_large")
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"bearer":
        _reject("scheme")
    token = token.lstrip(b" ")
    if not token:
        _reject("missing")
    return token


# --- JWKS --------------------------------------------------------------------------------


class JwksError(Exception):
    """The JWKS response is unusable: not a 200, too large, or without a usable key."""


class _Watchdog:
    """Shuts a fetch's connection down once its time is up.

    Socket timeouts bound each read, not their sum: a server trickling its answer a byte
    at a time would hold the fetch, and every call waiting for the key set's lock.
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._connection: http.client.HTTPConnection | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def watching(self, connection_class: Any) -> Callable[..., http.client.HTTPConnection]:
        """A factory for ``connection_class`` whose connections this watchdog may cut."""

        def connect(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
            self._connection = connection_class(*args, **kwargs)
            return self._connection

        return connect

    def _expire(self) -> None:
        self.expired = True
        sock = None if self._connection is None else self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # closed meanwhile: nothing left to cut
                sock.shutdown(socket.SHUT_RDWR)


class _WatchedHandler(urllib.request.AbstractHTTPHandler):
    watchdog: _Watchdog

    def do_open(self, http_class: Any, req: Any, **http_conn_args: Any) -> Any:
        factory = self.watchdog.watching(http_class)
        return super().do_open(factory, req, **http_conn_args)


class _WatchedHTTP(_WatchedHandler, urllib.request.HTTPHandler):
    pass


class _WatchedHTTPS(_WatchedHandler, urllib.request.HTTPSHandler):
    pass


def _http_opener(watchdog: _Watchdog | None = None) -> urllib.request.OpenerDirector:
    # HTTP(S) only: no file:, ftp: or data: handler. No redirect handler either, so a
    # moved JWKS fails (a configuration error to fix) instead of being followed.
    opener = urllib.request.OpenerDirector()
    connectors: tuple[urllib.request.AbstractHTTPHandler, ...]
    connectors = urllib.request.HTTPHandler(), urllib.request.HTTPSHandler()
    if watchdog is not None:
        connectors = _WatchedHTTP(), _WatchedHTTPS()
        for connector in connectors:
            connector.watchdog = watchdog
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        *connectors,
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def fetch_jwks(url: str, timeout: float) -> bytes:
    """GET ``url`` and return its body: at most :data:`MAX_JWKS_BYTES`, no redirects.

    The whole fetch, connecting, the status line, the headers and the body, ends within
    ``timeout`` seconds. Raises :class:`OSError` (network, HTTP status, timeout) or
    :class:`JwksError`.
    """
    # The opener serves http(s) only, whatever the URL says.
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with _Watchdog(timeout) as watchdog:
        try:
            with _http_opener(watchdog).open(request, timeout=timeout) as response:
                if response.status != 200:
                    raise JwksError(f"status {response.status}")
                body = bytearray()
                while chunk := response.read1(65536):
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JwksError("document too large")
        except Exception:
            if watchdog.expired:  # what the cut connection raised says nothing more
                raise TimeoutError(f"JWKS not fetched within {timeout} s") from None
            raise
        if watchdog.expired:  # the body may have ended early, cut short
            raise TimeoutError(f"JWKS not fetched within {timeout} s")
    return bytes(body)


def parse_jwks(body: bytes) -> dict[str, RSAPublicKey]:
    """The RS256 signing keys of a JWKS document, by ``kid``.

    Keys for other algorithms or uses, and RSA keys under 2048 bits, are skipped; a
    document without any usable key raises :class:`JwksError`.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise JwksError("not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise JwksError("no 'keys' array")
    keys: dict[str, RSAPublicKey] = {}
    for entry in entries:
        found = _signing_key(entry)
        if found is not None:
            keys.setdefault(*found)
    if not keys:
        raise JwksError("no usable RS256 signing key")
    return keys


def _signing_key(entry: Any) -> tuple[str, RSAPublicKey] | None:
    if not isinstance(entry, dict) or entry.get("kty") != "RSA":
        return None
    kid = entry.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS:
        return None
    if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
        return None
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    # Only the public members: a published private exponent must not become a key here.
    public = {"kty": "RSA", "n": entry.get("n"), "e": entry.get("e")}
    try:
        key = jwt.PyJWK(public, algorithm=ALGORITHM).key
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if not isinstance(key, RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        return None
    return kid, key


def _due(now: float, last: float | None, interval: float) -> bool:
    # A clock that went backwards makes the next attempt due rather than blocking it.
    return last is None or not 0 <= now - last < interval


class KeySet:
    """The cached signing keys of one JWKS URL; safe to share between threads.

    Known keys are read without locking. Fetches happen under a lock, one at a time:
    the first lookup fetches; an unknown ``kid`` refetches at most once per
    ``jwks_refresh`` seconds; keys older than :data:`KEY_MAX_AGE` are refreshed within
    the same budget. A failed refetch keeps the cached keys.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        # Replaced whole and never mutated, so readers need no lock.
        self._keys: Mapping[str, RSAPublicKey] | None = None
        self._loaded_at = 0.0
        self._last_attempt: float | None = None
        self._last_refetch: float | None = None

    def key(
        self,
        kid: str,
        oauth: OAuthSettings,
        clock: Clock,
        fetch: Fetch,
        timeout: float | None = None,
    ) -> RSAPublicKey:
        """The key for ``kid``; raises Unauthorized (unknown kid) or JwksUnavailable.

        A fetch takes at most ``timeout`` seconds (default: the configured JWKS timeout,
        and never more), waiting for another thread's fetch included.
        """
        timeout = oauth.jwks_timeout if timeout is None else min(timeout, oauth.jwks_timeout)
        keys = self._keys
        if keys is not None:
            key = keys.get(kid)
            if key is not None:
                if 0 <= clock() - self._loaded_at < KEY_MAX_AGE:
                    return key
                return self._refresh_stale(kid, oauth, clock, fetch, timeout)
        return self._fetch_for(kid, oauth, clock, fetch, timeout)

    def _refresh_stale(
        self, kid: str, oauth: OAuthSettings, clock: Clock, fetch: Fetch, timeout: float
    ) -> RSAPublicKey:
        # Stale keys still answer: refresh only when no other thread is fetching, and
        # never wait for one that is.
        if self._lock.acquire(blocking=False):
            try:
                now = clock()
                stale = not 0 <= now - self._loaded_at < KEY_MAX_AGE
                if stale and _due(now, self._last_refetch, oauth.jwks_refresh):
                    self._last_refetch = now
                    self._load(now, fetch, timeout)
            finally:
                self._lock.release()
        return self._cached(kid)

    def _fetch_for(
        self, kid: str, oauth: OAuthSettings, clock: Clock, fetch: Fetch, timeout: float
    ) -> RSAPublicKey:
        if not self._lock.acquire(timeout=timeout + LOCK_WAIT_SLACK):
            # Another thread has been fetching for as long as a fetch may take.
            if self._keys is None:
                raise JwksUnavailable
            return self._cached(kid)
        try:
            now = clock()
            keys = self._keys
            if keys is None:
                retry = min(RETRY_WITHOUT_KEYS, oauth.jwks_refresh)
                if not _due(now, self._last_attempt, retry):
                    raise JwksUnavailable
                self._last_attempt = now
                if not self._load(now, fetch, timeout):
                    raise JwksUnavailable
            elif kid not in keys and _due(now, self._last_refetch, oauth.jwks_refresh):
                self._last_refetch = now
                self._load(now, fetch, timeout)
        finally:
            self._lock.release()
        return self._cached(kid)

    def _cached(self, kid: str) -> RSAPublicKey:
        key = None if self._keys is None else self._keys.get(kid)
        if key is None:
            _reject("unknown_kid")
        return key

    def _load(self, now: float, fetch: Fetch, timeout: float) -> bool:
        try:
            keys = parse_jwks(fetch(self.url, timeout))
        except Exception as exc:  # whatever went wrong, the outcome is "no new keys"
            logger.warning(
                "okta hooks: fetching OAuth signing keys from %s failed (%s)",
                self.url,
                type(exc).__name__,
            )
            return False
        self._keys = keys
        self._loaded_at = now
        logger.debug("okta hooks: %d OAuth signing keys loaded from %s", len(keys), self.url)
        return True


# --- tokens ------------------------------------------------------------------------------


class BearerVerifier:
    """Verifies Okta's bearer tokens for one app and configuration prefix.

    ``clock`` returns the current Unix time and ``fetch`` fetches a JWKS document; both
    are attributes, so tests can move time or replace the network. Example::

        verifier_for(app).clock = lambda: 1_700_000_000.0
    """

    def __init__(self, *, clock: Clock = time.time, fetch: Fetch = fetch_jwks) -> None:
        self.clock = clock
        self.fetch = fetch
        self._lock = threading.Lock()
        self._key_set: KeySet | None = None

    def verify(
        self, token: bytes, oauth: OAuthSettings, *, within: float | None = None
    ) -> dict[str, Any]:
        """The claims of ``token`` if it is valid under ``oauth``.

        ``within`` bounds the seconds a signing key fetch may take (the call's deadline);
        the configured JWKS timeout bounds it in any case.

        Raises :class:`~.errors.Unauthorized` for any invalid token and
        :class:`~.errors.JwksUnavailable` when the signing keys cannot be had.
        """
        if len(token) > MAX_TOKEN_BYTES:
            _reject("too_large")
        if token.count(b".") != 2 or not set(token.replace(b".", b"")) <= _BASE64URL:
            _reject("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except Exception:  # malformed base64 or JSON, or anything else the parser hits
            _reject("malformed")
        if header.get("alg") != ALGORITHM:
            _reject("algorithm")
        if "crit" in header:  # no extension is expected, so none can be understood
            _reject("critical_header")
        kid = header.get("kid")
        if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS:
            _reject("kid")
        key = self._keys(oauth).key(kid, oauth, self.clock, self.fetch, within)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=oauth.issuer,
                audience=oauth.audience,
                options=_DECODE_OPTIONS,
            )
        except Exception as exc:
            _reject(next((r for t, r in _DECODE_REASONS if isinstance(exc, t)), "invalid"))
        _check_claims(claims, oauth, self.clock())
        return claims

    def _keys(self, oauth: OAuthSettings) -> KeySet:
        key_set = self._key_set
        if key_set is None or key_set.url != oauth.jwks_url:
            with self._lock:
                if self._key_set is None or self._key_set.url != oauth.jwks_url:
                    self._key_set = KeySet(oauth.jwks_url)
                key_set = self._key_set
        return key_set


def _check_claims(claims: Mapping[str, Any], oauth: OAuthSettings, now: float) -> None:
    leeway = oauth.leeway
    exp = _time_claim(claims, "exp")
    if exp is None or now >= exp + leeway:
        _reject("expired")
    nbf = _time_claim(claims, "nbf")
    if nbf is not None and nbf > now + leeway:
        _reject("not_yet_valid")
    iat = _time_claim(claims, "iat")
    if iat is not None and iat > now + leeway:
        _reject("issued_in_future")
    if oauth.client_id is not None and claims.get("cid") != oauth.client_id:
        _reject("client_id")
    if oauth.scope is not None and oauth.scope not in _scopes(claims.get("scp")):
        _reject("scope")


def _time_claim(claims: Mapping[str, Any], name: str) -> int | float | None:
    if name not in claims:
        return None
    value = claims[name]
    # JSON allows NaN through Python's parser, and NaN compares false with everything,
    # which would make an expiry check pass.
    if isinstance(value, bool) or not isinstance(value, int | float):
        _reject("time_claim")
    if isinstance(value, float) and not math.isfinite(value):
        _reject("time_claim")
    return value


def _scopes(scp: Any) -> list[str]:
    # Okta sends a list; a space-separated string is the other common form.
    if isinstance(scp, str):
        return scp.split(" ")
    if isinstance(scp, list):
        return [scope for scope in scp if isinstance(scope, str)]
    return []


# --- app state ---------------------------------------------------------------------------


def verifier_for(app: App, prefix: str = DEFAULT_PREFIX) -> BearerVerifier:
    """The verifier of ``app`` for the configuration ``prefix``.

    Example (tests)::

        verifier_for(app).clock = lambda: 1_700_000_000.0
    """
    verifier: BearerVerifier = app.extensions[EXTENSION_KEY][prefix].verifier
    return verifier
