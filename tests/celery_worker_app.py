"""The app a ``celery worker`` subprocess runs: ``celery -A tests.celery_worker_app worker``.

Its handler leaves a mark file when it starts and when it returns (only its first
run of an event sleeps ``OKTA_HOOKS_TEST_SLEEP`` seconds), so a test can see
which process ran which event, and how far.
"""

import os
import time
from pathlib import Path

from flask_okta_hooks import LogEvent, RedisDedupeStore

from .celery_support import create_app
from .conftest import REDIS_URL


def record(event: LogEvent) -> None:
    marks = Path(os.environ["OKTA_HOOKS_TEST_MARKS"])
    first = not any(marks.glob(f"start.{event.uuid}.*"))
    (marks / f"start.{event.uuid}.{os.getpid()}").touch()
    if first:  # the first run sleeps, for the test to kill it; a run again does not
        time.sleep(float(os.environ.get("OKTA_HOOKS_TEST_SLEEP", "0")))
    (marks / f"done.{event.uuid}.{os.getpid()}").touch()


prefix = os.environ.get("OKTA_HOOKS_TEST_STORE_PREFIX", "")
config = {"OKTA_HOOKS_EVENTS_DEDUPE": RedisDedupeStore(REDIS_URL, prefix=prefix)} if prefix else {}
flask_app = create_app(
    os.environ["OKTA_HOOKS_TEST_BROKER"], os.environ["OKTA_HOOKS_TEST_QUEUE"], record, **config
)
celery_app = flask_app.extensions["celery"]
if os.environ.get("OKTA_HOOKS_TEST_SWEEP"):
    intake = flask_app.extensions["okta_hooks"]["OKTA_HOOKS_"].events.intake
    intake.sweep_every = intake.sweep_after = float(os.environ["OKTA_HOOKS_TEST_SWEEP"])
