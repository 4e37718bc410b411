"""The shared secret Okta sends with every hook call, when none is configured.

On first run a random secret is generated and kept in the instance folder (mode 0600),
so the value pasted into Okta's "Authentication secret" field survives restarts. A
configured ``OKTA_HOOKS_SECRETS`` always wins; production should configure one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

SECRET_FILE = "okta-hooks-secret"  # noqa: S105 (a file name)


def instance_secret(instance_path: str | os.PathLike[str]) -> tuple[str, bool]:
    """The secret kept in the instance folder, and whether it was created just now.

    Several workers may start at once: the file appears atomically with its content
    (written aside, then hard-linked into place), and whoever loses the race reads the
    winner's secret.
    """
    folder = Path(instance_path)
    path = folder / SECRET_FILE
    if path.is_file():
        return _read(path), False
    folder.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    draft = folder / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(value + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            return _read(path), False
    finally:
        with contextlib.suppress(FileNotFoundError):
            draft.unlink()
    return value, True


def _read(path: Path) -> str:
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it to generate a new secret")
    return value
