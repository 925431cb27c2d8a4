"""Window actions: signed-in staff, managers, or a device (call keypad) bound to the window."""

from __future__ import annotations

from hallq.privacy import scrub_text, strip_controls
from hallq.schema import Obj
from queue_server.api import api, invalid_fields, operation
from queue_server.api import schemas as S
from queue_server.api.hall import state
from queue_server.readmodel import consoles as reads

W_ERRORS = (400, 401, 403, 404, 409)
EMPTY = Obj({})


def _expected(body) -> str | None:
    return body.get("ticket") if body else None


@api.post("/windows/<int:number>/sign-in")
@operation("sign_in", "Sign in at a window (opens it)", tag="windows", auth="staff", body=EMPTY,
           response=S.WINDOW_RESULT, errors=W_ERRORS)
def sign_in(number, actor, body):
    return state().service.sign_in(actor, number)


@api.post("/windows/<int:number>/sign-out")
@operation("sign_out", "Sign out of a window (closes it)", tag="windows", auth="window", body=EMPTY,
           response=S.WINDOW_RESULT, errors=W_ERRORS)
def sign_out(number, actor, body):
    return state().service.sign_out(actor, number)


@api.post("/windows/<int:number>/call-next")
@operation("call_next", "Call the next ticket by the dispatch policy (叫号)", tag="windows", auth="window",
           body=S.CALL_NEXT, response=S.WINDOW_RESULT, errors=W_ERRORS, idempotent=True)
def call_next(number, actor, body, request_key):
    return state().service.call_next(actor, number, bool(body.get("complete_current")), request=request_key)


@api.post("/windows/<int:number>/recall")
@operation("recall", "Call the current ticket again (重呼)", tag="windows", auth="window", body=S.EXPECTED,
           response=S.WINDOW_RESULT, errors=W_ERRORS)
def recall(number, actor, body):
    return state().service.recall(actor, number, _expected(body))


@api.post("/windows/<int:number>/start")
@operation("start_service", "Start serving the called ticket (only a called one)", tag="windows", auth="window",
           body=S.EXPECTED, response=S.WINDOW_RESULT, errors=W_ERRORS)
def start_service(number, actor, body):
    return state().service.start_service(actor, number, _expected(body))


@api.post("/windows/<int:number>/complete")
@operation("complete", "Finish serving the current ticket (办结)", tag="windows", auth="window", body=S.EXPECTED,
           response=S.WINDOW_RESULT, errors=W_ERRORS)
def complete(number, actor, body):
    return state().service.complete(actor, number, _expected(body))


@api.post("/windows/<int:number>/no-show")
@operation("no_show", "The called resident did not come (过号)", tag="windows", auth="window", body=S.EXPECTED,
           response=S.WINDOW_RESULT, errors=W_ERRORS)
def no_show(number, actor, body):
    return state().service.no_show(actor, number, _expected(body))


@api.post("/windows/<int:number>/transfer")
@operation("transfer", "Send the current ticket to another business or window, keeping its place (转移)",
           tag="windows", auth="window", body=S.TRANSFER, response=S.WINDOW_RESULT, errors=W_ERRORS + (422,))
def transfer(number, actor, body):
    return state().service.transfer(actor, number, body.get("to_business"), body.get("to_window"), _expected(body))


@api.post("/windows/<int:number>/hold")
@operation("hold", "Put the current ticket on hold (挂起)", tag="windows", auth="window", body=S.EXPECTED,
           response=S.WINDOW_RESULT, errors=W_ERRORS)
def hold(number, actor, body):
    return state().service.hold(actor, number, _expected(body))


@api.post("/windows/<int:number>/call-back")
@operation("call_back", "Call a held ticket again (回呼)", tag="windows", auth="window", body=S.CALL_BACK,
           response=S.WINDOW_RESULT, errors=W_ERRORS)
def call_back(number, actor, body):
    return state().service.call_back(actor, number, body["ticket"])


@api.post("/windows/<int:number>/pause")
@operation("pause_window", "Pause the window with a reason (暂停服务)", tag="windows", auth="window", body=S.PAUSE,
           response=S.WINDOW_RESULT, errors=W_ERRORS)
def pause_window(number, actor, body):
    # the reason goes into the retained windows/<n> topic, the boards and the consoles: one line, an ID or mobile
    # number a clerk typed in it masked (docs/privacy.md)
    reason = scrub_text(strip_controls(body["reason"]))
    if not reason:
        raise invalid_fields([("reason", "must not be empty")])
    return state().service.pause(actor, number, reason)


@api.post("/windows/<int:number>/resume")
@operation("resume_window", "Resume a paused window", tag="windows", auth="window", body=EMPTY,
           response=S.WINDOW_RESULT, errors=W_ERRORS)
def resume_window(number, actor, body):
    return state().service.resume(actor, number)


@api.post("/windows/<int:number>/open")
@operation("open_window", "Open a window", tag="windows", auth="window", body=EMPTY, response=S.WINDOW_RESULT,
           errors=W_ERRORS)
def open_window(number, actor, body):
    return state().service.set_open(actor, number, True)


@api.post("/windows/<int:number>/close")
@operation("close_window", "Close a window", tag="windows", auth="window", body=EMPTY, response=S.WINDOW_RESULT,
           errors=W_ERRORS)
def close_window(number, actor, body):
    return state().service.set_open(actor, number, False)


@api.put("/windows/<int:number>/allocation")
@operation("set_allocation", "Set the ranked businesses a window serves (effective for its next call)",
           tag="allocation", auth="manager", body=S.ALLOCATION, response=S.WINDOW_RESULT, errors=W_ERRORS + (422,))
def set_allocation(number, actor, body):
    return state().service.set_allocation(actor, number, body["serves"])


@api.get("/windows/<int:number>/queue")
@operation("window_queue", "The waiting list of a window's businesses and its held tickets (staff)", tag="windows",
           auth="window", response=S.WINDOW_QUEUE, errors=(401, 403, 404))
def window_queue(number, actor):
    return reads.window_queue(state(), number)

