"""Ratings (好差评): five levels, one per case and stage, given by the resident alone.

Rules (GB/T 39734-2020, GB/T 39735-2020, 国办发〔2019〕51号; docs/domain-rules.md):

* levels 5..1: 非常满意, 满意, 基本满意, 不满意, 非常不满意; 1 and 2 are bad
  reviews (差评), which the manager console follows up;
* only a finished service (``done``) is rated, once per stage;
* the rating comes from the resident's own device (the window's rating pad
  through the device gateway, a rating tablet, a kiosk, the ticket's phone
  page), never from a staff account: staff may ask, not press;
* a resident may rate later, within ``rate_within_workdays`` working days.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from hallq.i18n import Texts, texts
from hallq.privacy import scrub_text
from queue_server.domain.context import Tx
from queue_server.domain.errors import Conflict, Forbidden, Invalid, NotFound

LEVELS = (5, 4, 3, 2, 1)  # 5 非常满意 … 1 非常不满意: each named by domain.rating_level.<n> (domain.po)
RECENT_MINUTES = 15  # a window's pad rates the ticket it finished within this time


def level_name(level: int) -> Texts:
    """A rating's level in the languages the hall shows."""
    return texts(f"domain.rating_level.{level}")


def rate(tx: Tx, ticket: sqlite3.Row, level: int, reasons: list[str] | None = None, comment: str = "",
         stage: str = "window") -> sqlite3.Row:
    if tx.actor.kind == "staff":
        raise Forbidden("error.staff_cannot_rate", code="staff_cannot_rate")
    if level not in LEVELS:
        raise Invalid("error.invalid_level", code="invalid_level")
    if ticket["state"] != "done":
        raise Conflict("error.not_finished", code="not_finished")
    days = tx.hall.config.ratings.rate_within_workdays
    finished = datetime.fromisoformat(ticket["finished_at"]).date()
    if tx.hall.config.calendar.workdays_between(finished, tx.now.date()) > days:
        raise Conflict("error.rating_period_over", days=days, code="rating_period_over")
    try:
        row = tx.row(
            "INSERT INTO ratings (ticket_id, stage, level, bad, reasons, comment, business_day, business, item, "
            "window, staff_id, source, rated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
            (ticket["id"], stage, level, int(level <= 2), json.dumps(reasons or [], ensure_ascii=False),
             scrub_text(comment),   # stored masked: a comment may quote an ID or a phone number
             ticket["business_day"], ticket["business"], ticket["item"], ticket["window"], ticket["staff_id"],
             tx.actor.label, tx.at))
    except sqlite3.IntegrityError:
        raise Conflict("error.already_rated", code="already_rated") from None
    data = {"level": level, "stage": stage, "bad": level <= 2, "item": ticket["item"]}
    dept = tx.one("SELECT json_extract(guide, '$.department') AS d FROM items WHERE code = ?",
                  (ticket["item"],)) if ticket["item"] else None
    if dept is not None and dept["d"]:  # the item's department (部门): the county's rankings and the province's
        data["department"] = dept["d"]
    tx.journal("rate", ticket=ticket, window=ticket["window"], data=data)
    return row


def ticket_to_rate_at_window(tx: Tx, number: int) -> sqlite3.Row:
    """The ticket a window's rating pad rates: the one it finished last, recently, not yet rated, not declined, and
    only until the window calls someone else (queue_server/domain/rating_prompts.py: what the tablet offers)."""
    row = tx.one(
        "SELECT t.* FROM tickets t WHERE t.window = ? AND t.state = 'done' AND t.business_day = ? "
        "AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.ticket_id = t.id AND r.stage = 'window') "
        "ORDER BY t.finished_at DESC, t.id DESC LIMIT 1", (number, tx.day))
    if row is None or (tx.now - datetime.fromisoformat(row["finished_at"])).total_seconds() > RECENT_MINUTES * 60 \
            or no_longer_offered(tx.conn, number, row):
        raise NotFound("error.nothing_to_rate", code="nothing_to_rate")
    return row


def no_longer_offered(conn: sqlite3.Connection, number: int, ticket: sqlite3.Row) -> bool:
    """The resident declined to rate ``ticket``, or the window has called someone since: its pad or tablet may not
    rate it (the phone page still may, within the rating period)."""
    return _declined(conn, ticket["id"]) or _called_since(conn, number, ticket)


def _declined(conn: sqlite3.Connection, ticket_id: int) -> bool:
    return conn.execute("SELECT 1 FROM journal INDEXED BY journal_ticket WHERE ticket_id = ? "
                        "AND action = 'rating_declined' LIMIT 1", (ticket_id,)).fetchone() is not None


def _called_since(conn: sqlite3.Connection, number: int, ticket: sqlite3.Row) -> bool:
    """Whether the window called another resident once ``ticket`` was finished. The journal says so whatever the
    call became (a ticket served, missed, transferred or requeued no longer shows it in its row), and in the order
    things happened (call-next finishes and calls in one transaction, at the same instant)."""
    return conn.execute(
        "SELECT 1 FROM journal INDEXED BY journal_day_action WHERE business_day = ? "
        "AND action IN ('call', 'call_back') AND window = ? AND seq > ("
        "SELECT max(seq) FROM journal INDEXED BY journal_ticket WHERE ticket_id = ? AND action = 'complete') LIMIT 1",
        (ticket["business_day"], number, ticket["id"])).fetchone() is not None


def rating_view(r: sqlite3.Row) -> dict:
    return {"id": r["id"], "level": r["level"], "level_name": level_name(r["level"]),
            "bad": bool(r["bad"]), "stage": r["stage"], "window": r["window"], "business": r["business"],
            "rated_at": r["rated_at"], "reasons": json.loads(r["reasons"]), "comment": r["comment"]}


