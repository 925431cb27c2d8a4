"""Sign-in throttles: which clients must wait before trying a password again, and lifting one.

The rules are in :mod:`queue_server.domain.throttles`; the accounts page of the manager console
shows the same list with a button per throttle (docs/security.md, "Throttling sign-ins").
"""

from __future__ import annotations

from hallq.schema import Arr, Bool, Int, Obj, Str
from queue_server.api import api, operation
from queue_server.api.hall import state
from queue_server.readmodel import manager as reads

THROTTLE = Obj({"client": Str(description="the client's address"),
                "job_no": Str(nullable=True, description="the account tried; null: every account from this client"),
                "failures": Int(), "since": Str(), "last_failure_at": Str(), "refused_until": Str(nullable=True),
                "refusing": Bool(description="attempts from this client are refused now")}, extra=True)
LIFT = Obj({"client": Str(min_len=1, max_len=64),
            "job_no": Str(max_len=16, nullable=True, description="null or absent: the client's counter over every account")},
           required=["client"])


@api.get("/sign-in/throttles")
@operation("list_sign_in_throttles", "Sign-in throttles in force: clients that must wait after wrong passwords",
           tag="accounts", auth="manager", response=Arr(THROTTLE, max_items=None), errors=(401, 403))
def list_sign_in_throttles(actor):
    return reads.sign_in_throttles(state())


@api.post("/sign-in/throttles/lift")
@operation("lift_sign_in_throttle", "End a sign-in throttle now (managers: a clerk's; administrators: any)",
           tag="accounts", auth="manager", body=LIFT, response=Obj({}, extra=True), errors=(400, 401, 403, 404))
def lift_sign_in_throttle(actor, body):
    return state().service.accounts.lift_throttle(actor, body["client"], body.get("job_no"))
