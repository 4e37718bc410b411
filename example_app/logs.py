"""The service's console log: the library's one line per hook call, redacted.

The library logs each call once on the ``flask_okta_hooks`` logger (INFO when answered,
WARNING or ERROR otherwise) but, being a library, adds no handler. Unless the process
configured logging itself (a handler on the root logger, as ``logging.basicConfig`` or a
``--log-config`` does), the service shows those lines and its own on stderr at INFO,
through the library's :class:`~flask_okta_hooks.RedactingFilter`.
"""

from __future__ import annotations

import logging

from flask_okta_hooks import RedactingFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: The library's lines, the service's own, and the development server's (its address, each request).
LOGGERS = ("flask_okta_hooks", "example_app", "werkzeug")


def configure_logging() -> None:
    """Log the hook calls on stderr at INFO, unless logging is configured already."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
