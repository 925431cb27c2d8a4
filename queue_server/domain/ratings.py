"""Ratings (好差评): five levels, one per case and stage, given by the resident alone.

Rules (GB/T 39734-2020, GB/T 39735-2020, 国办发〔2019〕51号; docs/domain-rules.md):

* levels 5..1: 非常满意, 满意, 基本满意, 不满意, 非常不满意; 1 and 2 are bad
  reviews (差评), which the manager console follows up;
* only a finished service (``done``) is rated, once per stage;
* the rating comes from the resident's own device (the window's rating pad
  through the device gateway, a rating tablet, a kiosk, the ticket's phone
  page), never from a staff account: staff may ask, not press;
* a resident may rate later, within ``rate_within_workdays`` working days;
* the reasons given with a rating are the official 差评 reason categories
  (:data:`REASONS`), codes only: anything else is refused (422), never stored
  or shown beside them; the resident's own words go in the free comment.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from hallq.i18n import Texts, languages, text, texts
from hallq.privacy import scrub_text
from queue_server.domain.context import Tx
from queue_server.domain.errors import Conflict, Forbidden, Invalid, NotFound

LEVELS = (5, 4, 3, 2, 1)  # 5 非常满意 … 1 非常不满意: each named by domain.rating_level.<n> (domain.po)
RECENT_MINUTES = 15  # a window's pad rates the ticket it finished within this time
# the official 差评 reason categories, in the order the phone page and the tablet list them; each is named by
# web.rate.reason_<code> (web.po). The county checks a hall's ratings against the same codes (county/intake.py)
REASONS = ("slow", "attitude", "unclear_guide", "repeated_visits", "not_solved", "other")
# what the kiosk's rating screen sends for two of them (kiosk/presenters/after_service.py), stored as the official
# code: 让我多跑了 is 需要多次跑动; 大厅环境或设施 is none of the window's categories, so 其他
REASON_ALIASES = {"many_visits": "repeated_visits", "environment": "other"}
MAX_REASONS = 10  # as the API's schema allows (queue_server/api/ratings.py)


def level_name(level: int) -> Texts:
    """A rating's level in the languages the hall shows."""
    return texts(f"domain.rating_level.{level}")


def checked_reasons(reasons: list[str] | None) -> list[str]:
    """The reasons a resident gave, as official codes (:data:`REASONS`; the kiosk's :data:`REASON_ALIASES` turned
    into theirs), each once, in the order given; 422 ``invalid_fields`` naming every one that is not an official
    code (a made-up text goes in the comment, not beside the categories a manager reads)."""
    out: list[str] = []
    problems = []
    for i, given in enumerate(reasons or []):
        code = REASON_ALIASES.get(given, given) if isinstance(given, str) else None
        if code not in REASONS:
            problems.append((f"reasons[{i}]", f"must be one of {', '.join(REASONS)}"))
        elif code not in out:
            out.append(code)
    if problems:
        listed = {lang: text("common.separator.clauses", lang).join(
                      text("error.invalid_fields.item", lang, field=p, problem=m) for p, m in problems[:MAX_REASONS])
                  for lang in languages()}
        err = Invalid("error.invalid_fields", problems=listed, code="invalid_fields")
        err.fields = [{"field": p, "problem": m} for p, m in problems]
        raise err
    return out


def official_reasons(stored: str) -> list[str]:
    """A stored rating's reasons as a manager may read them: the official codes only. A rating stored before
    reasons were checked may hold made-up texts (never scrubbed of IDs or phones): they are not shown."""
    try:
        given = json.loads(stored)
    except (TypeError, ValueError):
        return []
    out: list[str] = []
    for r in given if isinstance(given, list) else []:
        code = REASON_ALIASES.get(r, r) if isinstance(r, str) else None
        if code in REASONS and code not in out:
            out.append(code)
    return out


def rate(tx: Tx, ticket: sqlite3.Row, level: int, reasons: list[str] | None = None, comment: str = "",
         stage: str = "window") -> sqlite3.Row:
    if tx.actor.kind == "staff":
        raise Forbidden("error.staff_cannot_rate", code="staff_cannot_rate")
    if level not in LEVELS:
        raise Invalid("error.invalid_level", code="invalid_level")
    reasons = checked_reasons(reasons)
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
            (ticket["id"], stage, level, int(level <= 2), json.dumps(reasons, ensure_ascii=False),
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
            "rated_at": r["rated_at"], "reasons": official_reasons(r["reasons"]), "comment": r["comment"]}


