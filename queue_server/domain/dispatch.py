"""The dispatch policy: which waiting ticket a window gets when it calls next.

The policy, in order (docs/dispatch.md explains the why of each rule):

1. **Directed tickets first.** A ticket transferred *to this window* (转移到
   指定窗口) is called there before anything else, oldest first.
2. **Then overdue tickets, oldest first.** A ticket that has waited longer
   than its business's age limit (``age_limit_minutes``) is overdue; overdue
   tickets of every business the window serves, whatever their class or the
   window's ranking, are called strictly by arrival. This is the starvation
   guard: a business a window only "helps" with is still served, and no
   stream of priority tickets can hold an ordinary ticket back for ever.
3. **Then by class**: green channel (绿色通道) before appointment check-ins
   before ordinary tickets.
4. **Then by the window's ranking** of the business: primary (rank 1) before
   helping (rank 2, 3...).
5. **Then by arrival** (first come, first served), and the ticket id to break
   exact ties.

A transferred ticket keeps its original arrival time; a missed number that
is re-queued arrives anew.

This module is pure: :func:`dispatch_key` orders candidates; the SQL that
fetches the few candidates (one per business and rule, each an indexed
``LIMIT 1`` lookup, so a call costs the same with 10 or 100,000 waiting) lives
in :func:`candidates`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from hallq.clock import iso


@dataclass(frozen=True)
class Candidate:
    id: int
    business: str
    klass: int
    arrived_at: str  # ISO-8601, one offset for the hall, so strings order like times
    directed: bool


def dispatch_key(c: Candidate, ranks: dict[str, int], overdue_before: dict[str, str]) -> tuple:
    """Sort key of a candidate at one window: the smallest key is called next.

    ``ranks``: the window's ranking of each business it serves (1 = primary).
    ``overdue_before``: per business, the arrival time at or before which a
    ticket is overdue.
    """
    if c.directed:
        return (0, c.arrived_at, c.id)
    if c.arrived_at <= overdue_before[c.business]:
        return (1, c.arrived_at, c.id)
    return (2, c.klass, ranks[c.business], c.arrived_at, c.id)


def overdue_cutoffs(now: datetime, age_limits: dict[str, int]) -> dict[str, str]:
    return {b: iso(now - timedelta(minutes=m)) for b, m in age_limits.items()}


_COLS = "id, business, class, arrived_at, target_window IS NOT NULL AS directed"


def candidates(conn: sqlite3.Connection, day: str, window: int, ranks: dict[str, int]) -> list[Candidate]:
    """The few tickets that can win at ``window``: directed, oldest and best per business."""
    rows = [conn.execute(
        f"SELECT {_COLS} FROM tickets INDEXED BY tickets_directed "
        "WHERE state = 'waiting' AND target_window = ? AND business_day = ? ORDER BY arrived_at, id LIMIT 1",
        (window, day)).fetchone()]
    for business in ranks:
        rows.append(conn.execute(
            f"SELECT {_COLS} FROM tickets INDEXED BY tickets_waiting_age "
            "WHERE business_day = ? AND business = ? AND state = 'waiting' AND target_window IS NULL "
            "ORDER BY arrived_at, id LIMIT 1", (day, business)).fetchone())
        rows.append(conn.execute(
            f"SELECT {_COLS} FROM tickets INDEXED BY tickets_waiting "
            "WHERE business_day = ? AND business = ? AND state = 'waiting' AND target_window IS NULL "
            "ORDER BY class, arrived_at, id LIMIT 1", (day, business)).fetchone())
    seen: set[int] = set()
    out = []
    for r in rows:
        if r is not None and r["id"] not in seen:
            seen.add(r["id"])
            out.append(Candidate(r["id"], r["business"], r["class"], r["arrived_at"], bool(r["directed"])))
    return out


def choose(cands: list[Candidate], ranks: dict[str, int], overdue_before: dict[str, str]) -> Candidate | None:
    """The candidate the window calls, or None when nobody is waiting for it."""
    if not cands:
        return None
    # a directed ticket's business may not be one the window ranks: give it any rank
    full_ranks = {**{c.business: 99 for c in cands}, **ranks}
    cut = {**{c.business: "" for c in cands}, **overdue_before}
    return min(cands, key=lambda c: dispatch_key(c, full_ranks, cut))
