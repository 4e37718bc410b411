"""A Flask app with Celery made the way Flask's documentation shows (``celery_init_app``),
serving the event hooks through the Celery intake; shared by the tests and the worker
processes they start (``tests/celery_worker_app.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from flask import Flask

from flask_okta_hooks import LogEvent, OktaHooks

SECRET = "test-secret-2f9c1e7a5b3d"


def celery_init_app(app: Flask) -> Celery:
    """Flask's documented pattern: every task runs with the app context pushed."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask, set_as_current=False)
    celery_app.config_from_object(app.config["CELERY"])
    app.extensions["celery"] = celery_app
    return celery_app


def celery_config(broker: str, queue: str) -> dict[str, Any]:
    """Celery settings of one test: its own queue (and, on Redis, its own keys)."""
    options: dict[str, Any] = {}
    if broker.startswith("redis"):
        # A task of a killed worker comes back after 3 s instead of an hour.
        options = {
            "global_keyprefix": f"{queue}:",
            "visibility_timeout": 3,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }
    return {
        "broker_url": broker,
        "task_default_queue": queue,
        "broker_transport_options": options,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        "worker_prefetch_multiplier": 1,
    }


def create_app(
    broker: str,
    queue: str,
    handler: Callable[[LogEvent], None],
    celery: dict[str, Any] | None = None,
    **config: Any,
) -> Flask:
    """An app whose catch-all event handler is ``handler``, on the Celery intake."""
    app = Flask("okta_hooks_celery_test")
    settings = {**celery_config(broker, queue), **(celery or {})}
    app.config.update(TESTING=True, OKTA_HOOKS_SECRETS=[SECRET], CELERY=settings)
    celery_app = celery_init_app(app)
    app.config.update(
        OKTA_HOOKS_EVENTS_INTAKE="celery",
        OKTA_HOOKS_EVENTS_CELERY=celery_app,
        OKTA_HOOKS_EVENTS_RETRY_DELAY=0.05,
    )
    app.config.update(config)
    hooks = OktaHooks()
    hooks.event()(handler)
    app.register_blueprint(hooks)
    return app
