"""Tidal windows (潮汐窗口): the rules' state, manual assignment and release, the automatic switch."""

from __future__ import annotations

from hallq.schema import Bool, Int, Obj
from queue_server.api import api, operation
from queue_server.api import schemas as S
from queue_server.api.hall import state
from queue_server.domain import tidal as rules

OVERVIEW = Obj({"auto_assign": Bool(), "unseen": Int()}, extra=True)
ASSIGN = Obj({"business": S.BUSINESS_CODE}, required=["business"])
AUTO = Obj({"auto_assign": Bool()}, required=["auto_assign"])
ACK = Obj({"alert": Int(min=1, description="one alert; all when absent")})
ERRORS = (400, 401, 403, 404, 409)


def overview() -> dict:
    st = state()
    now = st.hall.now()
    with st.db.read() as conn:
        return rules.overview(conn, st.hall.config.tidal, now, st.snapshots.queues(conn, now))


@api.get("/tidal")
@operation("tidal_overview", "Tidal windows: businesses under pressure, assignments, alerts", tag="tidal",
           auth="manager", response=OVERVIEW, errors=(401, 403))
def tidal_overview(actor):
    return overview()


@api.post("/tidal/windows/<int:number>/assign")
@operation("tidal_assign", "Lend a tidal window to a business now (manual; released by a manager)", tag="tidal",
           auth="manager", body=ASSIGN, response=Obj({}, extra=True), errors=ERRORS + (422,))
def tidal_assign(number, actor, body):
    st = state()
    with st.db.read() as conn:
        q = st.snapshots.queues(conn, st.hall.now()).get(body["business"])
    with st.service.transaction(actor) as tx:
        return rules.assign(tx, number, body["business"], q)


@api.post("/tidal/windows/<int:number>/release")
@operation("tidal_release", "Give a tidal window its previous businesses back", tag="tidal", auth="manager",
           body=Obj({}), response=Obj({}, extra=True), errors=ERRORS)
def tidal_release(number, actor, body):
    with state().service.transaction(actor) as tx:
        return rules.release(tx, number)


@api.put("/tidal/auto")
@operation("tidal_auto", "Switch automatic assignment of tidal windows on or off", tag="tidal", auth="manager",
           body=AUTO, response=OVERVIEW, errors=(400, 401, 403))
def tidal_auto(actor, body):
    with state().service.transaction(actor) as tx:
        rules.set_auto(tx, body["auto_assign"])
    return overview()


@api.post("/tidal/alerts/seen")
@operation("tidal_alerts_seen", "Mark tidal alerts as seen", tag="tidal", auth="manager", body=ACK,
           response=Obj({"seen": Int()}), errors=(400, 401, 403))
def tidal_alerts_seen(actor, body):
    with state().service.transaction(actor) as tx:
        return {"seen": rules.acknowledge(tx, body.get("alert"))}
