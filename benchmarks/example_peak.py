"""The example service at Okta's peak: 75 concurrent callers cycling five hook types.

Each run starts the documented production command (the ``gunicorn`` line of the "In
production" section, bound to a free loopback port) on a new database, SQLite or
PostgreSQL, after ``init-db`` and ``seed``. wrk keeps the connections busy with token,
SAML, registration, user import and telephony calls for the given time; then gunicorn
is stopped with SIGTERM, as a deployment would, so its workers write out their audit
queues. Password import is measured on its own (``password_import_load.py``): its cost
is the hash.

    python benchmarks/example_peak.py [--database sqlite|postgresql|both] [--runs 3]
        [--duration 30] [--connections 75] [--env FLASK_OKTA_HOOKS_WORKERS=32 ...]

Per run it prints throughput and latency as wrk saw them, non-2xx answers, the calls the
library logged (one line each) with its fallbacks by reason, the audit rows against those
calls, and the failure outcomes the audit holds (the library's fallbacks, and telephony
calls the handler answered FAILED). Targets (exit status 1 when one is missed): 0
failure outcomes, 0 audit rows lost, 0 non-2xx answers, p99 at most 500 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _server import HOST, free_port
from _wrk import WrkResult, run_wrk
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from flask_okta_hooks.testing import (
    registration_request,
    saml_request,
    telephony_request,
    token_request,
    user_import_request,
)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "peak-benchmark-secret-5d0c2b7e9a41f386"
PREFIX = "/okta/hooks"
P99_LIMIT_MS = 500.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
_CALL_LINE = re.compile(
    r"okta hook call: hook=(\S+) event_id=\S+ outcome=(\S+) status=(\d+) reason=(\S+)"
)
_LOST_LINE = re.compile(r"hook audit rows lost: rows=(\d+)")


def calls() -> list[tuple[str, bytes]]:
    """One call of each hook type, for the seeded directory."""
    login = "isaac.brock@example.com"
    payloads = {
        "token": token_request(login=login),
        "saml": saml_request(login=login),
        "registration": registration_request(
            profile={"email": "new.hire@example.com", "login": "new.hire@example.com"}
        ),
        "user-import": user_import_request(app_user={"email": "erin.ortiz@example.com"}),
        "telephony": telephony_request(phone_number="+15551234567"),
    }
    return [(f"{PREFIX}/{hook}", json.dumps(body).encode()) for hook, body in payloads.items()]


def readme_command() -> list[str]:
    """The production ``gunicorn`` command of docs/example.md, as its words."""
    readme = (ROOT / "docs" / "example.md").read_text(encoding="utf-8")
    section = readme.split("## In production", 1)[1].split("\n#", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    for line in block.splitlines():
        if line.strip().startswith("gunicorn "):
            return shlex.split(line, comments=True)
    raise SystemExit("no gunicorn command in the production section of docs/example.md")


def server_command(port: int) -> list[str]:
    words = readme_command()
    words[words.index("--bind") + 1] = f"{HOST}:{port}"
    return [sys.executable, "-m", *words]


@contextmanager
def database(kind: str, folder: Path, postgres: str) -> Iterator[str]:
    """A new, empty database; PostgreSQL ones are dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'peak.sqlite3'}"
        return
    name = f"peak_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{postgres}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{postgres}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def flask(env: dict[str, str], *args: str) -> None:
    command = [sys.executable, "-m", "flask", "--app", "example_app", *args]
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)


def wait_until_serving(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=1)
        except urllib.error.HTTPError:
            return  # 404: a worker answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not serve in time")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@dataclass
class Run:
    kind: str
    wrk: WrkResult
    logged: Counter[str]
    fallbacks: Counter[str]
    lost_logged: int
    audit: Counter[tuple[str, str]]

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.wrk.statuses.items() if not 200 <= status < 300)

    @property
    def calls_logged(self) -> int:
        return sum(self.logged.values())

    @property
    def audit_rows(self) -> int:
        return sum(self.audit.values())

    @property
    def failure_outcomes(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for (hook, outcome), count in self.audit.items():
            if outcome.lower().startswith("failed"):
                found[f"{hook} {outcome}"] += count
        return found

    def missed(self) -> list[str]:
        missed = []
        if self.failure_outcomes:
            missed.append(f"{sum(self.failure_outcomes.values())} failure outcomes")
        if self.audit_rows != self.calls_logged or self.lost_logged:
            missed.append(f"audit rows {self.audit_rows} for {self.calls_logged} calls")
        if self.non_2xx or self.wrk.socket_errors:
            missed.append(f"{self.non_2xx} non-2xx, {self.wrk.socket_errors} socket errors")
        if self.wrk.p("p99") > P99_LIMIT_MS:
            missed.append(f"p99 {self.wrk.p('p99'):.0f} ms")
        return missed


def one_run(kind: str, args: argparse.Namespace, extra_env: dict[str, str]) -> Run:
    with tempfile.TemporaryDirectory(prefix="example-peak-") as tmp:
        folder = Path(tmp)
        with database(kind, folder, args.postgres_url) as url:
            port = free_port()
            command = server_command(port)
            env = {
                **os.environ,
                "FLASK_INSTANCE_PATH": str(folder / "instance"),
                "FLASK_DATABASE_URL": url,
                "FLASK_OKTA_HOOKS_SECRETS": json.dumps([SECRET]),
                "WEB_CONCURRENCY": command[command.index("--workers") + 1],
                # As deployed: the web workers take events in, a worker process runs them.
                "FLASK_OKTA_HOOKS_EVENTS_WORKERS": "0",
                **extra_env,
            }
            flask(env, "init-db")
            flask(env, "seed")
            log = folder / "gunicorn.log"
            with log.open("wb") as output:
                server = subprocess.Popen(
                    command, env=env, cwd=ROOT, stderr=output, start_new_session=True
                )
                try:
                    wait_until_serving(server, port)
                    paths, bodies = zip(*calls(), strict=True)
                    result = run_wrk(
                        f"http://{HOST}:{port}/",
                        connections=args.connections,
                        seconds=args.duration,
                        bodies=list(bodies),
                        paths=list(paths),
                        headers={"Content-Type": "application/json", "Authorization": SECRET},
                        accept="return status >= 200 and status < 300",
                        threads=2,
                    )
                finally:
                    stop(server)
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                kept = args.keep_logs / f"{kind}-{time.strftime('%H%M%S')}.log"
                kept.write_bytes(log.read_bytes())
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            logged: Counter[str] = Counter()
            fallbacks: Counter[str] = Counter()
            lost = 0
            for line in lines:
                if found := _CALL_LINE.search(line):
                    hook, outcome, status, reason = found.groups()
                    logged[outcome] += 1
                    if outcome != "ok":
                        fallbacks[f"{hook} {outcome} {status} {reason}"] += 1
                elif found := _LOST_LINE.search(line):
                    lost += int(found.group(1))
            engine = create_engine(url)
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT hook, outcome, count(*) FROM hook_calls GROUP BY hook, outcome")
                ).all()
            engine.dispose()
    audit = Counter({(hook, outcome): count for hook, outcome, count in rows})
    return Run(kind, result, logged, fallbacks, lost, audit)


def report(run: Run, number: int) -> None:
    wrk = run.wrk
    print(
        f"{run.kind} run {number}: {wrk.requests} answers in {wrk.seconds:.1f} s = "
        f"{wrk.rate:,.0f} req/s; p50 {wrk.p('p50'):.1f} ms, p99 {wrk.p('p99'):.1f} ms, "
        f"max {wrk.p('max'):.1f} ms; non-2xx {run.non_2xx}; socket errors {wrk.socket_errors}"
    )
    outcomes = ", ".join(f"{name} {n}" for name, n in sorted(run.logged.items()))
    print(f"  calls logged by the library: {run.calls_logged} ({outcomes})")
    fallbacks = ", ".join(f"{name}: {n}" for name, n in run.fallbacks.most_common()) or "none"
    print(f"  fallbacks and refusals by reason (library log): {fallbacks}")
    print(
        f"  audit rows: {run.audit_rows} for {run.calls_logged} logged calls "
        f"(lost: {run.calls_logged - run.audit_rows}; writer reported lost: {run.lost_logged})"
    )
    failures = ", ".join(f"{name}: {n}" for name, n in run.failure_outcomes.most_common())
    print(f"  failure outcomes (audit): {failures or 'none'}")
    missed = run.missed()
    print("  targets: " + ("met" if not missed else "MISSED: " + "; ".join(missed)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3, help="runs per database")
    parser.add_argument("--duration", type=int, default=30, help="seconds of load per run")
    parser.add_argument("--connections", type=int, default=75, help="concurrent callers")
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432",
        help="server URL without a database; each run creates and drops its own",
    )
    parser.add_argument("--keep-logs", type=Path, help="folder to copy gunicorn's log to")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra server setting"
    )
    args = parser.parse_args()
    if not 1 <= args.duration <= 300 or not 1 <= args.connections <= 500:
        parser.error("duration 1-300 s and connections 1-500 keep the run bounded")
    make_url(args.postgres_url)  # fails early on a malformed URL
    extra_env = dict(item.split("=", 1) for item in args.env)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    print(f"command: {shlex.join(readme_command())}")
    print(
        f"{args.connections} connections, {args.duration} s per run, {os.cpu_count()} cores"
        + (f", {' '.join(args.env)}" if args.env else "")
    )
    missed = False
    for kind in kinds:
        for number in range(1, args.runs + 1):
            run = one_run(kind, args, extra_env)
            report(run, number)
            missed = missed or bool(run.missed())
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
