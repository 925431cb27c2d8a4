"""Deadlines of applications kept true: one pre-review clock per 一件事 package, and a change of the calendar.

* **A package waits as one.** While any part of a 一件事 package is in correction (补正: the resident has something to
  bring), every other part still waiting for pre-review waits too: its ``review_by`` is NULL, the clock stopped, so it
  is not overdue (the delay is not the hall's, as for the part in correction). When the last part leaves correction
  (the resident's supplement, a clerk's return, a refusal) the stopped parts start again with the returned one:
  5 working days from that day (:func:`package_clock`, called by applications._move).
* **The calendar changes.** A manager's holiday or 调休 (hall_settings.set_day) recomputes the deadlines of every
  application not yet decided (submitted, pre_review, correction, accepted) from its start dates on the new calendar
  (:func:`calendar_changed`): ``promised_by``/``statutory_by`` from the acceptance (the submission for an estimate),
  keeping the number of working days each was given (counted on the calendar before the change: a guide edited since
  does not change a promise made); ``review_by`` 5 working days from when the pre-review clock last started (the
  submission, or the last return from correction of the application or, for a package, of any of its parts). A
  stopped clock stays stopped; results and refusals keep their dates. The change is journaled once, the
  ``calendar_changed`` entry counting the applications whose deadlines moved (``deadlines_moved``), not one entry per
  application: a holiday can move hundreds.
"""

from __future__ import annotations

import sqlite3
from datetime import date

from hallq.workdays import WorkCalendar
from queue_server.domain.context import Tx

REVIEW_WORKDAYS = 5
WAITING = ("submitted", "pre_review")
UNDECIDED = ("submitted", "pre_review", "correction", "accepted")


def review_due(calendar: WorkCalendar, start: date) -> str:
    """Pre-review due: 5 working days from ``start`` (行政许可法 第三十二条)."""
    return calendar.add_workdays(start, REVIEW_WORKDAYS).isoformat()


def package_clock(tx: Tx, package_id: int) -> None:
    """Stop the pre-review clock of a package's waiting parts while a part is in correction; start the stopped ones
    again (5 working days from today) once none is."""
    waiting = ",".join("?" * len(WAITING))
    if tx.one("SELECT 1 FROM applications WHERE package_id = ? AND status = 'correction' LIMIT 1", (package_id,)):
        tx.conn.execute(f"UPDATE applications SET review_by = NULL WHERE package_id = ? AND status IN ({waiting}) "
                        "AND review_by IS NOT NULL", (package_id, *WAITING))
    else:
        tx.conn.execute(f"UPDATE applications SET review_by = ? WHERE package_id = ? AND status IN ({waiting}) "
                        "AND review_by IS NULL",
                        (review_due(tx.hall.config.calendar, tx.now.date()), package_id, *WAITING))


def review_start(conn: sqlite3.Connection, app: sqlite3.Row) -> date:
    """When the pre-review clock of ``app`` last started: its submission, or the last return from correction of it or,
    for a package's part, of any part of its package (the parts wait as one: :func:`package_clock`)."""
    if app["package_id"] is None:
        ids = [app["id"]]
    else:
        ids = [r[0] for r in conn.execute("SELECT id FROM applications WHERE package_id = ?", (app["package_id"],))]
    start = app["submitted_at"][:10]
    before: dict[int, str] = {}  # each part's status before its latest event
    for e in conn.execute(f"SELECT application_id, status, at FROM application_events WHERE application_id IN "
                          f"({','.join('?' * len(ids))}) ORDER BY id", ids):
        if before.get(e["application_id"]) == "correction" and e["status"] != "correction":
            start = max(start, e["at"][:10])
        before[e["application_id"]] = e["status"]
    return date.fromisoformat(start)


def calendar_with_overrides(conn: sqlite3.Connection, base: WorkCalendar) -> WorkCalendar:
    """The hall's calendar as ``hall_settings.apply`` builds it: the file's (``base``) with the stored overrides, read
    in the caller's transaction (so with the change being made)."""
    days = {r["day"]: r["kind"] for r in conn.execute("SELECT day, kind FROM calendar_overrides")}
    holidays = {d for d in base.holidays if d.isoformat() not in days} | \
        {date.fromisoformat(d) for d, k in days.items() if k == "holiday"}
    workdays = {d for d in base.workdays if d.isoformat() not in days} | \
        {date.fromisoformat(d) for d, k in days.items() if k == "workday"}
    return WorkCalendar(base.mode, holidays, workdays)


def calendar_changed(tx: Tx, base: WorkCalendar, before: WorkCalendar) -> int:
    """After a change of the calendar overrides (in ``tx``): recompute the deadlines of the applications not yet decided
    on the new calendar; return how many moved. ``base``: the file's calendar (hall_settings._file); ``before``: the
    calendar as it was, read in the same transaction before the change (not this process's copy, which may not yet
    have another worker's last change: a deadline would move twice)."""
    after = calendar_with_overrides(tx.conn, base)
    moved = 0
    for app in tx.all(f"SELECT * FROM applications WHERE status IN ({','.join('?' * len(UNDECIDED))})", UNDECIDED):
        start = app["accepted_at"] if app["deadline_basis"] == "accepted" and app["accepted_at"] else \
            app["submitted_at"]
        basis = date.fromisoformat(start[:10])
        changes = {}
        for column in ("promised_by", "statutory_by"):
            if app[column]:
                days = before.workdays_between(basis, date.fromisoformat(app[column]))
                changes[column] = after.add_workdays(basis, days).isoformat()
        if app["status"] in WAITING and app["review_by"]:  # NULL: stopped while the package waits for the resident
            changes["review_by"] = review_due(after, review_start(tx.conn, app))
        changes = {k: v for k, v in changes.items() if v != app[k]}
        if changes:
            tx.conn.execute(f"UPDATE applications SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
                            (*changes.values(), app["id"]))
            moved += 1
    return moved
