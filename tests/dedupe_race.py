"""Run by several processes at once: claim the same keys in one shared store."""

import random
from typing import Any

from flask_okta_hooks import DedupeStore, RedisDedupeStore, SqlDedupeStore


def store_for(kind: str, url: str, prefix: str) -> DedupeStore:
    if kind == "redis":
        return RedisDedupeStore(url, prefix=prefix)
    return SqlDedupeStore(url)


def claim_all(kind: str, url: str, prefix: str, keys: list[str], start: Any) -> list[str]:
    """The keys this process won, claimed in its own random order once every process
    reached the ``start`` barrier."""
    store = store_for(kind, url, prefix)
    keys = random.sample(keys, len(keys))
    start.wait()
    return [key for key in keys if store.claim(key)]
