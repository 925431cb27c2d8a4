"""Issuing tickets (取号), and what a resident can do with one: cancel, re-queue, follow.

Rules (docs/domain-rules.md):

* a number is the business prefix and a counter per business per business
  day (A001), guarded by a unique constraint, never reused;
* numbers are issued only when the hall issues (opening hours, see
  :mod:`hallq.hours`), and not past the business's daily limit (每日限号);
* where a business asks for an ID number it must pass the GB 11643 check,
  and one person holds at most one open ticket per business (stops touts);
* residents of ``green_channel_age`` or older (from the ID's birth date) get
  the green channel automatically; a disabled resident may declare it at the
  kiosk; staff may grant it for any reason (帮办);
* a missed number (过号) can be re-queued within ``no_show_grace_minutes``,
  ``max_requeues`` times, and joins the back of the queue.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from hallq.clock import iso
from hallq.hours import OpeningHours
from hallq.i18n import languages, text
from hallq.privacy import InvalidIdNumber, IdNumber, keyed_hash, mask_phone, normalise_phone
from queue_server.domain import day as day_rules
from queue_server.domain.context import APPOINTMENT, CLASS_NAMES, GREEN, ORDINARY, Hall, Tx
from queue_server.domain.errors import Conflict, Forbidden, Invalid, unknown_business, unknown_item, unknown_ticket
from queue_server.domain.estimates import EstimateCache, people_ahead, queue_state, wait
from queue_server.domain.people import id_reason

GREEN_REASONS = ("elderly", "disabled", "pregnant", "military", "other")
SELF_DECLARED_GREEN = ("disabled", "pregnant")  # a kiosk may take the resident's word; staff verify at the window


def issue_ticket(tx: Tx, business: str, item: str | None = None, id_number: str | None = None,
                 phone: str | None = None, green_reason: str | None = None,
                 klass: int | None = None, identity: tuple[str, str] | None = None,
                 promise_from: str | None = None) -> sqlite3.Row:
    """Issue a number; return the new ticket's row.

    ``identity``: an already verified person as ``(id_hash, id_masked)``, e.g. the
    holder of an appointment checking in with its booking code.
    ``promise_from``: where the ticket's promise starts when not now (a checked-in
    appointment's slot, docs/dispatch.md).
    """
    b = tx.one("SELECT * FROM businesses WHERE code = ? AND active", (business,))
    if b is None:
        raise unknown_business(business)
    department = None
    if item is not None:
        it = tx.one("SELECT business, json_extract(guide, '$.department') AS department FROM items "
                    "WHERE code = ? AND active", (item,))
        if it is None:
            raise unknown_item(item)
        if it["business"] != business:
            raise Invalid("error.item_not_in_business", item=item, business=business, code="item_not_in_business")
        department = it["department"]
    _check_issuing(tx, b, appointment=klass == APPOINTMENT)

    id_hash = id_masked = phone_hash = phone_masked = None
    person: IdNumber | None = None
    requires = b["ticket_requires"]
    if id_number:
        try:
            person = IdNumber.parse(id_number, today=tx.now.date())
        except InvalidIdNumber as e:
            raise Invalid("error.invalid_id_number", reason=id_reason(e), code="invalid_id_number") from None
        id_hash, id_masked = keyed_hash(tx.hall.secret, "id", person.value), person.masked
    elif identity is not None:
        id_hash, id_masked = identity
    if phone:
        try:
            p = normalise_phone(phone)
        except ValueError:
            raise Invalid("error.invalid_phone", code="invalid_phone") from None
        phone_hash, phone_masked = keyed_hash(tx.hall.secret, "phone", p), mask_phone(p)
    if requires == "id" and id_hash is None or requires == "id_or_phone" and id_hash is None and phone_hash is None \
            or requires == "phone" and phone_hash is None:
        raise Invalid(f"error.identity_required.{requires}", code="identity_required",
                      detail={"requires": requires})

    if klass is None:
        klass = ORDINARY
        if green_reason:
            if green_reason not in GREEN_REASONS:
                raise Invalid("error.invalid_green_reason", reason=green_reason, code="invalid_green_reason")
            if tx.actor.kind != "staff" and green_reason not in SELF_DECLARED_GREEN:
                raise Forbidden("error.green_channel_staff_only", code="green_channel_staff_only")
            if green_reason == "elderly" and tx.actor.kind != "staff" and person is None:
                raise Invalid("error.identity_required", code="identity_required")
            klass = GREEN
        age = tx.rules.green_channel_age
        if person is not None and age and person.age_on(tx.now.date()) >= age:
            klass, green_reason = GREEN, green_reason or "elderly"
    if klass != GREEN:
        green_reason = None

    digits = max(3, len(str(b["daily_limit"])))
    try:
        # the next number of the day, taken under the write lock the whole transaction holds (BEGIN IMMEDIATE);
        # the unique constraint guards it. Three plain statements: an INSERT … SELECT from its own table, and
        # RETURNING, each made SQLite build and drop a temporary B-tree at every ticket (schema/025)
        n = tx.row("SELECT COALESCE(MAX(number), 0) + 1 FROM tickets WHERE business_day = ? AND origin_business = ?",
                   (tx.day, business))[0]
        cur = tx.conn.execute(
            "INSERT INTO tickets (public_id, business_day, business, origin_business, number, label, item, class, "
            "green_reason, state, issued_at, arrived_at, promise_from, id_hash, id_masked, phone_hash, phone_masked, "
            "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?, ?, ?, ?, ?)",
            (secrets.token_urlsafe(12), tx.day, business, business, n, f"{b['prefix']}{n:0{digits}d}", item, klass,
             green_reason, tx.at, tx.at, max(promise_from or tx.at, tx.at), id_hash, id_masked, phone_hash,
             phone_masked, tx.actor.label))
        row = tx.row("SELECT * FROM tickets WHERE id = ?", (cur.lastrowid,))
    except sqlite3.IntegrityError as e:
        if "id_hash" in str(e) or "one_open" in str(e):
            existing = tx.one("SELECT label FROM tickets WHERE business_day = ? AND business = ? AND id_hash = ? "
                              "AND state IN ('waiting','called','serving','held')", (tx.day, business, id_hash))
            held = existing["label"] if existing else "?"
            raise Conflict("error.already_has_ticket", ticket=held,
                           code="already_has_ticket", detail={"ticket": held}) from None
        raise
    # an appointment was promised days ago: the walk-in limit (每日限号) does not take it back
    if row["number"] > b["daily_limit"] and klass != APPOINTMENT:
        # the whole transaction rolls back with this refusal: nothing is written
        raise Conflict("error.daily_limit_reached", business=_name(b), limit=b["daily_limit"],
                       code="daily_limit_reached", detail={"daily_limit": b["daily_limit"]})
    data = {"class": CLASS_NAMES[klass], "item": item, "green_reason": green_reason}
    if department:  # the item's department as the catalogue says now: the county ranks departments from it
        data["department"] = department
    tx.journal("issue", ticket=row, data=data)
    return row


def _check_issuing(tx: Tx, b: sqlite3.Row, appointment: bool = False) -> None:
    """Refuse outside the hall's issuing hours.

    An appointment check-in keeps its own window (``checkin_before_minutes`` before
    the slot to ``checkin_after_minutes`` after its start, checked by the appointments
    module): a resident booked for 14:00 may check in at 13:50 even where walk-in
    numbers pause over lunch or start at opening, and one booked in the last slot
    after walk-in numbers stop (``stop_issuing_before_close_minutes``), until the hall
    closes.
    """
    _check_day_open(tx)
    hours = tx.hall.config.hours
    ok, reason = hours.issuing_state(tx.now)
    if ok or appointment and (reason in ("break", "before_opening")
                              or reason == "after_closing" and not _hall_closed(hours, tx.now)):
        return
    nxt = hours.next_opening(tx.now)
    when = {lang: text("domain.opening_time", lang, at=nxt) for lang in languages()} if nxt else ""
    raise Conflict(f"error.outside_hours.{reason}", when=when, code="outside_hours",
                   detail={"reason": reason, "next_opening": nxt.isoformat() if nxt else None})


def _check_day_open(tx: Tx) -> None:
    """Refuse once a manager has closed the business day (日终): nothing joins a queue until it is reopened."""
    if day_rules.day_closed(tx, tx.day):
        raise Conflict("error.day_closed", code="day_closed")


def _hall_closed(hours: OpeningHours, now: datetime) -> bool:
    """Whether the day's last service period has ended (or the hall does not open today)."""
    periods = hours.periods_on(now.date())
    return not periods or now.replace(tzinfo=None) >= datetime.combine(now.date(), periods[-1].end)


def find_ticket(tx_or_conn: Tx | sqlite3.Connection, public_id: str) -> sqlite3.Row:
    conn = tx_or_conn.conn if isinstance(tx_or_conn, Tx) else tx_or_conn
    row = conn.execute("SELECT * FROM tickets WHERE public_id = ?", (public_id,)).fetchone()
    if row is None:
        raise unknown_ticket()
    return row


def find_by_label(tx: Tx, label: str) -> sqlite3.Row:
    row = tx.one("SELECT * FROM tickets WHERE business_day = ? AND label = ?", (tx.day, label.strip().upper()))
    if row is None:
        raise unknown_ticket()
    return row


def cancel_ticket(tx: Tx, public_id: str) -> sqlite3.Row:
    """The holder of the slip gives a waiting number up (弃号): the phone page, a kiosk."""
    return _cancel(tx, find_ticket(tx, public_id))


# why a clerk cancels a number for a resident (docs/consoles.md): each is named by web.window.cancel_reason_<code>
CANCEL_REASONS = ("left", "duplicate", "wrong_business", "other")


def cancel_by_label(tx: Tx, label: str, reason: str) -> sqlite3.Row:
    """A clerk cancels today's waiting number ``label`` for a resident who says so at the counter or the front desk
    (a second number taken by mistake, the wrong business, leaving): journaled with the clerk and the reason."""
    assert reason in CANCEL_REASONS, "the API's schema takes only these"
    return _cancel(tx, find_by_label(tx, label), {"reason": reason})


def _cancel(tx: Tx, t: sqlite3.Row, data: dict[str, str] | None = None) -> sqlite3.Row:
    if t["state"] != "waiting":
        raise Conflict("error.not_waiting", code="not_waiting",
                       detail={"state": t["state"]})
    row = tx.update_ticket(t["id"], "state = 'cancelled', finished_at = ?", (tx.at,))
    tx.journal("cancel", ticket=row, data=data)
    return row


def requeue_ticket(tx: Tx, t: sqlite3.Row) -> sqlite3.Row:
    """Put a missed number back in the queue (过号重排), within the grace period.

    It joins the back of the queue (``arrived_at``, ``promise_from``: now) and its latest call is cleared; its first
    call (``first_called_at``) stays: its wait, in the statistics, is the one before the call it missed (issue to
    first call), not the time it waits again for having missed it (docs/statistics.md)."""
    if t["state"] != "no_show" or t["business_day"] != tx.day:
        raise Conflict("error.not_missed", code="not_missed",
                       detail={"state": t["state"]})
    _check_day_open(tx)  # as a new number would be: a closed day's queue is gone (its tickets expired)
    grace = tx.rules.no_show_grace_minutes
    missed_at = datetime.fromisoformat(t["finished_at"])
    if tx.now - missed_at > timedelta(minutes=grace):
        raise Conflict("error.grace_expired", grace=grace, code="grace_expired")
    if t["requeues"] >= tx.rules.max_requeues:
        raise Conflict("error.requeue_limit", code="requeue_limit")
    try:
        row = tx.update_ticket(t["id"], "state = 'waiting', window = NULL, staff_id = NULL, arrived_at = ?, "
                               "promise_from = ?, finished_at = NULL, called_at = NULL, requeues = requeues + 1",
                               (tx.at, tx.at))
    except sqlite3.IntegrityError:
        raise Conflict("error.already_has_ticket.requeue", code="already_has_ticket") from None
    tx.journal("requeue", ticket=row)
    return row


def ticket_view(conn: sqlite3.Connection, t: sqlite3.Row, businesses: dict[str, Any], hall: Hall,
                ahead: int | None = None, estimates: EstimateCache | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """What a resident may see of a ticket: no personal data.

    ``ahead``: the people ahead when the caller knows it cheaply (a ticket just
    issued is last of its kind); otherwise it is counted. While the ticket
    waits, the estimate is made afresh from the hall as it is now (a window
    that pauses or opens moves it), with a range (``est_wait_range``).
    """
    b = businesses[t["business"]]
    cfg = hall.config
    public_url = cfg.public_url
    view: dict[str, Any] = {
        "id": t["public_id"], "ticket": t["label"], "business": t["business"],
        "business_name": b["name"], "item": t["item"], "class": CLASS_NAMES[t["class"]],
        "state": t["state"], "business_day": t["business_day"], "issued_at": t["issued_at"],
        "promise_from": t["promise_from"],
        "window": t["window"] if t["state"] in ("called", "serving", "held") else None,
        "called_at": t["called_at"], "calls": t["calls"],  # calls: a recall shows as one more (phone page)
        "people_ahead": None, "est_wait_minutes": None, "est_wait_range": None, "promise": None,
        "track_url": f"{public_url.rstrip('/')}/t/{t['public_id']}" if public_url else f"/t/{t['public_id']}",
    }
    if t["class"] != ORDINARY:
        # the promise the policy keeps: called within the target, counted in opening time (docs/dispatch.md)
        minutes = b[f"{CLASS_NAMES[t['class']]}_target_minutes"]
        start = datetime.fromisoformat(t["promise_from"])
        view["promise"] = {"within_minutes": minutes, "by": iso(cfg.hours.add_open_minutes(start, minutes))}
    if t["state"] == "waiting" and t["target_window"] is None:
        if ahead is None:
            ahead = people_ahead(conn, t)
        now = now or hall.now()
        default = b["service_minutes"] or cfg.queue.default_service_minutes
        q = (estimates.get(conn, cfg.hours, t["business"], now, default) if estimates is not None
             else queue_state(conn, cfg.hours, t["business"], now, default))
        w = wait(q, cfg.hours, now, t["class"], ahead, datetime.fromisoformat(t["promise_from"]))
        view["people_ahead"] = ahead
        if w is not None:
            view["est_wait_minutes"], view["est_wait_range"] = w.minutes, w.range
    elif t["state"] == "waiting":
        view["people_ahead"] = 0  # sent to a window by name: it calls this ticket next
    return view


def _name(b: sqlite3.Row) -> dict:
    return json.loads(b["name"])
