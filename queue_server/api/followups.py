"""Bad-review follow-ups (差评整改): verify → fix → report back; appeals of malicious reviews.

Managers see and handle all; a clerk sees the reviews of the cases they
handled, records the fix and may appeal.
"""

from __future__ import annotations

from flask import request

from hallq.schema import Arr, Bool, Int, Obj, Str
from queue_server.api import BadRequest, api, operation
from queue_server.api.hall import state
from queue_server.domain import followups as rules
from queue_server.domain.context import Actor
from queue_server.domain.errors import Forbidden, NotFound

_NOTE = Str(min_len=1, max_len=rules.MAX_NOTE)
FOLLOWUP = Obj({"id": Int(), "state": Str(enum=list(rules.STATES)), "overdue": Bool(), "due_date": Str(),
                "level": Int()}, extra=True)
VERIFY = Obj({"note": _NOTE, "complaint_valid": Bool(description="false: the complaint does not hold")},
             required=["note", "complaint_valid"])
NOTE = Obj({"note": _NOTE}, required=["note"])
APPEAL = Obj({"reason": _NOTE}, required=["reason"])
DECIDE = Obj({"upheld": Bool(), "note": _NOTE}, required=["upheld", "note"])
ERRORS = (400, 401, 403, 404, 409, 422)
WHICH = ("active", "overdue", "appeals", "all")


def followup_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound("没有这条差评记录。", "沒有這條差評記錄。", "No such bad-review follow-up.", code="unknown_followup")
    return int(raw)


def open_pending() -> None:
    """Open follow-ups for new bad ratings before reading (normally the background task has)."""
    st = state()
    if rules.pending_count(st.db.connection()):
        from queue_server.domain.context import SYSTEM
        with st.service.transaction(SYSTEM) as tx:
            rules.open_pending(tx)


def visible(actor: Actor, f: dict) -> dict:
    if actor.is_manager or f["owner_staff_id"] == actor.staff_id:
        return f
    raise Forbidden("您只能查看自己经办业务的差评。", "您只能查看自己經辦業務的差評。",
                    "You can only see reviews of the cases you handled.", code="not_your_review")


def list_for(actor: Actor, which: str) -> list[dict]:
    if which not in WHICH:
        err = BadRequest("参数 which 无效。", "參數 which 無效。", f"which must be one of {', '.join(WHICH)}.",
                         code="invalid_fields")
        err.fields = [{"field": "which", "problem": f"must be one of {', '.join(WHICH)}"}]
        raise err
    open_pending()
    st = state()
    with st.db.read() as conn:
        return rules.list_followups(conn, st.hall.now().date(), which,
                                    owner=None if actor.is_manager else actor.staff_id)


def get(actor: Actor, fid: int) -> dict:
    st = state()
    with st.db.read() as conn:
        return visible(actor, rules.get_followup(conn, fid, st.hall.now().date()))


def step(actor: Actor, fid: int, fn, *args) -> dict:
    st = state()
    with st.service.transaction(actor) as tx:
        fn(tx, fid, *args)
    return get(actor, fid)


@api.get("/followups")
@operation("list_followups", "Bad reviews to follow up (managers: all; clerks: their own)", tag="ratings",
           auth="staff", response=Arr(FOLLOWUP, max_items=None), errors=(400, 401, 403),
           query={"which": Str(enum=list(WHICH))})
def list_followups(actor):
    return list_for(actor, request.args.get("which", "active"))


@api.get("/followups/<followup>")
@operation("get_followup", "One bad-review follow-up with its rating and every step", tag="ratings", auth="staff",
           response=FOLLOWUP, errors=(401, 403, 404))
def get_followup(followup, actor):
    return get(actor, followup_id(followup))


@api.post("/followups/<followup>/verify")
@operation("verify_followup", "回访核实: record the call back to the resident and whether the complaint holds",
           tag="ratings", auth="manager", body=VERIFY, response=FOLLOWUP, errors=ERRORS)
def verify_followup(followup, actor, body):
    return step(actor, followup_id(followup), rules.verify, body["note"], body["complaint_valid"])


@api.post("/followups/<followup>/fix")
@operation("fix_followup", "整改: record what was changed (the clerk who handled the case, or a manager)",
           tag="ratings", auth="staff", body=NOTE, response=FOLLOWUP, errors=ERRORS)
def fix_followup(followup, actor, body):
    return step(actor, followup_id(followup), rules.fix, body["note"])


@api.post("/followups/<followup>/report")
@operation("report_followup", "反馈: the resident was told the outcome; the follow-up closes", tag="ratings",
           auth="manager", body=NOTE, response=FOLLOWUP, errors=ERRORS)
def report_followup(followup, actor, body):
    return step(actor, followup_id(followup), rules.report_back, body["note"])


@api.post("/followups/<followup>/appeal")
@operation("appeal_followup", "申诉: appeal a malicious review", tag="ratings", auth="staff", body=APPEAL,
           response=FOLLOWUP, errors=ERRORS)
def appeal_followup(followup, actor, body):
    return step(actor, followup_id(followup), rules.appeal, body["reason"])


@api.post("/followups/<followup>/appeal-decision")
@operation("decide_appeal", "Decide an appeal (another manager); upheld takes the rating out of the statistics",
           tag="ratings", auth="manager", body=DECIDE, response=FOLLOWUP, errors=ERRORS)
def decide_appeal(followup, actor, body):
    return step(actor, followup_id(followup), rules.decide_appeal, body["upheld"], body["note"])
