"""The business day: numbering restarts each day, and each day ends cleanly.

Numbers (A001...) are counted per business per business day, the hall's
local date. A day ends either when the manager closes it (end-of-day close,
日终结束) or, if nobody does, when the first action of the next day rolls it
over. Either way every ticket still open is ended as ``expired`` (never left
"waiting" for ever), each window is closed and its staff signed out, and the
journal says so.

A close records the tickets it expired (``day_close_tickets``, schema/027) so
that undoing a mistaken close the same day (:func:`reopen_day`) gives back
exactly those, and no ticket expired for any other reason or on another day.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from queue_server.domain import no_shows
from queue_server.domain.context import Tx


def roll_over_if_new_day(tx: Tx) -> bool:
    """End earlier days that were left open; True when something was rolled over."""
    last = tx.meta("business_day")
    if last == tx.day:
        return False
    tx.set_meta("business_day", tx.day)
    if last is None:
        return False
    tx.conn.execute("DELETE FROM day_close_tickets WHERE business_day < ?", (tx.day,))  # no reopening those
    expired = _expire(tx, "business_day < ?", (tx.day,), reason="day_rolled_over")
    no_shows.mark_no_shows(tx, before=tx.day, reason="day_rolled_over")
    windows = tx.conn.execute(
        "UPDATE windows SET state = 'closed', staff_id = NULL, pause_reason = NULL, updated_at = ? "
        "WHERE state != 'closed' OR staff_id IS NOT NULL RETURNING number", (tx.at,)).fetchall()
    tx.journal("day_rolled_over", data={"previous_day": last, "expired": expired,
                                        "windows_closed": [w[0] for w in windows]})
    return True


def close_day(tx: Tx) -> dict:
    """End-of-day close: expire every open ticket of today, close all windows, stop issuing.

    Tickets being served are completed by their window first: closing while a
    resident sits at a window would be wrong, so that is refused.
    """
    from queue_server.domain.errors import Conflict

    serving = tx.all("SELECT label, window FROM tickets WHERE business_day = ? AND state = 'serving'", (tx.day,))
    if serving:
        desc = ", ".join(f"{r['label']}@{r['window']}" for r in serving)
        raise Conflict("error.still_serving", serving=desc,
                       code="still_serving", detail={"serving": [r["label"] for r in serving]})
    # what this close ends, and from which state, for reopen_day; a second close of a closed day adds to the
    # first one's (rows of another day can no longer be reopened)
    tx.conn.execute("DELETE FROM day_close_tickets WHERE business_day != ?", (tx.day,))
    tx.conn.execute("INSERT OR REPLACE INTO day_close_tickets (ticket_id, business_day, state, window, closed_at) "
                    "SELECT id, business_day, state, window, ? FROM tickets WHERE business_day = ? "
                    "AND (state = 'waiting' OR state = 'called' OR state = 'held')", (tx.at, tx.day))
    expired = _expire(tx, "business_day = ?", (tx.day,), reason="day_closed")
    missed = no_shows.mark_no_shows(tx, through=tx.day, reason="day_closed")
    windows = tx.conn.execute(
        "UPDATE windows SET state = 'closed', staff_id = NULL, pause_reason = NULL, updated_at = ? "
        "RETURNING number", (tx.at,)).fetchall()
    tx.set_meta("closed_day", tx.day)
    tx.journal("day_closed", data={"expired": expired, "windows": [w[0] for w in windows]})
    return {"business_day": tx.day, "expired": expired, "windows_closed": len(windows),
            "appointment_no_shows": missed}


def reopen_day(tx: Tx) -> dict[str, Any]:
    """Undo a mistaken end-of-day close, the same day: numbers are issued again, and the tickets and
    appointment no-shows the close ended come back.

    Every ticket the close expired (and only those: ``day_close_tickets``) waits again, at its place
    (its arrival time is kept), journaled as ``requeue`` with the reason ``day_reopened``. One the close
    took from a window (called, or held: 挂起) waits too, not at the window: the close signed every
    window's clerk out, and a window holds a ticket only while someone is signed in at it. A ticket is
    left expired when its resident has since taken another number of the same business (one open number
    per person per business) or its business was deactivated after the close (no window would call it);
    the ``day_reopened`` entry lists those. After the day has rolled over nothing comes back.
    """
    if tx.meta("closed_day") != tx.day:
        return {"restored": 0, "not_restored": []}
    tx.set_meta("closed_day", "")
    restored, kept = _restore(tx)
    no_shows.undo_day_close(tx)
    tx.journal("day_reopened", data={"restored": restored, "not_restored": kept})
    return {"restored": restored, "not_restored": kept}


def _restore(tx: Tx) -> tuple[int, list[str]]:
    """Today's tickets the close expired, waiting again; (how many, labels left expired)."""
    rows = tx.all("SELECT t.id, t.label, t.state, d.state AS before, d.window AS before_window, b.active "
                  "FROM day_close_tickets d JOIN tickets t ON t.id = d.ticket_id "
                  "JOIN businesses b ON b.code = t.business "
                  "WHERE d.business_day = ? ORDER BY t.arrived_at, t.id", (tx.day,))
    restored, kept = 0, []
    for r in rows:
        if r["state"] != "expired":  # moved on since the close (nothing does today; kept as it is)
            continue
        if not r["active"]:  # its business was deactivated after the close: no window would call it
            kept.append(r["label"])
            continue
        # and back in its business's queue even if it had been sent to a window by name: the close signed every
        # window out, so that window would never call it (windows.return_directed)
        sets = "state = 'waiting', finished_at = NULL, target_window = NULL"
        # back from a window into the queue, as a transfer leaves it; its first call (first_called_at) stays, where
        # its wait ended (docs/statistics.md)
        if r["before"] != "waiting":
            sets += ", window = NULL, staff_id = NULL, called_at = NULL, started_at = NULL, recalls = 0"
        try:
            t = tx.update_ticket(r["id"], sets, where=" AND state = 'expired'")
        except sqlite3.IntegrityError:  # tickets_one_open_per_person: the resident holds another number now
            kept.append(r["label"])
            continue
        tx.journal("requeue", ticket=t, window=r["before_window"], data={"reason": "day_reopened",
                                                                         "from": r["before"]})
        restored += 1
    tx.conn.execute("DELETE FROM day_close_tickets WHERE business_day = ?", (tx.day,))
    return restored, kept


def day_closed(tx_or_conn: Tx | sqlite3.Connection, day: str) -> bool:
    conn = tx_or_conn.conn if isinstance(tx_or_conn, Tx) else tx_or_conn
    row = conn.execute("SELECT value FROM meta WHERE key = 'closed_day'").fetchone()
    return bool(row and row[0] == day)


def _expire(tx: Tx, where: str, params: tuple, reason: str) -> int:
    rows = tx.conn.execute(
        f"UPDATE tickets SET state = 'expired', finished_at = ? WHERE {where} "
        "AND state IN ('waiting', 'called', 'serving', 'held') RETURNING id, label, business, window, business_day",
        (tx.at, *params)).fetchall()
    for r in rows:
        tx.journal("expire", ticket=r, window=r["window"], data={"reason": reason})
    return len(rows)
