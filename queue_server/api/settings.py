"""Hall settings from the manager console: businesses, items (CSV), holidays, hours, appointment capacity."""

from __future__ import annotations

from flask import Response, request

from hallq.schema import Arr, Bool, Int, Obj, Str, Texts
from hallq.targets import CLASSES, LIMITS
from queue_server.api import BadRequest, api, operation
from queue_server.api.hall import state
from queue_server.domain import hall_settings
from queue_server.readmodel import settings as reads

ERRORS = (400, 401, 403, 404, 422)
# a business with residents still waiting is not deactivated (business_has_tickets)
BUSINESS_ERRORS = (*ERRORS, 409)
ANY = Obj({}, extra=True)
TARGETS = Obj({k: Int(min=LIMITS[0], max=LIMITS[1]) for k in CLASSES},
              description="minutes of opening time: green channel and appointment promises, ordinary overdue")
BUSINESS = Obj({"daily_limit": Int(min=1, max=9999), "service_minutes": Int(min=1, max=240), "targets": TARGETS,
                "ticket_requires": Str(enum=list(hall_settings.REQUIRES)), "name": Texts(), "active": Bool()})
DAY = Obj({"kind": Str(enum=["holiday", "workday"], nullable=True, description="null: back to the official calendar"),
           "note": Str(max_len=100)}, required=["kind"])
HOURS = Obj({"periods": Arr(Str(max_len=11), max_items=6, nullable=True,
                            description='e.g. ["09:00-12:00", "13:00-17:00"]; null: back to hall.toml')},
            required=["periods"])
CAPACITY = Obj({"scope": Str(enum=["default", "item", "business"]), "key": Str(max_len=64),
                "capacity": Int(min=0, max=5000, nullable=True, description="null removes the override")},
               required=["scope", "capacity"])
MAX_CSV = 2 * 1024 * 1024


def changed(result):
    """After a change: this process sees it at once (others within hall_settings.SYNC_SECONDS)."""
    reads.reload(state())
    return result


def _csv_body() -> str:
    raw = request.get_data(cache=False)  # at most MAX_CSV (the operation's max_body), else 413
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030")  # Excel on a Chinese Windows saves CSV in GBK
        except UnicodeDecodeError:
            raise BadRequest("error.bad_encoding", code="bad_encoding") from None


def _csv_response(text: str, name: str) -> Response:
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@api.get("/settings")
@operation("hall_settings", "Effective hours, calendar overrides, next 60 days, appointment capacity", tag="settings",
           auth="manager", response=ANY, errors=(401, 403))
def get_settings(actor):
    return reads.overview(state())


@api.put("/settings/businesses/<code>")
@operation("update_business", "Change a business's daily limit, service minutes, targets, ticket requirement",
           tag="settings", auth="manager", body=BUSINESS, response=ANY, errors=BUSINESS_ERRORS)
def update_business(code, actor, body):
    return changed(state().service.settings.update_business(actor, code, body))


@api.get("/settings/businesses.csv")
@operation("export_businesses", "Every business as CSV", tag="settings", auth="manager", errors=(401, 403),
           media=("text/csv",))
def export_businesses(actor):
    return _csv_response(reads.businesses_csv(state()), "businesses.csv")


@api.post("/settings/businesses.csv")
@operation("import_businesses", "Import businesses from CSV (all or nothing; problems listed by line)",
           tag="settings", auth="manager", response=ANY, errors=BUSINESS_ERRORS, max_body=MAX_CSV,
           description="Send the CSV as the request body (text/csv, UTF-8 or GB18030, 2 MB at most).")
def import_businesses(actor):
    return changed(state().service.settings.import_businesses(actor, _csv_body()))


@api.get("/settings/items.csv")
@operation("export_items", "Every service item as CSV", tag="settings", auth="manager", errors=(401, 403),
           media=("text/csv",))
def export_items(actor):
    return _csv_response(reads.items_csv(state()), "items.csv")


@api.post("/settings/items.csv")
@operation("import_items", "Import service items from CSV (all or nothing; problems listed by line)",
           tag="settings", auth="manager", response=ANY, errors=ERRORS, max_body=MAX_CSV,
           description="Send the CSV as the request body (text/csv, UTF-8 or GB18030, 2 MB at most).")
def import_items(actor):
    return changed(state().service.settings.import_items(actor, _csv_body()))


@api.put("/settings/calendar/<day>")
@operation("set_calendar_day", "Make a date a holiday or a working day (调休), or back to the official calendar",
           tag="settings", auth="manager", body=DAY, response=ANY, errors=ERRORS)
def set_calendar_day(day, actor, body):
    changed(state().service.settings.set_day(actor, day, body["kind"], body.get("note", "")))
    return reads.overview(state())


@api.put("/settings/hours/<key>")
@operation("set_hours", "Opening periods on working days or one weekday (null: back to hall.toml)",
           tag="settings", auth="manager", body=HOURS, response=ANY, errors=ERRORS)
def set_hours(key, actor, body):
    changed(state().service.settings.set_hours(actor, key, body["periods"]))
    return reads.overview(state())


@api.put("/settings/capacity")
@operation("set_capacity", "Appointment places per slot: by default, per item or per business", tag="settings",
           auth="manager", body=CAPACITY, response=ANY, errors=ERRORS)
def set_capacity(actor, body):
    changed(state().service.settings.set_capacity(actor, body["scope"], body.get("key", ""), body["capacity"]))
    return reads.overview(state())
