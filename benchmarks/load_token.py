"""T2.1: the token hook under load, against a bare Flask route in the same run.

gunicorn (gthread, 2 workers x 8 threads) serves the token hook with a handler doing
typical work, and a bare Flask route doing ``get_json`` and ``jsonify`` of the same
answer. wrk drives each at 75 concurrent connections (Okta's default org concurrency)
for 30 s, in ten alternating segments (bare route first), so that a neighbour's load on
the machine hits both alike. Each gunicorn worker takes at most half the connections:
left to chance, one worker can take most of a segment's keep-alive connections while
the other idles, which halves that segment's throughput whichever route it serves.
Each latency figure is the worst segment's. Everything stays on 127.0.0.1.

Targets: no error of any kind, p99 latency at most 500 ms, and at least 90 % of the
bare route's throughput. Exits 1 when one is missed, 2 when wrk is missing.

    python benchmarks/load_token.py [--seconds 30] [--connections 75] [--segments 10]

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
    args = parser.parse_args()
    body = (SAMPLES / "token.request.json").read_bytes()
    headers = {"Content-Type": "application/json", "Authorization": SECRET}
    paths = {"bare route": "/bare", "token hook": "/okta/hooks/token"}
    runs: dict[str, list[WrkResult]] = {name: [] for name in paths}
    with Gunicorn(
        "token", workers=WORKERS, worker_connections=-(-args.connections // WORKERS)
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
                        accept="return status == 200",
                    )
                )
    bare, hook = combine(runs["bare route"]), combine(runs["token hook"])
    print(describe("bare route", bare))
    print(describe("token hook", hook))
    share = hook.rate / bare.rate if bare.rate else 0.0
    print(f"token hook throughput = {share:.1%} of the bare route's")
    missed = []
    if hook.socket_errors or hook.wrong or set(hook.statuses) != {200}:
        missed.append("errors or non-200 answers")
    if hook.p("p99") > P99_TARGET_MS:
        missed.append(f"p99 {hook.p('p99'):.0f} ms > {P99_TARGET_MS:.0f} ms")
    if share < THROUGHPUT_TARGET:
        missed.append(f"throughput {share:.1%} < {THROUGHPUT_TARGET:.0%} of the bare route")
    print("PASS" if not missed else "FAIL: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
