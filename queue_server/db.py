"""All database connection handling: one write path, reads beside it.

The hall's state is one SQLite file in WAL mode. The rules (see
docs/architecture.md, "Durability and concurrency"):

* every change of state is one transaction opened with ``BEGIN IMMEDIATE``,
  which takes SQLite's write lock up front. A deferred ``BEGIN`` (Python's
  default, and that of most wrappers) can fail half-way with
  "database is locked" when two writers race;
* the threads of one process queue for the write lock on a plain
  ``threading.Lock``: blocked threads sleep without touching the GIL. (Letting
  them all poll SQLite's lock made them steal the GIL from the one thread
  holding it: 60 % of a worker's time went to that, measured with py-spy.)
  Against writers in *other* processes we retry on our own short, jittered
  schedule instead of SQLite's busy handler, whose sleeps grow to 100 ms;
* ``synchronous=FULL`` by default: an acknowledged ticket survives a power cut,
  not only ``kill -9``;
* after each commit the registered listeners run (the MQTT publisher is
  woken), so nothing is published that was not committed.

Each thread gets its own connection (sqlite3 connections are not shareable
across threads). Everything is plain SQL on the standard library's sqlite3:
see docs/architecture.md ("Why no database library") for why.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("hallq.db")


MAX_BURST = 64


class _Burst:
    """The writers one COMMIT covers; each waits here until it is done."""

    def __init__(self) -> None:
        self.size = 0
        self.error: BaseException | None = None
        self._done = threading.Event()

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self._done.set()

    def wait(self) -> None:
        self._done.wait()
        if self.error is not None:
            raise self.error


class DatabaseBusy(RuntimeError):
    """The write lock could not be had in time (another process holds it)."""


class Database:
    """The hall's SQLite database."""

    def __init__(self, path: str | Path, synchronous: str = "FULL", lock_timeout: float = 10.0) -> None:
        self.path = str(path)
        self.synchronous = synchronous
        self.lock_timeout = lock_timeout
        self._local = threading.local()
        self._listeners: list[Callable[[], None]] = []
        # threads of this process queue here, asleep, for the write lock; the retry loop in
        # _begin_immediate is only for writers in other processes
        self._writer = threading.Lock()
        self._queue_lock = threading.Lock()
        self._waiting = 0
        self._burst: _Burst | None = None
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._write_conn = self._open()
        mode = self._write_conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal" and self.path != ":memory:":
            raise RuntimeError(f"{self.path}: could not switch SQLite to WAL mode (got {mode}); "
                               "is the data directory on a network file system?")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection for reads (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA temp_store=MEMORY")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def add_commit_listener(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; it is committed (durably) before this returns, or rolled back.

        >>> with db.write() as tx:
        ...     tx.execute("UPDATE windows SET state='open' WHERE number=?", (3,))

        Group commit: the writers of this process share one connection and queue
        for it; each runs in its own savepoint, and when others are waiting the
        COMMIT is left to the last writer of the burst, so one fsync makes a whole
        burst durable. Nobody returns before the COMMIT that covers their writes;
        an exception rolls back only its own savepoint; a failed COMMIT fails
        every writer of the burst.
        """
        with self._queue_lock:
            self._waiting += 1
        with self._writer:
            with self._queue_lock:
                self._waiting -= 1
            conn = self._write_conn
            if not conn.in_transaction:
                self._begin_immediate(conn)
                self._burst = _Burst()
            burst = self._burst
            conn.execute("SAVEPOINT writer")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK TO writer")
                conn.execute("RELEASE writer")
                if not self._others_waiting() or burst.size == 0:
                    self._end_burst(conn, burst)
                raise
            conn.execute("RELEASE writer")
            burst.size += 1
            # leave the COMMIT to whoever is queued behind: one fsync for the whole burst
            if not self._others_waiting() or burst.size >= MAX_BURST:
                self._end_burst(conn, burst)
        burst.wait()
        for fn in self._listeners:
            try:
                fn()
            except Exception:
                log.exception("commit listener failed")

    def _others_waiting(self) -> bool:
        with self._queue_lock:
            return self._waiting > 0

    def _end_burst(self, conn: sqlite3.Connection, burst: "_Burst") -> None:
        try:
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            burst.finish(e)
            raise
        burst.finish(None)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read snapshot (a deferred transaction that never writes)."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _begin_immediate(self, conn: sqlite3.Connection) -> None:
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.0002
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                if time.monotonic() >= deadline:
                    raise DatabaseBusy(
                        f"{self.path}: the write lock was held for over {self.lock_timeout:.0f} s; "
                        "is another program (a backup, sqlite3 shell) holding the database open in a transaction?"
                    ) from e
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 1.5, 0.005)

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:
                    pass
            self._all.clear()
        self._local = threading.local()
