"""Statistics of applications (办件统计) for supervision (监督, seed 000 §7): by item, department, window.

Fast over years like the ticket statistics (bench/bench_app_statistics.py: a year of a busy hall,
100,000 applications, against a 500 ms target): each past day of submission is rolled up into
``stats_applications``, counters per (day, item, window), a few dozen rows a day. An application
changes for weeks after it is submitted (accepted, corrected, decided), so triggers (schema 021)
open its day again at every change, when its window is recorded and when the calendar changes
(working days); the next report rolls the open days up again, one short write each, and reads
today live with the very same SQL. Only "overdue and still being decided" depends on today: it is
counted live from the applications in progress. Working days are counted on the hall's calendar
through a table of running working-day numbers passed to the query (JSON).

Definitions (docs/statistics.md "Applications"); the period is by submission date:

* ``received``: submitted in the period; ``accepted``: accepted (受理), now or since;
* ``corrected``: sent one correction notice (补齐补正); ``refused``: not accepted (不予受理);
* ``completed``: a result is ready (办结: approved or refused by the department);
* ``on_time``: completed on or before its deadline (the promised time limit, else the statutory one;
  an item with neither is on time); ``overdue``: completed after it, or still being decided
  (accepted, no result) after it;
* ``avg_workdays``: working days from acceptance to result, over the completed;
* ``one_visit_rate`` (一次办结率): of the completed, the share that needed no correction notice,
  so the resident came once; a 一件事 package's part counts as needing one when any part of its package got
  the notice (the resident came back for the package, whichever department it was for);
  ``on_time_rate``: of the completed, the share on time.

Windows: the window whose clerk first took the application in (pre-review, acceptance, correction
notice or refusal), recorded by a trigger (``application_desks``, schema 021); 0 for applications
no clerk has touched yet (a kiosk's, waiting) or taken in away from any window.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from hallq.workdays import WorkCalendar

if TYPE_CHECKING:
    from queue_server.db import Database

GROUPS = ("item", "department", "business", "window")
# the definitions the rollup was made with: a rollup of other definitions is rolled up again (2: 一次办结率 by package)
RULES_META, RULES = "stats_applications_rules", "2"
COUNTERS = ("received", "accepted", "corrected", "refused", "completed", "on_time", "late", "first_time",
            "timed", "workdays")

# one day's applications by (item, window): what a rollup row holds
_DAY = """
WITH cal(day, n) AS MATERIALIZED (SELECT key, value FROM json_each(:cal)),
a AS (
  SELECT a.item, COALESCE(d.window, 0) AS window, a.status, substr(a.accepted_at, 1, 10) AS acc_day,
         a.correction IS NOT NULL AS corrected, substr(a.result_at, 1, 10) AS done_day,
         CASE WHEN a.package_id IS NULL THEN a.correction IS NOT NULL
              ELSE EXISTS (SELECT 1 FROM applications p WHERE p.package_id = a.package_id
                           AND p.correction IS NOT NULL) END AS came_back,
         COALESCE(a.promised_by, a.statutory_by) AS due
  FROM applications a LEFT JOIN application_desks d ON d.application_id = a.id
  WHERE a.submitted_at >= :day AND a.submitted_at < :next)
SELECT :day AS day, a.item AS item, a.window AS window, COUNT(*) AS received,
  SUM(a.acc_day IS NOT NULL) AS accepted, SUM(a.corrected) AS corrected, SUM(a.status = 'rejected') AS refused,
  SUM(a.done_day IS NOT NULL) AS completed,
  SUM(a.done_day IS NOT NULL AND (a.due IS NULL OR a.done_day <= a.due)) AS on_time,
  SUM(a.done_day IS NOT NULL AND a.due IS NOT NULL AND a.done_day > a.due) AS late,
  SUM(a.done_day IS NOT NULL AND NOT a.came_back) AS first_time,
  SUM(a.done_day IS NOT NULL AND a.acc_day IS NOT NULL) AS timed,
  COALESCE(SUM((SELECT n FROM cal WHERE cal.day = a.done_day) - (SELECT n FROM cal WHERE cal.day = a.acc_day)), 0)
    AS workdays
FROM a GROUP BY a.item, a.window
"""

# accepted, still being decided, past the deadline: depends on today, so always counted live
_OPEN_OVERDUE = """
SELECT a.item AS item, COALESCE(d.window, 0) AS window, COUNT(*) AS n
FROM applications a INDEXED BY applications_status LEFT JOIN application_desks d ON d.application_id = a.id
WHERE a.status = 'accepted' AND a.result_at IS NULL AND COALESCE(a.promised_by, a.statutory_by) < :today
  AND a.submitted_at >= :first AND a.submitted_at < :after {item}
GROUP BY 1, 2
"""


def workday_numbers(calendar: WorkCalendar, first: date, last: date) -> str:
    """JSON ``{"2026-11-23": n, …}``: the working days up to each day since ``first`` (for differences)."""
    out, n, d = {}, 0, first
    while d <= last:
        n += calendar.is_workday(d)
        out[d.isoformat()] = n
        d += timedelta(days=1)
    return json.dumps(out, separators=(",", ":"))


def _day_rows(conn: sqlite3.Connection, calendar: WorkCalendar, day: date, today: date) -> list[sqlite3.Row]:
    """The rollup rows of one day of submission, computed from its applications."""
    return conn.execute(_DAY, {"cal": workday_numbers(calendar, day, max(today, day)), "day": day.isoformat(),
                               "next": (day + timedelta(days=1)).isoformat()}).fetchall()


# -- rolling days up ----------------------------------------------------------------------------

def pending_days(conn: sqlite3.Connection, first: date, last: date) -> list[date]:
    """Days in [first, last] with applications whose rollup is missing or was opened again (index seeks)."""
    rolled = {r[0] for r in conn.execute("SELECT day FROM stats_application_days WHERE day BETWEEN ? AND ?",
                                         (first.isoformat(), last.isoformat()))}
    out: list[date] = []
    after = last + timedelta(days=1)
    at = conn.execute("SELECT MIN(submitted_at) FROM applications WHERE submitted_at >= ?",
                      (first.isoformat(),)).fetchone()[0]
    while at is not None and at < after.isoformat():
        day = date.fromisoformat(at[:10])
        if day.isoformat() not in rolled:
            out.append(day)
        at = conn.execute("SELECT MIN(submitted_at) FROM applications WHERE submitted_at >= ?",
                          ((day + timedelta(days=1)).isoformat(),)).fetchone()[0]
    return out


def roll_up_day(conn: sqlite3.Connection, calendar: WorkCalendar, day: date, today: date, at: str) -> None:
    """(Re)compute one day's rows (inside the caller's write transaction)."""
    conn.execute("DELETE FROM stats_applications WHERE day = ?", (day.isoformat(),))
    conn.executemany(f"INSERT INTO stats_applications (day, item, window, {', '.join(COUNTERS)}) "
                     f"VALUES (?, ?, ?, {', '.join('?' * len(COUNTERS))})",
                     [(r["day"], r["item"], r["window"], *(r[c] or 0 for c in COUNTERS))
                      for r in _day_rows(conn, calendar, day, today)])
    conn.execute("INSERT INTO stats_application_days (day, rolled_at) VALUES (?, ?) "
                 "ON CONFLICT(day) DO UPDATE SET rolled_at = excluded.rolled_at", (day.isoformat(), at))


def roll_up(db: Database, calendar: WorkCalendar, first: date, last: date, today: date, at: str) -> int:
    """Roll up every past day of [first, last] whose rollup is missing or open; a short write transaction
    per 30 days, so a first report after an upgrade (a year to roll up) never holds the write lock long."""
    read = db.connection()
    stale = (read.execute("SELECT value FROM meta WHERE key = ?", (RULES_META,)).fetchone() or [None])[0] != RULES
    if stale and read.execute("SELECT 1 FROM stats_application_days LIMIT 1").fetchone():
        with db.write() as conn:  # rolled up with older definitions (one DELETE, once): every day again
            conn.execute("DELETE FROM stats_application_days")
            _rules_met(conn)
        stale = False
    days = pending_days(read, first, min(last, today - timedelta(days=1)))
    for i in range(0, len(days), 30):
        with db.write() as conn:
            if stale:  # the first rollup of all, made with these definitions
                _rules_met(conn)
                stale = False
            for day in days[i:i + 30]:
                roll_up_day(conn, calendar, day, today, at)
    return len(days)


def _rules_met(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 (RULES_META, RULES))


# -- reports ------------------------------------------------------------------------------------

def _empty() -> dict[str, int]:
    return dict.fromkeys((*COUNTERS, "open_overdue"), 0)


def counters(conn: sqlite3.Connection, calendar: WorkCalendar, first: date, last: date, group: str, today: date,
             item: str | None = None) -> dict[Any, dict[str, int]]:
    """Summed counters per key (item, or window; the caller maps items to departments and businesses)
    over the applications submitted in [first, last]: past days from the rollup, today live."""
    col = "window" if group == "window" else "item"
    out: dict[Any, dict[str, int]] = {}

    def add(key: Any, row: Any, names: tuple[str, ...]) -> None:
        acc = out.setdefault(key, _empty())
        for c in names:
            acc[c] += row[c] or 0

    where, params = "day BETWEEN ? AND ?", [first.isoformat(), min(last, today - timedelta(days=1)).isoformat()]
    if item:
        where += " AND item = ?"
        params.append(item)
    sums = ", ".join(f"SUM({c}) AS {c}" for c in COUNTERS)
    for r in conn.execute(f"SELECT {col} AS k, {sums} FROM stats_applications WHERE {where} GROUP BY {col}", params):
        add(r["k"], r, COUNTERS)
    if first <= today <= last:
        for r in _day_rows(conn, calendar, today, today):
            if not item or r["item"] == item:
                add(r[col], r, COUNTERS)
    sql = _OPEN_OVERDUE.format(item="AND a.item = :item" if item else "")
    for r in conn.execute(sql, {"today": today.isoformat(), "first": first.isoformat(),
                                "after": (last + timedelta(days=1)).isoformat(), "item": item}):
        out.setdefault(r[col], _empty())["open_overdue"] += r["n"]
    return out


def figures(c: dict[str, int]) -> dict[str, Any]:
    """What a supervisor reads from counters: the counts, the rates (shares of 1) and the average."""
    done = c["completed"]
    return {
        "received": c["received"], "accepted": c["accepted"], "corrected": c["corrected"], "refused": c["refused"],
        "completed": done, "on_time": c["on_time"], "overdue": c["late"] + c["open_overdue"],
        "avg_workdays": round(c["workdays"] / c["timed"], 1) if c["timed"] else None,
        "on_time_rate": round(c["on_time"] / done, 3) if done else None,
        "one_visit_rate": round(c["first_time"] / done, 3) if done else None,
    }


def report(conn: sqlite3.Connection, calendar: WorkCalendar, first: date, last: date, group: str, today: date,
           item: str | None = None, of_item: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """A row per group key (sorted) and the totals over the period. ``of_item`` maps an item's code to its
    department or business for those groupings (the rollup is by item)."""
    if group not in GROUPS:
        raise ValueError(f"unknown grouping {group!r}")
    per = counters(conn, calendar, first, last, group, today, item)
    if group in ("department", "business"):
        if of_item is None:
            raise ValueError(f"grouping by {group} needs of_item")
        merged: dict[Any, dict[str, int]] = {}
        for code, c in per.items():
            acc = merged.setdefault(of_item(code), _empty())
            for k in c:
                acc[k] += c[k]
        per = merged
    total = _empty()
    for c in per.values():
        for k in total:
            total[k] += c[k]
    rows = [{"key": k, **figures(per[k])} for k in sorted(per, key=lambda k: (k is None, k))]
    return {"group": group, "first": first.isoformat(), "last": last.isoformat(), "item": item, "rows": rows,
            "total": figures(total)}
