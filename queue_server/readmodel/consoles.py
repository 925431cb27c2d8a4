"""What the window consoles read: the live version, a window's console and queue, the rating prompt.

Also the reads of the consoles' pages (choosing a window, a window's page, the rating tablet) and
of the API's door for a window: who is signed in there.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from queue_server.domain import attention, holds, rating_prompts
from queue_server.domain.accounts import must_change_password as _must_change
from queue_server.domain.errors import unknown_window
from queue_server.domain.service import ticket_brief
from queue_server.domain.windows import current_at, waiting_list, window_view, window_views

WAITING_SHOWN = 100  # a console's waiting list
QUEUE_SHOWN = 200  # GET /windows/<n>/queue


def live_seq(st) -> int:
    """The journal's newest sequence number: what the consoles poll (``GET /live``)."""
    return st.db.connection().execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]


def window_row(st, number: int) -> sqlite3.Row:
    """An active window's number, name (JSON) and signed-in staff id; 404 ``unknown_window`` if none."""
    w = st.db.connection().execute("SELECT number, name, staff_id FROM windows WHERE number = ? AND active",
                                   (number,)).fetchone()
    if w is None:
        raise unknown_window(number)
    return w


def must_change_password(st, staff_id: int | None) -> bool:
    """Whether a session may do nothing but change its password (``domain.accounts.must_change_password``)."""
    return _must_change(st.db.connection(), staff_id)


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


def window_console(st, number: int, actor) -> dict[str, Any]:
    """Everything a window's console shows, in one read snapshot."""
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
        current = current_at(conn, number)
        held = _held(conn, number)
        today = conn.execute(
            "SELECT SUM(state = 'done') AS done, SUM(state = 'no_show') AS no_show, "
            # service minutes less any hold (挂起), as the statistics count them (domain/holds.py)
            f"AVG(CASE WHEN state = 'done' AND started_at IS NOT NULL THEN {holds.service_seconds_sql('tickets')} / 60.0 "
            "END) AS avg_min "
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
        # a manager finishing what an absent clerk left (complete, no-show, transfer, call back, sign out): the API
        # allows it (windows.may_act_for), and without it the window could be neither closed nor signed out
        "may_finish": actor.is_manager and not (actor.kind == "staff" and w["staff_id"] == actor.staff_id),
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


def _held(conn, number: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM tickets WHERE window = ? AND state = 'held' ORDER BY called_at",
                        (number,)).fetchall()


def window_queue(st, number: int) -> dict[str, Any]:
    """A window, its waiting list as it will call them, and its held tickets (``GET /windows/<n>/queue``)."""
    with st.db.read() as conn:
        view = st.snapshots.window(conn, number)
        if view is None:
            raise unknown_window(number)
        waiting = waiting_list(conn, st.hall, number, st.hall.now(), QUEUE_SHOWN)  # as the window will call them
        held = _held(conn, number)
    return {"window": view, "waiting": [ticket_brief(t) for t in waiting], "held": [ticket_brief(t) for t in held]}


def rating_prompt(st, number: int) -> dict[str, Any]:
    """What the window's rating tablet or pad offers to rate now."""
    with st.db.read() as conn:
        if conn.execute("SELECT 1 FROM windows WHERE number = ? AND active", (number,)).fetchone() is None:
            raise unknown_window(number)
        return rating_prompts.prompt_for_window(conn, number, st.hall.now(), st.service.businesses())


def pick_window(st, staff_id: int | None) -> dict[str, Any]:
    """Every window, and the one this member is signed in at (or None): the page to choose a window."""
    with st.db.read() as conn:
        windows = window_views(conn)
        mine = conn.execute("SELECT number FROM windows WHERE staff_id = ? AND active", (staff_id,)).fetchone()
    return {"windows": windows, "mine": mine["number"] if mine else None}


def items_by_business(st) -> dict[str, list[dict]]:
    """Active service items, by business, in their order (a console's item picker)."""
    out: dict[str, list[dict]] = {}
    for r in st.db.connection().execute("SELECT code, business, name FROM items WHERE active ORDER BY position"):
        out.setdefault(r["business"], []).append({"code": r["code"], "name": json.loads(r["name"])})
    return out


def ticket_rated(st, public_id: str) -> bool:
    """Whether a ticket's service was rated already (at the window's tablet or pad, or from the phone page)."""
    with st.db.read() as conn:
        return conn.execute("SELECT 1 FROM ratings r JOIN tickets t ON t.id = r.ticket_id "
                            "WHERE t.public_id = ? AND r.stage = 'window'", (public_id,)).fetchone() is not None
