"""Handlers that raise what is not an :class:`Exception` (``SystemExit``,
``KeyboardInterrupt``, ``GeneratorExit``, a bare ``BaseException``) get the failure
outcome on both lanes, strict mode included, and leave the server serving; only
``KeyboardInterrupt`` and ``SystemExit`` on the main thread propagate, as signals do.

Registration calls show which answer a call got: the handler's (an empty 204) or the
failure outcome (a denial).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_okta_hooks import OktaHooks, runner
from flask_okta_hooks.testing import make_payload

from .conftest import SECRET, build_app, okta_headers, post_json

RAISED = [SystemExit(3), KeyboardInterrupt(), GeneratorExit(), BaseException("bare")]
IDS = [type(exc).__name__ for exc in RAISED]


class RaisingApp:
    """A registration endpoint whose handler raises ``exc`` once ``armed`` is set."""

    def __init__(self, exc: BaseException, **config: Any) -> None:
        self.armed = threading.Event()
        self.threads: list[str] = []
        hooks = OktaHooks()

        @hooks.registration
        def register(call: Any) -> None:
            self.threads.append(threading.current_thread().name)
            if self.armed.is_set():
                raise exc

        self.hooks = hooks
        self.app: Flask = build_app(hooks, **config)

    def call(self) -> Any:
        return post_json(self.app.test_client(), "/registration", make_payload("registration"))

    def call_on_a_thread(self) -> Any:
        """Call from a thread other than the main one, as a threaded server does."""
        answers: list[Any] = []
        thread = threading.Thread(target=lambda: answers.append(self.call()))
        thread.start()
        thread.join(10)
        assert answers, "the call did not return"
        return answers[0]

    def inline(self) -> bool:
        lanes = self.app.extensions["okta_hooks"]["OKTA_HOOKS_"].runner
        return bool(lanes.inline(self.hooks.endpoints["/registration"]))


@pytest.fixture(autouse=True)
def quick_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "INLINE_AFTER", 3)  # reach the inline lane in a few calls


def armed_inline(exc: BaseException, call: Callable[[RaisingApp], Any]) -> RaisingApp:
    """A RaisingApp whose endpoint runs inline (reached by ``call``), then armed."""
    raising = RaisingApp(exc, OKTA_HOOKS_INLINE_UNDER=0.1)
    for _ in range(20):
        if raising.inline():
            break
        assert call(raising).status_code == 204
    assert raising.inline()
    raising.armed.set()
    return raising


def assert_failure_outcome(response: Any, caplog: pytest.LogCaptureFixture, name: str) -> None:
    assert response.status_code == 200  # the denial, not a 500 and not the handler's 204
    assert "error" in response.get_json()
    reasons = [getattr(r, "okta_hook", {}).get("reason") for r in caplog.records]
    assert f"handler_error:{name}" in reasons


@pytest.mark.parametrize("exc", RAISED, ids=IDS)
def test_on_the_worker_lane_it_gets_the_failure_outcome(
    exc: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    raising = RaisingApp(exc, OKTA_HOOKS_INLINE_UNDER=0)  # strict: app.testing
    raising.armed.set()

    response = raising.call()

    assert raising.threads[-1].startswith("okta-hooks-worker")
    assert_failure_outcome(response, caplog, type(exc).__name__)
    raising.armed.clear()
    assert raising.call().status_code == 204  # the worker is still there


@pytest.mark.parametrize("exc", RAISED, ids=IDS)
def test_on_the_inline_lane_it_gets_the_failure_outcome(
    exc: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    raising = armed_inline(exc, RaisingApp.call_on_a_thread)

    response = raising.call_on_a_thread()

    assert not raising.threads[-1].startswith("okta-hooks-worker")
    assert_failure_outcome(response, caplog, type(exc).__name__)


@pytest.mark.parametrize("exc", [GeneratorExit(), BaseException("bare")], ids=IDS[2:])
def test_on_the_main_thread_other_base_exceptions_still_get_the_failure_outcome(
    exc: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    raising = armed_inline(exc, RaisingApp.call)

    assert_failure_outcome(raising.call(), caplog, type(exc).__name__)


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3)], ids=IDS[1::-1])
def test_on_the_main_thread_keyboard_interrupt_and_system_exit_stop_the_process(
    exc: BaseException,
) -> None:
    # A single-threaded server serves calls on the main thread, where Ctrl-C arrives.
    raising = armed_inline(exc, RaisingApp.call)

    with pytest.raises(type(exc)):
        raising.call()


# --- under gunicorn ---------------------------------------------------------------------------

APP_MODULE = """
    import threading

    import flask_okta_hooks.runner
    from flask import Flask
    from flask_okta_hooks import OktaHooks

    flask_okta_hooks.runner.INLINE_AFTER = 3  # reach the inline lane in a few calls


    def raising(call):
        if call.event_id.startswith("exit"):
            with open("raised_on", "a") as threads:
                threads.write(threading.current_thread().name + "\\n")
            raise SystemExit(3)


    def create_app():
        app = Flask(__name__)
        app.config.update(
            OKTA_HOOKS_SECRETS=[{secret!r}],
            OKTA_HOOKS_INLINE_UNDER=0,
            INLINE_HOOKS_SECRETS=[{secret!r}],
            INLINE_HOOKS_INLINE_UNDER=0.1,
        )
        on_worker = OktaHooks("on_worker")
        on_worker.registration(raising)
        inline = OktaHooks("inline", config_prefix="INLINE_HOOKS_")
        inline.registration(raising)
        app.register_blueprint(on_worker, url_prefix="/worker")
        app.register_blueprint(inline, url_prefix="/inline")
        return app
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    (tmp_path / "raising_app.py").write_text(textwrap.dedent(APP_MODULE.format(secret=SECRET)))
    port = free_port()
    command = [
        os.path.join(os.path.dirname(sys.executable), "gunicorn"),
        "--workers=1",
        "--worker-class=gthread",
        "--threads=4",
        f"--bind=127.0.0.1:{port}",
        f"--chdir={tmp_path}",
        "raising_app:create_app()",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    try:
        for _ in range(200):
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("gunicorn did not listen within 10 s")
        yield process, port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def post(port: int, path: str, event_id: str) -> int:
    payload = make_payload("registration")
    payload["eventId"] = event_id
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, json.dumps(payload), okta_headers())
        response = connection.getresponse()
        body = response.read()
        if response.status == 200:  # the denial: the failure outcome
            assert "error" in json.loads(body)
        return response.status
    finally:
        connection.close()


def test_system_exit_from_a_handler_leaves_gunicorn_serving(
    gunicorn: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    process, port = gunicorn
    for _ in range(5):  # the inline endpoint's handler moves to the request thread
        assert post(port, "/inline/registration", "quick") == 204

    for path in ("/worker/registration", "/inline/registration"):
        assert post(port, path, "exit") == 200, path
        time.sleep(0.3)  # a dying worker or master would be gone by now
        assert process.poll() is None
        assert post(port, path, "quick") == 204, path

    raised_on = (tmp_path / "raised_on").read_text().split()
    assert len(raised_on) == 2
    assert raised_on[0].startswith("okta-hooks-worker")  # the worker lane
    assert not raised_on[1].startswith("okta-hooks-worker")  # a gunicorn request thread
