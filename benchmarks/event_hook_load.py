"""Event hook load check (RELIABILITY T2.5): 10,000 deliveries, 20 % duplicates, C = 32.

Starts gunicorn (gthread, 2 workers x 8 threads by default) on 127.0.0.1 serving an app
whose event handler records every event it handles. The workers share the library's
SQL de-duplication store (``SqlDedupeStore`` on SQLite in a temporary directory), as a
fleet would share Redis; with ``--intake sql`` the events go through the SQL intake
instead (committed to SQLite before the 204, handled by the workers' consumer threads),
whose table keeps each event once.
Each delivery is Okta's event hook sample carrying one event; a fifth of them are sent a
second time, same eventId and uuid, in random order, from 32 keep-alive connections
spread over client processes. Then it waits for the handlers, stops gunicorn and checks:

* every delivery was answered 204, with p99 latency within the target (default 100 ms);
* every event was handled exactly once, across both workers.

    python benchmarks/event_hook_load.py [--deliveries N] [--duplicates 0.2]
        [--concurrency 32] [--workers 2] [--threads 8] [--p99-ms 100] [--timeout 180]
        [--store shared|memory] [--intake memory|sql]

Exits 0 when every target is met, 1 when one is missed, 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _server import free_port, gunicorn_command
from flask import Flask

from flask_okta_hooks import LogEvent, OktaHooks

SAMPLES = (
    Path(
        os.environ.get(
            "OKTA_REFERENCE_DIR", Path(__file__).resolve().parents[2] / "shared" / "okta"
        )
    )
    / "samples"
)
SECRET = "load-check-secret-6b1f0e9d2c7a"
PATH = "/okta/hooks/events"
WORKDIR_ENV = "EVENT_HOOK_LOAD_DIR"
#: Seconds one request may take before it counts as failed (Okta gives up after 3).
REQUEST_TIMEOUT = 3.0
STORE_ENV = "EVENT_HOOK_LOAD_STORE"
INTAKE_ENV = "EVENT_HOOK_LOAD_INTAKE"


# --- the app gunicorn serves -------------------------------------------------------------------


def create_app() -> Flask:
    """The app under test; gunicorn calls this in each worker."""
    workdir = Path(os.environ[WORKDIR_ENV])
    hooks = OktaHooks()
    records: dict[int, int] = {}

    @hooks.event("user.lifecycle.deactivate")
    def consume(event: LogEvent) -> None:
        # The consumer fixture: read a typed section, record the event id.
        assert event.actor is not None
        pid = os.getpid()
        if pid not in records:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            records[pid] = os.open(workdir / f"handled-{pid}.txt", flags, 0o600)
        os.write(records[pid], f"{event.uuid}\n".encode())

    app = Flask("event_hook_load")
    app.config["OKTA_HOOKS_SECRETS"] = [SECRET]
    if os.environ.get(INTAKE_ENV) == "sql":
        app.config["OKTA_HOOKS_EVENTS_INTAKE"] = f"sqlite:///{workdir / 'events.sqlite'}"
    elif os.environ.get(STORE_ENV) != "memory":
        app.config["OKTA_HOOKS_EVENTS_DEDUPE"] = f"sqlite:///{workdir / 'claims.sqlite'}"
    app.register_blueprint(hooks)
    return app


# --- the load ----------------------------------------------------------------------------------


def build_deliveries(count: int, duplicate_share: float, seed: int) -> tuple[list[bytes], int]:
    """Request bodies in sending order, and how many distinct events they carry."""
    envelope = json.loads((SAMPLES / "event-hook.request.json").read_text())
    event = json.loads((SAMPLES / "event-hook.log-event.user-deactivate.json").read_text())
    rng = random.Random(seed)
    duplicates = round(count * duplicate_share)
    unique = count - duplicates
    bodies = []
    for index in range(unique):
        envelope["eventId"] = f"delivery-{index:06d}"
        event["uuid"] = f"event-{index:06d}-{rng.getrandbits(64):016x}"
        envelope["data"]["events"] = [event]
        bodies.append(json.dumps(envelope).encode())
    bodies += rng.sample(bodies, duplicates)  # Okta's retries: the very same delivery again
    rng.shuffle(bodies)
    return bodies, unique


def request_bytes(port: int, body: bytes) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Authorization: {SECRET}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def read_response(sock: socket.socket, buffer: bytearray) -> int:
    """Read one response from a keep-alive connection; return its status."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        rest += chunk
    buffer[:] = rest[length:]
    return status


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def run_connection(
    port: int, bodies: list[bytes], deadline: float, results: list[tuple[int, float]]
) -> None:
    """Send ``bodies`` one after the other on a keep-alive connection, until ``deadline``.

    A request that fails is retried once on a new connection (the server may close an
    idle keep-alive connection); status 0 records a failure or a request never sent.
    """
    sock: socket.socket | None = None
    buffer = bytearray()
    for body in bodies:
        if time.time() > deadline:
            results.append((0, 0.0))
            continue
        message = request_bytes(port, body)
        status, started = 0, time.perf_counter()
        for _attempt in range(2):
            try:
                if sock is None:
                    sock, started = connect(port), time.perf_counter()
                    buffer.clear()
                sock.sendall(message)
                status = read_response(sock, buffer)
                break
            except OSError:
                if sock is not None:
                    sock.close()
                sock = None
        results.append((status, time.perf_counter() - started))
    if sock is not None:
        sock.close()


def run_client(port: int, shares: list[list[bytes]], deadline: float) -> list[tuple[int, float]]:
    """One client process: one thread and one connection per share."""
    results: list[tuple[int, float]] = []
    threads = [
        threading.Thread(target=run_connection, args=(port, share, deadline, results))
        for share in shares
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- orchestration -----------------------------------------------------------------------------


def start_gunicorn(
    port: int, workdir: Path, workers: int, threads: int, store: str, intake: str
) -> subprocess.Popen[bytes]:
    env = {**os.environ, WORKDIR_ENV: str(workdir), STORE_ENV: store, INTAKE_ENV: intake}
    command = gunicorn_command(
        "event_hook_load:create_app()",
        port,
        workers=workers,
        threads=threads,
        graceful_timeout=30,
        options=["--error-logfile", str(workdir / "gunicorn.log")],
    )
    return subprocess.Popen(command, env=env)


def wait_until_verified(port: int, timeout: float) -> bool:
    """Okta's verification GET doubles as the readiness probe."""
    deadline = time.monotonic() + timeout
    request = (
        f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {SECRET}\r\n"
        f"X-Okta-Verification-Challenge: ready\r\nConnection: close\r\n\r\n"
    ).encode()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                if read_response(sock, bytearray()) == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def handled(workdir: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in workdir.glob("handled-*.txt"):
        counts.update(path.read_text().split())
    return counts


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--duplicates", type=float, default=0.2, help="share sent twice")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--p99-ms", type=float, default=100.0, help="highest acceptable p99")
    parser.add_argument("--timeout", type=float, default=180.0, help="bound on the whole run")
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument(
        "--store",
        choices=["shared", "memory"],
        default="shared",
        help="shared: one SqlDedupeStore on SQLite for all workers; memory: each worker "
        "its own (duplicates reaching two workers then run twice)",
    )
    parser.add_argument(
        "--intake",
        choices=["memory", "sql"],
        default="memory",
        help="memory: events wait in each worker; sql: committed to SQLite before the 204 "
        "(its table de-duplicates: --store is not used)",
    )
    args = parser.parse_args()
    if not SAMPLES.is_dir():
        print(f"Okta samples not found at {SAMPLES} (place shared/ beside the clone)")
        return 2
    if importlib.util.find_spec("gunicorn") is None:
        print("gunicorn is not installed: pip install -e '.[example]'")
        return 2

    started = time.monotonic()
    bodies, unique = build_deliveries(args.deliveries, args.duplicates, args.seed)
    shares = [bodies[index :: args.concurrency] for index in range(args.concurrency)]
    clients = [shares[index :: args.clients] for index in range(args.clients)]

    with tempfile.TemporaryDirectory(prefix="event-hook-load-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        server = start_gunicorn(port, workdir, args.workers, args.threads, args.store, args.intake)
        try:
            if not wait_until_verified(port, 20):
                print("gunicorn did not answer the verification GET within 20 s")
                return 2
            load_started = time.perf_counter()
            results: list[tuple[int, float]] = []
            # Wall-clock time: the deadline is shared with the client processes.
            deadline = time.time() + args.timeout - (time.monotonic() - started)
            with ProcessPoolExecutor(max_workers=args.clients) as pool:
                futures = [pool.submit(run_client, port, client, deadline) for client in clients]
                for future in futures:
                    results += future.result()
            load_seconds = time.perf_counter() - load_started

            # The handlers run after the 204s; give them until everything is in.
            settle = time.monotonic() + min(30, max(args.timeout - (time.monotonic() - started), 1))
            while len(handled(workdir)) < unique and time.monotonic() < settle:
                time.sleep(0.05)
        finally:
            server.send_signal(signal.SIGTERM)  # graceful: queued events are handled first
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        counts = handled(workdir)
        log = (workdir / "gunicorn.log").read_text()

    statuses = Counter(status for status, _ in results)
    latencies = [seconds * 1000 for status, seconds in results if status or seconds] or [0.0]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    expected = {json.loads(body)["data"]["events"][0]["uuid"] for body in bodies}
    missing = len(expected - set(counts))
    twice = sum(1 for count in counts.values() if count > 1)
    unknown = len(set(counts) - expected)
    failures = log.count("okta event handler failed")

    print(
        f"deliveries {len(results)} ({args.deliveries - unique} duplicates), "
        f"C = {args.concurrency}, gunicorn gthread {args.workers} x {args.threads}, "
        f"intake {args.intake}"
    )
    print(f"statuses   {dict(sorted(statuses.items()))}")
    print(
        f"latency    p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms; "
        f"{len(results) / load_seconds:,.0f} deliveries/s over {load_seconds:.1f} s"
    )
    print(
        f"handled    {sum(counts.values())} events for {len(expected)} ids: "
        f"{missing} missing, {twice} more than once, {unknown} unknown, "
        f"{failures} handler failures"
    )
    missed = []
    if len(results) != args.deliveries or statuses.get(204, 0) != args.deliveries:
        missed.append("every delivery answered 204")
    if p99 > args.p99_ms:
        missed.append(f"p99 <= {args.p99_ms:g} ms")
    if missing or twice or unknown or failures:
        missed.append("every event handled exactly once")
    if time.monotonic() - started > args.timeout:
        missed.append(f"run within {args.timeout:g} s")
    if missed:
        print("MISSED: " + "; ".join(missed))
        return 1
    print(f"all targets met in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
