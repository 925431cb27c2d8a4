"""Bad-review follow-ups (差评整改): verify → fix → report back; appeals of malicious reviews.

Managers see and handle all; a clerk sees the reviews of the cases they
handled, records the fix and may appeal.
"""

from __future__ import annotations

from flask import jsonify, request

from hallq.schema import Arr, Bool, Int, Obj, Str
from queue_server.api import api, operation
from queue_server.api.hall import state
from queue_server.domain import followups as rules
from queue_server.domain.followups import followup_id
from queue_server.readmodel import followups as reads
from queue_server.readmodel.followups import WHICH

_NOTE = Str(min_len=1, max_len=rules.MAX_NOTE)
FOLLOWUP = Obj({"id": Int(), "state": Str(enum=list(rules.STATES)), "overdue": Bool(), "due_date": Str(),
                "level": Int()}, extra=True)
VERIFY = Obj({"note": _NOTE, "complaint_valid": Bool(description="false: the complaint does not hold")},
             required=["note", "complaint_valid"])
NOTE = Obj({"note": _NOTE}, required=["note"])
APPEAL = Obj({"reason": _NOTE}, required=["reason"])
DECIDE = Obj({"upheld": Bool(), "note": _NOTE}, required=["upheld", "note"])
ERRORS = (400, 401, 403, 404, 409, 422)


@api.get("/followups")
@operation("list_followups", "Bad reviews to follow up (managers: all; clerks: their own)", tag="ratings",
           auth="staff", response=Arr(FOLLOWUP, max_items=None), errors=(400, 401, 403),
           query={"which": Str(enum=list(WHICH))})
def list_followups(actor):
    which = reads.check_which(request.args.get("which", "active"))
    st = state()
    st.service.followups.open_pending()
    return reads.listing(st, actor, which)


@api.get("/followups/<followup>")
@operation("get_followup", "One bad-review follow-up with its rating and every step", tag="ratings", auth="staff",
           response=FOLLOWUP, errors=(401, 403, 404))
def get_followup(followup, actor):
    return reads.one(state(), actor, followup_id(followup))


@api.post("/followups/<followup>/verify")
@operation("verify_followup", "回访核实: record the call back to the resident and whether the complaint holds",
           tag="ratings", auth="manager", body=VERIFY, response=FOLLOWUP, errors=ERRORS)
def verify_followup(followup, actor, body):
    return reads.visible(actor, state().service.followups.verify(actor, followup_id(followup), body["note"],
                                                                 body["complaint_valid"]))


@api.post("/followups/<followup>/fix")
@operation("fix_followup", "整改: record what was changed (the clerk who handled the case, or a manager)",
           tag="ratings", auth="staff", body=NOTE, response=FOLLOWUP, errors=ERRORS)
def fix_followup(followup, actor, body):
    return reads.visible(actor, state().service.followups.fix(actor, followup_id(followup), body["note"]))


@api.post("/followups/<followup>/report")
@operation("report_followup", "反馈: the resident was told the outcome; the follow-up closes", tag="ratings",
           auth="manager", body=NOTE, response=FOLLOWUP, errors=ERRORS)
def report_followup(followup, actor, body):
    return reads.visible(actor, state().service.followups.report_back(actor, followup_id(followup), body["note"]))


@api.post("/followups/<followup>/appeal")
@operation("appeal_followup", "申诉: appeal a malicious review", tag="ratings", auth="staff", body=APPEAL,
           response=FOLLOWUP, errors=ERRORS)
def appeal_followup(followup, actor, body):
    return reads.visible(actor, state().service.followups.appeal(actor, followup_id(followup), body["reason"]))


@api.post("/followups/<followup>/appeal-decision")
@operation("decide_appeal", "Decide an appeal (another manager); upheld takes the rating out of the statistics",
           tag="ratings", auth="manager", body=DECIDE, response=FOLLOWUP, errors=ERRORS)
def decide_appeal(followup, actor, body):
    return reads.visible(actor, state().service.followups.decide_appeal(actor, followup_id(followup),
                                                                        body["upheld"], body["note"]))


CONTACT = Obj({"followup": Int(), "phone": Str(), "given_at": Str()})


@api.get("/followups/<followup>/contact")
@operation("followup_contact", "The phone the resident left for the call-back (回访); every view is journaled",
           tag="ratings", auth="manager", response=CONTACT, errors=(401, 403, 404),
           description="Managers only (they call back). Kept encrypted; deleted when the follow-up closes or after "
                       "[privacy] followup_contact_days. 404 no_contact when none was left or it was deleted.")
def followup_contact(followup, actor):
    resp = jsonify(state().service.followups.contact(actor, followup_id(followup)))
    resp.headers["Cache-Control"] = "no-store"  # no copy in a browser's or a proxy's cache
    return resp
