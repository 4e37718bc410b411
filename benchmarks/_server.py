"""Start and stop gunicorn on a free loopback port for the load benchmarks.

    with Gunicorn("token") as server:          # benchmarks/_apps.py, scenario "token"
        server.url("/okta/hooks/token")         # http://127.0.0.1:<port>/okta/hooks/token

The server runs the gthread worker (2 workers x 8 threads unless told otherwise), binds
127.0.0.1 only, and is stopped (SIGTERM, then SIGKILL) when the block ends, whatever
happened inside it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def gunicorn_command(
    target: str,
    port: int,
    *,
    workers: int,
    threads: int,
    graceful_timeout: int,
    options: list[str] | None = None,
) -> list[str]:
    """The command serving ``target`` (``module:callable`` in this folder) with gthread
    workers on a loopback port; ``options`` are further gunicorn options."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"{HOST}:{port}",
        "--chdir",
        str(HERE),
        "--log-level",
        "warning",
        "--graceful-timeout",
        str(graceful_timeout),
        *(options or []),
        target,
    ]


class Gunicorn:
    """A gunicorn process serving ``benchmarks/_apps.py`` for one scenario."""

    def __init__(
        self,
        scenario: str,
        *,
        workers: int = 2,
        threads: int = 8,
        env: dict[str, str] | None = None,
        start_timeout: float = 30.0,
        worker_connections: int | None = None,
    ) -> None:
        self.scenario = scenario
        self.workers = workers
        self.threads = threads
        self.worker_connections = worker_connections
        self.port = free_port()
        self.env = env or {}
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def __enter__(self) -> Gunicorn:
        options = []
        if self.worker_connections is not None:
            options = ["--worker-connections", str(self.worker_connections)]
        command = gunicorn_command(
            "_apps:create_app()",
            self.port,
            workers=self.workers,
            threads=self.threads,
            graceful_timeout=3,
            options=options,
        )
        env = {**os.environ, "BENCH_SCENARIO": self.scenario, **self.env}
        self.process = subprocess.Popen(command, env=env, start_new_session=True)
        self._wait_until_serving()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """``GET /stats`` from whichever worker answers: pid, pool usage, thread count."""
        with urllib.request.urlopen(self.url("/stats"), timeout=5) as reply:  # noqa: S310
            result: dict[str, Any] = json.loads(reply.read())
            return result

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def _wait_until_serving(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                seen = {self.stats()["pid"] for _ in range(self.workers * 4)}
                if len(seen) >= min(self.workers, 2):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not serve within {self.start_timeout} s")
