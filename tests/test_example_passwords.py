"""Legacy hash formats and the admission control that keeps password checks in time."""

from __future__ import annotations

import threading
import time

import pytest

from example_app.admission import Admission, Shed
from example_app.passwords import (
    Scheme,
    UnusableHash,
    UnusablePassword,
    hash_password,
    scheme_of,
    verify_password,
)

from .conftest import FakeClock
from .example_support import FAST_COSTS

SCHEMES = list(Scheme)
#: Known answers: hashes of "correct horse" as stored by systems using each format.
KNOWN_HASHES = [
    "$2b$04$ChUYZlAtFKjlhmLIse9hzemOhuACx0QK0gjisRwTFaznU5BeQXASe",
    "$2y$04$ChUYZlAtFKjlhmLIse9hzemOhuACx0QK0gjisRwTFaznU5BeQXASe",
    "$argon2id$v=19$m=8,t=1,p=1$lSvPa8WMOjN6ETRUdmV19w$el4YmTVXHwvqd6O7cHYLE2fS0ggLfcGftOdkvN+Swxo",
    "pbkdf2_sha256$1000$seasalt$mQnueSakb748zqBAC1tmWVZsZbi2zPGZarEzTGdfmso=",
]


@pytest.mark.parametrize("stored", KNOWN_HASHES)
def test_known_legacy_hashes_verify(stored: str) -> None:
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horse!", stored)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_right_password_matches_and_others_do_not(scheme: Scheme) -> None:
    stored = hash_password("correct horse", scheme, FAST_COSTS)

    assert scheme_of(stored) is scheme
    assert verify_password("correct horse", stored)
    assert verify_password(b"correct horse", stored)
    assert not verify_password("correct horse ", stored)
    assert not verify_password("Correct horse", stored)
    assert not verify_password("x", stored)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_non_ascii_passwords_are_hashed_as_utf8(scheme: Scheme) -> None:
    stored = hash_password("pässwörd-密码-🔑", scheme, FAST_COSTS)

    assert verify_password("pässwörd-密码-🔑".encode(), stored)
    # NFD spells the same text with other bytes; the legacy system hashed the bytes.
    assert not verify_password("pa\u0308sswo\u0308rd-密码-🔑", stored)


def test_the_formats_are_the_ones_legacy_systems_write() -> None:
    assert hash_password("pw", Scheme.BCRYPT, FAST_COSTS).startswith("$2b$04$")
    assert hash_password("pw", Scheme.ARGON2, FAST_COSTS).startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert hash_password("pw", Scheme.PBKDF2, FAST_COSTS).startswith("pbkdf2_sha256$1000$")


def test_bcrypt_2a_and_2y_prefixes_are_checked_like_2b() -> None:
    stored = hash_password("pw", Scheme.BCRYPT, FAST_COSTS)

    assert verify_password("pw", "$2a$" + stored[4:])
    assert verify_password("pw", "$2y$" + stored[4:])


def test_bcrypt_refuses_passwords_it_would_truncate() -> None:
    stored = hash_password("a" * 72, Scheme.BCRYPT, FAST_COSTS)

    assert verify_password("a" * 72, stored)
    with pytest.raises(UnusablePassword):
        verify_password("a" * 73, stored)
    with pytest.raises(UnusablePassword):
        hash_password("é" * 37, Scheme.BCRYPT, FAST_COSTS)  # 74 bytes


@pytest.mark.parametrize("scheme", [Scheme.ARGON2, Scheme.PBKDF2])
def test_other_formats_take_long_passwords(scheme: Scheme) -> None:
    stored = hash_password("a" * 200, scheme, FAST_COSTS)

    assert verify_password("a" * 200, stored)
    assert not verify_password("a" * 72, stored)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_nul_bytes_are_refused(scheme: Scheme) -> None:
    stored = hash_password("abc", scheme, FAST_COSTS)

    with pytest.raises(UnusablePassword):
        verify_password("abc\x00def", stored)
    with pytest.raises(UnusablePassword):
        hash_password("abc\x00", scheme, FAST_COSTS)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext",
        "$1$saltsalt$md5cryptNotSupported",
        "$2b$04$short",
        "$2b$99$" + "a" * 53,
        "$2b$31$" + "a" * 53,
        "$argon2id$v=19$m=8,t=1,p=1$garbage",
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "pbkdf2_sha256$$salt$" + "A" * 43 + "=",
        "pbkdf2_sha256$999999999$salt$" + "A" * 43 + "=",
        "pbkdf2_sha256$1000$salt$not-base64-at-all-not-base64-at-all-not-base",
        "pbkdf2_sha256$1000$salt$" + "A" * 44,
        "pbkdf2_sha1$1000$salt$" + "A" * 43 + "=",
    ],
)
def test_malformed_or_absurd_hashes_are_refused(stored: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each format raises its own ValueError)
        verify_password("pw", stored)


def test_unknown_formats_are_named_as_such() -> None:
    with pytest.raises(UnusableHash):
        scheme_of("{SSHA}abc")


# --- admission ------------------------------------------------------------------------------


def test_work_that_fits_before_the_deadline_runs_and_is_measured() -> None:
    clock = FakeClock(100.0)
    admission = Admission(1, clock)

    def task() -> str:
        clock.now += 0.5
        return "done"

    assert admission.run("bcrypt", clock.now + 2.0, task) == "done"
    assert admission.estimate("bcrypt") == pytest.approx(0.5)


def test_work_expected_to_overrun_the_deadline_is_shed_unstarted() -> None:
    clock = FakeClock(100.0)
    admission = Admission(1, clock)
    admission.learn("bcrypt", 1.5)
    started: list[bool] = []

    with pytest.raises(Shed):
        admission.run("bcrypt", clock.now + 1.0, lambda: started.append(True))
    assert started == []


def test_unknown_kinds_are_expected_to_cost_the_most_expensive_known_one() -> None:
    admission = Admission(1)
    admission.learn("pbkdf2", 0.2)
    admission.learn("bcrypt", 0.4)

    assert admission.estimate("argon2") == pytest.approx(0.4)


def test_the_estimate_follows_measurements_smoothly() -> None:
    admission = Admission(1)
    admission.learn("bcrypt", 1.0)
    admission.learn("bcrypt", 0.0)

    assert 0.0 < admission.estimate("bcrypt") < 1.0


def test_a_call_waits_for_a_slot_only_while_it_could_still_finish() -> None:
    admission = Admission(1)
    admission.learn("bcrypt", 0.05)
    release = threading.Event()
    holder = threading.Thread(
        target=admission.run, args=("bcrypt", time.monotonic() + 5, release.wait)
    )
    holder.start()
    try:
        time.sleep(0.02)  # the holder has the only slot
        started = time.monotonic()
        with pytest.raises(Shed):
            admission.run("bcrypt", started + 0.25, _never_called)
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join()

    assert 0.15 <= waited <= 0.3  # waited for the slot until 0.25 - 0.05, no longer


def test_slots_bound_how_many_tasks_run_at_once() -> None:
    admission = Admission(2)
    running = 0
    peak = 0
    lock = threading.Lock()

    def task() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    threads = [
        threading.Thread(target=admission.run, args=("k", time.monotonic() + 5, task))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert peak == 2


def test_a_failing_task_frees_its_slot_and_teaches_nothing() -> None:
    admission = Admission(1)

    def boom() -> None:
        raise RuntimeError("verifier failed")

    with pytest.raises(RuntimeError):
        admission.run("k", time.monotonic() + 1, boom)
    assert admission.run("k", time.monotonic() + 1, lambda: 7) == 7
    assert admission.estimate("missing") == admission.estimate("k")


def _never_called() -> None:
    raise AssertionError("shed work must not run")
