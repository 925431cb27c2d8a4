"""The open reads: the database's health, businesses, service items, board, notices, windows, calls.

None of these carries personal data; boards, kiosks and phones use them. The views of the board,
queues, windows and notices are the MQTT snapshots' own (:mod:`queue_server.snapshots`), so a board,
a phone and a console never disagree.
"""

from __future__ import annotations

import json
from typing import Any

from queue_server.domain.errors import NotFound, unknown_business, unknown_item, unknown_window
from queue_server.domain.people import item_row


def ping(st) -> None:
    """One read of the database: raises when it cannot be read (``GET /health``)."""
    st.db.connection().execute("SELECT 1 FROM meta LIMIT 1").fetchall()


_SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def sqlite_settings(st) -> dict:
    """How the database commits, as SQLite reports it on this thread's connection (every connection is opened
    alike): the journal mode and ``synchronous``; what a benchmark must label its figures with."""
    conn = st.db.connection()
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    level = conn.execute("PRAGMA synchronous").fetchone()[0]
    return {"journal_mode": str(journal).upper(), "synchronous": _SYNCHRONOUS.get(level, str(level))}


def issuing(st, now) -> bool:
    """Whether numbers are issued now: within the issuing hours and the day not closed."""
    with st.db.read() as conn:
        return st.snapshots.issuing(conn, now)


def catalogue_version(st) -> str:
    """GET /hall's ``catalogue``: moves whenever the items change (queue_server/domain/guides.py)."""
    from queue_server.domain.guides import catalogue_version

    with st.db.read() as conn:
        return catalogue_version(conn)


def businesses(st) -> list[dict[str, Any]]:
    """Every active business with its queue and its items."""
    with st.db.read() as conn:
        queues = st.snapshots.queues(conn, st.hall.now())
        return [_business(conn, b, queues[b["code"]]) for b in _active_businesses(conn)]


def business(st, code: str) -> dict[str, Any]:
    with st.db.read() as conn:
        rows = [b for b in _active_businesses(conn) if b["code"] == code]
        if not rows:
            raise unknown_business(code)
        return _business(conn, rows[0], st.snapshots.queues(conn, st.hall.now())[code])


def items(st, business: str | None = None) -> list[dict[str, Any]]:
    """Active service items, of one business or all; 404 for a business that does not exist."""
    conn = st.db.connection()
    sql, params = "SELECT * FROM items WHERE active", ()
    if business:
        sql, params = sql + " AND business = ?", (business,)
    rows = conn.execute(sql + " ORDER BY position", params).fetchall()
    if business and not rows and not conn.execute(
            "SELECT 1 FROM businesses WHERE code = ? AND active", (business,)).fetchone():
        raise unknown_business(business)
    return [_item(r) for r in rows]


def item(st, code: str) -> dict[str, Any]:
    row = st.db.connection().execute("SELECT * FROM items WHERE code = ? AND active", (code,)).fetchone()
    if row is None:
        raise unknown_item(code)
    return _item(row)


def item_form(st, code: str) -> list[dict[str, Any]]:
    """The application form of an item, active or not (the back office reads old applications); [] if none."""
    try:
        with st.db.read() as conn:
            return item_row(conn, code, active_only=False)["guide"].get("form", [])
    except NotFound:
        return []


def board(st) -> dict[str, Any]:
    with st.db.read() as conn:
        return st.snapshots.board(conn, st.hall.now())


def notices(st) -> dict[str, Any]:
    """The notices shown on the boards now."""
    with st.db.read() as conn:
        return st.snapshots.notices(conn, st.hall.now())


def windows(st) -> list[dict[str, Any]]:
    with st.db.read() as conn:
        return st.snapshots.windows(conn)


def window(st, number: int) -> dict[str, Any]:
    with st.db.read() as conn:
        view = st.snapshots.window(conn, number)
    if view is None:
        raise unknown_window(number)
    return view


def recent_calls(st, limit: int) -> list[dict[str, Any]]:
    """Today's most recent calls, newest first."""
    with st.db.read() as conn:
        return st.snapshots.recent_calls(conn, st.hall.now().date().isoformat(), limit)


def _active_businesses(conn):
    return conn.execute("SELECT * FROM businesses WHERE active ORDER BY position").fetchall()


def _business(conn, b, queue) -> dict:
    items = conn.execute("SELECT code, name FROM items WHERE business = ? AND active ORDER BY position",
                         (b["code"],)).fetchall()
    return {"code": b["code"], "prefix": b["prefix"], "name": json.loads(b["name"]), "daily_limit": b["daily_limit"],
            "ticket_requires": b["ticket_requires"], "queue": queue,
            "items": [{"code": i["code"], "name": json.loads(i["name"])} for i in items]}


def _item(r) -> dict:
    return {"code": r["code"], "business": r["business"], "name": json.loads(r["name"]), "guide": json.loads(r["guide"])}
