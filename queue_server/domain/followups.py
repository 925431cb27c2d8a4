"""Following up bad reviews (差评整改): verify → fix → report back, with a deadline; appeals.

Rules (GB/T 39734-2020, 国办发〔2019〕51号; docs/consoles.md "Bad reviews"):

* every rating of level 1 or 2 opens a follow-up owned by the staff member
  who handled the case, due ``[ratings] followup_workdays`` working days after
  the rating (5, 10 or 15 by province), counted on the hall's calendar;
* a manager verifies it with the resident (回访核实) and records whether the
  complaint holds; the owner or a manager records the fix (整改); a manager
  reports back to the resident (反馈) and the follow-up is closed. A complaint
  found not to hold needs no fix, but is still reported back;
* a follow-up still open after its due date is overdue, and flagged;
* the owner or a manager may appeal a review as malicious (恶意差评申诉); a
  manager other than the appellant decides. An upheld appeal closes the
  follow-up and takes the rating out of the satisfaction statistics.

Follow-ups are opened lazily (:func:`open_pending`): the due date depends only
on when the rating was given, so opening one a minute later changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from hallq.privacy import mask_name, scrub_text
from queue_server.domain import contacts
from queue_server.domain.context import Actor, Tx
from queue_server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from queue_server.domain.ratings import level_name, official_reasons

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService

STATES = ("open", "verified", "fixed", "closed")
MAX_NOTE = 1000


def open_pending(tx: Tx, limit: int | None = None) -> int:
    """Open a follow-up for every bad rating that has none (the oldest ``limit`` of them); return how many.

    The housekeeping thread passes a limit so that a catch-up (an upgrade bringing follow-ups to a hall
    with a year of ratings: tens of thousands) is many short write transactions, not one that holds
    the write lock, and every kiosk's ticket, for seconds."""
    rows = tx.all("SELECT r.* FROM ratings r INDEXED BY ratings_bad WHERE r.bad = 1 "
                  "AND NOT EXISTS (SELECT 1 FROM followups f WHERE f.rating_id = r.id) ORDER BY r.id"
                  + (" LIMIT ?" if limit else ""), (limit,) if limit else ())
    days = tx.hall.config.ratings.followup_workdays
    cal = tx.hall.config.calendar
    for r in rows:
        due = cal.add_workdays(datetime.fromisoformat(r["rated_at"]).date(), days)
        tx.conn.execute("INSERT INTO followups (rating_id, state, owner_staff_id, opened_at, due_date) "
                        "VALUES (?, 'open', ?, ?, ?)", (r["id"], r["staff_id"], tx.at, due.isoformat()))
        tx.journal("followup_opened", window=r["window"], business=r["business"],
                   data={"rating": r["id"], "level": r["level"], "due": due.isoformat()})
    return len(rows)


def pending_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM ratings r INDEXED BY ratings_bad WHERE r.bad = 1 "
                        "AND NOT EXISTS (SELECT 1 FROM followups f WHERE f.rating_id = r.id)").fetchone()[0]


def unknown_followup() -> NotFound:
    return NotFound("error.unknown_followup", code="unknown_followup")


def followup_id(raw: str) -> int:
    """A follow-up's number from a path; 404 ``unknown_followup`` for anything else."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise unknown_followup()
    return int(raw)


def _get(tx: Tx, followup_id: int) -> sqlite3.Row:
    row = tx.one("SELECT f.*, r.business_day FROM followups f JOIN ratings r ON r.id = f.rating_id WHERE f.id = ?",
                 (followup_id,))
    if row is None:
        raise unknown_followup()
    return row


def _note(text: str | None, required: bool = True) -> str:
    text = scrub_text((text or "").strip())     # a clerk quoting the resident's ID or phone: masked
    if required and not text:
        raise Invalid("error.note_required", code="note_required")
    if len(text) > MAX_NOTE:
        raise Invalid("error.note_too_long", limit=MAX_NOTE, code="note_too_long")
    return text


def _manager(tx: Tx) -> None:
    if not tx.actor.is_manager:
        raise Forbidden("error.manager_only", code="manager_only")


def _owner_or_manager(tx: Tx, f: sqlite3.Row) -> None:
    if tx.actor.is_manager or (tx.actor.kind == "staff" and tx.actor.staff_id == f["owner_staff_id"]):
        return
    raise Forbidden("error.followup.not_yours", code="not_your_review")


def _state(f: sqlite3.Row, *allowed: str) -> None:
    if f["state"] not in allowed:
        raise Conflict("error.followup.wrong_step", state=f["state"], code="wrong_step",
                       detail={"state": f["state"]})


def verify(tx: Tx, followup_id: int, note: str, complaint_valid: bool) -> sqlite3.Row:
    """回访核实: a manager called the resident back; does the complaint hold?"""
    f = _get(tx, followup_id)
    _manager(tx)
    _state(f, "open")
    tx.conn.execute("UPDATE followups SET state = 'verified', verified_at = ?, verified_by = ?, verify_note = ?, "
                    "complaint_valid = ? WHERE id = ?", (tx.at, tx.actor.label, _note(note), int(complaint_valid),
                                                         f["id"]))
    tx.journal("followup_verified", data={"followup": f["id"], "valid": complaint_valid})
    return _get(tx, followup_id)


def fix(tx: Tx, followup_id: int, note: str) -> sqlite3.Row:
    """整改: what was changed so it does not happen again."""
    f = _get(tx, followup_id)
    _owner_or_manager(tx, f)
    _state(f, "verified")
    tx.conn.execute("UPDATE followups SET state = 'fixed', fixed_at = ?, fixed_by = ?, fix_note = ? WHERE id = ?",
                    (tx.at, tx.actor.label, _note(note), f["id"]))
    tx.journal("followup_fixed", data={"followup": f["id"]})
    return _get(tx, followup_id)


def report_back(tx: Tx, followup_id: int, note: str) -> sqlite3.Row:
    """反馈: the resident was told the outcome; the follow-up closes."""
    f = _get(tx, followup_id)
    _manager(tx)
    if not (f["state"] == "fixed" or (f["state"] == "verified" and f["complaint_valid"] == 0)):
        _state(f, "fixed")
    tx.conn.execute("UPDATE followups SET state = 'closed', closed_at = ?, closed_by = ?, report_note = ? "
                    "WHERE id = ?", (tx.at, tx.actor.label, _note(note), f["id"]))
    tx.journal("followup_closed", data={"followup": f["id"], "late": tx.day > f["due_date"],
                                        "contact_erased": contacts.erase_for(tx, f["rating_id"])})
    return _get(tx, followup_id)


def appeal(tx: Tx, followup_id: int, reason: str) -> sqlite3.Row:
    """申诉: the review is malicious (e.g. about something the window cannot decide, or abusive)."""
    f = _get(tx, followup_id)
    _owner_or_manager(tx, f)
    if f["state"] == "closed" or f["appeal_state"] is not None:
        raise Conflict("error.appeal_not_possible", code="appeal_not_possible")
    tx.conn.execute("UPDATE followups SET appeal_state = 'pending', appeal_reason = ?, appealed_at = ?, "
                    "appealed_by = ? WHERE id = ?", (_note(reason), tx.at, tx.actor.label, f["id"]))
    tx.journal("followup_appealed", data={"followup": f["id"]})
    return _get(tx, followup_id)


def decide_appeal(tx: Tx, followup_id: int, upheld: bool, note: str) -> sqlite3.Row:
    f = _get(tx, followup_id)
    _manager(tx)
    if f["appeal_state"] != "pending":
        raise Conflict("error.no_pending_appeal", code="no_pending_appeal")
    if f["appealed_by"] == tx.actor.label:
        raise Forbidden("error.own_appeal", code="own_appeal")
    tx.conn.execute("UPDATE followups SET appeal_state = ?, appeal_decided_at = ?, appeal_decided_by = ?, "
                    "appeal_note = ? WHERE id = ?", ("upheld" if upheld else "rejected", tx.at, tx.actor.label,
                                                     _note(note), f["id"]))
    if upheld:
        tx.conn.execute("UPDATE followups SET state = 'closed', closed_at = ?, closed_by = ? WHERE id = ?",
                        (tx.at, tx.actor.label, f["id"]))
        contacts.erase_for(tx, f["rating_id"])  # closed: the call-back number has served its purpose
        # the rating leaves the satisfaction figures: that day's statistics are rolled up again
        tx.conn.execute("DELETE FROM stats_days WHERE business_day = ?", (f["business_day"],))
    tx.journal("followup_appeal_decided", data={"followup": f["id"], "upheld": upheld})
    return _get(tx, followup_id)


# -- reading -----------------------------------------------------------------------------

_SELECT = ("SELECT f.*, r.level, r.reasons, r.comment, r.rated_at, r.business, r.window, r.business_day, "
           "t.label AS ticket, t.item, s.job_no, s.name AS staff_name, "
           "EXISTS (SELECT 1 FROM followup_contacts c WHERE c.rating_id = f.rating_id) AS contact_left "
           "FROM followups f JOIN ratings r ON r.id = f.rating_id JOIN tickets t ON t.id = r.ticket_id "
           "LEFT JOIN staff s ON s.id = f.owner_staff_id")


def list_followups(conn: sqlite3.Connection, today: date, which: str = "active", owner: int | None = None,
                   limit: int = 300) -> list[dict[str, Any]]:
    """Follow-ups: ``active`` (not closed), ``overdue``, ``appeals`` (pending) or ``all``; newest first."""
    where: list[str] = []
    params: list[Any] = []
    if which == "active":
        where.append("f.state != 'closed'")
    elif which == "overdue":
        where += ["f.state != 'closed'", "f.due_date < ?"]
        params.append(today.isoformat())
    elif which == "appeals":
        where.append("f.appeal_state = 'pending'")
    if owner is not None:
        where.append("f.owner_staff_id = ?")
        params.append(owner)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY f.due_date, f.id DESC LIMIT ?"
    return [followup_view(r, today) for r in conn.execute(sql, (*params, limit))]


def get_followup(conn: sqlite3.Connection, followup_id: int, today: date) -> dict[str, Any]:
    row = conn.execute(_SELECT + " WHERE f.id = ?", (followup_id,)).fetchone()
    if row is None:
        raise unknown_followup()
    return followup_view(row, today)


def counts(conn: sqlite3.Connection, today: date) -> dict[str, int]:
    row = conn.execute("SELECT SUM(state != 'closed') AS active, SUM(state != 'closed' AND due_date < ?) AS overdue, "
                       "SUM(appeal_state = 'pending') AS appeals FROM followups", (today.isoformat(),)).fetchone()
    return {"active": row["active"] or 0, "overdue": row["overdue"] or 0, "appeals": row["appeals"] or 0}


def followup_view(r: sqlite3.Row, today: date) -> dict[str, Any]:
    return {
        "id": r["id"], "state": r["state"], "overdue": r["state"] != "closed" and r["due_date"] < today.isoformat(),
        "due_date": r["due_date"], "opened_at": r["opened_at"], "rating": r["rating_id"], "level": r["level"],
        "level_name": level_name(r["level"]),
        "reasons": official_reasons(r["reasons"]), "comment": r["comment"], "rated_at": r["rated_at"],
        "ticket": r["ticket"], "item": r["item"], "business": r["business"], "window": r["window"],
        "business_day": r["business_day"],
        "owner": {"job_no": r["job_no"], "name": mask_name(r["staff_name"] or "")} if r["job_no"] else None,
        "owner_staff_id": r["owner_staff_id"],
        "contact_left": bool(r["contact_left"]),  # the number itself: GET /followups/<id>/contact, managers only
        "verified_at": r["verified_at"], "verified_by": r["verified_by"], "verify_note": r["verify_note"],
        "complaint_valid": None if r["complaint_valid"] is None else bool(r["complaint_valid"]),
        "fixed_at": r["fixed_at"], "fixed_by": r["fixed_by"], "fix_note": r["fix_note"],
        "closed_at": r["closed_at"], "closed_by": r["closed_by"], "report_note": r["report_note"],
        "appeal": None if r["appeal_state"] is None else {
            "state": r["appeal_state"], "reason": r["appeal_reason"], "at": r["appealed_at"], "by": r["appealed_by"],
            "decided_at": r["appeal_decided_at"], "decided_by": r["appeal_decided_by"], "note": r["appeal_note"]},
    }


# -- the desk: one transaction per step (QueueService.followups) -----------------------------------

class FollowUpDesk:
    """Follow-ups as managers and clerks move them on; every step is one transaction and answers
    the follow-up as it is then (:func:`followup_view`)."""

    def __init__(self, service: QueueService) -> None:
        self.service = service

    def open_pending(self) -> int:
        """Open follow-ups for new bad ratings (before a list is read; normally the housekeeping thread has)."""
        if not pending_count(self.service.db.connection()):
            return 0
        from queue_server.domain.context import SYSTEM

        return self.service._run(SYSTEM, None, open_pending)

    def _step(self, actor: Actor, fid: int, rule: Callable[..., object], *args: Any) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            rule(tx, fid, *args)
            return get_followup(tx.conn, fid, tx.now.date())
        return self.service._run(actor, None, run)

    def verify(self, actor: Actor, fid: int, note: str, complaint_valid: bool) -> dict[str, Any]:
        return self._step(actor, fid, verify, note, complaint_valid)

    def fix(self, actor: Actor, fid: int, note: str) -> dict[str, Any]:
        return self._step(actor, fid, fix, note)

    def report_back(self, actor: Actor, fid: int, note: str) -> dict[str, Any]:
        return self._step(actor, fid, report_back, note)

    def appeal(self, actor: Actor, fid: int, reason: str) -> dict[str, Any]:
        return self._step(actor, fid, appeal, reason)

    def decide_appeal(self, actor: Actor, fid: int, upheld: bool, note: str) -> dict[str, Any]:
        return self._step(actor, fid, decide_appeal, upheld, note)

    def contact(self, actor: Actor, fid: int) -> dict[str, str]:
        """The phone the resident left for the call-back (managers; the view is journaled)."""
        return self.service._run(actor, None, lambda tx: contacts.reveal(tx, fid))
