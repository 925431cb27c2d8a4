"""Applications (前台综合受理) and progress (进度查询): forms, submission, the back office's moves.

Rules live in queue_server/domain/applications.py and progress.py; here:
parse, call, serialise (docs/applications.md).
"""

from __future__ import annotations

from flask import jsonify, request

from hallq.schema import Any_, Arr, Bool, Int, Map, Obj, Str, Texts, Time
from queue_server.api import BadRequest, api, header_text, operation, query_int
from queue_server.api.hall import state
from queue_server.api.schemas import TICKET

STATUSES = ["submitted", "pre_review", "accepted", "correction", "rejected", "result_ready", "delivered"]
TRACKING_NO = Str(max_len=40, description="tracking number (受理编号), e.g. SQ20261123-K7Q2M9XP")
ITEM_CODE = Str(max_len=64, pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
FIELD_VALUES = Map(Any_(), key_pattern=r"[a-z][a-z0-9_]{0,31}", max_keys=60,
                   description="form values by field key; text, or numbers for number fields")
MATERIAL_INDEXES = Arr(Int(min=0, max=200), max_items=60, description="indexes of the checklist provided")

SUBMIT = Obj({
    "item": ITEM_CODE,
    "applicant": Obj({
        "name": Str(max_len=40), "id_number": Str(max_len=40), "phone": Str(max_len=30),
    }, description="real name, ID number and phone; kept as name + keyed hashes and masks"),
    "fields": FIELD_VALUES,
    "materials": MATERIAL_INDEXES,
    "delivery": Str(enum=["onsite", "mail"], description="result collected on site, or mailed free (免费邮寄)"),
    "address": Str(max_len=300, description="postal address, required when delivery is mail"),
}, required=["item", "applicant", "delivery"])
SUPPLEMENT = Obj({"materials": MATERIAL_INDEXES, "fields": FIELD_VALUES,
                  "id_number": Str(max_len=40, description="the applicant's ID number, the proof that it is theirs: "
                                                           "required unless staff record it at the window")})
COLLECT = Obj({"id_number": Str(max_len=40, description="the applicant's ID number, read from the ID card")},
              required=["id_number"])
TRANSITION = Obj({
    "to": Str(enum=["pre_review", "accepted", "correction", "rejected", "result_ready", "delivered"]),
    "reason": Str(max_len=500, description="why (required for rejected; shown to the applicant)"),
    "missing": Arr(Str(min_len=1, max_len=200), max_items=60,
                   description="correction: material names or form field keys; required materials not yet "
                               "provided are always added (一次性告知)"),
    "delivery": Obj({
        "method": Str(enum=["onsite", "mail"]), "waybill": Str(max_len=40),
        "address": Str(max_len=300, description="mail: the postal address, when none is on file"),
        "collector": Str(enum=["applicant", "proxy"], description="on site: who collects (default the applicant)"),
        "id_number": Str(max_len=40, description="on site: the collector's ID number, read from the card (身份核验)"),
        "name": Str(max_len=40, description="on site by a proxy: the proxy's name"),
    }),
    "decision": Str(enum=["approved", "refused"], description="result_ready: the back office's decision"),
}, required=["to"])

MATERIAL = Obj({"index": Int(), "name": Str(), "form": Str(), "copies": Int(), "required": Bool()}, extra=True)
FORM = Obj({"item": Str(), "item_name": Texts(), "fields": Arr(Obj({}, extra=True), max_items=None),
            "materials": Arr(MATERIAL, max_items=None)}, extra=True)
EVENT = Obj({"status": Str(), "status_name": Texts(), "at": Time(), "note": Texts()}, extra=True)
APPLICATION = Obj({
    "tracking_no": Str(), "item": Str(), "item_name": Texts(), "status": Str(enum=STATUSES),
    "submitted_at": Time(), "timeline": Arr(EVENT, max_items=None), "promised_by": Str(nullable=True),
    "statutory_by": Str(nullable=True), "overdue": Bool(), "delivery": Str(),
    "correction": Obj({"missing": Arr(Obj({}, extra=True), max_items=None)}, extra=True, nullable=True),
    "applicant": Obj({"name": Str(description="masked (张*三), for staff too: the full name is "
                                              "GET /applications/{tracking_no}/applicant-name"),
                      "id": Str(description="masked"), "phone": Str(description="masked")}, extra=True),
    "missing_required": Arr(Str(), max_items=None), "replayed": Bool(),
}, extra=True)
BRIEF = Obj({"tracking_no": Str(), "item_name": Texts(), "status": Str(enum=STATUSES), "submitted_at": Time(),
             "overdue": Bool()}, extra=True)


@api.get("/items/<code>/form")
@operation("get_form", "An item's application form and materials checklist (申请表单与材料清单)", tag="applications",
           response=FORM, errors=(404, 409))
def get_form(code, actor):
    routing = state().service.routing  # an item a village station accepts for another hall (api/routing.py)
    if routing.is_routed(code):
        return routing.form(code)
    return state().service.applications.form(code)


@api.post("/applications")
@operation("submit_application", "Submit an application; answers its tracking number (前台综合受理)",
           tag="applications", auth="kiosk", body=SUBMIT, response=APPLICATION, errors=(400, 401, 403, 404, 409),
           idempotent=True, status=201,
           description="Every bad field is listed at once: fields[] and detail.fields{path: 3-language text}. "
                       "Send an Idempotency-Key: a retry returns the same tracking number.")
def submit_application(actor, body, request_key):
    routing = state().service.routing
    if routing.is_routed(body["item"]):  # taken here, filed by the hall that handles it (就近办, api/routing.py)
        view = routing.submit(actor, body["item"], body["applicant"], body.get("fields", {}),
                              body.get("materials", []), body["delivery"], body.get("address"), request=request_key)
        if state().routing is not None:
            state().routing.wake()  # forwarded now if the county answers; the receipt never waits for it
        return view
    return state().service.applications.submit(
        actor, body["item"], body["applicant"], body.get("fields", {}), body.get("materials", []), body["delivery"],
        body.get("address"), request=request_key)


@api.get("/applications/<tracking_no>")
@operation("get_application", "Progress of an application: status, timeline, deadlines (进度查询)",
           tag="applications", response=APPLICATION, errors=(404,),
           description="Open, with no personal data; a staff token also gets the applicant (name and ID masked: "
                       "the full name is GET /applications/{tracking_no}/applicant-name), the form values "
                       "and the mailing address.")
def get_application(tracking_no, actor):
    routed = state().service.routing.get(tracking_no, back_office=actor.kind == "staff")  # taken for another hall
    if routed is not None:
        return routed
    return state().service.packages.get(tracking_no, back_office=actor.kind == "staff")  # a package's or one item's


APPLICANT_NAME = Obj({"tracking_no": Str(), "name": Str(), "name_masked": Str(),
                      "mail_to": Obj({"recipient": Str(), "phone": Str()}, extra=True)}, extra=True)


@api.get("/applications/<tracking_no>/applicant-name")
@operation("applicant_name", "The applicant's full name, for a clerk of the case; every view is journaled",
           tag="applications", auth="staff", response=APPLICANT_NAME, errors=(401, 403, 404),
           description="Views and lists show the masked name. A clerk at a window serving the application's "
                       "business, a clerk who has taken a step on it, or a manager gets the full name (and, for a "
                       "mailed result, the recipient and phone for the waybill); anyone else 403 not_your_business. "
                       "Journaled as resident_name_viewed (who, which tracking number; never the name). "
                       "Works with a package's tracking number too. Sent Cache-Control: no-store.")
def applicant_name(tracking_no, actor):
    resp = jsonify(state().service.packages.applicant_name(actor, tracking_no))
    resp.headers["Cache-Control"] = "no-store"  # no copy in a browser's or a proxy's cache
    return resp


@api.get("/applications")
@operation("find_applications", "A resident's applications by ID number; or, for staff, by filter",
           tag="applications", auth="kiosk", response=Arr(BRIEF, max_items=None), errors=(400, 401, 403, 422),
           query={"status": Str(enum=STATUSES), "item": ITEM_CODE, "business": Str(max_len=32),
                  "overdue": Str(enum=["true", "false"]), "limit": Int(min=1, max=500), "offset": Int(min=0)},
           description="A kiosk sends the ID number read from the card in the X-Id-Number header. Staff without "
                       "an ID number get the back office's list, newest first.")
def find_applications(actor):
    desk = state().service.applications
    if "id_number" in request.args:  # a URL is written to access logs (a reverse proxy's): never an ID number in it
        err = BadRequest("error.applications.id_number_in_url", code="invalid_fields")
        err.fields = [{"field": "id_number", "problem": "must be sent in the X-Id-Number header, not the URL"}]
        raise err
    id_number = header_text("X-Id-Number", 40)
    if id_number:  # one's packages and lone applications, and those taken here for another hall
        mine = state().service.packages.of_person(id_number[:40])
        routed = state().service.routing.of_person(id_number[:40])
        return sorted(mine + routed, key=lambda v: v["submitted_at"], reverse=True)[:50] if routed else mine
    if actor.kind != "staff":
        err = BadRequest("error.applications.id_number_required", code="invalid_fields")
        err.fields = [{"field": "id_number", "problem": "is required"}]
        raise err
    status = request.args.get("status")
    overdue = request.args.get("overdue")
    if status is not None and status not in STATUSES or overdue not in (None, "true", "false"):
        err = BadRequest("error.applications.bad_filter", code="invalid_fields")
        err.fields = [{"field": "status" if status not in STATUSES else "overdue", "problem": "unknown value"}]
        raise err
    return desk.find(status=status, item=request.args.get("item"), business=request.args.get("business"),
                     overdue=None if overdue is None else overdue == "true",
                     limit=query_int("limit", 100, 1, 500), offset=query_int("offset", 0, 0, 10**6))


@api.post("/applications/<tracking_no>/transition")
@operation("transition_application", "Move an application on: pre-review, accept, correction notice, reject, "
           "result, delivery (staff)", tag="applications", auth="staff", body=TRANSITION, response=APPLICATION,
           errors=(400, 401, 403, 404, 409))
def transition_application(tracking_no, actor, body):
    return state().service.applications.transition(
        actor, tracking_no, body["to"], body.get("reason", ""), body.get("missing"), body.get("delivery"),
        body.get("decision"))


@api.post("/applications/<tracking_no>/collect")
@operation("collect_result", "领取结果: a number for the 出件 window when a result waits to be collected on site",
           tag="applications", auth="kiosk", body=COLLECT, response=TICKET, errors=(400, 401, 403, 404, 409),
           idempotent=True, status=201,
           description="An application's or a package's tracking number, and the applicant's id_number from the ID "
                       "card (403 not_yours otherwise). 409 nothing_to_collect while no result waits on site. The "
                       "number is of the business the hall's delivery windows serve, in the appointment class; "
                       "`collecting` says which case and how many results wait.")
def collect_result(tracking_no, actor, body, request_key):
    return state().service.packages.collect(actor, tracking_no, body["id_number"], request=request_key)


@api.post("/applications/<tracking_no>/supplement")
@operation("supplement_application", "Supply what the correction notice asked for (补正); back to pre-review",
           tag="applications", auth="kiosk", body=SUPPLEMENT, response=APPLICATION,
           errors=(400, 401, 403, 404, 409, 422), idempotent=True,
           description="A kiosk must send the applicant's id_number (403 not_yours without it or when it does not "
                       "match); staff may omit it.")
def supplement_application(tracking_no, actor, body, request_key):
    return state().service.applications.supplement(
        actor, tracking_no, body.get("materials", []), body.get("fields", {}), body.get("id_number"),
        request=request_key)
