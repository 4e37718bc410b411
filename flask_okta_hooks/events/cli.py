"""``flask okta-hooks worker`` and ``flask okta-hooks events ...``: the database intake's
consumers as their own process, and its parked events.

* ``worker``: take events from the intake and run their handlers until SIGTERM or
  Ctrl-C; the event being handled then is finished (or given back when its handler is
  interrupted) and no other is taken. A progress line is printed per ``--progress``
  events;
* ``events failed``: the events whose handler failed on every attempt;
* ``events retry ID... | --all``: queue parked events again.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from ..config import DEFAULT_PREFIX, EXTENSION_KEY
from .consumer import Consumer
from .runtime import EventsRuntime
from .sql import SqlIntake

_PREFIX = click.option(
    "--prefix",
    default=DEFAULT_PREFIX,
    show_default=True,
    help="Configuration prefix of the blueprint whose events to take.",
)


def _intake(prefix: str) -> tuple[EventsRuntime, SqlIntake]:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions.get(EXTENSION_KEY, {}).get(prefix)
    runtime: EventsRuntime | None = None if state is None else state.events
    if runtime is None:
        raise click.UsageError(f"the app serves no event hooks configured by {prefix}*")
    if not isinstance(runtime.intake, SqlIntake):
        raise click.UsageError(
            f"{prefix}EVENTS_INTAKE is not a database URL: the events are handled by the "
            f"web process itself"
        )
    return runtime, runtime.intake


@click.command("worker")
@_PREFIX
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--progress",
    "every",
    default=100,
    show_default=True,
    type=click.IntRange(0),
    help="Print a progress line per this many events handled (0: none).",
)
@with_appcontext
def worker_command(prefix: str, threads: int, every: int) -> None:
    """Run the event handlers of a database intake until SIGTERM or Ctrl-C."""
    runtime, intake = _intake(prefix)
    if intake.consumer_threads is not None:  # this process consumes only through here
        intake.consumer_threads.stop()
    consumers: list[Consumer] = []

    def report(_: Consumer) -> None:
        click.echo(f"okta-hooks worker: {_counts(consumers)}")

    consumers.extend(
        Consumer(intake, runtime.handle, progress=report, every=every) for _ in range(threads)
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        for consumer in consumers:
            consumer.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    click.echo(f"okta-hooks worker: taking events from {intake.table.name}, {threads} thread(s)")
    helpers = [threading.Thread(target=c.run, name="okta-hooks-consumer") for c in consumers[1:]]
    try:
        for helper in helpers:
            helper.start()
        consumers[0].run()
        for helper in helpers:
            helper.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"okta-hooks worker stopped: {_counts(consumers)}")


def _counts(consumers: Sequence[Consumer]) -> str:
    handled = sum(c.handled for c in consumers)
    retried = sum(c.retried for c in consumers)
    parked = sum(c.parked for c in consumers)
    return f"handled={handled} retried={retried} parked={parked}"


events_group = AppGroup("events", help="Events kept by a database intake.")


@events_group.command("failed")
@_PREFIX
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
def failed_command(prefix: str, limit: int) -> None:
    """List the events whose handler failed on every attempt."""
    _, intake = _intake(prefix)
    parked = intake.failed(limit)
    for event in parked:
        click.echo(
            f"{event.id}\t{event.path}\tuuid={event.uuid}\tattempts={event.attempts}"
            f"\terror={event.error}"
        )
    click.echo(f"{len(parked)} failed event(s)")


@events_group.command("retry")
@_PREFIX
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Queue every failed event again.")
def retry_command(prefix: str, ids: tuple[int, ...], every: bool) -> None:
    """Queue failed events again, by id (see ``events failed``) or ``--all``."""
    if bool(ids) == every:
        raise click.UsageError("give the ids of the events to retry, or --all")
    _, intake = _intake(prefix)
    count = intake.retry(ids)
    click.echo(f"{count} event(s) queued again")
