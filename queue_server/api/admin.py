"""Signing in, and what managers do: end the day, notices, the journal, the virtual clock."""

from __future__ import annotations

from datetime import datetime

from flask import jsonify

from hallq import contract
from hallq.schema import Int, Obj
from queue_server.api import (BadRequest, api, error_response, invalid_fields, operation, query_int,
                              request_session_token)
from queue_server.api import schemas as S
from queue_server.api.hall import state
from queue_server.clients import request_client
from queue_server.domain.errors import DomainError
from queue_server.http_common import clear_session_cookie
from queue_server.readmodel import manager as reads

EMPTY = Obj({})
CLOCK_YEARS = (2000, 2099)


@api.post("/auth/login")
@operation("login", "Sign in with job number and password; returns a bearer token", tag="auth", body=S.LOGIN,
           response=S.LOGIN_RESULT, errors=(400, 401, 429))
def login(actor, body):
    try:
        return state().service.accounts.login(body["job_no"], body["password"], client=request_client())
    except DomainError as e:
        if "retry_after_seconds" not in e.detail:
            raise
        # 429 while this client must wait (docs/security.md), 503 while it has a sign-in in progress
        return error_response(e.status, e.code, e.messages, detail=e.detail,
                              headers={"Retry-After": str(e.detail["retry_after_seconds"])})


@api.post("/auth/logout")
@operation("logout", "End this session", tag="auth", auth="staff", body=EMPTY, errors=(401,))
def logout(actor, body):
    token = request_session_token()  # a bearer token (devices, scripts) or the console's cookie
    if token:
        state().service.accounts.sign_out(actor, token)
    resp = jsonify({"signed_out": True})
    clear_session_cookie(resp)
    return resp


@api.get("/auth/me")
@operation("whoami", "Who the token belongs to", tag="auth", auth="kiosk", errors=(401, 403))
def whoami(actor):
    return {"kind": actor.kind, "id": actor.id, "role": actor.role, "windows": list(actor.windows)}


@api.post("/day/close")
@operation("close_day", "End-of-day close: expire open tickets, close windows, stop issuing (日终)", tag="day",
           auth="manager", body=EMPTY, response=S.DAY, errors=(401, 403, 409))
def close_day(actor, body):
    return state().service.close_day(actor)


@api.post("/day/reopen")
@operation("reopen_day", "Undo a mistaken end-of-day close: issue numbers again today", tag="day", auth="manager",
           body=EMPTY, response=S.DAY, errors=(401, 403))
def reopen_day(actor, body):
    return state().service.reopen_day(actor)


@api.get("/journal")
@operation("list_journal", "The audit journal, oldest first, after a sequence number", tag="day", auth="journal",
           response=S.JOURNAL, errors=(400, 401, 403), query={"after": Int(min=0), "limit": Int(min=1, max=1000)},
           description="A manager reads it whole; the county platform's key (docs/county.md) reads each entry as "
                       "the hall's journal event on MQTT carries it (hallq.contract.journal_event), to fill a gap. "
                       "``now`` is the hall's clock as it answers: the platform measures the hall's clock by it.")
def list_journal(actor):
    after = query_int("after", 0, 0, 2**62)
    page = reads.journal_after(state(), after, query_int("limit", 100, 1, 1000))
    page["now"] = state().hall.clock.describe()["now"]
    if actor.kind == "county":
        site = state().hall.config.site
        page["entries"] = [contract.journal_event(site, e) for e in page["entries"]]
    return page


@api.post("/notices")
@operation("create_notice", "Show a notice on the boards (公告)", tag="hall", auth="manager", body=S.NOTICE,
           errors=(400, 401, 403), status=201)
def create_notice(actor, body):
    return state().service.notices.create(actor, body["text"], body.get("level", "info"), body.get("until"))


@api.delete("/notices/<int:notice_id>")
@operation("delete_notice", "Take a notice off the boards", tag="hall", auth="manager", errors=(401, 403, 404))
def delete_notice(notice_id, actor):
    return state().service.notices.delete(actor, notice_id)


@api.get("/clock")
@operation("get_clock", "The server's clock (real, or virtual for simulations and tests)", tag="day",
           response=S.CLOCK)
def get_clock(actor):
    return state().hall.clock.describe()


@api.put("/clock")
@operation("set_clock", "Move the virtual clock (only on a server started with --virtual-clock)", tag="day",
           auth="manager", body=S.SET_CLOCK, response=S.CLOCK, errors=(400, 401, 403, 409))
def set_clock(actor, body):
    service = state().service
    service.movable_clock()  # 409 on the real clock, before the body is looked at
    try:
        when = datetime.fromisoformat(body["now"])  # the schema checked the shape, not that 2026-13-45 exists
    except ValueError:
        raise invalid_fields([("now", "is not a real date and time")]) from None
    if when.tzinfo is None:
        raise BadRequest("error.time_without_offset", code="invalid_fields")
    if not CLOCK_YEARS[0] <= when.year <= CLOCK_YEARS[1]:
        # a hall's calendar, hours and time zone are only known for years near now (year 400 in
        # Asia/Shanghai is local mean time, +08:05:43, which no client parses)
        raise invalid_fields([("now", f"must be in the years {CLOCK_YEARS[0]} to {CLOCK_YEARS[1]}")])
    return service.move_clock(actor, when, body.get("rate"))
