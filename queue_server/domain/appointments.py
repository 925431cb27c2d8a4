"""Appointments (预约办事): book a slot, cancel it, check in on the day for a priority number.

Rules (``[appointments]`` in hall.toml, docs/appointments.md):

* only items marked ``appointment = true`` can be booked, in real name (实名),
  with an ID number and a phone;
* a day is bookable from ``min_days_ahead`` calendar days after today up to
  the ``max_workdays_ahead``-th working day (Chinese holidays and 调休 from
  the hall's calendar), and only when the hall is open that day;
* slots of ``slot_minutes`` fill the hall's opening periods; each holds
  ``capacity`` bookings per item (``item_capacity`` overrides), and at most
  ``business_capacity`` for all items of a business together;
* one booking per person per day (``one_per_person_per_day``);
* cancelling closes ``cancel_before_minutes`` before the slot starts (staff
  may still cancel, e.g. when a resident phones in);
* check-in from ``checkin_before_minutes`` before the slot to
  ``checkin_after_minutes`` after its start, with the booking code, its QR
  text or the ID card, gives a ticket of class APPOINTMENT, called after the
  green channel and before ordinary tickets (see dispatch.py);
* a booking neither checked in nor cancelled when its day ends is a no-show
  (爽约); ``no_show_limit`` no-shows within ``no_show_window_days`` suspend
  booking for ``suspend_days``. After a suspension the count starts again.
"""

from __future__ import annotations

import secrets
import sqlite3
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from hallq.clock import iso
from hallq.i18n import LANGS, texts
from hallq.workdays import WorkCalendar
from queue_server.domain import tickets as ticket_rules
from queue_server.domain.context import APPOINTMENT, Actor, Hall, Tx
from queue_server.domain.errors import Conflict, Forbidden, Invalid, NotFound
from queue_server.domain.no_shows import lift_suspension, suspension
from queue_server.domain.people import Person, item_row, parse_person

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService, RequestKey

# 30 characters: no 0/O, 1/I/L, U; 30**8 ≈ 6.6e11 codes, drawn with the secrets module
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
QR_PREFIX = "HALLQ-APPT:"
HOLDING = ("booked", "checked_in", "no_show")  # statuses that take a place in a slot

HOLIDAYS = {  # chinesecalendar's English names → domain.holiday.<key> of the catalogue domain.po
    "New Year's Day": "new_year", "Spring Festival": "spring_festival", "Tomb-sweeping Day": "qingming",
    "Labour Day": "labour_day", "Dragon Boat Festival": "dragon_boat", "Mid-autumn Festival": "mid_autumn",
    "National Day": "national_day",
}


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str | None:
    """A typed or scanned booking code in canonical form, or None when it cannot be one."""
    s = (raw or "").strip().upper()
    if s.startswith(QR_PREFIX):
        s = s[len(QR_PREFIX):]
    s = s.replace(" ", "").replace("-", "")
    if len(s) != CODE_LENGTH or any(c not in ALPHABET for c in s):
        return None
    return s


def holiday_texts(calendar: WorkCalendar, day: date) -> dict[str, str] | None:
    name = calendar.holiday_name(day)
    if name is None:
        return None
    key = HOLIDAYS.get(name)
    return texts(f"domain.holiday.{key}") if key else dict.fromkeys(LANGS, name)


# -- slots -----------------------------------------------------------------------------

def day_slots(hall: Hall, day: date) -> list[tuple[str, str]]:
    """The slots of one day, ``[("09:00", "09:30"), ...]``, filling the opening periods."""
    step = timedelta(minutes=hall.config.appointments.slot_minutes)
    out = []
    for p in hall.config.hours.periods_on(day):
        t, end = datetime.combine(day, p.start), datetime.combine(day, p.end)
        while t + step <= end:
            out.append((f"{t:%H:%M}", f"{t + step:%H:%M}"))
            t += step
    return out


def bookable_window(hall: Hall, today: date) -> tuple[date, date]:
    """The first and last day a booking made ``today`` may be for."""
    rules = hall.config.appointments
    last = hall.config.calendar.add_workdays(today, rules.max_workdays_ahead)
    return today + timedelta(days=rules.min_days_ahead), last


def day_refusal(hall: Hall, today: date, day: date) -> str | None:
    """Why ``day`` cannot be booked today (a reason code), or None."""
    first, last = bookable_window(hall, today)
    if not hall.config.hours.periods_on(day):
        return "not_a_working_day"
    if day < first:
        return "too_soon"
    if day > last:
        return "too_far_ahead"
    return None


def _used(conn: sqlite3.Connection, business: str, first: date, last: date) -> dict[tuple[str, str, str], int]:
    """Places taken per (date, slot start, item) for the items of one business."""
    rows = conn.execute(
        "SELECT date, slot_start, item, COUNT(*) AS n FROM appointments INDEXED BY appointments_slot "
        "WHERE date BETWEEN ? AND ? AND business = ? AND status IN ('booked', 'checked_in', 'no_show') "
        "GROUP BY date, slot_start, item", (first.isoformat(), last.isoformat(), business)).fetchall()
    return {(r["date"], r["slot_start"], r["item"]): r["n"] for r in rows}


def _remaining(hall: Hall, used: dict, business: str, item: str, day: str, start: str) -> tuple[int, int]:
    """(capacity, remaining) of one slot for one item."""
    rules = hall.config.appointments
    capacity = rules.item_capacity.get(item, rules.capacity)
    left = capacity - used.get((day, start, item), 0)
    shared = rules.business_capacity.get(business)
    if shared is not None:
        taken = sum(n for (d, s, _), n in used.items() if d == day and s == start)
        left = min(left, shared - taken)
    return capacity, max(left, 0)


MAX_SLOT_DAYS = 31  # how far (days) outside the bookable window GET /appointments/slots may look, and its ``days`` limit


def list_slots(conn: sqlite3.Connection, hall: Hall, now: datetime, item_code: str, first: date | None = None,
               days: int | None = None) -> dict[str, Any]:
    """Days from ``first`` with their slots and the places left (GET /appointments/slots)."""
    it = _bookable_item(conn, hall, item_code)
    today = now.date()
    lo, hi = bookable_window(hall, today)
    first = first or lo
    # a month each side of what may be booked: never a walk over centuries (anyone may ask), nor past year 9999
    earliest, latest = today - timedelta(days=MAX_SLOT_DAYS), hi + timedelta(days=MAX_SLOT_DAYS)
    if not earliest <= first <= latest:
        raise Invalid("error.query.date_range", name="from", lo=earliest.isoformat(), hi=latest.isoformat(),
                      code="invalid_fields", status=400, detail={"from": earliest.isoformat(), "to": latest.isoformat()})
    last = first + timedelta(days=days - 1) if days else max(hi, first)
    last = min(last, max(hi, first + timedelta(days=MAX_SLOT_DAYS - 1)))  # at most the bookable window, or a month
    used = _used(conn, it["business"], first, last)
    out = []
    d = first
    while d <= last:
        reason = day_refusal(hall, today, d)
        slots = []
        for start, end in day_slots(hall, d):
            capacity, left = _remaining(hall, used, it["business"], item_code, d.isoformat(), start)
            starts = datetime.combine(d, time.fromisoformat(start), tzinfo=now.tzinfo)
            slots.append({"start": start, "end": end, "capacity": capacity, "remaining": left,
                          "available": reason is None and left > 0 and starts > now})
        out.append({"date": d.isoformat(), "workday": hall.config.calendar.is_workday(d),
                    "holiday": holiday_texts(hall.config.calendar, d), "bookable": reason is None,
                    "reason": reason, "slots": slots})
        d += timedelta(days=1)
    return {"item": item_code, "item_name": it["name"], "business": it["business"], "days": out}


def _bookable_item(conn: sqlite3.Connection, hall: Hall, item_code: str) -> dict[str, Any]:
    it = item_row(conn, item_code)
    if not it["guide"].get("appointment") or not hall.config.appointments.enabled:
        raise Conflict("error.not_bookable", code="not_bookable",
                       detail={"item": item_code})
    return it


# -- booking ---------------------------------------------------------------------------

def book(tx: Tx, item_code: str, day_text: str, start: str, name: str, id_number: str, phone: str) -> sqlite3.Row:
    """Book one slot; return the appointment's row."""
    hall, rules = tx.hall, tx.hall.config.appointments
    it = _bookable_item(tx.conn, hall, item_code)
    person = parse_person(tx, name, id_number, phone)
    day = date.fromisoformat(day_text)
    today = tx.now.date()
    first, last = bookable_window(hall, today)
    slot = dict(day_slots(hall, day))
    starts = datetime.combine(day, time.fromisoformat(start), tzinfo=tx.now.tzinfo) if start in slot else None
    reason = day_refusal(hall, today, day) or ("too_soon" if starts is not None and starts <= tx.now else None)
    if reason:
        raise Conflict(f"error.booking.{reason}", first=first.isoformat(), last=last.isoformat(), code=reason,
                       detail={"first": first.isoformat(), "last": last.isoformat()})
    if starts is None:
        raise Invalid("error.no_such_slot", day=day_text, start=start, code="no_such_slot")
    suspended = suspension(tx.conn, person.id_hash, today)
    if suspended is not None:
        until = suspended["until_date"]
        raise Conflict("error.booking_suspended", until=until, code="booking_suspended", detail={"until": until})
    if rules.one_per_person_per_day:
        held = tx.one("SELECT slot_start FROM appointments WHERE id_hash = ? AND date = ? "
                      "AND status IN ('booked', 'checked_in')", (person.id_hash, day_text))
        if held is not None:
            raise Conflict("error.one_per_day", day=day_text, slot_start=held["slot_start"], code="one_per_day",
                           detail={"start": held["slot_start"]})
    _, left = _remaining(hall, _used(tx.conn, it["business"], day, day), it["business"], item_code, day_text, start)
    if left <= 0:
        raise Conflict("error.slot_full", code="slot_full")
    row = _insert(tx, it, day_text, start, slot[start], person)
    tx.journal("appointment_booked", business=it["business"],
               data={"code": row["code"], "item": item_code, "date": day_text, "start": start,
                     "id_masked": person.id_masked})
    return row


def _insert(tx: Tx, it: dict, day: str, start: str, end: str, person: Person) -> sqlite3.Row:
    for _ in range(10):  # a clash of random codes is rare (1 in 10^8 per booking); draw again
        try:
            return tx.row(
                "INSERT INTO appointments (code, item, business, date, slot_start, slot_end, name, name_masked, "
                "id_hash, id_masked, phone_hash, phone_masked, status, booked_at, booked_by) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?, 'booked', ?, ?) RETURNING *",
                (new_code(), it["code"], it["business"], day, start, end, person.name, person.name_masked,
                 person.id_hash, person.id_masked, person.phone_hash, person.phone_masked, tx.at, tx.actor.label))
        except sqlite3.IntegrityError as e:
            if "appointments.code" not in str(e):
                raise
    raise RuntimeError("could not draw an unused booking code in 10 tries")


# -- finding, cancelling, checking in ------------------------------------------------------

def unknown_appointment() -> NotFound:
    return NotFound("error.unknown_appointment", code="unknown_appointment")


def find(conn: sqlite3.Connection, raw_code: str) -> sqlite3.Row:
    code = normalise_code(raw_code)
    row = conn.execute("SELECT * FROM appointments WHERE code = ?", (code,)).fetchone() if code else None
    if row is None:
        raise unknown_appointment()
    return row


def slot_start(a: sqlite3.Row, tz: tzinfo | None) -> datetime:
    return datetime.combine(date.fromisoformat(a["date"]), time.fromisoformat(a["slot_start"]), tzinfo=tz)


def cancel_until(tx_or_hall: Tx | Hall, a: sqlite3.Row, tz: tzinfo | None) -> datetime:
    hall = tx_or_hall.hall if isinstance(tx_or_hall, Tx) else tx_or_hall
    return slot_start(a, tz) - timedelta(minutes=hall.config.appointments.cancel_before_minutes)


def cancel(tx: Tx, raw_code: str, id_number: str | None) -> sqlite3.Row:
    """Cancel a booking: its holder (same ID number) before the cut-off, or staff at any time."""
    a = find(tx.conn, raw_code)
    if id_number is not None:
        if parse_person(tx, None, id_number, None).id_hash != a["id_hash"]:
            raise Forbidden("error.appointments.id_mismatch", code="not_yours")
    elif tx.actor.kind != "staff":
        raise Forbidden("error.appointments.cancel_needs_id", code="not_yours")
    if a["status"] == "cancelled":
        raise Conflict("error.already_cancelled", code="already_cancelled")
    if a["status"] == "checked_in":
        raise _already_checked_in(tx, a)
    until = cancel_until(tx, a, tx.now.tzinfo)
    if a["status"] == "no_show" or (tx.now > until and tx.actor.kind != "staff"):
        minutes = tx.hall.config.appointments.cancel_before_minutes
        raise Conflict("error.cancel_cutoff", minutes=minutes, code="cancel_cutoff",
                       detail={"cancel_until": iso(until)})
    row = tx.row("UPDATE appointments SET status = 'cancelled', cancelled_at = ?, cancelled_by = ? WHERE id = ? "
                 "RETURNING *", (tx.at, tx.actor.label, a["id"]))
    tx.journal("appointment_cancelled", business=a["business"], data={"code": a["code"], "date": a["date"],
                                                                      "late": tx.now > until})
    return row


def _already_checked_in(tx: Tx, a: sqlite3.Row) -> Conflict:
    t = tx.one("SELECT label FROM tickets WHERE id = ?", (a["ticket_id"],))
    label = t["label"] if t else ""
    return Conflict("error.already_checked_in", label=label, code="already_checked_in",
                    detail={"ticket": label})


def check_in(tx: Tx, raw_code: str | None = None, id_number: str | None = None) -> sqlite3.Row:
    """Check in with the booking code (or its QR text) or the ID card; return the new ticket's row."""
    if raw_code is not None:
        a = find(tx.conn, raw_code)
    else:
        a = _todays_booking(tx, parse_person(tx, None, id_number or "", None).id_hash)
    if a["status"] == "cancelled":
        raise Conflict("error.cancelled", code="cancelled")
    if a["status"] == "checked_in":
        raise _already_checked_in(tx, a)
    starts = slot_start(a, tx.now.tzinfo)
    rules = tx.hall.config.appointments
    opens = starts - timedelta(minutes=rules.checkin_before_minutes)
    closes = starts + timedelta(minutes=rules.checkin_after_minutes)
    if a["status"] == "no_show" or tx.now > closes:
        raise Conflict("error.too_late", date=a["date"], closes=closes, code="too_late", detail={"closes": iso(closes)})
    if tx.now < opens:
        raise Conflict("error.too_early", date=a["date"], opens=opens, slot_start=a["slot_start"], slot_end=a["slot_end"],
                       code="too_early", detail={"opens": iso(opens)})
    # the promise starts at the later of the slot's start and the check-in (docs/dispatch.md)
    ticket = ticket_rules.issue_ticket(tx, a["business"], a["item"], klass=APPOINTMENT,
                                       identity=(a["id_hash"], a["id_masked"]), promise_from=iso(starts))
    tx.conn.execute("UPDATE appointments SET status = 'checked_in', checked_in_at = ?, ticket_id = ? WHERE id = ?",
                    (tx.at, ticket["id"], a["id"]))
    tx.journal("appointment_checked_in", ticket=ticket, data={"code": a["code"], "slot": a["slot_start"]})
    return ticket


def _todays_booking(tx: Tx, id_hash: str) -> sqlite3.Row:
    rows = tx.all("SELECT * FROM appointments WHERE id_hash = ? AND date = ? ORDER BY slot_start",
                  (id_hash, tx.day))
    if not rows:
        raise NotFound("error.no_appointment_today", code="no_appointment_today")
    booked = [r for r in rows if r["status"] == "booked"]
    if not booked:
        return rows[-1]  # explains itself: cancelled, already checked in or missed
    after = tx.hall.config.appointments.checkin_after_minutes
    for r in booked:  # the first whose check-in has not closed yet
        if tx.now <= slot_start(r, tx.now.tzinfo) + timedelta(minutes=after):
            return r
    return booked[-1]


# -- views ------------------------------------------------------------------------------------

def appointment_view(conn: sqlite3.Connection, hall: Hall, a: sqlite3.Row, back_office: bool = False) -> dict[str, Any]:
    """What a kiosk may show of a booking: masks only; the back office's ``name`` is the mask too (the full one only
    on request, journaled: queue_server/domain/resident_names.py)."""
    it = item_row(conn, a["item"], active_only=False)
    tz = hall.clock.now().tzinfo
    ticket = None
    if a["ticket_id"] is not None:
        t = conn.execute("SELECT public_id, label, state FROM tickets WHERE id = ?", (a["ticket_id"],)).fetchone()
        ticket = {"id": t["public_id"], "ticket": t["label"], "state": t["state"]}
    view = {"code": a["code"], "item": a["item"], "item_name": it["name"], "business": a["business"],
            "date": a["date"], "start": a["slot_start"], "end": a["slot_end"], "name_masked": a["name_masked"],
            "id_masked": a["id_masked"], "phone_masked": a["phone_masked"], "status": a["status"],
            "qr": QR_PREFIX + a["code"], "cancel_until": iso(cancel_until(hall, a, tz)),
            "checked_in_ticket": ticket}
    if back_office:
        view.update(name=a["name_masked"], booked_at=a["booked_at"], booked_by=a["booked_by"],
                    checked_in_at=a["checked_in_at"], cancelled_at=a["cancelled_at"])
    return view


def list_for_day(conn: sqlite3.Connection, day: str, item: str | None = None, status: str | None = None
                 ) -> list[sqlite3.Row]:
    """One day's bookings for the back office, by slot."""
    sql, params = "SELECT * FROM appointments WHERE date = ?", [day]
    if item:
        sql, params = sql + " AND item = ?", [*params, item]
    if status:
        sql, params = sql + " AND status = ?", [*params, status]
    return conn.execute(sql + " ORDER BY slot_start, id", params).fetchall()



# -- the desk: one transaction per call (QueueService.appointments) -------------------------------

class AppointmentDesk:
    """Appointments as the API and the consoles use them; every method is one transaction."""

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self.hall = service.hall

    def slots(self, item: str, first: date | None = None, days: int | None = None) -> dict[str, Any]:
        with self.service.db.read() as conn:
            return list_slots(conn, self.hall, self.hall.now(), item, first, days)

    def book(self, actor: Actor, item: str, day: str, start: str, name: str, id_number: str, phone: str,
             request: RequestKey | None = None) -> dict[str, Any]:
        return self.service._run(actor, request, lambda tx: appointment_view(
            tx.conn, self.hall, book(tx, item, day, start, name, id_number, phone)))

    def get(self, code: str, back_office: bool = False) -> dict[str, Any]:
        with self.service.db.read() as conn:
            return appointment_view(conn, self.hall, find(conn, code), back_office)

    def cancel(self, actor: Actor, code: str, id_number: str | None, request: RequestKey | None = None) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            a = cancel(tx, code, id_number)
            return {"code": a["code"], "status": a["status"]}
        return self.service._run(actor, request, run)

    def check_in(self, actor: Actor, code: str | None = None, id_number: str | None = None,
                 request: RequestKey | None = None) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            # counted: a checked-in appointment queues by its slot, not as the last of the promises
            return self.service._ticket_view(tx, check_in(tx, code, id_number))
        return self.service._run(actor, request, run)

    def day(self, day: str, item: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """One day's bookings for the back office (names masked)."""
        with self.service.db.read() as conn:
            return [appointment_view(conn, self.hall, a, back_office=True)
                    for a in list_for_day(conn, day, item, status)]

    def name(self, actor: Actor, code: str) -> dict[str, Any]:
        """The full name a booking was made in, for a clerk of its business; journaled."""
        from queue_server.domain import resident_names

        return self.service._run(actor, None, lambda tx: resident_names.appointment_name(tx, find(tx.conn, code)))

    def lift_suspension(self, actor: Actor, id_number: str) -> dict[str, Any]:
        return self.service._run(actor, None, lambda tx: {"lifted": lift_suspension(tx, id_number)})
