"""Building the public views of the hall: board, windows, queues, notices, calls.

One builder per view, used both for the retained MQTT snapshots and for the
HTTP reads (``GET /api/v1/board`` …), so a board, a phone page and a console
can never disagree. None of them carries personal data: ticket numbers,
business and window names, counts, and masked staff names only.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from hallq.clock import iso
from queue_server.domain import day as day_rules
from queue_server.domain.actions import CALLS_SQL
from queue_server.domain.context import Hall
from hallq.targets import Targets
from queue_server.domain.estimates import PromiseRates, capacities, queue_state, wait, waiting_counts
from queue_server.domain.windows import window_view, window_views


class Snapshots:
    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self._windows: dict[int, dict[str, Any]] = {}
        self._businesses: dict[str, dict[str, Any]] = {}
        self._rates = PromiseRates()

    def refresh_names(self, conn: sqlite3.Connection) -> None:
        """Reload business and window names (after a config change)."""
        self._businesses = {r["code"]: {**dict(r), "name": json.loads(r["name"])}
                            for r in conn.execute("SELECT * FROM businesses WHERE active ORDER BY position")}
        self._windows = {r["number"]: {"name": json.loads(r["name"]), "area": r["area"]}
                         for r in conn.execute("SELECT number, name, area FROM windows")}

    def _names(self, conn: sqlite3.Connection) -> None:
        if not self._businesses:
            self.refresh_names(conn)

    # -- calls ----------------------------------------------------------------------

    def call_from_journal(self, conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        self._names(conn)
        data = json.loads(row["data"])
        b = self._businesses.get(row["business"], {})
        w = self._windows.get(row["window"], {})
        return {
            "seq": data["seq"], "kind": row["action"], "ticket": row["ticket"], "business": row["business"],
            "business_name": b.get("name", {}), "window": row["window"], "window_name": w.get("name", {}),
            "area": w.get("area", ""), "at": row["at"], "recalls": data.get("recalls", 0),
        }

    def recent_calls(self, conn: sqlite3.Connection, day: str, limit: int) -> list[dict[str, Any]]:
        rows = conn.execute(
            "SELECT * FROM journal INDEXED BY journal_calls_day WHERE business_day = ? "
            f"AND {CALLS_SQL} ORDER BY seq DESC LIMIT ?", (day, limit)).fetchall()
        return [self.call_from_journal(conn, r) for r in rows]

    # -- queues -----------------------------------------------------------------------

    def queues(self, conn: sqlite3.Connection, now: datetime) -> dict[str, dict[str, Any]]:
        self._names(conn)
        day = now.date().isoformat()
        counts = waiting_counts(conn, day)
        hours = self.hall.config.hours
        caps = capacities(conn, not hours.is_serving(now), day)  # once for every business
        issuing = self.issuing(conn, now)
        # per business, each an indexed LIMIT 1 / MAX: the cost does not grow with the day
        last_called, issued = {}, {}
        for code in self._businesses:
            row = conn.execute(
                "SELECT ticket FROM journal INDEXED BY journal_calls_business WHERE business = ? AND business_day = ? "
                f"AND {CALLS_SQL} ORDER BY seq DESC LIMIT 1", (code, day)).fetchone()
            last_called[code] = row[0] if row else None
            issued[code] = conn.execute("SELECT COALESCE(MAX(number), 0) FROM tickets WHERE business_day = ? "
                                        "AND origin_business = ?", (day, code)).fetchone()[0]
        serving_windows = {r[0]: r[1] for r in conn.execute(
            "SELECT a.business, COUNT(*) FROM allocation a JOIN windows w ON w.number = a.window "
            "WHERE w.active AND w.state = 'open' GROUP BY a.business")}
        out = {}
        for code, b in self._businesses.items():
            waiting, green = counts.get(code, (0, 0))
            # what a resident taking an ordinary number now would wait, with the hall as it is now
            state = queue_state(conn, hours, code, now, b["service_minutes"], self._rates, caps, Targets(
                b["green_target_minutes"], b["appointment_target_minutes"], b["ordinary_target_minutes"]))
            est = wait(state, hours, now, 2, waiting)
            out[code] = {
                "business": code, "name": b["name"], "prefix": b["prefix"], "waiting": waiting,
                "green_waiting": green or 0, "est_wait_minutes": est.minutes if est else None,
                "est_wait_range": est.range if est else None,
                "windows_serving": serving_windows.get(code, 0), "last_called": last_called.get(code),
                "issued": issued.get(code, 0), "daily_limit": b["daily_limit"],
                "issuing": issuing and issued.get(code, 0) < b["daily_limit"], "updated_at": iso(now),
            }
        return out

    def issuing(self, conn: sqlite3.Connection, now: datetime) -> bool:
        ok, _ = self.hall.config.hours.issuing_state(now)
        return ok and not day_rules.day_closed(conn, now.date().isoformat())

    # -- windows -------------------------------------------------------------------------

    def window(self, conn: sqlite3.Connection, number: int) -> dict[str, Any] | None:
        w = conn.execute("SELECT * FROM windows WHERE number = ? AND active", (number,)).fetchone()
        return window_view(conn, w) if w is not None else None

    def windows(self, conn: sqlite3.Connection) -> list[dict[str, Any]]:
        return window_views(conn)

    # -- board and notices ------------------------------------------------------------------

    def board(self, conn: sqlite3.Connection, now: datetime, queues: dict[str, dict[str, Any]] | None = None,
              windows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        cfg = self.hall.config
        day = now.date().isoformat()
        calls = self.recent_calls(conn, day, cfg.queue.recent_calls)
        queues = self.queues(conn, now) if queues is None else queues
        windows = self.windows(conn) if windows is None else windows
        return {
            "site": cfg.site, "hall_name": cfg.name, "business_day": day,
            "serving": cfg.hours.is_serving(now), "issuing": self.issuing(conn, now),
            "last_seq": calls[0]["seq"] if calls else 0, "recent_calls": calls,
            "queues": [{k: q[k] for k in ("business", "name", "prefix", "waiting", "est_wait_minutes",
                                          "est_wait_range", "windows_serving", "last_called")}
                       for q in queues.values()],
            "windows": [{"number": w["number"], "name": w["name"], "area": w["area"], "state": w["state"],
                         "current": w["current"]["ticket"] if w["current"] else None} for w in windows],
            "updated_at": iso(now),
        }

    def notices(self, conn: sqlite3.Connection, now: datetime) -> dict[str, Any]:
        at = iso(now)
        rows = conn.execute("SELECT * FROM notices WHERE active AND (until IS NULL OR until > ?) ORDER BY id",
                            (at,)).fetchall()
        return {"notices": [{"id": r["id"], "text": json.loads(r["text"]), "level": r["level"], "until": r["until"]}
                            for r in rows], "updated_at": at}
