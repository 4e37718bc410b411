"""The in-memory de-duplication store: first claim wins, bounded in size and time."""

from __future__ import annotations

import threading

import pytest

from flask_okta_hooks import DedupeStore, MemoryDedupeStore

from .conftest import FakeClock

ID = "f1d0b993-cc19-11ed-a688-db22c99ef6c4"


def test_only_the_first_claim_of_an_id_wins() -> None:
    store = MemoryDedupeStore()

    assert store.claim(ID) is True
    assert store.claim(ID) is False
    assert store.claim("another-id") is True
    assert len(store) == 2


def test_a_released_id_can_be_claimed_again() -> None:
    store = MemoryDedupeStore()
    store.claim(ID)

    store.release(ID)
    store.release("never-claimed")  # a no-op

    assert store.claim(ID) is True


def test_ids_are_forgotten_after_the_ttl() -> None:
    clock = FakeClock()
    store = MemoryDedupeStore(ttl=60, clock=clock)
    store.claim(ID)

    clock.now += 59.9
    assert store.claim(ID) is False
    clock.now += 0.2
    assert len(store) == 0
    assert store.claim(ID) is True


def test_the_oldest_ids_go_first_beyond_the_size_limit() -> None:
    store = MemoryDedupeStore(max_entries=3)
    for index in range(5):
        store.claim(f"id-{index}")

    assert len(store) == 3
    assert store.claim("id-0") is True  # evicted, so new again
    assert store.claim("id-4") is False


def test_one_of_many_racing_claims_wins() -> None:
    store = MemoryDedupeStore()
    start = threading.Barrier(16)
    results: list[bool] = []

    def claim() -> None:
        start.wait()
        results.append(store.claim(ID))

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)

    assert sorted(results) == [False] * 15 + [True]


def test_the_store_fits_the_protocol() -> None:
    assert isinstance(MemoryDedupeStore(), DedupeStore)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"max_entries": 0}, "max_entries"), ({"ttl": 0}, "ttl")]
)
def test_limits_must_be_positive(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MemoryDedupeStore(**kwargs)  # type: ignore[arg-type]
