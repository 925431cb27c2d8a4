"""Estimated waits: how many are ahead, and how many minutes that means.

``minutes = people ahead × typical service time ÷ serving capacity``

* typical service time of a business: the median of its last 20 services
  today (start → complete); with fewer than 3 today, the configured
  ``service_minutes`` of the business;
* serving capacity: the open windows that serve the business, weighted 1 for
  a window where it is primary and 0.5 where the window only helps; paused
  windows count half their weight (they usually come back soon). No capacity
  at all means no estimate (``None``): the kiosk then says no window is
  serving that business now rather than inventing a number.
"""

from __future__ import annotations

import math
import sqlite3
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import datetime

SAMPLE = 20
MIN_SAMPLES = 3


@dataclass(frozen=True)
class Estimate:
    service_minutes: float
    capacity: float

    def minutes_for(self, ahead: int) -> int | None:
        if self.capacity <= 0:
            return None
        return math.ceil(ahead * self.service_minutes / self.capacity)


def service_minutes(conn: sqlite3.Connection, business: str, day: str, default: float) -> float:
    rows = conn.execute(
        "SELECT started_at, finished_at FROM tickets INDEXED BY tickets_finished "
        "WHERE business = ? AND state = 'done' AND finished_at >= ? AND started_at IS NOT NULL "
        "ORDER BY finished_at DESC LIMIT ?", (business, day, SAMPLE)).fetchall()
    if len(rows) < MIN_SAMPLES:
        return float(default)
    durations = [(datetime.fromisoformat(f) - datetime.fromisoformat(s)).total_seconds() / 60 for s, f in rows]
    return max(statistics.median(durations), 0.5)


def capacities(conn: sqlite3.Connection) -> dict[str, float]:
    """Serving capacity per business from the windows' state and allocation."""
    out: dict[str, float] = {}
    for r in conn.execute(
            "SELECT a.business, a.rank, w.state FROM allocation a JOIN windows w ON w.number = a.window "
            "WHERE w.active AND w.state != 'closed'"):
        weight = 1.0 if r["rank"] == 1 else 0.5
        if r["state"] == "paused":
            weight /= 2
        out[r["business"]] = out.get(r["business"], 0.0) + weight
    return out


def estimate(conn: sqlite3.Connection, business: str, day: str, default_minutes: float,
             caps: dict[str, float] | None = None) -> Estimate:
    caps = capacities(conn) if caps is None else caps
    return Estimate(service_minutes(conn, business, day, default_minutes), caps.get(business, 0.0))


class EstimateCache:
    """Estimates per business for a couple of seconds, dropped by anything that moves them.

    A kiosk issuing hundreds of tickets a minute need not re-read the last
    services and the windows each time; a completed service or a window
    opening, pausing or closing (in this process) drops the cache at once,
    and another process's changes show within ``ttl`` seconds.
    """

    # actions after which cached estimates stay true: they change who waits, not how fast
    KEEPS = frozenset({"issue", "cancel", "requeue", "rate", "call", "recall", "call_back", "login", "login_failed",
                       "notice", "appointment_booked", "appointment_cancelled", "appointment_checked_in",
                       "application_submitted"})

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._items: dict[tuple[str, str], tuple[float, Estimate]] = {}
        self._lock = threading.Lock()

    def get(self, conn: sqlite3.Connection, business: str, day: str, default_minutes: float) -> Estimate:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get((business, day))
        if hit is not None and hit[0] > now:
            return hit[1]
        est = estimate(conn, business, day, default_minutes)
        with self._lock:
            self._items[(business, day)] = (now + self.ttl, est)
        return est

    def after(self, actions: list[str]) -> None:
        if not self.KEEPS.issuperset(actions):
            with self._lock:
                self._items.clear()


def people_ahead(conn: sqlite3.Connection, ticket: sqlite3.Row) -> int:
    """Waiting tickets of the same business that the dispatch policy serves first.

    Counts by class then arrival (rules 3 and 5 of the policy); directed and
    overdue tickets make this a close estimate, which is what a resident needs.
    """
    return conn.execute(
        "SELECT COUNT(*) FROM tickets INDEXED BY tickets_waiting WHERE business_day = ? AND business = ? "
        "AND state = 'waiting' AND target_window IS NULL AND (class < ? OR (class = ? AND promise_from < ?) "
        "OR (class = ? AND promise_from = ? AND id < ?))",
        (ticket["business_day"], ticket["business"], ticket["class"], ticket["class"], ticket["promise_from"],
         ticket["class"], ticket["promise_from"], ticket["id"])).fetchone()[0]


def waiting_counts(conn: sqlite3.Connection, day: str) -> dict[str, tuple[int, int]]:
    """Per business: (waiting, of which green channel), from the trigger-kept counts."""
    out: dict[str, tuple[int, int]] = {}
    for business, klass, waiting in conn.execute(
            "SELECT business, class, waiting FROM queue_counts WHERE business_day = ?", (day,)):
        total, green = out.get(business, (0, 0))
        out[business] = (total + waiting, green + (waiting if klass == 0 else 0))
    return out


def waiting_up_to_class(conn: sqlite3.Connection, day: str, business: str, klass: int) -> int:
    """Waiting tickets of ``business`` in classes up to ``klass``: the people ahead of a new arrival."""
    return conn.execute("SELECT COALESCE(SUM(waiting), 0) FROM queue_counts WHERE business_day = ? "
                        "AND business = ? AND class <= ?", (day, business, klass)).fetchone()[0]
