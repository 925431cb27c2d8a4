"""一件事 packages (高效办成一件事): the combined guide, filing, the comprehensive window's pre-review, 补正.

Rules live in queue_server/domain/packages.py; here: parse, call, serialise (docs/applications.md).
A package's progress is read like any application's: ``GET /applications/{tracking_no}``.
"""

from __future__ import annotations

from hallq.schema import Arr, Bool, Int, Obj, Str, Texts
from queue_server.api import api, operation
from queue_server.api.applications import FIELD_VALUES
from queue_server.api.hall import state

CODE = Str(max_len=32, pattern=r"[a-z][a-z0-9_]{0,31}")
FILE = Obj({
    "applicant": Obj({
        "name": Str(max_len=40), "id_number": Str(max_len=40), "phone": Str(max_len=30),
    }, description="real name, ID number and phone; kept as name + keyed hashes and masks"),
    "fields": FIELD_VALUES,
    "materials": Arr(Int(min=0, max=200), max_items=200, description="indexes of the package's merged materials"),
    "delivery": Str(enum=["onsite", "mail"], description="results collected on site, or mailed free (免费邮寄)"),
    "address": Str(max_len=300, description="postal address, required when delivery is mail"),
}, required=["applicant", "delivery"])
REVIEW = Obj({
    "to": Str(enum=["accepted", "correction", "rejected"]),
    "reason": Str(max_len=500, description="why (required for rejected; shown to the applicant)"),
    "missing": Arr(Str(min_len=1, max_len=200), max_items=60,
                   description="correction: material names, form field labels or keys, or free text; each goes to "
                               "the parts it concerns, free text once"),
}, required=["to"])
SUPPLEMENT = Obj({"materials": Arr(Int(min=0, max=200), max_items=200), "fields": FIELD_VALUES,
                  "id_number": Str(max_len=40, description="the applicant's, required unless staff record it")})
PART = Obj({"tracking_no": Str(), "item": Str(), "item_name": Texts(), "department": Str(), "status": Str(),
            "promised_by": Str(nullable=True), "decision": Str(nullable=True)}, extra=True)
PACKAGE_APPLICATION = Obj({
    "tracking_no": Str(), "package": Str(), "package_name": Texts(), "status": Str(), "status_name": Texts(),
    "submitted_at": Str(), "parts": Arr(PART, max_items=None), "done": Bool(),
    "timeline": Arr(Obj({}, extra=True), max_items=None), "overdue": Bool(),
}, extra=True)
GUIDE = Obj({"package": Str(), "name": Texts(), "items": Arr(Obj({}, extra=True), max_items=None),
             "fields": Arr(Obj({}, extra=True), max_items=None), "materials": Arr(Obj({}, extra=True), max_items=None)},
            extra=True)


@api.get("/packages")
@operation("list_packages", "The 一件事 packages this hall takes", tag="applications",
           response=Arr(Obj({"package": Str(), "name": Texts(), "items": Int()}, extra=True), max_items=None))
def list_packages(actor):
    return state().service.packages.menu()


@api.get("/packages/<code>")
@operation("get_package_guide", "One package's combined guide (一次告知): items, departments, one form, one "
           "de-duplicated materials list", tag="applications", response=GUIDE, errors=(404,))
def get_package_guide(code, actor):
    return state().service.packages.guide(code)


@api.post("/packages/<code>/applications")
@operation("file_package", "File a package (一表申请、一窗受理): one tracking number, one 办件 per item",
           tag="applications", auth="kiosk", body=FILE, response=PACKAGE_APPLICATION,
           errors=(400, 401, 403, 404, 409), idempotent=True, status=201,
           description="Kiosks, window staff and an online platform (with a device key) file the same way. All "
                       "the parts are created in one transaction, or none. Every bad field is listed at once.")
def file_package(code, actor, body, request_key):
    return state().service.packages.file(actor, code, body["applicant"], body.get("fields", {}),
                                         body.get("materials", []), body["delivery"], body.get("address"),
                                         request=request_key)


@api.post("/packages/applications/<tracking_no>/review")
@operation("review_package", "Pre-review every part at the comprehensive window: accept all, one correction "
           "notice, or refuse all (staff)", tag="applications", auth="staff", body=REVIEW,
           response=PACKAGE_APPLICATION, errors=(400, 401, 403, 404, 409))
def review_package(tracking_no, actor, body):
    return state().service.packages.review(actor, tracking_no, body["to"], body.get("reason", ""),
                                           body.get("missing"))


@api.post("/packages/applications/<tracking_no>/supplement")
@operation("supplement_package", "Supply what the package's correction notice asked for (补正)",
           tag="applications", auth="kiosk", body=SUPPLEMENT, response=PACKAGE_APPLICATION,
           errors=(400, 401, 403, 404, 409, 422), idempotent=True)
def supplement_package(tracking_no, actor, body, request_key):
    return state().service.packages.supplement(actor, tracking_no, body.get("materials", []),
                                               body.get("fields", {}), body.get("id_number"), request=request_key)
