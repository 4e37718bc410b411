"""One writer per process for the audit: batched inserts off the call's path, none lost.

A hook call only appends its row to a queue (microseconds); a background thread takes
whatever has queued up and inserts it in one statement. Fewer, larger writes are what
keeps SQLite's single writer lock free for the calls that must write (the telephony
outbox), and on PostgreSQL they save a round trip per call.

Rows are never dropped silently:

* a failed write (a locked SQLite database, a PostgreSQL restart) is retried with a
  growing pause, :data:`ATTEMPTS` times in all;
* a batch still unwritten after that, or a row that finds the queue full, is counted in
  :attr:`AuditWriter.lost` and logged at ERROR with the count;
* the queue is written out when the process exits (:func:`atexit`, which gunicorn's
  workers run on a graceful stop) and when :meth:`AuditWriter.close` is called.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

from sqlalchemy import insert

from .db import Database
from .models import HookCall

logger = logging.getLogger(__name__)

#: Rows written in one statement at most.
BATCH: Final = 500
#: How long the writer lets rows gather before a write: fewer, larger transactions
#: leave SQLite's one write lock free for the writes a call waits on.
GATHER: Final = 0.1
#: Rows waiting at most; beyond that a row is counted as lost (a database down for long).
QUEUE_LIMIT: Final = 100_000
#: Tries of one batch, and the pause before the first retry (doubled each time).
ATTEMPTS: Final = 6
FIRST_PAUSE: Final = 0.1
#: How long process exit waits for the queue to be written.
EXIT_TIMEOUT: Final = 10.0
#: An idle thread ends after this many seconds; the next row starts another.
IDLE_EXIT: Final = 30.0

Row = dict[str, Any]


class AuditWriter:
    """Writes audit rows of one database from one thread per process.

    ``write`` inserts one batch (a list of column dicts); the default inserts into
    ``hook_calls``. The thread starts with the first row, in the process that queues
    it, so an app created before gunicorn forks its workers still writes from each.
    """

    def __init__(
        self,
        db: Database,
        *,
        attempts: int = ATTEMPTS,
        first_pause: float = FIRST_PAUSE,
        write: Callable[[Sequence[Row]], None] | None = None,
    ) -> None:
        self._db = db
        self._attempts = attempts
        self._first_pause = first_pause
        self._write = write or self._insert
        self._rows: deque[Row] = deque()
        self._changed = threading.Condition()
        self._queued = 0
        self._done = 0
        self._closing = False
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.written = 0
        """Rows written so far by this process."""
        self.lost = 0
        """Rows this process gave up on (each one logged)."""
        atexit.register(self.close)

    def submit(self, row: Row) -> None:
        """Queue one row (never blocks, never raises)."""
        with self._changed:
            self._queued += 1
            if len(self._rows) >= QUEUE_LIMIT:
                self._give_up(1, "queue_full")
                return
            self._rows.append(row)
            self._start_in_this_process()
            if len(self._rows) == 1:
                self._changed.notify_all()

    def flush(self, timeout: float = EXIT_TIMEOUT) -> bool:
        """Wait until every row queued so far is written or given up on; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            target = self._queued
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def close(self, timeout: float = EXIT_TIMEOUT) -> None:
        """Write out the queue and stop the thread (at exit; safe to call twice)."""
        if not self.flush(timeout):
            with self._changed:
                pending = len(self._rows)
                self._rows.clear()
                if pending:
                    self._give_up(pending, "exit_timeout")
        with self._changed:
            self._closing = True
            self._changed.notify_all()

    def _start_in_this_process(self) -> None:
        # Called with the lock held. After a fork the parent's thread is gone.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._changed:
                if not self._rows and not self._closing:
                    self._changed.wait(IDLE_EXIT)
                if not self._rows:
                    # Closing, or idle: the next row starts a new thread.
                    if self._thread is threading.current_thread():
                        self._thread = None
                    return
                closing = self._closing
            if not closing:
                time.sleep(GATHER)
            with self._changed:
                count = min(len(self._rows), BATCH)
                batch = [self._rows.popleft() for _ in range(count)]
            if not batch:  # close() gave the rows up meanwhile
                continue
            written = self._write_with_retries(batch)
            with self._changed:
                if written:
                    self.written += len(batch)
                    self._done += len(batch)
                else:
                    self._give_up(len(batch), "write_failed")
                self._changed.notify_all()

    def _write_with_retries(self, batch: Sequence[Row]) -> bool:
        pause = self._first_pause
        for attempt in range(1, self._attempts + 1):
            try:
                self._write(batch)
                return True
            except Exception as exc:
                if attempt == self._attempts:
                    logger.error(
                        "hook audit write failed: rows=%d attempts=%d error=%s",
                        len(batch),
                        attempt,
                        type(exc).__name__,
                    )
                    return False
                time.sleep(pause)
                pause *= 2
        return False

    def _give_up(self, count: int, why: str) -> None:
        # Called with the lock held. Lost rows are done with too, so flush() returns.
        self.lost += count
        self._done += count
        logger.error("hook audit rows lost: rows=%d reason=%s lost_total=%d", count, why, self.lost)

    def _insert(self, batch: Sequence[Row]) -> None:
        # One multi-row INSERT: one statement, one short transaction.
        self._db.write(insert(HookCall).values(list(batch)))
