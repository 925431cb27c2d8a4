"""Request and response shapes of the HTTP API (validation and OpenAPI from one place)."""

from __future__ import annotations

from hallq import contract
from hallq.schema import Any_, Arr, Bool, Int, Obj, Str, Texts, Time

BUSINESS_CODE = Str(pattern=r"[a-z][a-z0-9_]{0,31}", description="business (queue) code, e.g. commerce")
TICKET_LABEL = Str(pattern=r"[A-Za-z]{1,2}[0-9]{3,4}", max_len=6, description="ticket number as printed, e.g. A001")
EXPECTED = Obj({"ticket": TICKET_LABEL}, description="optionally the ticket the clerk sees, to refuse stale clicks")

# -- requests ---------------------------------------------------------------------------

ISSUE_TICKET = Obj({
    "business": BUSINESS_CODE,
    "item": Str(max_len=64, pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", description="service item code (事项编码)"),
    "id_number": Str(max_len=40, description="resident ID number, checked (GB 11643); never stored or echoed"),
    "phone": Str(max_len=30, description="mobile number; stored only as a keyed hash and a mask"),
    "green_reason": Str(enum=["elderly", "disabled", "pregnant", "military", "other"],
                        description="green channel (绿色通道); kiosks may declare disabled/pregnant, staff any"),
}, required=["business"])

REQUEUE = Obj({
    "id": Str(max_len=40, description="the ticket's public id (from its QR code)"),
    "ticket": TICKET_LABEL,
}, description="one of id or ticket")

CANCEL_BY_LABEL = Obj({
    "ticket": TICKET_LABEL,
    "reason": Str(enum=["left", "duplicate", "wrong_business", "other"],
                  description="left: the resident is leaving; duplicate: a second number taken by mistake; "
                              "wrong_business: taken for the wrong business; other"),
}, required=["ticket", "reason"])

LOGIN = Obj({
    "job_no": Str(min_len=1, max_len=16, description="工号"),
    "password": Str(min_len=1, max_len=200),
}, required=["job_no", "password"])

CALL_NEXT = Obj({"complete_current": Bool(description="complete the current ticket first, in the same transaction")})
TRANSFER = Obj({"to_business": BUSINESS_CODE, "to_window": Int(min=1, max=999), "ticket": TICKET_LABEL},
               description="exactly one of to_business or to_window")
CALL_BACK = Obj({"ticket": TICKET_LABEL}, required=["ticket"])
PAUSE = Obj({"reason": Str(min_len=1, max_len=200, description="e.g. 午休, 系统故障, 临时离开")}, required=["reason"])
ALLOCATION = Obj({"serves": Arr(BUSINESS_CODE, max_items=26, description="ranked: first is the primary business")},
                 required=["serves"])
NOTICE = Obj({
    "text": Texts(),
    "level": Str(enum=["info", "warning", "urgent"]),
    "until": Time(nullable=True),
}, required=["text"])
SET_CLOCK = Obj({"now": Time(), "rate": Int(min=0, max=3600)}, required=["now"])

# -- responses ---------------------------------------------------------------------------

TICKET = Obj({
    "id": Str(description="public id: the ticket's page is /t/<id>"),
    "ticket": Str(), "business": Str(), "business_name": Texts(), "item": Str(nullable=True),
    "class": Str(enum=["green", "appointment", "ordinary"]), "state": Str(),
    "business_day": Str(), "issued_at": Time(), "window": Int(nullable=True), "called_at": Time(nullable=True),
    "people_ahead": Int(min=0, nullable=True), "est_wait_minutes": Int(min=0, nullable=True),
    "est_wait_range": Arr(Int(min=0), min_items=2, max_items=2, nullable=True,
                          description="[low, high] minutes: the real wait falls inside for about 80 % of tickets"),
    "promise_from": Time(description="where the class's promise starts (an appointment: its slot, if later)"),
    "promise": Obj({"within_minutes": Int(min=1), "by": Time()}, nullable=True,
                   description="green channel and appointments: called within the target, by this time"),
    "track_url": Str(max_len=300), "replayed": Bool(description="true when this answers a retried request"),
}, extra=True)

TICKET_BRIEF = Obj({  # no "id": the public id rates the service, and staff never see it (ticket_brief)
    "ticket": Str(), "business": Str(), "item": Str(nullable=True), "class": Str(), "state": Str(),
    "green_reason": Str(nullable=True), "issued_at": Time(), "arrived_at": Time(), "promise_from": Time(),
    "called_at": Time(nullable=True),
    "started_at": Time(nullable=True), "finished_at": Time(nullable=True), "recalls": Int(), "transfers": Int(),
    "requeues": Int(), "id_masked": Str(nullable=True), "phone_masked": Str(nullable=True),
}, extra=True)

WINDOW = Obj({k: v for k, v in contract.WINDOW.schema.fields.items() if k != "version"}, extra=True)

WINDOW_RESULT = Obj({
    "window": WINDOW,
    "ticket": TICKET_BRIEF,
    "seq": Int(min=1, description="call sequence number (calls, recalls, call-backs)"),
    "replayed": Bool(),
}, extra=True)

WINDOW_QUEUE = Obj({"window": WINDOW, "waiting": Arr(TICKET_BRIEF, max_items=None), "held": Arr(TICKET_BRIEF)},
                   extra=True)

BOARD = Obj({k: v for k, v in contract.BOARD.schema.fields.items() if k != "version"}, extra=True)
QUEUE = Obj({k: v for k, v in contract.QUEUE.schema.fields.items() if k != "version"}, extra=True)
NOTICES = Obj({k: v for k, v in contract.NOTICES.schema.fields.items() if k != "version"}, extra=True)

BUSINESS = Obj({
    "code": Str(), "prefix": Str(), "name": Texts(), "daily_limit": Int(), "ticket_requires": Str(),
    "queue": QUEUE, "items": Arr(Obj({"code": Str(), "name": Texts()}, extra=True), max_items=None),
}, extra=True)

ITEM = Obj({"code": Str(), "business": Str(), "name": Texts(), "guide": Obj({}, extra=True)}, extra=True)

HEALTH = Obj({
    "status": Str(enum=["ok", "degraded"]), "version": Str(), "database": Str(), "mqtt": Str(),
    "now": Time(), "business_day": Str(),
    "sqlite": Obj({"journal_mode": Str(), "synchronous": Str(enum=["OFF", "NORMAL", "FULL", "EXTRA"])}),
    "broker": Obj({"embedded": Bool(), "host": Str(), "port": Int(), "tls": Bool()}, nullable=True),
    "server": Obj({"workers": Int(nullable=True), "threads": Int(nullable=True)}),
}, extra=True)

HALL = Obj({
    "site": Str(), "name": Texts(), "level": Str(), "traditional": Str(enum=["hk", "tw"]), "address": Str(),
    "phone": Str(), "complaint_phone": Str(),
    "today": Obj({}, extra=True), "next_opening": Time(nullable=True), "serving": Bool(), "issuing": Bool(),
    "mqtt_url": Str(), "clock": Obj({}, extra=True),
    "catalogue": Str(description="moves whenever the service items change (a guide edited, the file applied): "
                                 "a device keeping GET /items reads them again when it moves"),
    "rules": Obj({"no_show_grace_minutes": Int(), "max_requeues": Int(), "green_channel_age": Int(),
                  "rate_within_workdays": Int()}, extra=True),
}, extra=True)

LOGIN_RESULT = Obj({"token": Str(), "expires_at": Time(), "staff": Obj({}, extra=True)}, extra=True)
JOURNAL = Obj({"entries": Arr(Obj({"seq": Int(), "at": Time(), "actor": Str(), "action": Str(),
                                   "ticket": Str(nullable=True), "business": Str(nullable=True),
                                   "window": Int(nullable=True), "data": Any_()}, extra=True), max_items=None),
               "next_after": Int(), "now": Time()}, extra=True)
DAY = Obj({"business_day": Str(), "expired": Int(), "windows_closed": Int(), "issuing": Bool(), "restored": Int(),
           "not_restored": Arr(Str())}, extra=True)
CLOCK = Obj({"virtual": Bool(), "now": Time(), "rate": Int()}, extra=True)
