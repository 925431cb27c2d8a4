"""The business day: numbering restarts each day, and each day ends cleanly.

Numbers (A001...) are counted per business per business day, the hall's
local date. A day ends either when the manager closes it (end-of-day close,
日终结束) or, if nobody does, when the first action of the next day rolls it
over. Either way every ticket still open is ended as ``expired`` (never left
"waiting" for ever), each window is closed and its staff signed out, and the
journal says so.
"""

from __future__ import annotations

import sqlite3

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
    expired = _expire(tx, "business_day = ?", (tx.day,), reason="day_closed")
    missed = no_shows.mark_no_shows(tx, through=tx.day, reason="day_closed")
    windows = tx.conn.execute(
        "UPDATE windows SET state = 'closed', staff_id = NULL, pause_reason = NULL, updated_at = ? "
        "RETURNING number", (tx.at,)).fetchall()
    tx.set_meta("closed_day", tx.day)
    tx.journal("day_closed", data={"expired": expired, "windows": [w[0] for w in windows]})
    return {"business_day": tx.day, "expired": expired, "windows_closed": len(windows),
            "appointment_no_shows": missed}


def reopen_day(tx: Tx) -> None:
    """Undo a mistaken end-of-day close: numbers can be issued again today."""
    if tx.meta("closed_day") == tx.day:
        tx.set_meta("closed_day", "")
        no_shows.undo_day_close(tx)
        tx.journal("day_reopened")


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
