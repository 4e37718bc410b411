"""Event hooks below the blueprint: routing, intakes, de-duplication and consumers.

Nothing here imports the blueprint: it mounts an :class:`~.router.EventRouter` per
endpoint and keeps one :class:`~.runtime.EventsRuntime` per configuration prefix.
"""

from .backend import BackendError
from .dedupe import DedupeStore, MemoryDedupeStore, RedisDedupeStore, SqlDedupeStore
from .intake import EventIntake, MemoryIntake, QueuedEvent
from .router import EventDecorator, EventRouter
from .runtime import EventsRuntime

__all__ = [
    "BackendError",
    "DedupeStore",
    "EventDecorator",
    "EventIntake",
    "EventRouter",
    "EventsRuntime",
    "MemoryDedupeStore",
    "MemoryIntake",
    "QueuedEvent",
    "RedisDedupeStore",
    "SqlDedupeStore",
]
