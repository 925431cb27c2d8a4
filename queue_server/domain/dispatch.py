"""The dispatch policy: which waiting ticket a window gets when it calls next.

The policy (``promises``; docs/dispatch.md explains the why of each rule):

1. **Directed tickets first.** A ticket transferred *to this window* (转移到
   指定窗口) is called there before anything else, oldest first.
2. **Urgent tickets next, earliest deadline first.** Every ticket has a
   deadline: the moment its promise starts (``promise_from``) plus its
   class's target in minutes of opening time (green channel and checked-in
   appointments are promised a call within their target; an ordinary ticket
   is *overdue* past its own). A promise is urgent once 30 % of its target
   has passed (``URGENT_SHARE``); an ordinary ticket from its deadline. Urgent promises are called before
   urgent ordinary tickets, but a window that has called
   ``max_promises_in_a_row`` promises in a row while an overdue ordinary
   ticket waited for it calls that ticket next: ordinary tickets yield first
   when not every target can be met, and never without bound.
3. **Then by class** (green, appointment, ordinary), **the window's ranking**
   of the business (primary first), **and the promise's start** (first come,
   first served), the ticket id breaking exact ties. An appointment checked in
   before its slot counts as an ordinary ticket taken at the slot's start
   until the slot begins.

The previous rule (``age_limit``, until 2026-12) is kept so that
``hallq simulate --compare-policies`` can show a manager what the change
does: overdue tickets of every class strictly by arrival, then rules 3.

This module is pure but for :func:`candidates`: the SQL that fetches the few
tickets that can win (for each business the head of each class's queue, and
for ``age_limit`` the oldest; each an indexed ``LIMIT 1``, so a call costs
the same with 10 or 100,000 waiting).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hallq.hours import OpeningHours
from hallq.targets import URGENT_SHARE, Targets

GREEN, APPOINTMENT, ORDINARY = 0, 1, 2


@dataclass(frozen=True)
class Candidate:
    id: int
    business: str
    klass: int
    arrived_at: str  # ISO-8601, one offset for the hall, so strings order like times
    promise_from: str
    directed: bool


@dataclass
class Policy:
    """What the rules need besides the candidates: the targets, the hours, the window's run of promises."""

    name: str  # "promises" or "age_limit"
    targets: dict[str, Targets]  # per business
    hours: OpeningHours
    max_in_a_row: int = 2
    _cache: dict = field(default_factory=dict, repr=False)

    def deadline(self, c: Candidate) -> datetime:
        """When ``c``'s promise (or, for an ordinary ticket, its target) runs out."""
        return self._after(c, 1.0)

    def urgent_from(self, c: Candidate) -> datetime:
        """When ``c`` becomes urgent: 30 % of the way to a promise's deadline, an ordinary ticket's deadline."""
        return self._after(c, URGENT_SHARE if c.klass != ORDINARY else 1.0)

    def _after(self, c: Candidate, share: float) -> datetime:
        key = (c.id, share)
        if key not in self._cache:
            minutes = self.targets[c.business].of(c.klass) * share
            self._cache[key] = self.hours.add_open_minutes(datetime.fromisoformat(c.promise_from), minutes)
        return self._cache[key]


def call_order(c: Candidate, ranks: dict[str, int], now: datetime, policy: Policy) -> tuple:
    """Where ``c`` stands in the order a window calls (rules 1-3, before the run guard): the smallest first."""
    if c.directed:
        return (0, c.arrived_at, c.id)
    if policy.name == "age_limit":
        return _age_limit(c, ranks, now, policy)
    if now >= policy.urgent_from(c):
        if c.klass != ORDINARY:
            return (1, policy.deadline(c), c.klass, c.id)
        return (2, policy.deadline(c), c.id)
    # an appointment checked in before its slot queues as if it had taken a number at the slot's start
    klass = c.klass if datetime.fromisoformat(c.promise_from) <= now else ORDINARY
    return (3, klass, ranks.get(c.business, 99), c.promise_from, c.id)


def choose(cands: list[Candidate], ranks: dict[str, int], now: datetime, run: int,
           policy: Policy) -> tuple[Candidate | None, int]:
    """The candidate the window calls (None when nobody waits for it), and the window's new run of promises.

    ``run``: how many promises the window has called in a row while an overdue
    ordinary ticket waited for it.
    """
    if not cands:
        return None, run
    keyed = sorted(((call_order(c, ranks, now, policy), c) for c in cands), key=lambda kc: kc[0])
    best_key, best = keyed[0]
    if best_key[0] == 0:  # directed: the run is not the window's choice
        return best, run
    if best_key[0] == 1:  # an urgent promise: the run guard decides against the first overdue ticket
        overdue = next((c for k, c in keyed if k[0] == 2), None)
        if overdue is not None:
            if run < policy.max_in_a_row:
                return best, run + 1
            return overdue, 0
    return best, 0


def _age_limit(c: Candidate, ranks: dict[str, int], now: datetime, policy: Policy) -> tuple:
    """The rule before 2026-12: past the age limit (real minutes), every class by arrival alone."""
    if now - datetime.fromisoformat(c.arrived_at) >= timedelta(minutes=policy.targets[c.business].ordinary):
        return (2, c.arrived_at, c.id)  # never 1: the run guard does not apply
    return (3, c.klass, ranks.get(c.business, 99), c.promise_from, c.id)


_COLS = "id, business, class, arrived_at, promise_from, target_window IS NOT NULL AS directed"
_HEADS = " UNION ALL ".join(
    f"SELECT * FROM (SELECT {_COLS} FROM tickets INDEXED BY tickets_waiting WHERE business_day = :day "
    f"AND business = :b AND class = {k} AND state = 'waiting' AND target_window IS NULL "
    "ORDER BY promise_from, id LIMIT 1)" for k in (GREEN, APPOINTMENT, ORDINARY))
_OLDEST = (f"SELECT {_COLS} FROM tickets INDEXED BY tickets_waiting_age WHERE business_day = :day AND business = :b "
           "AND state = 'waiting' AND target_window IS NULL ORDER BY arrived_at, id LIMIT 1")


def in_call_order(conn: sqlite3.Connection, day: str, window: int, ranks: dict[str, int], now: datetime,
                  policy: Policy, limit: int) -> list[sqlite3.Row]:
    """The first ``limit`` waiting tickets of ``window`` in the order it would call them (the run guard aside).

    Each class's queue of each business is in order by itself, so the first
    ``limit`` of each hold the first ``limit`` of all: the list costs the same
    however long the queue.
    """
    rows = conn.execute(
        "SELECT * FROM tickets INDEXED BY tickets_directed WHERE state = 'waiting' AND target_window = ? "
        "AND business_day = ? ORDER BY arrived_at, id LIMIT ?", (window, day, limit)).fetchall()
    for business in ranks:
        for k in (GREEN, APPOINTMENT, ORDINARY):
            rows += conn.execute(
                "SELECT * FROM tickets INDEXED BY tickets_waiting WHERE business_day = ? AND business = ? "
                "AND class = ? AND state = 'waiting' AND target_window IS NULL ORDER BY promise_from, id LIMIT ?",
                (day, business, k, limit)).fetchall()

    def order(r: sqlite3.Row) -> tuple:
        c = Candidate(r["id"], r["business"], r["class"], r["arrived_at"], r["promise_from"],
                      r["target_window"] is not None)
        return call_order(c, ranks, now, policy)
    return sorted(rows, key=order)[:limit]


def candidates(conn: sqlite3.Connection, day: str, window: int, ranks: dict[str, int],
               policy_name: str = "promises") -> list[Candidate]:
    """The few tickets that can win at ``window``: the oldest directed to it, and each class's head per business."""
    rows = [conn.execute(
        f"SELECT {_COLS} FROM tickets INDEXED BY tickets_directed "
        "WHERE state = 'waiting' AND target_window = ? AND business_day = ? ORDER BY arrived_at, id LIMIT 1",
        (window, day)).fetchone()]
    for business in ranks:
        rows += conn.execute(_HEADS, {"day": day, "b": business}).fetchall()
        if policy_name == "age_limit":
            rows.append(conn.execute(_OLDEST, {"day": day, "b": business}).fetchone())
    seen: set[int] = set()
    out = []
    for r in rows:
        if r is not None and r["id"] not in seen:
            seen.add(r["id"])
            out.append(Candidate(r["id"], r["business"], r["class"], r["arrived_at"], r["promise_from"],
                                 bool(r["directed"])))
    return out
