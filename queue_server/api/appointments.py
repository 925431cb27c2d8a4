"""Appointments (预约办事): free slots, booking, cancelling, checking in on the day.

Rules live in queue_server/domain/appointments.py; here: parse, call, serialise.
Personal data goes in (name, ID number, phone) and never comes back out
unmasked (docs/appointments.md).
"""

from __future__ import annotations

from datetime import date

from flask import jsonify, request

from hallq.schema import Arr, Bool, Int, Map, Obj, Str, Texts, Time
from queue_server.api import BadRequest, api, operation, query_int
from queue_server.api import schemas as S
from queue_server.api.hall import state

DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
HHMM = r"([01][0-9]|2[0-3]):[0-5][0-9]"
ITEM_CODE = Str(max_len=64, pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", description="service item code (事项编码)")

BOOK = Obj({
    "item": ITEM_CODE,
    "date": Str(pattern=DATE, max_len=10, description="YYYY-MM-DD"),
    "start": Str(pattern=HHMM, max_len=5, description="slot start, HH:MM, as listed by list_slots"),
    "name": Str(min_len=1, max_len=40, description="real name (实名), as on the ID card"),
    "id_number": Str(min_len=1, max_len=40, description="ID number (GB 11643); kept only as a keyed hash and a mask"),
    "phone": Str(min_len=1, max_len=30, description="mobile number; kept only as a keyed hash and a mask"),
}, required=["item", "date", "start", "name", "id_number", "phone"])
CANCEL = Obj({"id_number": Str(min_len=1, max_len=40, description="must match the booking; staff may omit it")})
CHECK_IN = Obj({
    "code": Str(min_len=1, max_len=64, description="booking code, or the QR text HALLQ-APPT:<code>"),
    "id_number": Str(min_len=1, max_len=40, description="from the ID card reader"),
}, description="exactly one of code or id_number")
LIFT = Obj({"id_number": Str(min_len=1, max_len=40)}, required=["id_number"])

HOLIDAY = Map(Str(max_len=40), key_pattern=r"zh-Hans|zh-Hant|en", max_keys=3, nullable=True,
              description="the public holiday (e.g. 国庆节), or null")
SLOT = Obj({"start": Str(), "end": Str(), "capacity": Int(min=0), "remaining": Int(min=0), "available": Bool()},
           extra=True)
SLOTS = Obj({
    "item": Str(), "item_name": Texts(), "business": Str(),
    "days": Arr(Obj({"date": Str(), "workday": Bool(), "holiday": HOLIDAY, "bookable": Bool(),
                     "reason": Str(nullable=True), "slots": Arr(SLOT, max_items=None)}, extra=True), max_items=None),
}, extra=True)
APPOINTMENT = Obj({
    "code": Str(), "item": Str(), "item_name": Texts(), "business": Str(), "date": Str(), "start": Str(),
    "end": Str(), "name_masked": Str(), "id_masked": Str(), "phone_masked": Str(),
    "status": Str(enum=["booked", "checked_in", "cancelled", "no_show"]), "qr": Str(), "cancel_until": Time(),
    "checked_in_ticket": Obj({"id": Str(), "ticket": Str(), "state": Str()}, nullable=True),
    "replayed": Bool(),
}, extra=True)
CANCELLED = Obj({"code": Str(), "status": Str(), "replayed": Bool()}, extra=True)


def _date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        err = BadRequest("error.query.date", name=name, code="invalid_fields")
        err.fields = [{"field": name, "problem": "must be a date YYYY-MM-DD"}]
        raise err from None


@api.get("/appointments/slots")
@operation("list_slots", "Bookable days and slots of an item, with the places left (预约时段)", tag="appointments",
           response=SLOTS, errors=(400, 404, 409),
           query={"item": ITEM_CODE, "from": Str(pattern=DATE, description="first day (default: first bookable)"),
                  "days": Int(min=1, max=31, description="how many days (default: to the last bookable day)")})
def list_slots(actor):
    item = request.args.get("item")
    if not item:
        err = BadRequest("error.appointments.item_required", code="invalid_fields")
        err.fields = [{"field": "item", "problem": "is required"}]
        raise err
    days = query_int("days", 0, 1, 31) if "days" in request.args else None
    return state().service.appointments.slots(item, _date(request.args.get("from"), "from"), days)


@api.post("/appointments")
@operation("book_appointment", "Book a slot in real name; answers the booking code (预约)", tag="appointments",
           auth="kiosk", body=BOOK, response=APPOINTMENT, errors=(400, 401, 403, 404, 409, 422), idempotent=True,
           status=201, description="Send an Idempotency-Key: a retry returns the same booking, never a second one.")
def book_appointment(actor, body, request_key):
    _date(body["date"], "date")
    return state().service.appointments.book(actor, body["item"], body["date"], body["start"], body["name"],
                                             body["id_number"], body["phone"], request=request_key)


@api.get("/appointments/<code>")
@operation("get_appointment", "A booking by its code (masked, for staff too)", tag="appointments",
           auth="kiosk", response=APPOINTMENT, errors=(401, 403, 404))
def get_appointment(code, actor):
    return state().service.appointments.get(code, back_office=actor.kind == "staff")


RESIDENT_NAME = Obj({"code": Str(), "name": Str(), "name_masked": Str()})


@api.get("/appointments/<code>/applicant-name")
@operation("appointment_name", "The full name a booking was made in, for a clerk of its business; journaled",
           tag="appointments", auth="staff", response=RESIDENT_NAME, errors=(401, 403, 404),
           description="A clerk at a window serving the booking's business, or a manager; anyone else 403 "
                       "not_your_business. Journaled as resident_name_viewed (who, which booking; never the name). "
                       "Sent Cache-Control: no-store.")
def appointment_name(code, actor):
    resp = jsonify(state().service.appointments.name(actor, code))
    resp.headers["Cache-Control"] = "no-store"  # no copy in a browser's or a proxy's cache
    return resp


@api.post("/appointments/<code>/cancel")
@operation("cancel_appointment", "Cancel a booking before the cut-off (取消预约)", tag="appointments", auth="kiosk",
           body=CANCEL, response=CANCELLED, errors=(400, 401, 403, 404, 409, 422), idempotent=True)
def cancel_appointment(code, actor, body, request_key):
    if "id_number" not in body and actor.kind != "staff":
        err = BadRequest("error.appointments.id_number_required", code="invalid_fields")
        err.fields = [{"field": "id_number", "problem": "is required"}]
        raise err
    return state().service.appointments.cancel(actor, code, body.get("id_number"), request=request_key)


@api.post("/appointments/check-in")
@operation("check_in", "Check in on the day with the code, its QR or the ID card: a priority ticket (预约签到)",
           tag="appointments", auth="kiosk", body=CHECK_IN, response=S.TICKET,
           errors=(400, 401, 403, 404, 409, 422), idempotent=True, status=201,
           description="The ticket is of class appointment: called after the green channel, before ordinary "
                       "tickets.")
def check_in(actor, body, request_key):
    if ("code" in body) == ("id_number" in body):
        err = BadRequest("error.appointments.code_or_id_number", code="invalid_fields")
        err.fields = [{"field": "code", "problem": "give exactly one of code or id_number"}]
        raise err
    return state().service.appointments.check_in(actor, code=body.get("code"), id_number=body.get("id_number"),
                                                 request=request_key)


@api.get("/appointments")
@operation("list_appointments", "One day's bookings (names masked), for the back office", tag="appointments",
           auth="staff", response=Arr(APPOINTMENT, max_items=None), errors=(400, 401, 403),
           query={"date": Str(pattern=DATE, description="default: today"), "item": ITEM_CODE,
                  "status": Str(enum=["booked", "checked_in", "cancelled", "no_show"])})
def list_appointments(actor):
    st = state()
    day = _date(request.args.get("date"), "date") or st.hall.now().date()
    status = request.args.get("status")
    if status and status not in ("booked", "checked_in", "cancelled", "no_show"):
        err = BadRequest("error.appointments.bad_status", code="invalid_fields")
        err.fields = [{"field": "status", "problem": "unknown status"}]
        raise err
    return st.service.appointments.day(day.isoformat(), request.args.get("item"), status)


@api.post("/appointments/suspensions/lift")
@operation("lift_booking_suspension", "Give a person's booking rights back after no-shows (manager)",
           tag="appointments", auth="manager", body=LIFT, response=Obj({"lifted": Int()}, extra=True),
           errors=(400, 401, 403, 422))
def lift_booking_suspension(actor, body):
    return state().service.appointments.lift_suspension(actor, body["id_number"])
