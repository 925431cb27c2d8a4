"""What managers and staff read beside the queue: the live hall, the journal, notices, accounts,
sign-in throttles, tidal windows, help requests and devices' health."""

from __future__ import annotations

import json
from typing import Any

from queue_server.domain import accounts as account_rules
from queue_server.domain import attention as needs
from queue_server.domain import followups, statistics, throttles, tidal


def hall_live(st) -> dict[str, Any]:
    """The manager's live hall: every window, every queue and its oldest arrival, today's totals, alerts."""
    now = st.hall.now()
    day = now.date()
    with st.db.read() as conn:
        windows = st.snapshots.windows(conn)
        queues = st.snapshots.queues(conn, now, windows)  # the windows read once
        today = statistics.report(conn, day, day, "day", day)["total"]
        waiting_oldest = {r["business"]: r["at"] for r in conn.execute(
            "SELECT business, MIN(arrived_at) AS at FROM tickets WHERE business_day = ? AND state = 'waiting' "
            "GROUP BY business", (day.isoformat(),))}
        pressure = {r["business"]: r["since"] for r in conn.execute("SELECT business, since FROM tidal_pressure")}
        tidal_open = {r["window"]: r["business"] for r in conn.execute(
            "SELECT window, business FROM tidal_assignments WHERE released_at IS NULL")}
        attention = {
            "tidal_alerts": conn.execute("SELECT COUNT(*) FROM tidal_alerts WHERE acknowledged_at IS NULL").fetchone()[0],
            **{f"followups_{k}": v for k, v in followups.counts(conn, day).items()},
            **needs.summary(conn, now),
        }
    for q in queues.values():
        q["oldest_arrival"] = waiting_oldest.get(q["business"])
        q["under_pressure_since"] = pressure.get(q["business"])
    for w in windows:
        w["tidal_for"] = tidal_open.get(w["number"])
    return {"now": now.isoformat(), "windows": windows, "queues": list(queues.values()), "today": today,
            "attention": attention}


# -- the journal -------------------------------------------------------------------------------

def journal_after(st, after: int, limit: int) -> dict[str, Any]:
    """The audit journal, oldest first, after a sequence number (``GET /journal``)."""
    rows = st.db.connection().execute("SELECT * FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
                                      (after, limit)).fetchall()
    entries = [{"seq": r["seq"], "at": r["at"], "day": r["business_day"], "actor": r["actor"], "action": r["action"],
                "ticket": r["ticket"], "business": r["business"], "window": r["window"],
                "data": json.loads(r["data"])} for r in rows]
    return {"entries": entries, "next_after": entries[-1]["seq"] if entries else after}


def journal_day(st, day: str, action: str = "", who: str = "", ticket: str = "", limit: int = 500) -> dict[str, Any]:
    """One day's journal, newest first, filtered by action, actor (a job number is a staff member) and ticket;
    with the day's distinct actions (the journal page)."""
    where, params = ["business_day = ?"], [day]
    if action:
        where.append("action = ?")
        params.append(action)
    if who:
        where.append("actor = ?")
        params.append(who if ":" in who or who == "system" else f"staff:{who}")
    if ticket:
        where.append("ticket = ?")
        params.append(ticket)
    with st.db.read() as conn:
        rows = conn.execute(f"SELECT * FROM journal WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
                            (*params, limit)).fetchall()
        actions = [r[0] for r in conn.execute("SELECT DISTINCT action FROM journal WHERE business_day = ? "
                                              "ORDER BY action", (day,))]
    return {"entries": [{**dict(r), "data": json.loads(r["data"])} for r in rows], "actions": actions}


# -- notices, accounts, throttles ------------------------------------------------------------------

def active_notices(st) -> list[dict[str, Any]]:
    """Every notice not taken down, newest first, with those past their ``until`` (the notices page)."""
    with st.db.read() as conn:
        rows = conn.execute("SELECT * FROM notices WHERE active ORDER BY id DESC").fetchall()
    return [{"id": r["id"], "text": json.loads(r["text"]), "level": r["level"], "until": r["until"],
             "created_at": r["created_at"]} for r in rows]


def accounts(st) -> list[dict[str, Any]]:
    with st.db.read() as conn:
        return account_rules.list_accounts(conn)


def sign_in_throttles(st) -> list[dict[str, Any]]:
    """The sign-in throttles in force."""
    with st.db.read() as conn:
        return throttles.active(conn, st.hall.now())


# -- tidal windows ---------------------------------------------------------------------------------

def tidal_overview(st) -> dict[str, Any]:
    now = st.hall.now()
    with st.db.read() as conn:
        return tidal.overview(conn, st.hall.config.tidal, now, st.snapshots.queues(conn, now))


def queue_of(st, business: str) -> dict[str, Any] | None:
    """A business's queue now (waiting, estimated wait…), or None: what a tidal assignment records."""
    with st.db.read() as conn:
        return st.snapshots.queues(conn, st.hall.now()).get(business)


# -- help requests and devices ------------------------------------------------------------------------

def help_request(st, actor, request_id: int) -> dict[str, Any]:
    with st.db.read() as conn:
        return needs.help_request(conn, actor, request_id, st.hall.now())


def attention(st) -> dict[str, Any]:
    """Open help requests and devices reporting a problem."""
    with st.db.read() as conn:
        return needs.summary(conn, st.hall.now())


def device_health(st) -> list[dict[str, Any]]:
    with st.db.read() as conn:
        return needs.device_health(conn)
