"""Time on hold (挂起) is not service time (docs/statistics.md, schema/029).

A clerk holds the ticket at the counter while its resident fetches a paper or makes a copy, serves other
residents meanwhile, and calls it back (回呼) later (queue_server/domain/windows.py ``hold``, ``call_back``).
A ticket's service time is the time actually spent serving it: from its start (``started_at``; a ticket
served without pressing start counts from its call) to its completion, less its minutes on hold, however
many holds. Two columns of ``tickets`` keep them, written by the hold and the call-back themselves, in
their own transaction and statement:

* ``held_at``: when the ticket's current hold began (NULL while not held);
* ``held_seconds``: the seconds of its holds that ended, summed by each call-back.

A hold also fixes where the service clock started: a ticket held straight from its call (nobody pressed
start) gets ``started_at`` = that call, as its completion would have counted it; so the call-back, which
moves ``called_at`` to the new call, does not restart it, and a start pressed after the call-back keeps
it (windows.start_service). Its service is then what the window gave it before the hold plus what it
gave it after the call-back, which is what the window spent on it.

A call from the queue (windows.call_next: the first call, or one after a transfer, a re-queue of a
missed number or a day closed and reopened) begins a new service at a window: it clears ``started_at``,
``held_seconds`` and ``held_at`` in the UPDATE it runs anyway (no statement more on the hall's busiest
request), so nothing of an earlier window's service or holds counts against the next one.

The statistics subtract :data:`SERVICE_SECONDS`; a ticket completed while still on hold (no action does
that today) counts its service up to the hold, and one expired on hold at the day's close has no service
time at all (only completed tickets have one).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from queue_server.domain.context import Tx

# what windows.call_next sets with the call: a new service at a window starts from nothing
NEW_SERVICE = "started_at = NULL, held_seconds = 0, held_at = NULL"


def _seconds(later: str, earlier: str) -> int:
    return max(round((datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()), 0)


def service_seconds_sql(t: str = "t") -> str:
    """SQL: the service seconds of a completed ticket (alias ``t``) with ``started_at`` set: start (or call) to
    completion, less its holds; a hold still open at completion ends the service where it began. Never
    below 0 (a clock set back between two actions)."""
    span = "CAST(round((julianday({t}.finished_at) - julianday({t}.{col})) * 86400) AS INTEGER)"
    return (f"max({span.format(t=t, col='started_at')} - {t}.held_seconds - "
            f"CASE WHEN {t}.held_at IS NULL THEN 0 ELSE {span.format(t=t, col='held_at')} END, 0)")


SERVICE_SECONDS = service_seconds_sql("t")


def hold(tx: Tx, t: sqlite3.Row) -> sqlite3.Row:
    """Put ticket ``t`` (current at its window) on hold now; the service clock keeps running from its start,
    or from its call when nobody pressed start."""
    return tx.update_ticket(t["id"], "state = 'held', held_at = ?, started_at = COALESCE(started_at, called_at)",
                            (tx.at,))


def call_back(tx: Tx, t: sqlite3.Row) -> sqlite3.Row:
    """Call held ticket ``t`` again now: its hold ends, its seconds are added to ``held_seconds``. A ticket held
    before schema 029 (``held_at`` unknown) adds nothing: it counts as it did."""
    held = _seconds(tx.at, t["held_at"]) if t["held_at"] else 0
    return tx.update_ticket(t["id"], "state = 'called', called_at = ?, calls = calls + 1, "
                            "held_seconds = held_seconds + ?, held_at = NULL", (tx.at, held))
