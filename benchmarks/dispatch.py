"""Per-request cost of each hook endpoint against a bare Flask route, as a ratio.

For every hook type, one app serves two routes: the hook endpoint (auth, bounded read,
strict parse, envelope and schema validation, handler under the deadline, Okta's rule
check, serialisation, the log line) and a bare Flask route that does
``request.get_json()`` and ``jsonify`` of the same response body. Both are timed by
calling ``app.wsgi_app`` with a prepared environ, in short alternating rounds. The
ratio is the median over pairs of neighbouring rounds: a slow spell of a shared machine
hits both sides of a pair alike, where the fastest round of each side could come from
different spells. The microseconds shown are the medians of each side's rounds.

The warm-up serves enough calls for a quick handler to move from the worker lane to
the request thread, as it does in a running server; ``--worker-lane`` keeps every call
on a worker (``OKTA_HOOKS_INLINE_UNDER = 0``) to show what the hand-off costs. By default
the extension's per-call log line is below the logging level, as in an app that left
logging unconfigured; ``--log-info`` writes it (to a discarded stream), as a service
that keeps its one line per call does.

    python benchmarks/dispatch.py [--requests N] [--rounds R] [--target 1.3] [--worker-lane]
                                  [--log-info] [--cpu] [--only token saml ...]

Exits non-zero when a ratio is over the target.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request

from flask_okta_hooks import OktaHooks, Token
from flask_okta_hooks.hook_types import HOOK_TYPES_BY_SLUG
from flask_okta_hooks.runner import INLINE_AFTER

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "okta" / "samples"
SECRET = "benchmark-secret-5d2c8f1a9e7b"


def token_handler(call: Any) -> Any:
    """Typical work: read the user, add a claim to each token being minted."""
    login = call.login
    response = call.respond()
    if call.id_token is not None:
        response.add_claim(Token.ID, "extPatientId", "1234")
    if call.access_token is not None:
        response.add_claim(Token.ACCESS, "external_guid", login)
    return response


def saml_handler(call: Any) -> Any:
    """Typical work: read the subject and user, add an attribute statement."""
    login = call.login or "unknown"
    return call.respond().add_attribute("department", ["Finance", login])


def registration_handler(call: Any) -> Any:
    """Typical work: screen the e-mail domain, fill in an attribute."""
    email = call.user_profile.email or ""
    if email.endswith("@blocked.example"):
        return call.respond().deny("Sign-ups from this domain are closed", field="email")
    return call.respond().update_profile(employeeNumber="E-1001")


def password_import_handler(call: Any) -> Any:
    """Typical work without the hash: compare the typed password in constant time."""
    if call.password.matches("Okta") and call.username.endswith("@example.com"):
        return call.respond().verified()
    return call.respond().unverified()


def user_import_handler(call: Any) -> Any:
    """Typical work: read the imported profile, set an attribute, create the user."""
    login = call.app_user_profile.get("userName") or "unknown"
    return call.respond().update_user_profile({"nickName": login}).create_user()


def telephony_handler(call: Any) -> Any:
    """Typical work: read the message profile, report a delivery."""
    call.message_profile.phone_number  # noqa: B018 - a provider call would use it
    return call.respond().successful("Bench SMS", transaction_id="tx-1")


#: For each hook type: the request sample and a handler doing typical work.
SCENARIOS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "token": ("token.request.json", token_handler),
    "saml": ("saml.request.json", saml_handler),
    "registration": ("registration.request.ssr.json", registration_handler),
    "password-import": ("password-import.request.json", password_import_handler),
    "user-import": ("user-import.request.json", user_import_handler),
    "telephony": ("telephony.request.json", telephony_handler),
}


def environ_for(path: str, body: bytes) -> Callable[[], dict[str, Any]]:
    template = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_ACCEPT": "application/json",
        "HTTP_AUTHORIZATION": SECRET,
    }

    def make() -> dict[str, Any]:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(body)
        return environ

    return make


#: What the rounds are timed with; ``--cpu`` switches to the CPU time of the whole process.
CLOCK: Callable[[], float] = time.perf_counter


def time_requests(app: Flask, make_environ: Callable[[], dict[str, Any]], count: int) -> float:
    """Seconds per request, calling the WSGI app directly."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)

    wsgi = app.wsgi_app
    started = CLOCK()
    for _ in range(count):
        for _chunk in wsgi(make_environ(), start_response):
            pass
    elapsed = CLOCK() - started
    if not statuses[-1].startswith("200"):
        raise SystemExit(f"unexpected status {statuses[-1]}")
    return elapsed / count


def measure(
    slug: str, requests: int, rounds: int, worker_lane: bool
) -> tuple[list[float], list[float]]:
    """Seconds per request of the hook endpoint and of the bare route, round by round."""
    sample_name, handler = SCENARIOS[slug]
    body = (SAMPLES / sample_name).read_bytes()
    hook_type = HOOK_TYPES_BY_SLUG[slug]
    hooks = OktaHooks()
    hooks.mount(hook_type, handler)
    app = Flask(f"bench_{slug}")
    app.config["OKTA_HOOKS_SECRETS"] = [SECRET]
    if worker_lane:
        app.config["OKTA_HOOKS_INLINE_UNDER"] = 0
    app.register_blueprint(hooks)

    # The bare route returns the very body the hook endpoint produces.
    call = hook_type.request_class.from_payload(json.loads(body))
    expected = handler(call).to_dict()

    @app.post("/bare")
    def bare() -> Any:
        request.get_json()
        return jsonify(expected)

    ours_env = environ_for(f"/okta/hooks/{slug}", body)
    bare_env = environ_for("/bare", body)
    warm_up = max(requests // 10, INLINE_AFTER + 10)
    time_requests(app, ours_env, warm_up)  # warm up both
    time_requests(app, bare_env, warm_up)
    ours, base = [], []
    for _ in range(rounds):
        ours.append(time_requests(app, ours_env, requests))
        base.append(time_requests(app, bare_env, requests))
    return ours, base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=250, help="requests per round")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--target", type=float, default=1.3, help="highest acceptable ratio")
    parser.add_argument(
        "--worker-lane", action="store_true", help="run every call on a worker thread"
    )
    parser.add_argument(
        "--log-info", action="store_true", help="write each call's INFO line (discarded)"
    )
    parser.add_argument("--only", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time with the process's CPU time (every thread) instead of the wall clock: "
        "steadier on a machine shared with other work",
    )
    args = parser.parse_args()
    if args.cpu:
        global CLOCK
        CLOCK = time.process_time
    if not SAMPLES.is_dir():
        print(f"Okta samples not found at {SAMPLES} (place shared/ beside the clone)")
        return 2
    if args.log_info:
        logger = logging.getLogger("flask_okta_hooks")
        logger.setLevel(logging.INFO)
        logger.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # noqa: SIM115
        logger.propagate = False
    lane = "worker lane" if args.worker_lane else "quick handlers inline after warm-up"
    lane += ", INFO line per call" if args.log_info else ""
    print(f"{'hook':<16} {'endpoint µs':>12} {'bare µs':>9} {'ratio':>7}   ({lane})")
    worst = 0.0
    for slug in args.only:
        ours_rounds, base_rounds = measure(slug, args.requests, args.rounds, args.worker_lane)
        ratio = statistics.median(o / b for o, b in zip(ours_rounds, base_rounds, strict=True))
        ours, base = statistics.median(ours_rounds), statistics.median(base_rounds)
        worst = max(worst, ratio)
        print(f"{slug:<16} {ours * 1e6:>12.1f} {base * 1e6:>9.1f} {ratio:>6.2f}x")
    verdict = "within" if worst <= args.target else "OVER"
    print(f"worst ratio {worst:.2f}x: {verdict} the {args.target}x target")
    return 0 if worst <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
