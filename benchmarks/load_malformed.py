"""T2.2: the token hook under load when half the traffic is malformed.

gunicorn (gthread, 2 workers x 8 threads, a 16 KiB body limit) serves the token hook;
wrk sends, in turn, valid calls and four kinds of bad ones: broken JSON, 2 KB of nested
brackets (deep enough to crash a plain ``json.loads`` view), a well-formed body of the
wrong shape, and a 48 KB body over the limit. 75 concurrent connections, 30 s, all on
127.0.0.1. Each answer is checked: 200 for a valid call, the exact 4xx for each bad one.

The endpoint stops reading an oversize body at the limit; gunicorn then drains at most
64 KiB of it to keep the connection, and closes connections with more unread (which
wrk counts as read errors). The oversize body stays under that cap so that every socket
error left would be a real one.

Targets: no 5xx, no socket error, every answer the expected one, p99 at most 500 ms.
Exits 1 when one is missed, 2 when wrk is missing.

    python benchmarks/load_malformed.py [--seconds 30] [--connections 75]
"""

from __future__ import annotations

import argparse
import json
import sys

from _server import Gunicorn
from _wrk import describe, run_wrk
from dispatch import SAMPLES, SECRET

P99_TARGET_MS = 500.0


def bodies() -> tuple[list[bytes], str]:
    """Half valid, half malformed, and the Lua check of each answer (in the same order)."""
    valid = (SAMPLES / "token.request.json").read_bytes()
    wrong_type = json.loads(valid)
    wrong_type["data"] = ["not", "an", "object"]
    malformed = [
        (valid[: len(valid) // 2], 400, "invalid_json"),
        (b"[" * 1000 + b"]" * 1000, 400, "too_deep"),
        (json.dumps(wrong_type).encode(), 400, "invalid_envelope"),
        (b'{"pad": "' + b"x" * 48_000 + b'"}', 413, "payload_too_large"),
    ]
    sequence: list[bytes] = []
    expected: list[tuple[int, str]] = []
    for body, status, code in malformed:
        sequence += [valid, body]
        expected += [(200, "commands"), (status, code)]
    # wrk hands no request index to response(), but answers on one connection come back
    # in order and every connection starts at a different place in the list, so the check
    # accepts any answer that is right for some request of the mix.
    checks = " or ".join(
        f'(status == {status} and string.find(body, "{code}", 1, true) ~= nil)'
        for status, code in dict.fromkeys(expected)
    )
    return sequence, f"return {checks}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=75)
    args = parser.parse_args()
    sequence, accept = bodies()
    headers = {"Content-Type": "application/json", "Authorization": SECRET}
    with Gunicorn("malformed") as server:
        result = run_wrk(
            server.url("/okta/hooks/token"),
            connections=args.connections,
            seconds=args.seconds,
            bodies=sequence,
            headers=headers,
            accept=accept,
        )
    print(describe("50 % malformed", result))
    print("socket errors by kind:", {k: v for k, v in result.errors.items() if k != "status"})
    missed = []
    if result.server_errors:
        missed.append(f"{result.server_errors} answers with a 5xx")
    if result.socket_errors:
        missed.append(f"{result.socket_errors} socket errors")
    if result.wrong:
        missed.append(f"{result.wrong} unexpected answers")
    if result.p("p99") > P99_TARGET_MS:
        missed.append(f"p99 {result.p('p99'):.0f} ms > {P99_TARGET_MS:.0f} ms")
    print("PASS" if not missed else "FAIL: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
