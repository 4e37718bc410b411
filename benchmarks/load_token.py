"""T2.1: the token hook under load, against a bare Flask route in the same run.

gunicorn (gthread, 2 workers x 8 threads) serves the token hook and a bare Flask route
that reads the same body with ``get_json`` and gives the same answer. The hook's
handler is the plan's T2.1 fixture, a trivial one (``None``: a 204, tokens unchanged);
``--handler typical`` uses the handler of ``dispatch.py`` instead (the user's login
and both tokens read typed, a checked claim added to each), against a bare route that
``jsonify``-s the same answer. wrk drives each at 75 concurrent connections (Okta's
default org concurrency) for 30 s, in ten alternating segments (bare route first), so
that a neighbour's load on the machine hits both alike. Each gunicorn worker takes at
most half the connections: left to chance, one worker can take most of a segment's
keep-alive connections while the other idles, which halves that segment's throughput
whichever route it serves. Each latency figure is the worst segment's. Everything stays
on 127.0.0.1.

Targets: no error of any kind, p99 latency at most 500 ms, and at least 90 % of the
bare route's throughput. Exits 1 when one is missed, 2 when wrk is missing.

    python benchmarks/load_token.py [--seconds 30] [--connections 75] [--segments 10]
                                    [--handler trivial|typical]

wrk (C) is the load generator because a Python client on the same two cores would be
the bottleneck and measure itself rather than the server.
"""

from __future__ import annotations

import argparse
import sys

from _server import Gunicorn
from _wrk import WrkResult, combine, describe, run_wrk
from dispatch import SAMPLES, SECRET

P99_TARGET_MS = 500.0
#: gunicorn workers (gthread, 8 threads each).
WORKERS = 2
THROUGHPUT_TARGET = 0.90


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=75)
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument(
        "--handler",
        choices=("trivial", "typical"),
        default="trivial",
        help="trivial: returns None (the plan's T2.1 fixture); typical: the handler of "
        "dispatch.py, two typed reads and a checked claim for each token",
    )
    args = parser.parse_args()
    scenario, status = ("token-trivial", 204) if args.handler == "trivial" else ("token", 200)
    body = (SAMPLES / "token.request.json").read_bytes()
    headers = {"Content-Type": "application/json", "Authorization": SECRET}
    paths = {"bare route": "/bare", "token hook": "/okta/hooks/token"}
    runs: dict[str, list[WrkResult]] = {name: [] for name in paths}
    with Gunicorn(
        scenario, workers=WORKERS, worker_connections=-(-args.connections // WORKERS)
    ) as server:
        for _ in range(args.segments):
            for name, path in paths.items():
                runs[name].append(
                    run_wrk(
                        server.url(path),
                        connections=args.connections,
                        seconds=max(1, args.seconds // args.segments),
                        bodies=[body],
                        headers=headers,
                        accept=f"return status == {status}",
                    )
                )
    bare, hook = combine(runs["bare route"]), combine(runs["token hook"])
    print(describe("bare route", bare))
    print(describe("token hook", hook))
    share = hook.rate / bare.rate if bare.rate else 0.0
    print(f"token hook ({args.handler} handler) throughput = {share:.1%} of the bare route's")
    missed = []
    if hook.socket_errors or hook.wrong or set(hook.statuses) != {status}:
        missed.append(f"errors or answers other than {status}")
    if hook.p("p99") > P99_TARGET_MS:
        missed.append(f"p99 {hook.p('p99'):.0f} ms > {P99_TARGET_MS:.0f} ms")
    if share < THROUGHPUT_TARGET:
        missed.append(f"throughput {share:.1%} < {THROUGHPUT_TARGET:.0%} of the bare route")
    print("PASS" if not missed else "FAIL: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
