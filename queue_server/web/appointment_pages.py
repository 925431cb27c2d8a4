"""The appointments page (预约管理) of the staff console: a day's bookings, checking in, cancelling, booking for a
resident (帮办代办), and lifting a booking suspension (managers).

A clerk at the front desk (导服台) or a window sees a day's bookings (names masked), checks in a resident whose phone
has no code (by the booking code or the ID number: a priority number to tell them), cancels a booking a resident
asked to cancel, and books for a resident who phoned or cannot use the kiosk. A manager also lifts a suspension
after no-shows. The rules are the appointments feature's (queue_server/domain/appointments.py,
docs/appointments.md); the page reads the day's list through ``AppointmentDesk`` and the bookable items through
the read model, and its script (static/console/appointments.js) calls the same ``/api/v1/appointments`` endpoints
as the kiosks, with the session's CSRF token and an Idempotency-Key.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, request

from queue_server.readmodel import hall as hall_reads
from queue_server.web.pages import install_page_headers, page, render, state

bp = Blueprint("appointment_pages", __name__)
install_page_headers(bp)

STATUSES = ("booked", "checked_in", "cancelled", "no_show")


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def bookable_items(st) -> list[dict]:
    """The items a resident may book in this hall (none when the hall takes no bookings), in the catalogue's order."""
    if not st.hall.config.appointments.enabled:
        return []
    return [{"code": i["code"], "business": i["business"], "name": i["name"]}
            for i in hall_reads.items(st) if i["guide"].get("appointment")]


@bp.get("/console/appointments")
@page("staff")
def appointments(actor):
    st = state()
    today = st.hall.now().date()
    day = _day(request.args.get("date")) or today
    items = bookable_items(st)
    rows = st.service.appointments.day(day.isoformat())
    # the filter offers the bookable items and any other item booked that day (one no longer bookable)
    filters = list(items) + [{"code": r["item"], "name": r["item_name"]} for r in rows
                             if r["item"] not in {i["code"] for i in items}]
    filters = list({f["code"]: f for f in filters}.values())
    item = request.args.get("item") or None
    if item not in {f["code"] for f in filters}:
        item = None
    status = request.args.get("status") or None
    if status not in STATUSES:
        status = None
    data = {"today": today.isoformat(), "date": day.isoformat(), "item": item, "status": status,
            "rows": [r for r in rows if item is None or r["item"] == item],
            "items": items, "statuses": STATUSES}
    return render("console/appointments.html", day=day, today=today, item=item, status=status, filters=filters,
                  items=items, statuses=STATUSES, manager=actor.is_manager, data=data)
