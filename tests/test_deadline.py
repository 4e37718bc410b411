"""The worker pool that runs handlers under a deadline."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator

import pytest

from flask_okta_hooks import deadline
from flask_okta_hooks.deadline import Job, WorkerPool


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_a_job_runs_on_a_worker_and_returns_its_result() -> None:
    pool = WorkerPool(2)
    job = Job(lambda: threading.current_thread().name)

    assert pool.submit(job)
    assert pool.wait(job, 1.0)
    assert job.result.startswith("okta-hooks-worker-")
    assert job.error is None


def test_an_exception_is_kept_for_the_waiter() -> None:
    pool = WorkerPool(1)
    job = Job(lambda: 1 / 0)

    pool.submit(job)

    assert pool.wait(job, 1.0)
    assert isinstance(job.error, ZeroDivisionError)


def test_a_full_pool_refuses_at_once(release: threading.Event) -> None:
    pool = WorkerPool(2)
    for _ in range(2):
        assert pool.submit(Job(lambda: release.wait(5)))

    started = time.perf_counter()
    assert not pool.submit(Job(lambda: None))
    assert time.perf_counter() - started < 0.05
    assert pool.busy == 2


def test_an_abandoned_job_keeps_its_worker_then_reports_late() -> None:
    pool = WorkerPool(1)
    go = threading.Event()
    late: list[Job] = []
    job = Job(lambda: go.wait(5) and "done")
    pool.submit(job)

    assert not pool.wait(job, 0.05)
    assert pool.abandon(job, late.append)
    assert not pool.submit(Job(lambda: None))  # the abandoned job still holds the worker
    go.set()
    assert job._done.acquire(True, 1.0)
    time.sleep(0.01)

    assert late == [job]
    assert job.result == "done"
    assert pool.busy == 0
    follow_up = Job(lambda: "next")
    assert pool.submit(follow_up)
    assert pool.wait(follow_up, 1.0)


def test_abandoning_a_job_that_just_finished_keeps_its_result() -> None:
    pool = WorkerPool(1)
    job = Job(lambda: "quick")
    pool.submit(job)
    pool.wait(job, 1.0)

    assert not pool.abandon(job, lambda job: None)
    assert job.result == "quick"


def test_a_zero_timeout_does_not_wait() -> None:
    pool = WorkerPool(1)
    job = Job(lambda: time.sleep(0.1))
    pool.submit(job)

    assert not pool.wait(job, 0)
    assert not pool.wait(job, -1)
    pool.wait(job, 1.0)


def test_workers_start_on_use_and_are_bounded(release: threading.Event) -> None:
    pool = WorkerPool(3)
    assert pool.started == 0

    for _ in range(5):
        pool.submit(Job(lambda: release.wait(5)))

    assert pool.started == 3


def test_idle_workers_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deadline, "IDLE_CHECK", 0.01)
    monkeypatch.setattr(deadline, "IDLE_EXIT", 0.05)
    pool = WorkerPool(2)
    job = Job(lambda: None)
    pool.submit(job)
    pool.wait(job, 1.0)

    for _ in range(200):
        if pool.started == 0:
            break
        time.sleep(0.01)

    assert pool.started == 0
    again = Job(lambda: "back")
    assert pool.submit(again)
    assert pool.wait(again, 1.0)


def test_workers_leave_once_their_pool_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deadline, "IDLE_CHECK", 0.01)
    pool = WorkerPool(1, name="okta-hooks-gone")
    job = Job(lambda: None)
    pool.submit(job)
    pool.wait(job, 1.0)
    del pool, job
    gc.collect()

    for _ in range(200):
        if not any(t.name.startswith("okta-hooks-gone") for t in threading.enumerate()):
            break
        time.sleep(0.01)

    assert not any(t.name.startswith("okta-hooks-gone") for t in threading.enumerate())


def test_a_forked_child_forgets_the_parents_workers() -> None:
    pool = WorkerPool(1)
    job = Job(lambda: None)
    pool.submit(job)
    pool.wait(job, 1.0)
    assert pool.started == 1

    pool._after_fork()  # what os.register_at_fork runs in the child

    assert pool.started == 0
    again = Job(lambda: "child")
    assert pool.submit(again)
    assert pool.wait(again, 1.0)


def test_a_pool_has_at_least_one_worker() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        WorkerPool(0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_real_fork_starts_fresh_workers() -> None:
    pool = WorkerPool(1)
    job = Job(lambda: None)
    pool.submit(job)
    pool.wait(job, 1.0)

    pid = os.fork()
    if pid == 0:  # the child: the parent's worker thread does not exist here
        child_job = Job(lambda: "child")
        ok = pool.submit(child_job) and pool.wait(child_job, 2.0) and child_job.result == "child"
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0


# --- waiting in line for a worker ---------------------------------------------------------------


def hold(pool: WorkerPool, release: threading.Event) -> Job:
    """A job that keeps one worker until ``release``."""
    job = Job(lambda: release.wait(5))
    assert pool.submit(job)
    return job


def line_up(pool: WorkerPool, release: threading.Event, wait: float) -> tuple[Job, Job, list[str]]:
    """The job holding the pool's one worker, a job in line behind it for ``wait``
    seconds, and the list that job appends to if it ever runs."""
    holder = hold(pool, release)
    ran: list[str] = []
    job = Job(lambda: ran.append("late"))
    assert pool.submit(job, wait=wait)
    return holder, job, ran


def test_a_job_that_finds_every_worker_busy_waits_in_line_and_runs(
    release: threading.Event,
) -> None:
    pool = WorkerPool(1)
    hold(pool, release)
    job = Job(lambda: threading.current_thread().name)

    assert pool.submit(job, wait=2.0)
    assert job.queued
    assert pool.waiting == 1
    threading.Timer(0.05, release.set).start()

    assert pool.wait_start(job)
    assert pool.wait(job, 1.0)
    assert job.result.startswith("okta-hooks-worker-")
    assert pool.waiting == 0


def test_a_job_that_cannot_start_in_time_is_withdrawn_and_never_runs(
    release: threading.Event,
) -> None:
    pool = WorkerPool(1)
    holder, job, ran = line_up(pool, release, wait=0.2)

    started = time.perf_counter()
    assert not pool.wait_start(job)
    took = time.perf_counter() - started
    release.set()
    assert pool.wait(holder, 1.0)
    time.sleep(0.05)

    assert 0.18 <= took < 0.6
    assert ran == []
    assert pool.waiting == 0
    assert pool.busy == 0


def test_a_worker_drops_a_job_found_in_line_past_its_start_time(
    release: threading.Event,
) -> None:
    # The waiter was slow to wake (a loaded machine): the worker must not start it late.
    pool = WorkerPool(1)
    holder, job, ran = line_up(pool, release, wait=0.01)
    time.sleep(0.05)
    release.set()
    assert pool.wait(holder, 1.0)
    time.sleep(0.05)

    assert ran == []
    assert not job.queued
    assert not pool.wait_start(job)
    assert pool.busy == 0


def test_jobs_in_line_start_first_come_first_served(release: threading.Event) -> None:
    pool = WorkerPool(1)
    hold(pool, release)
    order: list[int] = []
    jobs = [Job(lambda number=number: order.append(number)) for number in range(6)]
    for job in jobs:
        assert pool.submit(job, wait=5.0)
    release.set()

    assert all(pool.wait_start(job) and pool.wait(job, 2.0) for job in jobs)
    assert order == list(range(6))


def test_when_abandoned_jobs_hold_every_worker_nothing_waits(release: threading.Event) -> None:
    pool = WorkerPool(2)
    first, second = hold(pool, release), hold(pool, release)
    assert pool.abandon(first)

    queued = Job(lambda: None)
    assert pool.submit(queued, wait=5.0)  # one worker may still come back in time
    assert pool.abandon(second)
    assert pool.abandoned == 2

    started = time.perf_counter()
    assert not pool.submit(Job(lambda: None), wait=5.0)
    assert time.perf_counter() - started < 0.05
    release.set()
    assert pool.wait_start(queued)
    assert pool.wait(queued, 1.0)
    assert pool.wait(first, 1.0)
    assert pool.wait(second, 1.0)
    assert pool.abandoned == 0
