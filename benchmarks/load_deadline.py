"""T2.3: handlers stalled for 10 s still get an answer by the deadline.

gunicorn (gthread, 2 workers x 8 threads) serves a token hook and a password import
hook whose handlers sleep for 10 s, as if a dependency hung. Two wrk processes drive
them together, 10 connections each (20 in all), for 30 s, on 127.0.0.1. Each answer is
checked: the token hook's safe outcome is an empty 204, the password import's an
explicit UNVERIFIED (never VERIFIED, although the stalled handler would verify).

While the load runs, and again once the stalled handlers have had time to return, the
workers report their pools: abandoned handlers never exceed the pool size and none is
left afterwards.

Targets: every answer within the deadline plus 150 ms, every answer the right fallback,
no 5xx, no socket error. Exits 1 when one is missed, 2 when wrk is missing.

    python benchmarks/load_deadline.py [--seconds 30] [--deadline 2.0]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from _apps import STALL_SECONDS
from _server import Gunicorn
from _wrk import WrkResult, describe, run_wrk
from dispatch import SAMPLES, SECRET

SLACK_MS = 150.0
WORKERS = 2


def pool_reports(server: Gunicorn, samples: int = 12) -> dict[int, dict[str, Any]]:
    """The latest ``/stats`` of each gunicorn worker reached in ``samples`` tries."""
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(samples):
        stats = server.stats()
        seen[stats["pid"]] = stats
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--deadline", type=float, default=2.0)
    args = parser.parse_args()
    headers = {"Content-Type": "application/json", "Authorization": SECRET}
    targets = {
        "token hook": (
            "/okta/hooks/token",
            "token.request.json",
            'return status == 204 and body == ""',
        ),
        "password import hook": (
            "/okta/hooks/password-import",
            "password-import.request.json",
            "return status == 200 and string.find(body, '\"UNVERIFIED\"', 1, true) ~= nil",
        ),
    }
    results: dict[str, WrkResult] = {}
    busiest = 0
    env = {"BENCH_DEADLINE": str(args.deadline)}
    with Gunicorn("deadline", workers=WORKERS, env=env) as server:

        def drive(name: str) -> None:
            path, sample_name, accept = targets[name]
            results[name] = run_wrk(
                server.url(path),
                connections=10,
                seconds=args.seconds,
                bodies=[(SAMPLES / sample_name).read_bytes()],
                headers=headers,
                accept=accept,
                threads=1,
            )

        drivers = [threading.Thread(target=drive, args=(name,)) for name in targets]
        for driver in drivers:
            driver.start()
        while any(driver.is_alive() for driver in drivers):
            time.sleep(1.0)
            for stats in pool_reports(server, samples=4).values():
                busiest = max(busiest, stats["busy"])
        for driver in drivers:
            driver.join()
        size = next(iter(pool_reports(server).values()))["size"]
        time.sleep(STALL_SECONDS + 1.0)
        after = pool_reports(server)
    for name, result in results.items():
        print(describe(name, result))
    left = sum(stats["busy"] for stats in after.values())
    print(
        f"abandoned handlers: at most {busiest} busy workers in one pool of {size}; "
        f"{left} still busy {STALL_SECONDS + 1:.0f} s after the load "
        f"({len(after)} gunicorn workers reporting)"
    )
    limit_ms = args.deadline * 1000 + SLACK_MS
    missed = []
    for name, result in results.items():
        if result.p("max") > limit_ms:
            missed.append(f"{name}: slowest answer {result.p('max'):.0f} ms > {limit_ms:.0f} ms")
        if result.wrong:
            missed.append(f"{name}: {result.wrong} answers were not the fallback")
        if result.server_errors or result.socket_errors:
            missed.append(f"{name}: 5xx or socket errors")
    if busiest > size or left:
        missed.append("abandoned handlers not bounded by the pool, or left behind")
    print("PASS" if not missed else "FAIL: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
