"""What the consoles read: the live version, a window's whole console, the rating prompt.

Live updates are short polls of ``GET /live``: it answers ``304 Not
Modified`` while the journal's newest sequence number equals the
``If-None-Match`` the page sent, so an idle console costs one tiny request a
second and no server thread is held between requests (docs/consoles.md,
"Live updates").
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Response, jsonify, request

from hallq.schema import Arr, Bool, Int, Obj, Str
from queue_server.api import api, operation
from queue_server.api import schemas as S
from queue_server.api.hall import state
from queue_server.domain import attention, rating_prompts
from queue_server.domain.errors import unknown_window
from queue_server.domain.service import ticket_brief
from queue_server.domain.windows import waiting_list, window_view

LIVE = Obj({"seq": Int(description="the journal's newest sequence number"), "business_day": Str()}, extra=True)
CONSOLE = Obj({"window": S.WINDOW, "signed_in_here": Bool(), "current": Obj({}, extra=True, nullable=True),
               "waiting": Arr(Obj({}, extra=True), max_items=None), "waiting_total": Int(),
               "held": Arr(Obj({}, extra=True), max_items=None), "now": Str()}, extra=True)
PROMPT = Obj({"window": Int(), "ticket": Obj({}, extra=True, nullable=True), "prompted": Bool(),
              "prompted_at": Str(nullable=True)}, extra=True)
WAITING_SHOWN = 100


@api.get("/live")
@operation("live_version", "The journal's newest sequence number; 304 while unchanged (consoles poll it)",
           tag="consoles", auth="kiosk", response=LIVE, errors=(304, 401, 403),
           description="Send the previous response's ETag as If-None-Match: the answer is 304 Not Modified "
                       "until something in the hall changes.")
def live_version(actor):
    st = state()
    seq = st.db.connection().execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
    etag = f'"{seq}"'
    if request.headers.get("If-None-Match") == etag:
        resp = Response(status=304)
    else:
        resp = jsonify({"seq": seq, "business_day": st.hall.now().date().isoformat()})
    resp.headers["ETag"] = etag
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def _item_names(conn, codes: set[str]) -> dict[str, Any]:
    if not codes:
        return {}
    rows = conn.execute(f"SELECT code, name FROM items WHERE code IN ({','.join('?' * len(codes))})", tuple(codes))
    return {r["code"]: json.loads(r["name"]) for r in rows}


def _brief(t, items: dict[str, Any], businesses: dict[str, Any], now: datetime) -> dict[str, Any]:
    out = ticket_brief(t)
    out["item_name"] = items.get(t["item"]) if t["item"] else None
    out["business_name"] = businesses.get(t["business"], {}).get("name")
    out["directed"] = t["target_window"] is not None
    out["waited_minutes"] = int((now - datetime.fromisoformat(t["arrived_at"])).total_seconds() // 60)
    return out


def window_console(number: int, actor) -> dict[str, Any]:
    """Everything a window's console shows, in one read snapshot."""
    st = state()
    now = st.hall.now()
    day = now.date().isoformat()
    businesses = st.service.businesses()
    with st.db.read() as conn:
        w = conn.execute("SELECT * FROM windows WHERE number = ? AND active", (number,)).fetchone()
        if w is None:
            raise unknown_window(number)
        view = window_view(conn, w)
        serves = view["serves"]
        marks = ",".join("?" * len(serves)) or "NULL"
        where = (f"business_day = ? AND state = 'waiting' AND (target_window = ? OR "
                 f"(target_window IS NULL AND business IN ({marks})))")
        waiting = waiting_list(conn, st.hall, number, now, WAITING_SHOWN)  # as the window will call them
        total = conn.execute(f"SELECT COUNT(*) FROM tickets WHERE {where}", (day, number, *serves)).fetchone()[0]
        current = conn.execute("SELECT * FROM tickets WHERE window = ? AND state IN ('called', 'serving') "
                               "ORDER BY called_at DESC LIMIT 1", (number,)).fetchone()
        held = conn.execute("SELECT * FROM tickets WHERE window = ? AND state = 'held' ORDER BY called_at",
                            (number,)).fetchall()
        today = conn.execute(
            "SELECT SUM(state = 'done') AS done, SUM(state = 'no_show') AS no_show, "
            "AVG(CASE WHEN state = 'done' THEN (julianday(finished_at) - julianday(started_at)) * 1440 END) AS avg_min "
            "FROM tickets WHERE business_day = ? AND window = ? AND state IN ('done', 'no_show')",
            (day, number)).fetchone()
        items = _item_names(conn, {t["item"] for t in [*waiting, *held, *([current] if current else [])] if t["item"]})
        prompt = rating_prompts.prompt_for_window(conn, number, now, businesses)
        counts = {r["business"]: r["n"] for r in conn.execute(
            "SELECT business, SUM(waiting) AS n FROM queue_counts WHERE business_day = ? GROUP BY business", (day,))}
        windows = [{"number": r["number"], "name": json.loads(r["name"]), "state": r["state"]}
                   for r in conn.execute("SELECT number, name, state FROM windows WHERE active ORDER BY number")]
        needs = attention.summary(conn, now)
    return {
        "window": view, "signed_in_here": actor.kind == "staff" and w["staff_id"] == actor.staff_id,
        "current": _brief(current, items, businesses, now) if current else None,
        "waiting": [_brief(t, items, businesses, now) for t in waiting], "waiting_total": total,
        "held": [_brief(t, items, businesses, now) for t in held],
        "today": {"done": today["done"] or 0, "no_show": today["no_show"] or 0,
                  "avg_service_minutes": round(today["avg_min"], 1) if today["avg_min"] is not None else None},
        "rating": prompt,
        "businesses": [{"code": c, "name": b["name"], "prefix": b["prefix"], "waiting": counts.get(c, 0)}
                       for c, b in businesses.items() if b["active"]],
        "windows": windows, "max_recalls": st.hall.config.queue.max_recalls, "now": now.isoformat(),
        "attention": needs,
    }


@api.get("/console/windows/<int:number>")
@operation("window_console", "Everything a window's console shows: current ticket, waiting list, held, today",
           tag="consoles", auth="window", response=CONSOLE, errors=(401, 403, 404))
def get_window_console(number, actor):
    return window_console(number, actor)


@api.post("/windows/<int:number>/rating-prompt")
@operation("ask_for_rating", "Ask the resident to rate: lights the window's rating tablet or pad (邀请评价)",
           tag="ratings", auth="window", body=Obj({}), response=Obj({"window": Int(), "ticket": Str(),
                                                                        "prompted_at": Str()}, extra=True),
           errors=(401, 403, 404), status=201,
           description="Staff may ask; only the resident rates (POST /ratings from a staff account is refused).")
def ask_for_rating(number, actor, body):
    with state().service.transaction(actor) as tx:
        return rating_prompts.ask_for_rating(tx, number)


@api.get("/windows/<int:number>/rating-prompt")
@operation("rating_prompt", "What the window's rating tablet or pad offers to rate now", tag="ratings",
           auth="device", response=PROMPT, errors=(401, 403, 404),
           description="For a rating tablet (/rate/<window>) or the device gateway, bound to the window.")
def rating_prompt(number, actor):
    rating_prompts.check_bound(actor, number)
    st = state()
    with st.db.read() as conn:
        if conn.execute("SELECT 1 FROM windows WHERE number = ? AND active", (number,)).fetchone() is None:
            raise unknown_window(number)
        return rating_prompts.prompt_for_window(conn, number, st.hall.now(), st.service.businesses())
