"""Signing in, and what managers do: end the day, notices, the journal, the virtual clock."""

from __future__ import annotations

import json
from datetime import datetime

from flask import request

from hallq.clock import VirtualClock, iso
from hallq.schema import Int, Obj
from queue_server import auth as auth_rules
from queue_server.api import BadRequest, api, error_response, invalid_fields, operation, query_int
from queue_server.api import schemas as S
from queue_server.api.hall import state
from queue_server.clients import request_client
from queue_server.domain.errors import Conflict, DomainError, NotFound

EMPTY = Obj({})
CLOCK_YEARS = (2000, 2099)


@api.post("/auth/login")
@operation("login", "Sign in with job number and password; returns a bearer token", tag="auth", body=S.LOGIN,
           response=S.LOGIN_RESULT, errors=(400, 401, 429))
def login(actor, body):
    st = state()
    try:
        return auth_rules.login(st.db, st.hall, body["job_no"], body["password"], client=request_client())
    except DomainError as e:
        if "retry_after_seconds" not in e.detail:
            raise
        # 429 while this client must wait (docs/security.md), 503 while it has a sign-in in progress
        return error_response(e.status, e.code, e.messages, detail=e.detail,
                              headers={"Retry-After": str(e.detail["retry_after_seconds"])})


@api.post("/auth/logout")
@operation("logout", "End this session", tag="auth", auth="staff", body=EMPTY, errors=(401,))
def logout(actor, body):
    from flask import jsonify

    from queue_server.api import _token
    from queue_server.web.sessions import clear_session_cookie, session_token

    token = _token() or session_token()  # a bearer token (devices, scripts) or the console's cookie
    if token:
        auth_rules.logout(state().db, token)
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
@operation("list_journal", "The audit journal, oldest first, after a sequence number", tag="day", auth="manager",
           response=S.JOURNAL, errors=(400, 401, 403), query={"after": Int(min=0), "limit": Int(min=1, max=1000)})
def list_journal(actor):
    after = query_int("after", 0, 0, 2**62)
    limit = query_int("limit", 100, 1, 1000)
    rows = state().db.connection().execute("SELECT * FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
                                           (after, limit)).fetchall()
    entries = [{"seq": r["seq"], "at": r["at"], "actor": r["actor"], "action": r["action"], "ticket": r["ticket"],
                "business": r["business"], "window": r["window"], "data": json.loads(r["data"])} for r in rows]
    return {"entries": entries, "next_after": entries[-1]["seq"] if entries else after}


@api.post("/notices")
@operation("create_notice", "Show a notice on the boards (公告)", tag="hall", auth="manager", body=S.NOTICE,
           errors=(400, 401, 403), status=201)
def create_notice(actor, body):
    st = state()
    with st.service.transaction(actor) as tx:
        row = tx.one("INSERT INTO notices (text, level, until, created_at) VALUES (?, ?, ?, ?) RETURNING id",
                     (json.dumps(body["text"], ensure_ascii=False), body.get("level", "info"), body.get("until"),
                      tx.at))
        tx.journal("notice", data={"id": row["id"], "created": True})
    return {"id": row["id"]}


@api.delete("/notices/<int:notice_id>")
@operation("delete_notice", "Take a notice off the boards", tag="hall", auth="manager", errors=(401, 403, 404))
def delete_notice(notice_id, actor):
    st = state()
    with st.service.transaction(actor) as tx:
        if tx.conn.execute("UPDATE notices SET active = 0 WHERE id = ? AND active", (notice_id,)).rowcount == 0:
            raise NotFound("没有这条公告。", "沒有這條公告。", "No such notice.", code="unknown_notice")
        tx.journal("notice", data={"id": notice_id, "deleted": True})
    return {"deleted": notice_id}


@api.get("/clock")
@operation("get_clock", "The server's clock (real, or virtual for simulations and tests)", tag="day",
           response=S.CLOCK)
def get_clock(actor):
    return state().hall.clock.describe()


@api.put("/clock")
@operation("set_clock", "Move the virtual clock (only on a server started with --virtual-clock)", tag="day",
           auth="manager", body=S.SET_CLOCK, response=S.CLOCK, errors=(400, 401, 403, 409))
def set_clock(actor, body):
    st = state()
    clock = st.hall.clock
    if not isinstance(clock, VirtualClock):
        raise Conflict("服务器使用真实时钟，不能调整。", "伺服器使用真實時鐘，不能調整。",
                       "This server runs on the real clock; start it with --virtual-clock to move time.",
                       code="real_clock")
    try:
        when = datetime.fromisoformat(body["now"])  # the schema checked the shape, not that 2026-13-45 exists
    except ValueError:
        raise invalid_fields([("now", "is not a real date and time")]) from None
    if when.tzinfo is None:
        raise BadRequest("时间需要带时区。", "時間需要帶時區。", "The time needs an offset, e.g. +08:00.",
                         code="invalid_fields")
    if not CLOCK_YEARS[0] <= when.year <= CLOCK_YEARS[1]:
        # a hall's calendar, hours and time zone are only known for years near now (year 400 in
        # Asia/Shanghai is local mean time, +08:05:43, which no client parses)
        raise invalid_fields([("now", f"must be in the years {CLOCK_YEARS[0]} to {CLOCK_YEARS[1]}")])
    clock.set(when, body.get("rate"))
    with st.service.transaction(actor) as tx:  # journal it: statistics must know time was moved
        tx.journal("clock_set", data={"now": iso(clock.now()), "rate": clock.rate})
    return clock.describe()
