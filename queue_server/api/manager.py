"""The manager's live view of the hall: every window, every queue, today's totals, what needs attention."""

from __future__ import annotations

from hallq.schema import Arr, Obj
from queue_server.api import api, operation
from queue_server.api.hall import state
from queue_server.readmodel import manager as reads

HALL_LIVE = Obj({"windows": Arr(Obj({}, extra=True), max_items=None), "queues": Arr(Obj({}, extra=True), max_items=None),
                 "today": Obj({}, extra=True), "attention": Obj({}, extra=True)}, extra=True)


@api.get("/hall/live")
@operation("hall_live", "The live hall for managers: windows, queues and waits, today's totals, alerts",
           tag="consoles", auth="manager", response=HALL_LIVE, errors=(401, 403))
def get_hall_live(actor):
    return reads.hall_live(state())
