"""The app the worker process tests run with ``flask okta-hooks worker``.

Its one handler leaves a mark file when it starts and when it returns, so a test can see
which process ran which event, and how far.
"""

import os
import time
from pathlib import Path

from flask import Flask

from flask_okta_hooks import LogEvent, OktaHooks

hooks = OktaHooks()


@hooks.event()
def record(event: LogEvent) -> None:
    marks = Path(os.environ["OKTA_HOOKS_TEST_MARKS"])
    (marks / f"start.{event.uuid}.{os.getpid()}").touch()
    time.sleep(float(os.environ.get("OKTA_HOOKS_TEST_SLEEP", "0")))
    (marks / f"done.{event.uuid}.{os.getpid()}").touch()


app = Flask(__name__)
app.config.update(
    TESTING=True,
    OKTA_HOOKS_SECRETS=["worker-test-secret-0123456789"],
    OKTA_HOOKS_EVENTS_INTAKE=os.environ["OKTA_HOOKS_TEST_INTAKE"],
    OKTA_HOOKS_EVENTS_WORKERS=0,
    OKTA_HOOKS_EVENTS_LEASE=float(os.environ.get("OKTA_HOOKS_TEST_LEASE", "60")),
)
app.register_blueprint(hooks)
