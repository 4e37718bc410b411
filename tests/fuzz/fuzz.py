"""Coverage-guided fuzzing of the code that meets untrusted input, with atheris.

    python tests/fuzz/fuzz.py TARGET [--seconds 30] [--seed 1]
    python tests/fuzz/fuzz.py --write-seeds     # rebuild corpus/*/seed-* from the samples

Targets and the invariant each one asserts:

``body``
    Reading and parsing a body: only :class:`HookRequestError` escapes, never more than
    the limit is returned, and an accepted body is the value the standard parser reads.
``requests``
    Every hook type's request loading and typed accessors: only ``HookRequestError``
    escapes, whatever the parsed JSON holds.
``rendering``
    Rendering random handler results: bytes of JSON (or an empty answer where the hook
    type allows one), or a rule error (``ResponseRuleError``, ``HandlerResultError``).
``redaction``
    ``redact_text`` and ``RedactingFilter``: one line out, no configured secret left, and
    the input repeated to 20 KB redacted within a time bound.
``pointer``
    JSON pointers: splitting a valid pointer and joining it back gives it again, and
    joining segments then splitting gives the segments.

Each run starts from ``tests/fuzz/corpus/TARGET`` (kept in the repository, seeded from
the package's samples); what the fuzzer finds goes to a temporary folder, so the run
leaves the repository as it was. A failed invariant stops the run with the input saved
and a non-zero exit.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import io
import json
import logging
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["flask_okta_hooks"]):
    import orjson

    from flask_okta_hooks import HOOK_TYPES, pointer, redaction
    from flask_okta_hooks.body import check_content_headers, parse_json, read_body
    from flask_okta_hooks.config import apply_defaults
    from flask_okta_hooks.errors import HandlerResultError, HookRequestError, ResponseRuleError
    from flask_okta_hooks.rendering import render
    from flask_okta_hooks.testing import make_payload

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
SETTINGS = apply_defaults({"OKTA_HOOKS_SECRETS": ["a-long-enough-secret"]})
#: The body target's limits: small, so that the fuzzer reaches them.
SMALL_SETTINGS = apply_defaults(
    {
        "OKTA_HOOKS_SECRETS": ["a-long-enough-secret"],
        "OKTA_HOOKS_MAX_BODY": 2048,
        "OKTA_HOOKS_MAX_DEPTH": 6,
        "OKTA_HOOKS_MAX_MEMBERS": 100,
        "OKTA_HOOKS_MAX_STRING": 256,
    }
)
SECRET = "fuzz-configured-secret-4a7e"
#: Redacting the input repeated to this size must take less than REDACTION_BOUND seconds.
REDACTION_SIZE = 20_000
REDACTION_BOUND = 0.5


def _hook_type(data: bytes) -> tuple[Any, bytes]:
    """The hook type the first byte names, and the rest of the input."""
    if not data:
        return HOOK_TYPES[0], b""
    return HOOK_TYPES[data[0] % len(HOOK_TYPES)], data[1:]


# --- body ---------------------------------------------------------------------------------------


def fuzz_body(data: bytes) -> None:
    mode, raw = (data[0], data[1:]) if data else (0, b"")
    settings = SMALL_SETTINGS if mode & 1 else SETTINGS
    limit = settings.max_body
    environ: dict[str, Any] = {
        "wsgi.input": io.BytesIO(raw),
        "CONTENT_TYPE": "application/json" if mode & 2 else "application/json; charset=UTF-8",
    }
    if mode & 4:
        environ["wsgi.input_terminated"] = True
    else:
        # A true length, one off either way, or none.
        environ["CONTENT_LENGTH"] = ("", str(len(raw)), str(len(raw) + 1), str(len(raw) - 1))[
            (mode >> 3) % 4
        ]
    try:
        check_content_headers(environ)
        body = read_body(environ, limit)
    except HookRequestError:
        return
    # What is read is the body, whole: never cut short to fit the limit.
    assert len(body) <= limit, (len(body), limit)
    assert body == raw if mode & 4 else body == raw[: len(body)], (len(body), len(raw))
    try:
        value = parse_json(body, settings)
    except HookRequestError:
        return
    # An accepted body is plain JSON, read the same by the standard parser.
    assert _same(json.loads(body), value), body


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types throughout (``2**64 == float(2**64)`` in Python)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# --- requests -----------------------------------------------------------------------------------


def _accessors(cls: type) -> list[str]:
    return [
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and isinstance(member, property | functools.cached_property)
    ]


def _read_everything(obj: Any, depth: int = 0) -> None:
    """Every public property of ``obj`` and of the typed objects it hands out."""
    if depth > 3 or not type(obj).__module__.startswith("flask_okta_hooks"):
        return
    for name in _accessors(type(obj)):
        try:
            value = getattr(obj, name)
        except HookRequestError:
            continue
        items = value if isinstance(value, list | tuple) else [value]
        for item in items[:4]:
            _read_everything(item, depth + 1)


def fuzz_requests(data: bytes) -> None:
    hook_type, raw = _hook_type(data)
    try:
        payload = parse_json(raw, SETTINGS)
        call = hook_type.request_class.from_payload(payload)
    except HookRequestError:
        return
    _read_everything(call)
    call.masked_values()


# --- rendering ----------------------------------------------------------------------------------

#: Names a handler result is built from: Okta's response members and what they hold.
WORDS = [
    "commands", "type", "value", "op", "path", "error", "errorSummary", "errorCauses",
    "debugContext", "com.okta.identity.patch", "com.okta.access.patch", "com.okta.action.update",
    "com.okta.user.profile.update", "com.okta.assertion.patch", "com.okta.telephony.action",
    "com.okta.user.credential.update", "add", "replace", "remove", "/claims/x", "/claims/",
    "/subject/nameId", "credential", "registration", "status", "ALLOW", "DENY", "VERIFIED",
    "UNVERIFIED", "SUCCESSFUL", "PENDING", "reason", "locale", "actions", "password",
    "profile", "firstName", "login", "email", "user", "action", "CREATE_USER", "LINK_USER",
    "result", "provider", "transactionMetadata",
]  # fmt: skip


def _value(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> Any:
    kind = fdp.ConsumeIntInRange(0, 9 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeIntInRange(-(2**70), 2**70)
    if kind == 3:
        return fdp.PickValueInList([0.5, math.nan, math.inf, -0.0, 1e308])
    if kind == 4:
        return fdp.PickValueInList(WORDS)
    if kind == 5:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
    if kind in (6, 7):
        return {
            fdp.PickValueInList(WORDS): _value(fdp, depth + 1)
            for _ in range(fdp.ConsumeIntInRange(0, 4))
        }
    return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]


@functools.cache
def _sample_call(index: int) -> Any:
    hook_type = HOOK_TYPES[index]
    return hook_type.request_class.from_payload(make_payload(hook_type))


def fuzz_rendering(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    index = fdp.ConsumeIntInRange(0, len(HOOK_TYPES) - 1)
    hook_type, call = HOOK_TYPES[index], _sample_call(index)
    result = None if fdp.ConsumeIntInRange(0, 15) == 0 else _value(fdp)
    validate = fdp.ConsumeIntInRange(0, 7) != 0
    try:
        rendered = render(hook_type, call, result, validate)
    except (ResponseRuleError, HandlerResultError):
        return
    if rendered is None:
        assert hook_type.empty_allowed, hook_type.slug
    else:
        assert isinstance(rendered, bytes)
        orjson.loads(rendered)


# --- redaction ----------------------------------------------------------------------------------


def fuzz_redaction(data: bytes) -> None:
    redaction.remember_secrets([SECRET])  # a no-op once remembered
    text = data.decode("utf-8", "replace")
    masked = redaction.redact_text(f"{text} {SECRET} {text}")
    assert "\n" not in masked, masked
    assert "\r" not in masked, masked
    assert SECRET not in masked, masked
    record = logging.LogRecord("flask_okta_hooks", logging.INFO, __file__, 1, text, None, None)
    redaction.RedactingFilter().filter(record)
    assert "\n" not in record.getMessage()
    if text:
        long_text = (text * (REDACTION_SIZE // len(text) + 1))[:REDACTION_SIZE]
        elapsed = _timed(redaction.redact_text, long_text)
        if elapsed >= REDACTION_BOUND:  # a busy machine is not to be taken for a slow pattern
            elapsed = min(_timed(redaction.redact_text, long_text) for _ in range(3))
        assert elapsed < REDACTION_BOUND, (elapsed, text[:200])


def _timed(function: Callable[[str], object], text: str) -> float:
    # CPU time: on a busy machine, time waiting for a core is not the pattern's.
    started = time.process_time()
    function(text)
    return time.process_time() - started


# --- pointer ------------------------------------------------------------------------------------


def fuzz_pointer(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    parts = pointer.split(text)
    if parts is not None:
        assert pointer.join("", parts) == text, text
        for part in parts:
            pointer.is_index(part)
    segments = text.split("\x00")
    assert pointer.split(pointer.join("", segments)) == segments, segments


TARGETS: dict[str, Callable[[bytes], None]] = {
    "body": fuzz_body,
    "requests": fuzz_requests,
    "rendering": fuzz_rendering,
    "redaction": fuzz_redaction,
    "pointer": fuzz_pointer,
}


# --- seeds and running ----------------------------------------------------------------------------


def seeds() -> dict[str, list[bytes]]:
    """The starting corpus of each target, from the package's own samples."""
    calls = [(index, orjson.dumps(make_payload(t))) for index, t in enumerate(HOOK_TYPES)]
    log_lines = [
        b"okta hook call: hook=token event_id=3OWo outcome=ok status=200 latency_ms=1.2",
        b'password=hunter2 "token": "abc" Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2ln',
        b"client_secret='x y' phoneNumber=+15550100 {'otpCode': '1234'} [access_token, 1]",
        b"token" * 20 + b"=" + b"eyJ-" * 10,
    ]
    return {
        "body": [bytes([mode]) + call for mode in (0, 5, 8) for _, call in calls[:3]]
        + [b"\x00[1e19, 18446744073709551617]", b'\x01{"a": {"a": [[[[[[[]]]]]]]}}'],
        "requests": [bytes([index]) + call for index, call in calls],
        "rendering": [bytes(range(index, index + 40)) for index in range(0, 200, 25)],
        "redaction": log_lines,
        "pointer": [b"/claims/a~1b~0c", b"/0/-/x", b"/a~2", b"a\x00b/c\x00~"],
    }


def write_seeds() -> None:
    for target, inputs in seeds().items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed-*"):
            old.unlink()
        for number, data in enumerate(inputs):
            (folder / f"seed-{number:02d}").write_bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="?", choices=sorted(TARGETS))
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-seeds", action="store_true")
    args = parser.parse_args()
    if args.write_seeds:
        write_seeds()
        return
    if args.target is None:
        parser.error("name a target")
    # A path alone could name a large input file; the target function gets its bytes.
    logging.getLogger("flask_okta_hooks").setLevel(logging.CRITICAL)
    found = tempfile.mkdtemp(prefix=f"fuzz-{args.target}-")
    libfuzzer_args = [
        sys.argv[0],
        f"-max_total_time={args.seconds}",
        f"-seed={args.seed}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=8192",
        f"-artifact_prefix={found}/",
        "-print_final_stats=1",
        found,  # new inputs go to the first folder: the repository's stays as it is
        str(CORPUS / args.target),
    ]
    print(f"fuzzing {args.target} for {args.seconds} s; new inputs and crashes in {found}")
    atheris.Setup(libfuzzer_args, TARGETS[args.target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
