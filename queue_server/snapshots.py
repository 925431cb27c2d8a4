"""Building the public views of the hall: board, windows, queues, notices, calls.

One builder per view, used both for the retained MQTT snapshots and for the
HTTP reads (``GET /api/v1/board`` …), so a board, a phone page and a console
can never disagree. None of them carries personal data: ticket numbers,
business and window names, counts, and masked staff names only.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import datetime
from typing import Any

from hallq.clock import iso
from queue_server.domain import day as day_rules
from queue_server.domain.actions import CALLS_SQL
from queue_server.domain.context import Hall
from hallq.targets import Targets
from queue_server.domain.estimates import (SAMPLE, PromiseRates, QueueState, WindowNow, capacity_of, mean_minutes,
                                           wait, waiting_counts)
from queue_server.domain.windows import window_view, window_views

# per business of ``:codes`` (a JSON array): the ticket of its last call today, its last number issued today, its
# oldest waiting ordinary ticket's promise and its last services (estimates.service_minutes); each an indexed
# LIMIT 1 / MAX / LIMIT :sample, so the cost does not grow with the day
_PER_BUSINESS = (
    "SELECT b.value, "
    "(SELECT ticket FROM journal INDEXED BY journal_calls_business WHERE business = b.value "
    f"AND business_day = :day AND {CALLS_SQL} ORDER BY seq DESC LIMIT 1), "
    "(SELECT COALESCE(MAX(number), 0) FROM tickets WHERE business_day = :day AND origin_business = b.value), "
    "(SELECT promise_from FROM tickets INDEXED BY tickets_waiting WHERE business_day = :day AND business = b.value "
    "AND class = 2 AND state = 'waiting' AND target_window IS NULL ORDER BY promise_from LIMIT 1), "
    "(SELECT json_group_array(json_array(called_at, finished_at)) FROM (SELECT called_at, finished_at FROM tickets "
    "INDEXED BY tickets_finished WHERE business = b.value AND state = 'done' AND finished_at >= :day "
    "AND called_at IS NOT NULL ORDER BY finished_at DESC LIMIT :sample)) "
    "FROM json_each(:codes) b")


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

    def queues(self, conn: sqlite3.Connection, now: datetime, windows: list[dict[str, Any]] | None = None,
               issuing: bool | None = None) -> dict[str, dict[str, Any]]:
        """Every active business's queue. ``windows`` (:meth:`windows`) and ``issuing`` (:meth:`issuing`), when
        the caller has them (a snapshot set: :meth:`snapshot_set`), are not read again."""
        self._names(conn)
        day = now.date().isoformat()
        counts = waiting_counts(conn, day)
        hours = self.hall.config.hours
        windows = self.windows(conn) if windows is None else windows
        # the windows' capacities (estimates.capacities) and the open windows per business, from the windows' views
        caps = capacity_of([WindowNow(w["state"], w["current"] is not None, tuple(w["serves"]),
                                     w["staff"] is not None) for w in windows],
                           {code: total for code, (total, _) in counts.items()}, not hours.is_serving(now))
        serving_windows = Counter(b for w in windows if w["state"] == "open" for b in w["serves"])
        issuing = self.issuing(conn, now) if issuing is None else issuing
        out = {}
        for code, (b, last_called, issued, state) in self._business_states(conn, now, caps).items():
            waiting, green = counts.get(code, (0, 0))
            # what a resident taking an ordinary number now would wait, with the hall as it is now
            est = wait(state, hours, now, 2, waiting)
            out[code] = {
                "business": code, "name": b["name"], "prefix": b["prefix"], "waiting": waiting,
                "green_waiting": green or 0, "est_wait_minutes": est.minutes if est else None,
                "est_wait_range": est.range if est else None,
                "windows_serving": serving_windows.get(code, 0), "last_called": last_called,
                "issued": issued, "daily_limit": b["daily_limit"],
                "issuing": issuing and issued < b["daily_limit"], "updated_at": iso(now),
            }
        return out

    def _business_states(self, conn: sqlite3.Connection, now: datetime, caps: dict[str, tuple[float, int]]
                         ) -> dict[str, tuple[dict[str, Any], str | None, int, QueueState]]:
        """Per business (in the names' order): its row, its last call's ticket, its last number issued today and
        its :func:`~queue_server.domain.estimates.queue_state`, all businesses' reads in one statement (the
        promise rates apart: :class:`PromiseRates` reads them once a minute)."""
        day = now.date().isoformat()
        hours = self.hall.config.hours
        rows = {r[0]: r for r in conn.execute(_PER_BUSINESS, {"codes": json.dumps(list(self._businesses)),
                                                               "day": day, "sample": SAMPLE})}
        out = {}
        for code, b in self._businesses.items():
            _, last_called, issued, oldest, finished = rows[code]
            targets = Targets(b["green_target_minutes"], b["appointment_target_minutes"], b["ordinary_target_minutes"])
            capacity, idle = caps.get(code, (0.0, 0))
            overdue = oldest is not None and now >= hours.add_open_minutes(datetime.fromisoformat(oldest),
                                                                           targets.ordinary)
            minutes = mean_minutes([(datetime.fromisoformat(f) - datetime.fromisoformat(c)).total_seconds() / 60
                                    for c, f in json.loads(finished)], b["service_minutes"])
            out[code] = (b, last_called, issued, QueueState(minutes, capacity, idle,
                                                            self._rates.get(conn, code, day, now), overdue, targets))
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

    def snapshot_set(self, conn: sqlite3.Connection, now: datetime
                     ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
        """The queues, the windows and the board together (the publisher's set), each thing read once."""
        issuing = self.issuing(conn, now)
        windows = self.windows(conn)
        queues = self.queues(conn, now, windows, issuing)
        return queues, windows, self.board(conn, now, queues, windows, issuing)

    def board(self, conn: sqlite3.Connection, now: datetime, queues: dict[str, dict[str, Any]] | None = None,
              windows: list[dict[str, Any]] | None = None, issuing: bool | None = None) -> dict[str, Any]:
        cfg = self.hall.config
        day = now.date().isoformat()
        calls = self.recent_calls(conn, day, cfg.queue.recent_calls)
        windows = self.windows(conn) if windows is None else windows
        issuing = self.issuing(conn, now) if issuing is None else issuing
        queues = self.queues(conn, now, windows, issuing) if queues is None else queues
        return {
            "site": cfg.site, "hall_name": cfg.name, "business_day": day,
            "serving": cfg.hours.is_serving(now), "issuing": issuing,
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
