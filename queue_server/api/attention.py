"""What needs a person: help requests from kiosks (找工作人员帮忙) and devices reporting a problem."""

from __future__ import annotations

from hallq.schema import Arr, Bool, Int, Obj, Str
from queue_server.api import api, operation
from queue_server.api.hall import state
from queue_server.readmodel import manager as reads

HELP = Obj({"id": Int(), "device": Str(), "place": Str(), "state": Str(enum=["open", "taken", "expired"]),
            "requested_at": Str(), "taken_at": Str(nullable=True),
            "taken_by": Obj({"job_no": Str(), "name": Str()}, extra=True, nullable=True)}, extra=True)
HEALTH = Obj({"device": Str(), "kind": Str(), "ok": Bool(), "problems": Arr(Str(), max_items=None),
              "problem_texts": Arr(Obj({}, extra=True), max_items=None), "reported_at": Str(),
              "received_at": Str()}, extra=True)
ATTENTION = Obj({"help_requests": Arr(HELP, max_items=None), "device_problems": Arr(HEALTH, max_items=None)},
                extra=True)


@api.post("/help-requests")
@operation("request_help", "A resident at a kiosk asks for staff (找工作人员帮忙)", tag="attention", auth="kiosk",
           body=Obj({}), response=Obj({**HELP.fields, "repeated": Bool()}, extra=True), errors=(401, 403),
           status=201,
           description="Shown on every window console and the manager's hall page until a clerk takes it. "
                       "While the kiosk's request is open, asking again returns it with repeated = true.")
def request_help(actor, body):
    return state().service.attention.request_help(actor)


@api.get("/help-requests/<int:request_id>")
@operation("help_request", "One help request: has a clerk taken it? (the kiosk that asked, or staff)",
           tag="attention", auth="kiosk", response=HELP, errors=(401, 403, 404),
           description="A kiosk sees only its own requests (another's is 404); the kiosk's help screen asks "
                       "every few seconds so the resident learns that 工号1004 is on the way.")
def get_help_request(request_id, actor):
    return reads.help_request(state(), actor, request_id)


@api.post("/help-requests/<int:request_id>/take")
@operation("take_help_request", "A clerk goes to the kiosk: the request leaves every console", tag="attention",
           auth="staff", body=Obj({}), response=HELP, errors=(401, 403, 404, 409))
def take_help_request(request_id, actor, body):
    return state().service.attention.take_help_request(actor, request_id)


@api.get("/attention")
@operation("attention", "Open help requests and devices reporting a problem (what the consoles' bar shows)",
           tag="attention", auth="staff", response=ATTENTION, errors=(401, 403))
def get_attention(actor):
    return reads.attention(state())


@api.get("/devices/health")
@operation("device_health", "The latest health report of every device (from MQTT devices/<id>/health)",
           tag="attention", auth="staff", response=Obj({"devices": Arr(HEALTH, max_items=None)}, extra=True),
           errors=(401, 403))
def get_device_health(actor):
    return {"devices": reads.device_health(state())}
