"""Soak test: minutes of mixed valid and hostile traffic; does each worker stay flat?

Starts gunicorn (gthread, 2 workers x 4 threads by default) on 127.0.0.1 serving every
hook type, then sends a bounded rate of calls from a few client threads for ``--minutes``
(default 30): valid calls of every hook type, and hostile ones (a wrong secret, broken
and deep JSON, repeated keys, bodies over the limit with and without a length, broken
chunk framing, a Content-Length that is not a number, a URL built to slow the redaction
patterns, unknown methods, event hook verifications). Every ``--interval`` seconds it
samples the resident memory (RSS) and thread count of each worker from ``/proc``, and at
the end prints each worker's start, peak and end, with the answers by status.

Exits 1 if any call got a 5xx or no answer, or a worker was replaced. Linux only (``/proc``).

    .venv/bin/python benchmarks/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from _server import HOST, free_port, gunicorn_command
from flask import Flask

from flask_okta_hooks import HOOK_TYPES, OktaHooks, RedactingFilter
from flask_okta_hooks.testing import make_payload

SECRET = "soak-secret-5c2e9a71d4b8"
PREFIX = "/okta/hooks"
MAX_BODY = 64 * 1024


def create_app() -> Flask:
    """Every hook type at its default path, answering its safe outcome; gunicorn calls this."""
    import logging

    # The filter on a root handler, as the docs recommend, so hostile text reaches it.
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (lives with the worker)
    handler.addFilter(RedactingFilter())
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    hooks = OktaHooks()
    for hook_type in HOOK_TYPES:
        hooks.mount(hook_type, hook_type.response_class.safe_outcome)
    app = Flask("soak")
    app.config.update(OKTA_HOOKS_SECRETS=[SECRET], OKTA_HOOKS_MAX_BODY=MAX_BODY)
    app.register_blueprint(hooks)

    @app.after_request
    def log_url(response: Any) -> Any:
        from flask import request

        logging.getLogger("soak.access").info(
            "%s %s %s", request.full_path, request.user_agent, response.status_code
        )
        return response

    return app


# --- the traffic ------------------------------------------------------------------------------


def head(
    path: str, *headers: str, method: str = "POST", secret: str = SECRET, agent: str = "soak"
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Connection: close",
             f"User-Agent: {agent}", "Content-Type: application/json",
             f"Authorization: {secret}", *headers]  # fmt: skip
    return "".join(f"{line}\r\n" for line in lines).encode("latin-1") + b"\r\n"


def with_length(path: str, body: bytes, **kwargs: Any) -> bytes:
    return head(path, f"Content-Length: {len(body)}", **kwargs) + body


def chunked(path: str, body: bytes) -> bytes:
    chunks = [body[i : i + 8192] for i in range(0, len(body), 8192)]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return head(path, "Transfer-Encoding: chunked") + framed


def requests() -> list[tuple[str, bytes]]:
    """``(kind, raw request)`` pairs; the kinds name what the report counts."""
    token = PREFIX + "/token"
    valid = [
        (f"valid {t.slug}", with_length(PREFIX + t.default_path, orjson.dumps(make_payload(t))))
        for t in HOOK_TYPES
    ]
    call = orjson.dumps(make_payload(HOOK_TYPES[0]))
    challenge = "X-Okta-Verification-Challenge: abc"
    hostile = [
        ("wrong secret", with_length(token, call, secret="nope")),
        ("invalid json", with_length(token, b'{"data": ')),
        ("deep json", with_length(token, b"[" * 5000 + b"]" * 5000)),
        ("repeated keys", with_length(token, b'{"data": {}, "data": {}}')),
        ("over the limit", with_length(token, call + b" " * MAX_BODY)),
        ("chunked over the limit", chunked(token, call + b" " * (4 * MAX_BODY))),
        ("broken chunks", head(token, "Transfer-Encoding: chunked") + b"zz\r\n{}\r\n"),
        ("length not a number", head(token, "Content-Length: \u00b2") + b"{}"),
        ("redaction bait", with_length(token + "?q=" + "token" * 780, call, agent="token" * 1600)),
        ("unknown method", head(token, "Content-Length: 0", method="PUT")),
        ("verification", head(PREFIX + "/events", challenge, method="GET")),
    ]  # fmt: skip
    return valid + hostile


def exchange(port: int, raw: bytes) -> int:
    """Send ``raw`` and return the status the server answered (0: no answer)."""
    try:
        with socket.create_connection((HOST, port), timeout=30) as conn:
            with contextlib.suppress(OSError):  # the server may answer before reading all
                conn.sendall(raw)
                conn.shutdown(socket.SHUT_WR)
            received = b""
            with contextlib.suppress(ConnectionResetError):
                while len(received) < 16 and (chunk := conn.recv(4096)):
                    received += chunk
    except OSError:
        return 0
    parts = received.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def client(
    port: int,
    mix: list[tuple[str, bytes]],
    rate: float,
    stop: threading.Event,
    counts: collections.Counter[Any],
) -> None:
    generator = random.Random()
    while not stop.is_set():
        started = time.monotonic()
        kind, raw = generator.choice(mix)
        counts[(kind, exchange(port, raw))] += 1
        stop.wait(max(0.0, 1 / rate - (time.monotonic() - started)))


# --- the workers --------------------------------------------------------------------------------


def workers(master: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                    found.append(int(entry.name))
    return sorted(found)


def sample(pid: int) -> tuple[float, int] | None:
    """RSS in MiB and thread count of ``pid``, or ``None`` once it is gone."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
    except OSError:
        return None
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second, in all")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()

    port = free_port()
    command = gunicorn_command(
        "soak:create_app()", port, workers=args.workers, threads=args.threads,
        graceful_timeout=5, options=["--error-logfile", os.devnull],
    )  # fmt: skip
    server = subprocess.Popen(command, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while (
            len(workers(server.pid)) < args.workers or exchange(port, head("/", method="GET")) == 0
        ):
            if time.monotonic() > deadline or server.poll() is not None:
                print("gunicorn did not start", file=sys.stderr)
                return 1
            time.sleep(0.2)
        time.sleep(1)
        pids = workers(server.pid)
        history: dict[int, list[tuple[float, int]]] = {pid: [] for pid in pids}
        mix = requests()
        stop = threading.Event()
        counts: collections.Counter[Any] = collections.Counter()
        clients = [
            threading.Thread(
                target=client, args=(port, mix, args.rate / args.clients, stop, counts)
            )
            for _ in range(args.clients)
        ]
        for thread in clients:
            thread.start()
        started = time.monotonic()
        end = started + args.minutes * 60
        load_before = os.getloadavg()
        while True:
            for pid in pids:
                if (figures := sample(pid)) is not None:
                    history[pid].append(figures)
            elapsed = time.monotonic() - started
            now = [
                f"pid {p}: {h[-1][0]:.1f} MiB {h[-1][1]} threads" for p, h in history.items() if h
            ]
            print(f"{elapsed / 60:6.1f} min  " + "  ".join(now), flush=True)
            if time.monotonic() >= end:
                break
            time.sleep(min(args.interval, max(0.0, end - time.monotonic())))
        load_after = os.getloadavg()
        stop.set()
        for thread in clients:
            thread.join()
        replaced = workers(server.pid) != pids
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)

    minutes = (time.monotonic() - started) / 60
    total = sum(counts.values())
    print(f"\n{total} calls in {minutes:.1f} min ({total / minutes / 60:.0f}/s), "
          f"{args.workers} workers x {args.threads} threads, {os.cpu_count()} CPUs, load "
          f"average {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end")  # fmt: skip
    for pid, figures in history.items():
        rss = [f[0] for f in figures]
        threads = [f[1] for f in figures]
        print(f"worker {pid}: RSS start {rss[0]:.1f} / peak {max(rss):.1f} / end {rss[-1]:.1f} MiB;"
              f" threads start {threads[0]} / peak {max(threads)} / end {threads[-1]}")  # fmt: skip
    by_status: collections.Counter[int] = collections.Counter()
    for (_kind, status), n in sorted(counts.items()):
        by_status[status] += n
    print("answers by status:", dict(sorted(by_status.items())))
    kinds: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for (kind, status), n in counts.items():
        kinds[kind][status] += n
    for kind, statuses in sorted(kinds.items()):
        print(f"  {kind}: {dict(sorted(statuses.items()))}")
    bad = {key: n for key, n in counts.items() if key[1] == 0 or key[1] >= 500}
    if bad:
        print("5xx or no answer:", bad)
    if replaced:
        print("a worker was replaced during the run")
    return 1 if bad or replaced else 0


if __name__ == "__main__":
    sys.exit(main())
