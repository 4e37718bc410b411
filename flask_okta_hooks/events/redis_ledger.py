"""The Celery intake's record of events published to a Redis broker and not yet started.

kombu's Redis transport takes a message off its queue (``BRPOP``) and only in a second
command records it as unacknowledged; a worker process killed between the two drops the
message, after the endpoint had answered 204. So, on a Redis broker, the intake writes
each event here before publishing it, with the id of its task, and the event's task
deletes the record when it starts (and writes it again when it retries later). A record
whose task is nowhere on the broker any more (not in the queue, not among the
unacknowledged messages) was lost, or never published (its web process died first):
:meth:`RedisLedger.lost` finds those, and the intake publishes them again.

Records are kept by event (endpoint and uuid), so Okta's retry of a delivery rewrites
the records its first try left behind instead of adding more.

The queue is a plain list that only a full read could search, so records are judged only
while the queue is empty; a lost task waits, at most, until the queue has drained. One
Redis transaction reads the records, the queue's lengths and the unacknowledged messages,
so a message that moves between the queue and the unacknowledged ones in the meantime
is seen in one place or the other. The keys follow the broker's own key prefix
(``global_keyprefix``) and key names, as kombu's transport options set them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import orjson

#: The records a sweep looks at, at most.
SWEEP_BATCH = 500


class Record(NamedTuple):
    """One event's record: its key in the ledger, its task's id, the task's arguments,
    and how many times a sweep published it again."""

    key: str
    task_id: str
    arguments: bytes
    sweeps: int = 0


class RedisLedger:
    """Records of published tasks, by event (see the module doc).

    ``name`` is the key below which the records live, ``queue`` the name of the queue
    the tasks are routed to; ``transport_options`` are the broker's (kombu's).
    """

    def __init__(
        self, client: Any, name: str, queue: str, transport_options: Mapping[str, Any]
    ) -> None:
        from kombu.transport.redis import Channel

        prefix = str(transport_options.get("global_keyprefix", ""))
        separator = transport_options.get("sep", Channel.sep)
        steps = transport_options.get("priority_steps", Channel.priority_steps)
        self._client = client
        self._events = f"{prefix}{name}:events"
        self._times = f"{prefix}{name}:times"
        self._lock = f"{prefix}{name}:sweeping"
        # kombu keeps one list per priority step, the queue's own name for priority 0.
        self._queues = [prefix + queue] + [
            f"{prefix}{queue}{separator}{step}" for step in steps if step
        ]
        self._unacked = prefix + str(transport_options.get("unacked_key", Channel.unacked_key))

    @classmethod
    def for_broker(
        cls, connection: Any, name: str, queue: str, timeout: float, ssl: Any = None
    ) -> RedisLedger:
        """The ledger on the Redis server of the kombu ``connection``; ``ssl``: Celery's
        ``broker_use_ssl`` (redis-py's own ``ssl_*`` options) for a ``rediss://`` URL."""
        import redis

        url = connection.as_uri(include_password=True)
        scheme = urlsplit(url).scheme
        if scheme not in ("redis", "rediss"):
            # kombu's "sentinel://" and socket URLs name a Redis that redis-py's URLs do not.
            raise ValueError(f"a Celery broker URL of scheme {scheme!r} is not supported")
        options = dict(ssl) if scheme == "rediss" and isinstance(ssl, Mapping) else {}
        client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, **options
        )
        return cls(client, name, queue, connection.transport_options)

    def add(self, records: Iterable[Record], when: float | None = None) -> None:
        """Record tasks as published at ``when`` (now by default), replacing the records
        of the same keys."""
        at = time.time() if when is None else when
        pipe = self._client.pipeline(transaction=True)
        for record in records:
            pipe.hset(self._events, record.key, _value(record))
            pipe.zadd(self._times, {record.key: at})
        pipe.execute()

    def forget(self, key: str) -> None:
        """Delete an event's record: its task has reached a worker (and the broker gives
        it back if the worker dies), or the event is given up."""
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(self._times, key)
        pipe.hdel(self._events, key)
        pipe.execute()

    def replace(self, old: Record, new: Record) -> None:
        """Record ``new`` now in place of ``old``, in one transaction."""
        pipe = self._client.pipeline(transaction=True)
        if old.key != new.key:
            pipe.zrem(self._times, old.key)
            pipe.hdel(self._events, old.key)
        pipe.hset(self._events, new.key, _value(new))
        pipe.zadd(self._times, {new.key: time.time()})
        pipe.execute()

    def lost(self, after: float) -> list[Record]:
        """Records written more than ``after`` seconds ago whose task the broker no
        longer holds; none while the queue holds any message."""
        cutoff = time.time() - after
        if not self._client.zrangebyscore(self._times, "-inf", cutoff, start=0, num=1):
            return []
        pipe = self._client.pipeline(transaction=True)
        pipe.zrangebyscore(self._times, "-inf", cutoff, start=0, num=SWEEP_BATCH)
        for queue in self._queues:
            pipe.llen(queue)
        pipe.hvals(self._unacked)
        overdue, *lengths, unacked = pipe.execute()
        if not overdue or any(lengths):
            return []
        held, unread = _task_ids(unacked)
        records = []
        for key, value in zip(overdue, self._client.hmget(self._events, overdue), strict=True):
            if value is None:  # started since
                continue
            task_id, arguments, sweeps = orjson.loads(value)
            # A task id is a uuid: found in a message, it is that message's task.
            needle = task_id.encode()
            if task_id not in held and not any(needle in message for message in unread):
                records.append(Record(key.decode(), task_id, arguments.encode(), sweeps))
        return records

    def lock(self, seconds: float) -> bool:
        """Whether this process may sweep for the next ``seconds``: one sweeper at a time."""
        return bool(self._client.set(self._lock, b"1", nx=True, px=max(1, int(seconds * 1000))))

    def __len__(self) -> int:
        """Events recorded whose task has not started yet."""
        return int(self._client.zcard(self._times))

    def close(self) -> None:
        """Close this ledger's connections."""
        self._client.close()


def _value(record: Record) -> bytes:
    return orjson.dumps([record.task_id, record.arguments.decode(), record.sweeps])


def _task_ids(unacked: list[bytes]) -> tuple[set[str], list[bytes]]:
    """The task ids of kombu's unacknowledged messages (``[message, exchange, routing
    key]``, the task id in the message's headers), and the messages not of that shape."""
    ids, unread = set(), []
    for value in unacked:
        try:
            ids.add(str(orjson.loads(value)[0]["headers"]["id"]))
        except (orjson.JSONDecodeError, LookupError, TypeError):
            unread.append(value)
    return ids, unread
