"""What the consoles read: the live version, a window's whole console, the rating prompt.

Live updates are short polls of ``GET /live``: it answers ``304 Not
Modified`` while the journal's newest sequence number equals the
``If-None-Match`` the page sent, so an idle console costs one tiny request a
second and no server thread is held between requests (docs/consoles.md,
"Live updates").
"""

from __future__ import annotations

from flask import Response, jsonify, request

from hallq.schema import Arr, Bool, Int, Obj, Str
from queue_server.api import api, operation
from queue_server.api import schemas as S
from queue_server.api.hall import state
from queue_server.domain import rating_prompts
from queue_server.readmodel import consoles as reads

LIVE = Obj({"seq": Int(description="the journal's newest sequence number"), "business_day": Str()}, extra=True)
CONSOLE = Obj({"window": S.WINDOW, "signed_in_here": Bool(), "current": Obj({}, extra=True, nullable=True),
               "waiting": Arr(Obj({}, extra=True), max_items=None), "waiting_total": Int(),
               "held": Arr(Obj({}, extra=True), max_items=None), "now": Str()}, extra=True)
PROMPT = Obj({"window": Int(), "ticket": Obj({}, extra=True, nullable=True), "prompted": Bool(),
              "prompted_at": Str(nullable=True)}, extra=True)


@api.get("/live")
@operation("live_version", "The journal's newest sequence number; 304 while unchanged (consoles poll it)",
           tag="consoles", auth="kiosk", response=LIVE, errors=(304, 401, 403),
           description="Send the previous response's ETag as If-None-Match: the answer is 304 Not Modified "
                       "until something in the hall changes.")
def live_version(actor):
    st = state()
    seq = reads.live_seq(st)
    etag = f'"{seq}"'
    if request.headers.get("If-None-Match") == etag:
        resp = Response(status=304)
    else:
        resp = jsonify({"seq": seq, "business_day": st.hall.now().date().isoformat()})
    resp.headers["ETag"] = etag
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@api.get("/console/windows/<int:number>")
@operation("window_console", "Everything a window's console shows: current ticket, waiting list, held, today",
           tag="consoles", auth="window", response=CONSOLE, errors=(401, 403, 404))
def get_window_console(number, actor):
    return reads.window_console(state(), number, actor)


@api.post("/windows/<int:number>/rating-prompt")
@operation("ask_for_rating", "Ask the resident to rate: lights the window's rating tablet or pad (邀请评价)",
           tag="ratings", auth="window", body=Obj({}), response=Obj({"window": Int(), "ticket": Str(),
                                                                        "prompted_at": Str()}, extra=True),
           errors=(401, 403, 404), status=201,
           description="Staff may ask; only the resident rates (POST /ratings from a staff account is refused).")
def ask_for_rating(number, actor, body):
    return state().service.ask_for_rating(actor, number)


@api.get("/windows/<int:number>/rating-prompt")
@operation("rating_prompt", "What the window's rating tablet or pad offers to rate now", tag="ratings",
           auth="device", response=PROMPT, errors=(401, 403, 404),
           description="For a rating tablet (/rate/<window>) or the device gateway, bound to the window.")
def rating_prompt(number, actor):
    rating_prompts.check_bound(actor, number)
    return reads.rating_prompt(state(), number)
