"""Statistics (办件统计): volumes, waits, service times, no-shows and satisfaction.

Fast over years by design (docs/statistics.md):

* each closed business day is rolled up once into ``stats_tickets``: counters
  per (day, hour of arrival, business, window, staff) — a few hundred rows a
  day however many tickets — and into ``stats_waits``: wait-time histograms
  per dimension in minute buckets, from which percentiles (p90) are read;
* today, still moving, is computed live from its tickets with the very same
  SQL, so a figure never depends on whether its day was rolled up yet;
* a day is rolled up when it is closed (the day after), by the server's
  background task or at the latest by the first report that covers it; a
  rating given days later, or an appeal upheld, rolls that day up again.

Definitions:

* wait: from taking the number (``issued_at``) to the first call
  (``first_called_at``, schema/028), the moment a window first called the
  resident: a hold and its call-back (挂起/回呼), a recall, a transfer, a missed
  number re-queued (过号重排) or a day closed and reopened never move it, and a
  ticket counts one wait whatever happened after; tickets never called have
  no wait. The county counts the same (county/console.py: issue to first call);
* service time: start → complete of finished services (from the call when nobody pressed start), less
  the time on hold (挂起 → 回呼, ``held_seconds``, schema/029: queue_server/domain/holds.py): over a hold the
  window serves others, whose own service counts for them;
* satisfaction: share of ratings at level 3 or above (基本满意 and better),
  ratings whose appeal was upheld (恶意差评) excluded; bad reviews: levels 1-2.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from hallq.clock import iso
from queue_server.domain.holds import SERVICE_SECONDS

if TYPE_CHECKING:
    from queue_server.db import Database

GROUPS = {"day": "business_day", "hour": "hour", "business": "business", "window": "window", "staff": "staff_id"}
COUNTERS = ("issued", "done", "no_show", "cancelled", "expired", "green", "appointment", "waited", "wait_s",
            "served", "service_s", "rated", "level_sum", "good", "bad")

_ROWS = f"""
SELECT t.business_day AS business_day, CAST(substr(t.issued_at, 12, 2) AS INTEGER) AS hour, t.business AS business,
  COALESCE(t.window, 0) AS window, COALESCE(t.staff_id, 0) AS staff_id,
  COUNT(*) AS issued, SUM(t.state = 'done') AS done, SUM(t.state = 'no_show') AS no_show,
  SUM(t.state = 'cancelled') AS cancelled, SUM(t.state = 'expired') AS expired,
  SUM(t.class = 0) AS green, SUM(t.class = 1) AS appointment,
  SUM(t.first_called_at IS NOT NULL) AS waited,
  COALESCE(SUM(CASE WHEN t.first_called_at IS NOT NULL
      THEN CAST(round((julianday(t.first_called_at) - julianday(t.issued_at)) * 86400) AS INTEGER) END), 0) AS wait_s,
  SUM(t.state = 'done' AND t.started_at IS NOT NULL) AS served,
  COALESCE(SUM(CASE WHEN t.state = 'done' AND t.started_at IS NOT NULL
      THEN {SERVICE_SECONDS} END), 0) AS service_s,
  COALESCE(SUM(r.ok), 0) AS rated, COALESCE(SUM(CASE WHEN r.ok THEN r.level END), 0) AS level_sum,
  COALESCE(SUM(r.ok AND r.level >= 3), 0) AS good, COALESCE(SUM(r.ok AND r.level <= 2), 0) AS bad
FROM tickets t
LEFT JOIN (SELECT r.ticket_id, r.level, COALESCE(f.appeal_state, '') != 'upheld' AS ok
           FROM ratings r LEFT JOIN followups f ON f.rating_id = r.id
           WHERE r.business_day = :day AND r.stage = 'window') r ON r.ticket_id = t.id
WHERE t.business_day = :day
GROUP BY 1, 2, 3, 4, 5
"""

# minute buckets: 1 minute up to 30, then 5 up to 60, 10 up to 120, 30 up to 240, then one open bucket
_BUCKET = ("CASE WHEN m < 30 THEN max(m, 0) WHEN m < 60 THEN 30 + (m - 30) / 5 * 5 "
           "WHEN m < 120 THEN 60 + (m - 60) / 10 * 10 WHEN m < 240 THEN 120 + (m - 120) / 30 * 30 ELSE 240 END")
_DIMS = {"all": "''", "hour": "h", "business": "b", "window": "CAST(win AS TEXT)", "staff": "CAST(st AS TEXT)",
         "business_hour": "b || '|' || h", "business_window": "b || '|' || win", "business_staff": "b || '|' || st"}
_WAITS = (
    "WITH w AS (SELECT t.business AS b, COALESCE(t.window, 0) AS win, COALESCE(t.staff_id, 0) AS st, "
    "substr(t.issued_at, 12, 2) AS h, "
    "CAST((julianday(t.first_called_at) - julianday(t.issued_at)) * 1440 AS INTEGER) AS m "
    "FROM tickets t WHERE t.business_day = :day AND t.first_called_at IS NOT NULL), "
    f"k AS MATERIALIZED (SELECT b, win, st, h, {_BUCKET} AS bucket FROM w) "
    + " UNION ALL ".join(f"SELECT '{dim}' AS dim, {expr} AS key, bucket, COUNT(*) AS n FROM k GROUP BY 2, 3"
                         for dim, expr in _DIMS.items()))


def bucket_width(lower: int) -> int:
    return 1 if lower < 30 else 5 if lower < 60 else 10 if lower < 120 else 30 if lower < 240 else 60


def percentile(hist: dict[int, int], q: float = 0.9) -> float | None:
    """The q-quantile of a bucketed distribution, interpolated within its bucket (minutes)."""
    total = sum(hist.values())
    if total == 0:
        return None
    target, cum = q * total, 0
    for lower in sorted(hist):
        n = hist[lower]
        if cum + n >= target:
            return round(lower + (target - cum) / n * bucket_width(lower), 1)
        cum += n
    return float(max(hist))  # pragma: no cover - the loop always returns


# -- rolling days up ----------------------------------------------------------------------

def closed_before(conn: sqlite3.Connection) -> str | None:
    """Days before this one are closed (rolled over): their tickets no longer change."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'business_day'").fetchone()
    return row[0] if row else None


def pending_days(conn: sqlite3.Connection) -> list[str]:
    """Closed days with tickets and no rollup, oldest first (one index seek per day)."""
    before = closed_before(conn)
    if before is None:
        return []
    done = {r[0] for r in conn.execute("SELECT business_day FROM stats_days")}
    out, day = [], conn.execute("SELECT MIN(business_day) FROM tickets").fetchone()[0]
    while day is not None and day < before:
        if day not in done:
            out.append(day)
        day = conn.execute("SELECT MIN(business_day) FROM tickets WHERE business_day > ?", (day,)).fetchone()[0]
    return out


def roll_up_day(conn: sqlite3.Connection, day: str, at: datetime) -> None:
    """(Re)compute one day's rows in the summary tables (inside the caller's write transaction)."""
    conn.execute("DELETE FROM stats_tickets WHERE business_day = ?", (day,))
    conn.execute("DELETE FROM stats_waits WHERE business_day = ?", (day,))
    conn.execute(f"INSERT INTO stats_tickets (business_day, hour, business, window, staff_id, {', '.join(COUNTERS)}) "
                 f"{_ROWS}", {"day": day})
    conn.execute(f"INSERT INTO stats_waits (dim, key, bucket, n, business_day) SELECT dim, key, bucket, n, :day "
                 f"FROM ({_WAITS})", {"day": day})
    conn.execute("INSERT INTO stats_days (business_day, rolled_at) VALUES (?, ?) "
                 "ON CONFLICT(business_day) DO UPDATE SET rolled_at = excluded.rolled_at", (day, iso(at)))


def roll_up_pending(db: Database, now: datetime, limit: int | None = None) -> int:
    """Roll up every closed day not yet rolled up, one short write transaction per day."""
    days = pending_days(db.connection())[:limit]
    for day in days:
        with db.write() as conn:
            roll_up_day(conn, day, now)
    return len(days)


# -- reports ------------------------------------------------------------------------------

def _empty() -> dict[str, int]:
    return dict.fromkeys(COUNTERS, 0)


def _add(acc: dict[str, int], row: sqlite3.Row) -> None:
    for k in COUNTERS:
        acc[k] += row[k] or 0


def counters(conn: sqlite3.Connection, first: str, last: str, group: str, today: str,
             business: str | None = None) -> dict[Any, dict[str, int]]:
    """Summed counters per group key over [first, last]: rolled-up days from the summary, today live."""
    col = GROUPS[group]
    where, params = "business_day BETWEEN ? AND ?", [first, min(last, _day_before(today))]
    if business:
        where += " AND business = ?"
        params.append(business)
    sums = ", ".join(f"SUM({k}) AS {k}" for k in COUNTERS)
    out: dict[Any, dict[str, int]] = {}
    for r in conn.execute(f"SELECT {col} AS k, {sums} FROM stats_tickets WHERE {where} GROUP BY {col}", params):
        _add(out.setdefault(r["k"], _empty()), r)
    if first <= today <= last:
        for r in conn.execute(_ROWS, {"day": today}):
            if business and r["business"] != business:
                continue
            _add(out.setdefault(r[col], _empty()), r)
    return out


def _day_before(day: str) -> str:
    return date.fromordinal(date.fromisoformat(day).toordinal() - 1).isoformat()


def wait_histograms(conn: sqlite3.Connection, first: str, last: str, group: str, today: str,
                    business: str | None = None) -> dict[Any, dict[int, int]]:
    """Wait histograms per group key over [first, last] (for percentiles)."""
    if group == "day":
        dim, prefix, exact = ("business", "", business) if business else ("all", "", "")
    elif business and group != "business":
        dim, prefix, exact = f"business_{group}", business + "|", None
    else:
        dim, prefix, exact = group, "", business if business else None
    out: dict[Any, dict[int, int]] = {}

    def put(key_text: str, day: str | None, bucket: int, n: int) -> None:
        if exact is not None and key_text != exact:
            return
        if prefix and not key_text.startswith(prefix):
            return
        k: Any = day if group == "day" else key_text[len(prefix):]
        if group in ("hour", "window", "staff"):
            k = int(k)
        h = out.setdefault(k, {})
        h[bucket] = h.get(bucket, 0) + n

    # summed in SQL: a year of one dimension is some 10^5 rows, its answer a few hundred
    by = "business_day" if group == "day" else "key"
    sql = (f"SELECT {by} AS k, MIN(key) AS key, bucket, SUM(n) AS n FROM stats_waits "
           "WHERE dim = ? AND business_day BETWEEN ? AND ?")
    params: list[Any] = [dim, first, min(last, _day_before(today))]
    if exact is not None:
        sql += " AND key = ?"
        params.append(exact)
    elif prefix:
        sql += " AND key >= ? AND key < ?"
        params += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
    for r in conn.execute(sql + f" GROUP BY {by}, bucket", params):
        put(r["key"], r["k"] if group == "day" else None, r["bucket"], r["n"])
    if first <= today <= last:
        for r in conn.execute(_WAITS, {"day": today}):
            if r["dim"] == dim:
                put(r["key"], today, r["bucket"], r["n"])
    return out


def figures(c: dict[str, int], hist: dict[int, int] | None) -> dict[str, Any]:
    """What a manager reads from counters: averages, rates, p90."""
    def avg(total: int, n: int, scale: float = 1.0) -> float | None:
        return round(total / n / scale, 1) if n else None

    return {
        "issued": c["issued"], "done": c["done"], "no_show": c["no_show"], "cancelled": c["cancelled"],
        "expired": c["expired"], "green": c["green"], "appointment": c["appointment"],
        "avg_wait_min": avg(c["wait_s"], c["waited"], 60), "p90_wait_min": percentile(hist or {}),
        "avg_service_min": avg(c["service_s"], c["served"], 60),
        "no_show_rate": round(c["no_show"] / c["waited"], 3) if c["waited"] else None,
        "rated": c["rated"], "avg_level": avg(c["level_sum"], c["rated"]),
        "satisfaction": round(c["good"] / c["rated"], 3) if c["rated"] else None, "bad": c["bad"],
    }


def report(conn: sqlite3.Connection, first: date, last: date, group: str, today: date,
           business: str | None = None) -> dict[str, Any]:
    """One report: a row per group key (sorted), and the totals over the whole range."""
    if group not in GROUPS:
        raise ValueError(f"unknown grouping {group!r}")
    f, la, td = first.isoformat(), last.isoformat(), today.isoformat()
    per = counters(conn, f, la, group, td, business)
    hists = wait_histograms(conn, f, la, group, td, business)
    total = _empty()
    for c in per.values():
        for k in COUNTERS:
            total[k] += c[k]
    all_hist: dict[int, int] = {}  # every ticket is in exactly one group: the total is their sum
    for h in hists.values():
        for b, n in h.items():
            all_hist[b] = all_hist.get(b, 0) + n
    rows = [{"key": k, **figures(per[k], hists.get(k))} for k in sorted(per, key=lambda k: (k is None, k))]
    return {"group": group, "first": f, "last": la, "business": business, "rows": rows,
            "total": figures(total, all_hist)}
