"""Tidal windows (潮汐窗口): the rules' state, manual assignment and release, the automatic switch."""

from __future__ import annotations

from hallq.schema import Bool, Int, Obj
from queue_server.api import api, operation
from queue_server.api import schemas as S
from queue_server.api.hall import state
from queue_server.readmodel import manager as reads

OVERVIEW = Obj({"auto_assign": Bool(), "unseen": Int()}, extra=True)
ASSIGN = Obj({"business": S.BUSINESS_CODE}, required=["business"])
AUTO = Obj({"auto_assign": Bool()}, required=["auto_assign"])
ACK = Obj({"alert": Int(min=1, description="one alert; all when absent")})
ERRORS = (400, 401, 403, 404, 409)


@api.get("/tidal")
@operation("tidal_overview", "Tidal windows: businesses under pressure, assignments, alerts", tag="tidal",
           auth="manager", response=OVERVIEW, errors=(401, 403))
def tidal_overview(actor):
    return reads.tidal_overview(state())


@api.post("/tidal/windows/<int:number>/assign")
@operation("tidal_assign", "Lend a tidal window to a business now (manual; released by a manager)", tag="tidal",
           auth="manager", body=ASSIGN, response=Obj({}, extra=True), errors=ERRORS + (422,))
def tidal_assign(number, actor, body):
    st = state()
    queue = reads.queue_of(st, body["business"])  # its figures now: the reason kept with the assignment
    return st.service.tidal.assign(actor, number, body["business"], queue)


@api.post("/tidal/windows/<int:number>/release")
@operation("tidal_release", "Give a tidal window its previous businesses back", tag="tidal", auth="manager",
           body=Obj({}), response=Obj({}, extra=True), errors=ERRORS)
def tidal_release(number, actor, body):
    return state().service.tidal.release(actor, number)


@api.put("/tidal/auto")
@operation("tidal_auto", "Switch automatic assignment of tidal windows on or off", tag="tidal", auth="manager",
           body=AUTO, response=OVERVIEW, errors=(400, 401, 403))
def tidal_auto(actor, body):
    st = state()
    st.service.tidal.set_auto(actor, body["auto_assign"])
    return reads.tidal_overview(st)


@api.post("/tidal/alerts/seen")
@operation("tidal_alerts_seen", "Mark tidal alerts as seen", tag="tidal", auth="manager", body=ACK,
           response=Obj({"seen": Int()}), errors=(400, 401, 403))
def tidal_alerts_seen(actor, body):
    return state().service.tidal.acknowledge(actor, body.get("alert"))
