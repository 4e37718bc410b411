"""Run ``wrk`` with a generated Lua script and read back what it measured.

The script counts every response status per thread (so 4xx and 5xx are told apart,
which wrk's own summary does not do), optionally checks each body against an expected
answer, and prints one JSON line with the totals and latency percentiles.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = (
    "wrk is not installed. On Debian or Ubuntu: apt-get install -y wrk "
    "(on macOS: brew install wrk); see https://github.com/wg/wrk"
)

_LUA_COMMON = r"""
threads = {}
statuses = {}
wrong = 0

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if not accept(status, body) then
    wrong = wrong + 1
  end
end

function done(summary, latency, requests)
  local total = {}
  local wrong_total = 0
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      total[code] = (total[code] or 0) + count
    end
    wrong_total = wrong_total + thread:get("wrong")
  end
  local parts = {}
  for code, count in pairs(total) do
    table.insert(parts, string.format('"%d": %d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "statuses": {%s}, "wrong": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, table.concat(parts, ", "), wrong_total,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def lua_string(text: str) -> str:
    """``text`` as a Lua long-bracket literal (no escaping needed)."""
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


@dataclass
class WrkResult:
    requests: int
    duration_us: int
    statuses: dict[int, int]
    wrong: int
    errors: dict[str, int]
    latency_us: dict[str, int]
    raw: str = field(repr=False, default="")

    @property
    def seconds(self) -> float:
        return self.duration_us / 1e6

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.duration_us else 0.0

    @property
    def server_errors(self) -> int:
        return sum(count for code, count in self.statuses.items() if 500 <= code <= 599)

    @property
    def socket_errors(self) -> int:
        return sum(count for name, count in self.errors.items() if name != "status")

    def p(self, name: str) -> float:
        """A latency percentile (``"p99"``, ``"max"`` ...) in milliseconds."""
        return self.latency_us[name] / 1000


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    bodies: list[bytes],
    headers: dict[str, str],
    accept: str = "return true",
    threads: int = 2,
    timeout: str = "10s",
    paths: list[str] | None = None,
) -> WrkResult:
    """POST ``bodies`` in turn to ``url``; ``accept`` is the Lua body of
    ``accept(status, body)``, which says whether one answer is the expected one.
    ``paths``, one per body, sends each body to its own path on ``url``'s server."""
    if shutil.which("wrk") is None:
        raise SystemExit(INSTALL_HINT)
    header_lines = "\n".join(
        f"  headers[ {lua_string(name)} ] = {lua_string(value)}" for name, value in headers.items()
    )
    body_list = ",\n".join(f"    {lua_string(body.decode('latin-1'))}" for body in bodies)
    path_list = ",\n".join(f"    {lua_string(path)}" for path in paths or [])
    script = f"""
function accept(status, body)
  {accept}
end

local prepared = {{}}
local next_index = 0

function init(args)
  local headers = {{}}
{header_lines}
  local bodies = {{
{body_list}
  }}
  local paths = {{
{path_list}
  }}
  for i, body in ipairs(bodies) do
    table.insert(prepared, wrk.format("POST", paths[i], headers, body))
  end
end

function request()
  next_index = next_index % #prepared + 1
  return prepared[next_index]
end
{_LUA_COMMON}
"""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "load.lua"
        path.write_text(script, encoding="latin-1")
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            f"--timeout={timeout}",
            "-s",
            str(path),
            url,
        ]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            data = json.loads(line.removeprefix("RESULT "))
            data["statuses"] = {int(code): count for code, count in data["statuses"].items()}
            return WrkResult(**data, raw=completed.stdout)
    raise RuntimeError(f"wrk gave no result:\n{completed.stdout}\n{completed.stderr}")


def combine(results: list[WrkResult]) -> WrkResult:
    """Several runs as one: totals summed, each latency figure the worst of the runs."""
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    for result in results:
        for code, count in result.statuses.items():
            statuses[code] = statuses.get(code, 0) + count
        for name, count in result.errors.items():
            errors[name] = errors.get(name, 0) + count
    return WrkResult(
        requests=sum(r.requests for r in results),
        duration_us=sum(r.duration_us for r in results),
        statuses=statuses,
        wrong=sum(r.wrong for r in results),
        errors=errors,
        latency_us={k: max(r.latency_us[k] for r in results) for k in results[0].latency_us},
    )


def describe(name: str, result: WrkResult) -> str:
    statuses = ", ".join(f"{code}: {count}" for code, count in sorted(result.statuses.items()))
    return (
        f"{name}: {result.requests} requests in {result.seconds:.1f} s = {result.rate:,.0f} req/s; "
        f"latency p50 {result.p('p50'):.1f} ms, p99 {result.p('p99'):.1f} ms, "
        f"max {result.p('max'):.1f} ms; statuses {{{statuses}}}; "
        f"socket errors {result.socket_errors}; unexpected answers {result.wrong}"
    )
