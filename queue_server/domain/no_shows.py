"""No-shows (爽约) of appointments, and the booking suspension they lead to.

A booking neither checked in nor cancelled when its day ends is a no-show:
the end-of-day close marks today's, and the first action of a new day marks
those of days left open (queue_server/domain/day.py calls both). When a
person's no-shows within ``no_show_window_days`` reach ``no_show_limit``,
booking is suspended for ``suspend_days`` from the next day; no-shows up to
that one no longer count afterwards, so a suspension is not followed by
another for the same misses. A manager can lift a suspension; a mistaken
end-of-day close that is undone also undoes the no-shows it marked.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

from queue_server.domain.context import Tx
from queue_server.domain.people import parse_person


def mark_no_shows(tx: Tx, before: str | None = None, through: str | None = None, reason: str = "") -> int:
    """Mark bookings of ended days that were never checked in as no-shows (爽约); count them.

    ``before``: days strictly before (a rollover); ``through``: days up to and
    including (the end-of-day close of today).
    """
    op, day = ("<", before) if before is not None else ("<=", through)
    rows = tx.all(f"UPDATE appointments SET status = 'no_show', no_show_at = ?, no_show_by = ? "
                  f"WHERE status = 'booked' AND date {op} ? RETURNING *", (tx.at, reason, day))
    for a in sorted(rows, key=lambda r: (r["date"], r["slot_start"], r["id"])):
        tx.journal("appointment_no_show", business=a["business"], data={"code": a["code"], "date": a["date"],
                                                                        "id_masked": a["id_masked"]})
        _maybe_suspend(tx, a)
    return len(rows)


def _maybe_suspend(tx: Tx, a: sqlite3.Row) -> None:
    rules = tx.hall.config.appointments
    if rules.no_show_limit <= 0:
        return
    since = (date.fromisoformat(a["date"]) - timedelta(days=rules.no_show_window_days)).isoformat()
    reset = tx.row("SELECT MAX(trigger_date) AS d FROM appointment_suspensions WHERE id_hash = ?", (a["id_hash"],))
    if reset["d"] and reset["d"] > since:
        since = reset["d"]
    count = tx.row("SELECT COUNT(*) FROM appointments WHERE id_hash = ? AND status = 'no_show' AND date > ? "
                   "AND date <= ?", (a["id_hash"], since, a["date"]))[0]
    if count < rules.no_show_limit:
        return
    start = tx.now.date() + timedelta(days=1) if tx.now.date().isoformat() == a["date"] else tx.now.date()
    until = start + timedelta(days=rules.suspend_days - 1)
    tx.conn.execute("INSERT INTO appointment_suspensions (id_hash, id_masked, from_date, until_date, no_shows, "
                    "trigger_appointment, trigger_date, created_at) VALUES (?,?,?,?,?,?,?,?)",
                    (a["id_hash"], a["id_masked"], start.isoformat(), until.isoformat(), count, a["id"], a["date"],
                     tx.at))
    tx.journal("appointment_booking_suspended", data={"id_masked": a["id_masked"], "no_shows": count,
                                                      "from": start.isoformat(), "until": until.isoformat()})


def undo_day_close(tx: Tx) -> int:
    """A mistaken end-of-day close was undone: today's bookings it marked as missed are booked again."""
    rows = tx.all("UPDATE appointments SET status = 'booked', no_show_at = NULL, no_show_by = NULL "
                  "WHERE status = 'no_show' AND no_show_by = 'day_closed' AND date = ? RETURNING id, code, business",
                  (tx.day,))
    for a in rows:
        tx.conn.execute("DELETE FROM appointment_suspensions WHERE trigger_appointment = ?", (a["id"],))
        tx.journal("appointment_no_show_undone", business=a["business"], data={"code": a["code"]})
    return len(rows)


def suspension(conn: sqlite3.Connection, id_hash: str, day: date) -> sqlite3.Row | None:
    """The suspension in force on ``day`` for this person, if any."""
    return conn.execute("SELECT * FROM appointment_suspensions WHERE id_hash = ? AND from_date <= ? "
                        "AND until_date >= ? AND lifted_at IS NULL ORDER BY until_date DESC LIMIT 1",
                        (id_hash, day.isoformat(), day.isoformat())).fetchone()


def lift_suspension(tx: Tx, id_number: str) -> int:
    """A manager gives booking rights back (e.g. a no-show was the hall's fault); return how many lifted."""
    id_hash = parse_person(tx, None, id_number, None).id_hash
    rows = tx.all("UPDATE appointment_suspensions SET lifted_at = ?, lifted_by = ? WHERE id_hash = ? "
                  "AND lifted_at IS NULL AND until_date >= ? RETURNING id_masked", (tx.at, tx.actor.label, id_hash,
                                                                                   tx.day))
    if rows:
        tx.journal("appointment_suspension_lifted", data={"id_masked": rows[0]["id_masked"]})
    return len(rows)
