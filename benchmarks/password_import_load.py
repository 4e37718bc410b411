"""Password import under overload: bcrypt cost 12, 20 concurrent callers, gunicorn on loopback.

Starts the example service under gunicorn on 127.0.0.1 (a free port, a temporary SQLite
database whose one account has a bcrypt-12 hash), sends password import calls from a
pool of threads for a fixed time, half with the right password and half with wrong ones,
then stops gunicorn and reads the service's audit for the calls it shed.

    python benchmarks/password_import_load.py [--duration 30] [--concurrency 20]
        [--workers 2] [--threads 24] [--limit 2.5]

Targets (exit status 1 when one is missed): every response within ``--limit`` seconds,
every response a 200, and no VERIFIED for a wrong password.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECRET = "load-test-secret-8c1f4e2a9b7d3e6f"
LOGIN = "isaac.brock@example.com"
PASSWORD = "correct horse battery staple"
PATH = "/okta/hooks/password-import"
#: How long gunicorn may take to start, and to stop before it is killed.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
#: A single call that takes longer than this is counted as failed (Okta gives up at 3 s).
CLIENT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Outcome:
    latency: float
    right_password: bool
    status: int | None
    verdict: str | None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def prepare(folder: Path) -> dict[str, str]:
    """Create the seeded database with a bcrypt-12 password; return gunicorn's environment."""
    database = folder / "load.sqlite3"
    env = {
        **os.environ,
        "FLASK_INSTANCE_PATH": str(folder / "instance"),
        "FLASK_DATABASE_URL": f"sqlite:///{database}",
        "FLASK_OKTA_HOOKS_SECRETS": json.dumps([SECRET]),
        "FLASK_PASSWORD_BCRYPT_ROUNDS": "12",
    }
    flask = [sys.executable, "-m", "flask", "--app", "example_app"]
    for command in ("init-db", "seed"):
        subprocess.run([*flask, command], env=env, check=True, capture_output=True, timeout=60)
    subprocess.run(
        [
            *flask,
            "add-user",
            LOGIN,
            "--password",
            PASSWORD,
            "--scheme",
            "bcrypt",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return env


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, threads: int
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--log-level",
        "warning",
        "example_app:create_app()",
    ]
    # Each worker sizes its password slots to its share of the cores.
    server = subprocess.Popen(command, env={**env, "WEB_CONCURRENCY": str(workers)})
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", PATH)
            connection.getresponse().read()
            connection.close()
            return server
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise RuntimeError("gunicorn did not start in time")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(STOP_TIMEOUT)


def body(password: str) -> bytes:
    payload: dict[str, Any] = {
        "eventId": uuid.uuid4().hex,
        "eventTime": "2026-01-01T00:00:00.000Z",
        "eventType": "com.okta.user.credential.password.import",
        "eventTypeVersion": "1.0",
        "contentType": "application/json",
        "cloudEventVersion": "0.1",
        "source": "https://example.okta.com/api/v1/inlineHooks/cal0loadtest",
        "data": {
            "context": {
                "request": {
                    "id": uuid.uuid4().hex,
                    "method": "POST",
                    "url": {"value": "/idp/idx/challenge/answer"},
                    "ipAddress": "127.0.0.1",
                },
                "credential": {"username": LOGIN, "password": password},
            },
            "action": {"credential": "UNVERIFIED"},
        },
    }
    return json.dumps(payload).encode()


def caller(port: int, until: float, seed: int) -> list[Outcome]:
    """One simulated Okta connection: calls back to back until ``until``."""
    rng = random.Random(seed)
    outcomes: list[Outcome] = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    headers = {"Content-Type": "application/json", "Authorization": SECRET}
    while time.monotonic() < until:
        right = rng.random() < 0.5
        password = PASSWORD if right else PASSWORD + rng.choice(["!", " ", "x", "1"])
        started = time.monotonic()
        try:
            connection.request("POST", PATH, body(password), headers)
            response = connection.getresponse()
            data = response.read()
            verdict = json.loads(data)["commands"][0]["value"]["credential"]
            outcomes.append(Outcome(time.monotonic() - started, right, response.status, verdict))
        except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError):
            outcomes.append(Outcome(time.monotonic() - started, right, None, None))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    connection.close()
    return outcomes


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def audit_figures(database: Path) -> tuple[int, list[float]]:
    """Calls the service shed, and its own latencies, from its audit table."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT outcome, latency_ms FROM hook_calls").fetchall()
    shed = sum(outcome == "UNVERIFIED:shed" for outcome, _ in rows)
    return shed, [latency / 1000 for _, latency in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent callers")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    # A worker may be handed every connection: with fewer threads than callers, calls
    # queue in gunicorn before the service sees them, and its deadline starts too late.
    parser.add_argument("--threads", type=int, default=24, help="threads per worker")
    parser.add_argument("--limit", type=float, default=2.5, help="slowest response allowed, s")
    args = parser.parse_args()
    if not 1 <= args.duration <= 300 or not 1 <= args.concurrency <= 200:
        parser.error("duration 1-300 s and concurrency 1-200 keep the run bounded")

    with tempfile.TemporaryDirectory(prefix="password-import-load-") as tmp:
        folder = Path(tmp)
        env = prepare(folder)
        port = free_port()
        server = start_gunicorn(env, port, args.workers, args.threads)
        try:
            until = time.monotonic() + args.duration
            with ThreadPoolExecutor(args.concurrency) as pool:
                futures = [pool.submit(caller, port, until, n) for n in range(args.concurrency)]
                outcomes = [o for future in futures for o in future.result()]
        finally:
            stop(server)
        shed, server_latencies = audit_figures(folder / "load.sqlite3")

    latencies = [o.latency for o in outcomes]
    answered = [o for o in outcomes if o.status == 200 and o.verdict is not None]
    failed = len(outcomes) - len(answered)
    verified_right = sum(o.verdict == "VERIFIED" and o.right_password for o in answered)
    verified_wrong = sum(o.verdict == "VERIFIED" and not o.right_password for o in answered)
    right_total = sum(o.right_password for o in outcomes)
    slow = sum(latency > args.limit for latency in latencies)
    print(
        f"password import, bcrypt cost 12, {args.concurrency} callers, {args.duration:.0f} s, "
        f"gunicorn {args.workers} workers x {args.threads} threads, {os.cpu_count()} cores"
    )
    rate = len(outcomes) / args.duration
    print(f"  responses        {len(outcomes)} ({rate:.1f}/s), failed {failed}")
    print(
        f"  latency          p50 {percentile(latencies, 0.50):.3f} s  "
        f"p95 {percentile(latencies, 0.95):.3f} s  p99 {percentile(latencies, 0.99):.3f} s  "
        f"max {max(latencies):.3f} s  over {args.limit} s: {slow}"
    )
    print(
        f"  VERIFIED         right password {verified_right}/{right_total}, "
        f"wrong password {verified_wrong}/{len(outcomes) - right_total}"
    )
    print(
        f"  in the service   p50 {percentile(server_latencies, 0.50):.3f} s  "
        f"p99 {percentile(server_latencies, 0.99):.3f} s  max {max(server_latencies):.3f} s"
    )
    print(f"  shed             {shed} (UNVERIFIED unhashed: no slot in time; from the audit)")
    missed = []
    if slow:
        missed.append(f"{slow} responses slower than {args.limit} s")
    if failed:
        missed.append(f"{failed} calls without a 200 verdict")
    if verified_wrong:
        missed.append(f"{verified_wrong} wrong passwords VERIFIED")
    print("  targets          " + ("met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
