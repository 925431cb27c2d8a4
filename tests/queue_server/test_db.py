"""The write path: group commit, isolation of a failing writer, durability on return."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from queue_server.db import Database


@pytest.fixture
def db(tmp_path):
    d = Database(tmp_path / "t.sqlite3")
    with d.write() as conn:
        conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT, parent INTEGER REFERENCES parent(id))")
    yield d
    d.close()


def rows(db) -> set[str]:
    """Read with a brand-new connection: only what is committed."""
    conn = sqlite3.connect(db.path)
    try:
        return {r[0] for r in conn.execute("SELECT who FROM t")}
    finally:
        conn.close()


def burst(db, bodies: dict[str, callable]) -> dict[str, object]:
    """Run writers so that they form one burst: the first holds the lock until all others queue.

    Returns, per writer, None on success or the exception it raised, and records the
    moment each one returned from ``write()``.
    """
    first_inside = threading.Event()
    release_first = threading.Event()
    results: dict[str, object] = {}
    returned: dict[str, float] = {}

    def run(name: str, body, hold: bool) -> None:
        try:
            with db.write() as conn:
                if hold:
                    first_inside.set()
                    release_first.wait(10)
                body(conn, name)
            results[name] = None
        except Exception as e:  # recorded for the test to check
            results[name] = e
        returned[name] = time.perf_counter()

    names = list(bodies)
    threads = [threading.Thread(target=run, args=(names[0], bodies[names[0]], True))]
    threads[0].start()
    assert first_inside.wait(10)
    for n in names[1:]:
        t = threading.Thread(target=run, args=(n, bodies[n], False))
        t.start()
        threads.append(t)
    deadline = time.monotonic() + 10
    while db._waiting < len(names) - 1:  # every other writer is queued behind the first
        assert time.monotonic() < deadline
        time.sleep(0.001)
    release_first.set()
    for t in threads:
        t.join(10)
    results["_returned"] = returned
    return results


def insert(conn, name):
    conn.execute("INSERT INTO t (who) VALUES (?)", (name,))


def fail(conn, name):
    conn.execute("INSERT INTO t (who) VALUES (?)", (name,))
    raise ValueError("refused")


def test_a_burst_commits_once_and_a_failing_writer_rolls_back_only_itself(db):
    commits = []
    db.add_commit_listener(lambda: commits.append(1))
    out = burst(db, {"a": insert, "b": fail, "c": insert, "d": insert})
    assert out["a"] is None and out["c"] is None and out["d"] is None
    assert isinstance(out["b"], ValueError)
    assert rows(db) == {"a", "c", "d"}
    assert len(commits) == 3  # each successful writer is told after its commit


def test_nobody_returns_before_the_commit_that_covers_them(db):
    seen_after_return: dict[str, bool] = {}

    def check_then_insert(conn, name):
        insert(conn, name)

    out = burst(db, {"a": check_then_insert, "b": check_then_insert, "c": check_then_insert})
    # "a" deferred its commit to the burst: when it returned, all were committed
    for name in ("a", "b", "c"):
        seen_after_return[name] = name in rows(db)
    assert all(seen_after_return.values())
    ret = out["_returned"]
    assert ret["a"] >= min(ret["b"], ret["c"])  # the first writer waited for a later one's COMMIT


def test_a_failed_commit_fails_every_writer_of_the_burst(db):
    def violate_at_commit(conn, name):
        # a deferred foreign key is checked only at COMMIT: the COMMIT itself fails
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute("INSERT INTO t (who, parent) VALUES (?, 999)", (name,))

    out = burst(db, {"a": insert, "b": insert, "c": violate_at_commit})
    assert all(isinstance(out[n], sqlite3.IntegrityError) for n in ("a", "b", "c"))
    assert rows(db) == set()
    with db.write() as conn:  # the database is usable afterwards
        insert(conn, "later")
    assert rows(db) == {"later"}


def test_a_lone_writer_commits_at_once(db):
    with db.write() as conn:
        insert(conn, "solo")
    assert rows(db) == {"solo"}


def test_many_threads_lose_nothing(db):
    def work(i):
        for j in range(50):
            with db.write() as conn:
                insert(conn, f"{i}-{j}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(rows(db)) == 400


def test_hall_time_never_runs_backwards_when_the_real_clock_steps_back(tmp_path):
    """An NTP correction sets the machine's clock back: the service keeps time monotonic."""
    from datetime import datetime, timedelta

    from hallq.clock import CHINA, Clock
    from hallq.hallconfig import load_hall
    from queue_server.domain.context import Actor, Hall
    from queue_server.domain.service import QueueService
    from queue_server.hallsync import apply_config
    from queue_server.migrations import migrate
    from tests.conftest import TINY

    class SteppingClock(Clock):
        def __init__(self, times):
            super().__init__()
            self.times = iter(times)

        def now(self):
            return next(self.times)

    t0 = datetime(2026, 11, 23, 9, 30, tzinfo=CHINA)
    steps = [t0, t0 + timedelta(minutes=5), t0 + timedelta(minutes=2), t0 + timedelta(minutes=6)]
    clock = SteppingClock([t0] + steps)  # the first read is the config import's; then one per issue
    db = Database(tmp_path / "q.sqlite3")
    migrate(db)
    hall = Hall(load_hall(TINY), clock, b"k" * 32)
    apply_config(db, hall)
    service = QueueService(db, hall)
    kiosk = Actor("kiosk", "kiosk-1")
    issued = [service.issue_ticket(kiosk, "alpha")["issued_at"] for _ in range(4)]
    assert issued == sorted(issued), "a ticket issued after the step arrived before earlier ones"
    db.close()
