"""``flask okta-hooks ...``: list, try and document an app's hook endpoints.

Installed with the package through the ``flask.commands`` entry point, so every Flask
app gets the group; without installing, add it by hand: ``app.cli.add_command(cli)``.

* ``routes``: every hook endpoint with its Okta hook type, its methods and the URL to
  register in Okta;
* ``sample TYPE``: a realistic call of a hook type, to edit and replay;
* ``simulate TYPE``: send a call to the app (in process, or to ``--url``) and judge the
  answer as Okta would; the exit status is 1 when Okta would reject or drop it, or when
  the handler failed and its failure outcome was sent instead. With ``--verify``, send
  the verification GET Okta sends to event hooks instead;
* ``openapi``: an OpenAPI 3.1 document of the endpoints (needs the ``openapi`` extra);
* ``worker``, ``events failed``, ``events retry``: see :mod:`.events.cli`.

Secrets never appear in the output: the auth header is shown masked.
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import click
from flask import Flask, current_app, url_for
from flask.cli import AppGroup, ScriptInfo

from .config import Settings
from .errors import HookRequestError, Violation
from .events.cli import events_group, worker_command
from .failure import Failure
from .hook_types import HOOK_TYPES, HookType
from .oauth import _http_opener
from .request import HookRequest
from .routes import HookRoute, hook_routes, hook_type_named, route_for
from .samples import DROP, apply_overrides, make_payload, set_path
from .secret import PLACEHOLDER
from .simulator import HookWarning, OktaClient
from .verdict import OKTA_ON_FAILURE, answer_violations, verification_verdict

#: Okta waits this long for an answer; ``simulate --url`` waits as long.
OKTA_TIMEOUT = 3.0
MASK = "****"

cli = AppGroup("okta-hooks", help="Okta hook endpoints: list, sample, simulate, document.")

cli.add_command(worker_command)
cli.add_command(events_group)

_SLUGS = [hook_type.slug for hook_type in HOOK_TYPES]


_hook_type_argument = click.argument("hook", metavar="TYPE", type=click.Choice(_SLUGS))


# --- routes --------------------------------------------------------------------------------


def _route_url(app: Flask, route: HookRoute, base_url: str | None) -> str:
    if base_url is not None:
        return base_url.rstrip("/") + route.rule
    if app.config.get("SERVER_NAME"):
        return url_for(route.endpoint, _external=True)
    return route.rule


def _auth_summary(app: Flask, routes: Sequence[HookRoute]) -> str:
    """How the endpoints of one configuration prefix are authenticated, by hook type
    where they differ (event hooks take the header secret in OAuth mode)."""
    header = routes[0].settings(app).auth_header
    texts = {
        "header": f"shared secret in the {header} header",
        "oauth": "OAuth 2.0 bearer token",
        "none": "none (local development only)",
    }
    modes: dict[str, list[str]] = {}
    for route in sorted(routes, key=lambda route: HOOK_TYPES.index(route.hook_type)):
        slugs = modes.setdefault(route.auth(app), [])
        if route.hook_type.slug not in slugs:
            slugs.append(route.hook_type.slug)
    if len(modes) == 1:
        return texts[next(iter(modes))]
    return "; ".join(f"{texts[mode]} ({', '.join(slugs)})" for mode, slugs in modes.items())


@cli.command("routes")
@click.option(
    "--base-url",
    metavar="URL",
    help="Public base URL of the app, e.g. https://hooks.example.com "
    "(default: from SERVER_NAME and PREFERRED_URL_SCHEME).",
)
def routes_command(base_url: str | None) -> None:
    """List the hook endpoints and the URLs to register in Okta."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    routes = hook_routes(app)
    if not routes:
        click.echo("No Okta hook endpoints: register an OktaHooks blueprint with handlers.")
        return
    rows = [
        (
            r.hook_type.slug,
            r.hook_type.event_type,
            ",".join(r.hook_type.methods),
            _route_url(app, r, base_url),
        )
        for r in routes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    header = ("TYPE", "OKTA EVENT TYPE", "METHOD")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  URL")
    for slug, event_type, method, url in rows:
        cells = (slug, event_type, method)
        click.echo("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "  " + url)
    click.echo("")
    for prefix in dict.fromkeys(r.config_prefix for r in routes):
        of_prefix = [r for r in routes if r.config_prefix == prefix]
        click.echo(f"Authentication ({prefix}*): {_auth_summary(app, of_prefix)}")
    for hook_type in dict.fromkeys(r.hook_type for r in routes):
        verification = hook_type.request_class.verification
        if verification is not None and "GET" in hook_type.methods:
            click.echo(
                f"{hook_type.title} URLs answer Okta's verification GET "
                f"({verification.header}): verify them in Okta once registered "
                f"(try it: flask okta-hooks simulate {hook_type.slug} --verify)."
            )
    urls = [row[3] for row in rows]
    if not any("://" in url for url in urls):
        click.echo(
            "These are paths: set SERVER_NAME (and PREFERRED_URL_SCHEME) or pass --base-url "
            "to print the URLs to register."
        )
    elif any(not url.startswith("https://") for url in urls):
        click.echo(
            "Okta only calls https:// URLs: serve these endpoints over TLS to register them."
        )
    else:
        served = {r.hook_type for r in routes}
        pages = " or ".join(dict.fromkeys(t.admin_page for t in HOOK_TYPES if t in served))
        click.echo(f"Register each URL in Okta ({pages}); Okta requires https.")


# --- sample --------------------------------------------------------------------------------


def _parse_sets(values: Sequence[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in values:
        path, sep, text = item.partition("=")
        if not sep or not path:
            raise click.BadParameter(f"{item!r} is not PATH=VALUE", param_hint="--set")
        if text == "":
            overrides[path] = DROP
            continue
        try:
            overrides[path] = json.loads(text)
        except ValueError:
            overrides[path] = text
    return overrides


_SET_HELP = (
    "Change a field: PATH=VALUE, PATH dotted from the root (data.context.user.profile.login="
    "ada@example.com). VALUE is read as JSON when it parses (42, true, {...}), else as text; "
    "an empty VALUE removes the field. Repeatable."
)
_VARIANT_HELP = "Start from a named variant of the type's sample (a wrong name lists them)."


def _build_payload(
    hook_type: HookType, variant: str | None, payload_file: IO[str] | None, sets: Sequence[str]
) -> dict[str, Any]:
    if payload_file is not None:
        if variant is not None:
            raise click.UsageError("--variant and --payload exclude each other")
        try:
            payload = json.load(payload_file)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from None
        if not isinstance(payload, dict):
            raise click.BadParameter("the call is a JSON object", param_hint="--payload")
    else:
        try:
            payload = make_payload(hook_type, variant)
        except LookupError as exc:
            raise click.BadParameter(str(exc), param_hint="--variant") from None
    try:
        return apply_overrides(payload, _parse_sets(sets))
    except (KeyError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None


@cli.command("sample", with_appcontext=False)
@_hook_type_argument
@click.option("--variant", help=_VARIANT_HELP)
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help=_SET_HELP)
def sample_command(hook: str, variant: str | None, sets: tuple[str, ...]) -> None:
    """Print a realistic call of hook type TYPE, to edit and replay with simulate."""
    payload = _build_payload(hook_type_named(hook), variant, None, sets)
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False))


# --- simulate ------------------------------------------------------------------------------


@dataclass
class _Answer:
    url: str
    status: int
    body: bytes
    elapsed: float
    auth_shown: str
    notes: list[str] = field(default_factory=list)
    method: str = "POST"
    sent: dict[str, str] = field(default_factory=dict)
    """Other request headers worth showing (never a secret)."""
    failure: Failure | None = None
    """Why the handler's answer was replaced by the failure outcome (in process only)."""


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def _captured_logs() -> Iterator[list[str]]:
    # The extension logs fixed fields only (never secrets or bodies), so its lines can be
    # shown: they say why a handler's answer became the safe outcome.
    handler = _Records()
    logger = logging.getLogger("flask_okta_hooks")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


def _masked_auth(auth_headers: Mapping[str, str]) -> str:
    """The auth header and the required custom headers sent, their values masked."""
    shown = [
        f"{name}: {'Bearer ' if value.startswith('Bearer ') else ''}{MASK}"
        for name, value in auth_headers.items()
    ]
    return ", ".join(shown) or "(no auth header)"


def _send_in_process(
    app: Flask, hook_type: HookType, path: str | None, payload: Any, challenge: str | None
) -> _Answer:
    route = route_for(app, hook_type, path)
    client = OktaClient(app)
    headers = client.auth_headers(route)
    notes = []
    if route.auth(app) == "oauth":
        notes.append("bearer token signed by a local test key (the app's verifier trusts it)")
    with _captured_logs() as lines, warnings.catch_warnings():
        # The extension's warnings are shown as its log lines, below.
        warnings.simplefilter("ignore", HookWarning)
        started = time.perf_counter()
        if challenge is None:
            result = client.post(hook_type, payload, path=route.rule)
        else:
            result = client.verify(challenge, hook=hook_type, path=route.rule)
        elapsed = time.perf_counter() - started
        try:
            # Event handlers run after the answer: wait, so that their failures show.
            client.drain(OKTA_TIMEOUT)
        except AssertionError as exc:
            notes.append(str(exc))
    notes += [f"log: {line}" for line in lines]
    return _Answer(
        route.rule,
        result.status_code,
        result.data,
        elapsed,
        _masked_auth(headers),
        notes,
        method=result.method,
        sent=_challenge_headers(hook_type, challenge),
        failure=result.failure,
    )


def _challenge_headers(hook_type: HookType, challenge: str | None) -> dict[str, str]:
    """The header of a verification GET; the challenge is no secret and is shown."""
    verification = hook_type.request_class.verification
    if challenge is None or verification is None:
        return {}
    return {verification.header: challenge}


def _send_remote(
    url: str,
    payload: Any,
    headers: dict[str, str],
    timeout: float,
    auth_shown: str,
    sent: dict[str, str],
) -> _Answer:
    method = "POST" if payload is not None else "GET"
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 (the opener serves http(s) only)
        url, data=data, headers=headers, method=method
    )
    started = time.perf_counter()
    try:
        # No redirect handler: Okta does not follow redirects either.
        with _http_opener().open(request, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise click.ClickException(f"no answer from {url}: {reason}") from None
    elapsed = time.perf_counter() - started
    return _Answer(url, status, body, elapsed, auth_shown, method=method, sent=sent)


def _typed_request(hook_type: HookType, payload: Any) -> HookRequest | None:
    try:
        return hook_type.request_class.from_payload(copy.deepcopy(payload))
    except HookRequestError:
        return None


def _shown_request(hook_type: HookType, payload: dict[str, Any]) -> dict[str, Any]:
    shown = copy.deepcopy(payload)
    for path in hook_type.request_class.secret_paths:
        try:
            if _has(shown, ("data", *path)):
                set_path(shown, ["data", *path], PLACEHOLDER)
        except KeyError:
            pass
    return shown


def _has(payload: Any, path: Sequence[str]) -> bool:
    node = payload
    for name in path:
        if not isinstance(node, dict) or name not in node:
            return False
        node = node[name]
    return True


def _load_app() -> Flask | None:
    info = click.get_current_context().find_object(ScriptInfo)
    if info is None:
        return None
    try:
        return info.load_app()
    except Exception:  # NoAppException, or the app's own import failing
        return None


@cli.command("simulate", with_appcontext=False)
@_hook_type_argument
@click.option("--variant", help=_VARIANT_HELP)
@click.option(
    "--payload",
    "payload_file",
    type=click.File("r"),
    help="Send this call (JSON file, - for stdin).",
)
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help=_SET_HELP)
@click.option("--path", help="URL path of the endpoint when several serve TYPE.")
@click.option(
    "--url",
    help="Send to this URL instead of the app in process, with the custom headers the app "
    "requires (OKTA_HOOKS_REQUIRED_HEADERS).",
)
@click.option(
    "--secret",
    envvar="OKTA_HOOKS_SIMULATE_SECRET",
    help="With --url: the auth header value (default: the app's first configured secret; "
    "env OKTA_HOOKS_SIMULATE_SECRET).",
)
@click.option(
    "--header", "header_name", help="With --url: the auth header name (default: the app's)."
)
@click.option(
    "--bearer",
    envvar="OKTA_HOOKS_SIMULATE_BEARER",
    help="With --url: send this bearer token instead.",
)
@click.option(
    "--timeout",
    type=float,
    default=OKTA_TIMEOUT,
    show_default=True,
    help="With --url: seconds to wait.",
)
@click.option("--show-request", is_flag=True, help="Also print the call sent (secrets masked).")
@click.option(
    "--verify",
    is_flag=True,
    help="Send the verification GET Okta sends to an event hook URL instead of a call.",
)
@click.option("--challenge", help="With --verify: the challenge to send (default: a random one).")
def simulate_command(
    hook: str,
    variant: str | None,
    payload_file: IO[str] | None,
    sets: tuple[str, ...],
    path: str | None,
    url: str | None,
    secret: str | None,
    header_name: str | None,
    bearer: str | None,
    timeout: float,
    show_request: bool,
    verify: bool,
    challenge: str | None,
) -> None:
    """Send a call of hook type TYPE and judge the answer as Okta would.

    Exits with status 1 when Okta would reject the answer or silently drop it: a status
    other than 200 (or 204 where the type allows it), or a broken Okta rule; and, in
    process, when the handler failed and its failure outcome was sent in its place. With
    --verify, when the endpoint fails Okta's verification GET.
    """
    hook_type = hook_type_named(hook)
    payload: dict[str, Any] | None = None
    if verify:
        _check_verify_options(hook_type, variant, payload_file, sets)
        challenge = challenge or secrets.token_urlsafe(24)
    elif challenge is not None:
        raise click.UsageError("--challenge goes with --verify")
    else:
        payload = _build_payload(hook_type, variant, payload_file, sets)
    app = _load_app()
    if url is None:
        if app is None:
            raise click.UsageError("no app found: set FLASK_APP (or --app), or pass --url")
        with app.app_context():
            try:
                answer = _send_in_process(app, hook_type, path, payload, challenge)
            except LookupError as exc:
                raise click.UsageError(str(exc)) from None
    else:
        auth = _remote_auth(app, hook_type, path, secret, header_name, bearer)
        sent = _challenge_headers(hook_type, challenge)
        headers = {"Accept": "application/json", **auth, **sent}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        answer = _send_remote(url, payload, headers, timeout, _masked_auth(auth), sent)
        if answer.elapsed > OKTA_TIMEOUT:
            answer.notes.append(f"Okta would have given up after {OKTA_TIMEOUT:.0f} s")
    if payload is None:
        _report_verification(hook_type, challenge or "", answer)
        return
    if show_request:
        click.echo("Request:")
        click.echo(json.dumps(_shown_request(hook_type, payload), indent=2, ensure_ascii=False))
    _report(hook_type, _typed_request(hook_type, payload), answer)


def _check_verify_options(
    hook_type: HookType,
    variant: str | None,
    payload_file: IO[str] | None,
    sets: Sequence[str],
) -> None:
    if hook_type.request_class.verification is None or "GET" not in hook_type.methods:
        raise click.UsageError(f"Okta sends no verification GET to {hook_type.slug} hooks")
    if variant is not None or payload_file is not None or sets:
        raise click.UsageError(
            "--verify sends a GET without a body: leave out --variant, --payload and --set"
        )


def _remote_auth(
    app: Flask | None,
    hook_type: HookType,
    path: str | None,
    secret: str | None,
    header_name: str | None,
    bearer: str | None,
) -> dict[str, str]:
    """The auth header to send, then the custom headers the app requires (its first
    accepted value of each), as Okta sends them."""
    settings, auth = _endpoint_settings(app, hook_type, path)
    # WSGI carries header values as latin-1 text: this gives the configured bytes.
    custom = (
        {}
        if settings is None
        else {h.name: h.values[0].decode("latin-1") for h in settings.required_headers}
    )
    if bearer is not None:
        return {"Authorization": f"Bearer {bearer}"} | custom
    name = header_name
    if settings is not None and auth == "header":
        secret = secret if secret is not None else settings.secrets[0].decode("latin-1")
        name = name or settings.auth_header
    if secret is None:
        return custom
    return {name or "Authorization": secret} | custom


def _endpoint_settings(
    app: Flask | None, hook_type: HookType, path: str | None
) -> tuple[Settings | None, str | None]:
    """The settings and auth mode of the app's endpoint; ``None`` without one."""
    if app is None:
        return None, None
    with app.app_context():
        try:
            route = route_for(app, hook_type, path)
        except LookupError:
            return None, None
        return route.settings(app), route.auth(app)


def _show(answer: _Answer) -> None:
    click.echo(f"{answer.method} {answer.url}")
    click.echo(f"  {answer.auth_shown}")
    for name, value in answer.sent.items():
        click.echo(f"  {name}: {value}")
    click.echo(f"Status: {answer.status} in {answer.elapsed * 1000:.0f} ms")
    body: Any = None
    if answer.body:
        try:
            body = json.loads(answer.body)
            click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        except ValueError:
            click.echo(answer.body.decode("utf-8", "replace"))
    else:
        click.echo("(empty body)")
    for note in answer.notes:
        click.echo(f"Note: {note}")


def _report(hook_type: HookType, request: HookRequest | None, answer: _Answer) -> None:
    _show(answer)
    if request is None and answer.status == 200:
        violations = [Violation("request", "", "the call sent is not a valid call of this type")]
    else:
        violations = answer_violations(hook_type, request, answer.status, answer.body)
    precautions = [v for v in violations if v.precaution]
    violations = [v for v in violations if not v.precaution]
    if precautions:
        click.echo(
            "Precautions broken (Okta documents no refusal; waived, or sent with a warning):"
        )
        for violation in precautions:
            click.echo(f"  - {violation}")
    failure = answer.failure
    if failure is not None:
        click.echo(f"Handler: failed ({failure}); the answer above is the failure outcome")
        for violation in failure.violations:
            click.echo(f"  - {violation}")
        if not failure.violations:
            click.echo("  run with FLASK_DEBUG=1 to have the handler's error raised here")
    if not violations:
        if failure is None:
            click.echo("Okta's rules: OK, Okta accepts this answer.")
            return
    else:
        click.echo("Okta's rules: broken")
        for violation in violations:
            click.echo(f"  - {violation}")
        consequence = OKTA_ON_FAILURE[hook_type.okta_fails]
        click.echo(f"Okta would reject or drop this answer: {consequence}.")
    click.get_current_context().exit(1)


def _report_verification(hook_type: HookType, challenge: str, answer: _Answer) -> None:
    _show(answer)
    violations = verification_verdict(hook_type, challenge, answer.status, answer.body)
    if not violations:
        click.echo("Okta's verification: OK, Okta marks the hook verified.")
        return
    click.echo("Okta's verification: failed")
    for violation in violations:
        click.echo(f"  - {violation}")
    click.echo("Okta would leave the hook unverified and send it no events.")
    click.get_current_context().exit(1)


# --- openapi -------------------------------------------------------------------------------


#: How to install what the openapi command needs, from the package index or a checkout.
_OPENAPI_EXTRA = (
    "pip install 'flask-okta-hooks[openapi]' (from a checkout of the repository: "
    "pip install '.[openapi]')"
)


@cli.command("openapi")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "yaml"]),
    default="json",
    show_default=True,
    help="yaml needs PyYAML (in the openapi extra).",
)
@click.option(
    "--output", "-o", type=click.File("w"), default="-", help="Write here (default: stdout)."
)
@click.option("--base-url", metavar="URL", help="Server URL of the document.")
@click.option("--title", default="Okta hooks", show_default=True)
@click.option("--version", "api_version", default="1.0.0", show_default=True)
def openapi_command(
    output_format: str, output: IO[str], base_url: str | None, title: str, api_version: str
) -> None:
    """Print an OpenAPI 3.1 document of the hook endpoints."""
    try:
        from .openapi import build_openapi
    except ImportError:
        raise click.ClickException(f"the openapi command needs apispec: {_OPENAPI_EXTRA}") from None
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    document = build_openapi(app, title=title, version=api_version, base_url=base_url)
    if output_format == "yaml":
        try:
            yaml = importlib.import_module("yaml")
        except ImportError:
            raise click.ClickException(f"--format yaml needs PyYAML: {_OPENAPI_EXTRA}") from None
        output.write(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    else:
        output.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
