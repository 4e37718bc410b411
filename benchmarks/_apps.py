"""The apps the load benchmarks serve with gunicorn; ``BENCH_SCENARIO`` picks one.

``token``
    The token hook with the handler of ``dispatch.py`` (two typed reads, a checked claim
    for each token), and ``/bare``: a plain Flask route that reads the same body with
    ``request.get_json()`` and returns the same answer with ``jsonify``, for the
    throughput comparison.
``token-trivial``
    The same with a trivial handler (``None``: an empty 204, tokens unchanged), the
    fixture of the reliability plan's T2.1; ``/bare`` reads the body and answers 204.
``malformed``
    The token hook, with a 16 KiB body limit so oversize bodies stay cheap to send.
``deadline``
    Token and password import hooks whose handlers sleep for 10 s (a stalled
    dependency); ``BENCH_DEADLINE`` sets ``OKTA_HOOKS_DEADLINE`` (default 2.0).

Every scenario has ``GET /stats``: the worker's pid, its pool usage and thread count.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from dispatch import SAMPLES, SECRET, token_handler
from flask import Flask, jsonify, request

from flask_okta_hooks import OktaHooks, PasswordImportHookRequest, TokenHookRequest

#: How long the deadline scenario's handlers sleep.
STALL_SECONDS = 10.0


def create_app() -> Flask:
    scenario = os.environ.get("BENCH_SCENARIO", "token")
    logging.getLogger("flask_okta_hooks").setLevel(logging.ERROR)
    hooks = OktaHooks()
    app = Flask(f"bench_{scenario}")
    app.config["OKTA_HOOKS_SECRETS"] = [SECRET]
    if scenario in ("token", "malformed"):
        hooks.token(token_handler)
    elif scenario == "token-trivial":
        hooks.token(lambda call: None)
    elif scenario == "deadline":

        @hooks.token
        def stalled_token(call: TokenHookRequest) -> Any:
            time.sleep(STALL_SECONDS)
            return token_handler(call)

        @hooks.password_import
        def stalled_password(call: PasswordImportHookRequest) -> Any:
            time.sleep(STALL_SECONDS)
            return call.respond().verified()

        app.config["OKTA_HOOKS_DEADLINE"] = float(os.environ.get("BENCH_DEADLINE", "2.0"))
    else:
        raise ValueError(f"unknown BENCH_SCENARIO {scenario!r}")
    if scenario == "malformed":
        app.config["OKTA_HOOKS_MAX_BODY"] = 16 * 1024
    app.register_blueprint(hooks)

    call = TokenHookRequest.from_payload(json.loads((SAMPLES / "token.request.json").read_bytes()))
    expected = token_handler(call).to_dict()

    @app.post("/bare")
    def bare() -> Any:
        request.get_json()
        if scenario == "token-trivial":
            return "", 204
        return jsonify(expected)

    @app.get("/stats")
    def stats() -> Any:
        state = app.extensions.get("okta_hooks", {}).get("OKTA_HOOKS_")
        runner = state.runner if state is not None else None
        pool = runner.pool if runner is not None else None
        lanes = [lane.inline for lane in runner._lanes.values()] if runner is not None else []
        return jsonify(
            pid=os.getpid(),
            busy=pool.busy if pool else None,
            started=pool.started if pool else None,
            size=pool.size if pool else None,
            inline=lanes,
            threads=threading.active_count(),
        )

    return app
