"""Routed applications (就近办 across halls): parse, call, serialise (docs/county.md, "Routed applications").

At a village station the routed items answer the same routes as local ones (``GET /items/{code}/form``,
``POST /applications``, ``GET /applications/{no}``, ``GET /applications`` by ID number: queue_server/api/
applications.py asks the routing desk first); here are the lists of routed items and applications, and the
two routes of the handling hall, which only the county platform's routing key (``[[devices]] kind =
"routing"``) may call.
"""

from __future__ import annotations

import logging

from flask import jsonify

from hallq.schema import Any_, Arr, Int, Obj, Str, Texts
from queue_server.api import api, operation, query_int
from queue_server.api.applications import APPLICATION, FIELD_VALUES, ITEM_CODE, MATERIAL_INDEXES, TRACKING_NO
from queue_server.api.hall import state

log = logging.getLogger("hallq.api.routing")

SITE = Str(pattern=r"[a-z0-9][a-z0-9-]{0,39}", description="a hall's site")
ROUTED = Obj({
    "item": ITEM_CODE,
    "applicant": Obj({"name": Str(max_len=40), "id_number": Str(max_len=40), "phone": Str(max_len=30)},
                     description="as the resident gave them at the village; checked again here"),
    "fields": FIELD_VALUES,
    "materials": MATERIAL_INDEXES,
    "delivery": Str(enum=["onsite", "mail"], description="onsite: collected at the village station that took it"),
    "address": Str(max_len=300),
    "submitted_at": Str(max_len=40, description="when the village took it"),
    "origin": Obj({"site": SITE, "tracking_no": TRACKING_NO, "name": Texts()}, required=["site", "tracking_no"],
                  description="the village station and its receipt's number: filed once per (site, tracking_no)"),
}, required=["item", "applicant", "delivery", "origin"])
ROUTED_ITEM = Obj({"code": Str(), "name": Texts(), "business": Str(nullable=True),
                   "routed_to": Obj({"site": Str(), "name": Texts()})}, extra=True)
FILED = Obj({"tracking_no": Str(), "status": Str(), "duplicate": Any_(),
             "origin": Obj({}, extra=True, nullable=True)}, extra=True)


@api.get("/routed-items")
@operation("routed_items", "就近办: the items this station accepts for another hall, and which hall handles each",
           tag="applications", response=Arr(ROUTED_ITEM, max_items=None),
           description="Open, like GET /items. Kept here from the county platform (refreshed in the background), so "
                       "it answers with the county network down; empty for a hall that routes nothing.")
def routed_items(actor):
    return state().service.routing.items()


@api.get("/routed-applications")
@operation("routed_applications", "就近办: the applications this station took for other halls, with their forwarding "
           "state and last known progress (staff)", tag="applications", auth="staff",
           response=Arr(APPLICATION, max_items=None), query={"limit": Int(min=1, max=500)},
           description="Names and ID numbers masked. `routed.state`: queued (waiting for the county), forwarded, "
                       "refused (the handling hall would not file it: `routed.refusal` says why); `routed.as_of`: when "
                       "the progress was fetched from the handling hall, `routed.stale` once that is too old.")
def routed_applications(actor):
    return state().service.routing.find(limit=query_int("limit", 100, 1, 500))


@api.post("/routed-applications")
@operation("file_routed_application", "Handling hall: file an application a village station took (the county "
           "platform's routing key only)", tag="applications", auth="routing", body=ROUTED, response=FILED,
           errors=(400, 401, 403, 404, 409), status=201,
           description="Checked as any application here (400 listing every bad field; 404/409 for an item this hall "
                       "does not handle or has no form for). Filed once per origin (site, tracking_no): a retry "
                       "answers the application filed before with `duplicate: true`. Marked as received from the "
                       "village station (`origin`).")
def file_routed_application(actor, body):
    view = state().service.routing.file(actor, body)
    resp = jsonify(view)
    resp.status_code = 200 if view["duplicate"] else 201
    return resp


@api.get("/routed-applications/<origin_site>/<origin_no>")
@operation("routed_progress", "Handling hall: the progress of an application routed from a village station (the "
           "county platform's routing key only)", tag="applications", auth="routing", response=APPLICATION,
           errors=(401, 403, 404), description="No personal data: what the applicant's own progress page shows.")
def routed_progress(origin_site, origin_no, actor):
    return state().service.routing.remote_view(origin_site[:40], origin_no[:40])

