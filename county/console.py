"""The supervision console's numbers: each hall's live state and the daily rollup, folded from its events.

:func:`fold` reads the events each hall has accounted for (up to its ``high_water``) after its
``console_cursor``, in journal order, once each, and keeps small tables (schema 003_console.sql):

* ``console_tickets``: the tickets of the hall's recent days and their state (waiting, serving, done, gone),
  from ``issue``, ``call``, ``requeue``, ``transfer``, ``complete``, ``no_show``, ``cancel``, ``expire``;
* ``console_windows``: open or closed, from ``open_window``/``close_window``/``sign_in``/``sign_out``;
* ``console_followups``: bad-review follow-ups (差评整改) open and their due day;
* ``console_daily``: per hall, business day, business, item and department (the item's, as the hall's event
  said): issued, waits (issue to first call), on time, served, no-shows, ratings and bad ones. Every report
  (rankings, statistics) reads this rollup.

Folding up to the high-water mark only (never past a gap) is what makes it exact: every event is folded
once, in order, whatever order it arrived in. The cursor moves in the same transaction as the tables.

:func:`check_alerts` raises (and clears) the alerts of ``[console]`` in county.toml: a wait too long, a
satisfaction too low, a hall gone silent. A county supervisor acknowledges an open alert (someone is on it)
or resolves it with what was done (:func:`act_on_alert`, journaled in ``audit``); one that fires again after
it ended, by itself or resolved, is a new alert.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import psycopg

from county.config import CountyConfig
from county.intake import DAY_SLACK_DAYS
from county.signin import audit
from county.store import raise_alert
from hallq.privacy import scrub_text

log = logging.getLogger("hallq.county.console")

FOLD_ALERT = "fold_failed"  # a hall whose events cannot be folded: its figures wait (ended when it is mended)
FOLD_LOCK = 0x68616C6C73  # one folding transaction at a time per county (every advisory-lock key differs: tested)
BATCH = 5000
KEEP_TICKET_DAYS = 7
GONE = {"no_show": "gone", "cancel": "gone", "expire": "gone", "complete": "done"}
ALERT_KINDS = ("wait", "satisfaction", "silent")
RANKINGS = {"hall": "site", "department": "department", "business": "business", "item": "item"}
MAX_OFFSET_SECONDS = 3660 * 86400  # a hall's clock offset past this (intake's max_age_days is 3,650 at most) is none


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class _Daily:
    """Deltas of console_daily for one batch, written with one statement per row touched."""

    COLUMNS = ("issued", "called", "served", "no_show", "wait_seconds", "on_time", "rated", "bad")

    def __init__(self) -> None:
        self.rows: dict[tuple, dict] = {}

    def add(self, key: tuple, **deltas: float) -> None:
        row = self.rows.setdefault(key, {c: 0 for c in self.COLUMNS} | {"wait_max": 0.0})
        for k, v in deltas.items():
            if k == "wait_max":
                row[k] = max(row[k], v)
            else:
                row[k] += v

    def write(self, conn) -> None:
        if not self.rows:
            return
        cols = ", ".join(self.COLUMNS)
        sets = ", ".join(f"{c} = console_daily.{c} + excluded.{c}" for c in self.COLUMNS)
        types = ", ".join(f"{c} {'double precision' if c == 'wait_seconds' else 'integer'}" for c in self.COLUMNS)
        conn.execute(  # one statement (the rows as one JSON text), not a statement per row: see _rows
            f"INSERT INTO console_daily (site, day, business, item, department, {cols}, wait_max) "
            f"SELECT site, day, business, item, department, {cols}, wait_max FROM json_to_recordset(%s::json) "
            f"AS r(site text, day date, business text, item text, department text, {types}, "
            "wait_max double precision) "
            f"ON CONFLICT (day, site, business, item, department) DO UPDATE SET {sets}, "
            "wait_max = GREATEST(console_daily.wait_max, excluded.wait_max)",
            (_rows(dict(zip(("site", "day", "business", "item", "department"), key), **row)
                   for key, row in self.rows.items()),))


def _rows(rows) -> str:
    """Rows as one JSON text for ``json_to_recordset``: a fold writes thousands of rows, and one statement over
    them costs the platform (its GIL, shared with ingestion) a fraction of a pipelined statement per row
    (measured with bench/bench_county.py, docs/county.md)."""
    return json.dumps(list(rows), ensure_ascii=False, separators=(",", ":"), default=str)


def fold(conn, cfg: CountyConfig) -> int:
    """Fold every accounted-for event not yet folded; return how many. Safe from several processes at once.

    One hall's events that cannot be folded (a fault the fold does not know yet) never hold up the others: a batch
    that fails is folded again hall by hall, and a hall that fails alone is left out of this fold, logged (its
    figures wait; the next fold tries it again). The database itself failing (gone, a statement timeout) raises."""
    total, broken = 0, set()
    while True:
        try:
            n = _fold_batch(conn, cfg, broken)
        except psycopg.OperationalError:
            raise
        except Exception:
            if conn.closed:
                raise
            before, folded = len(broken), 0
            with conn.transaction():
                sites = [r["site"] for r in conn.execute("SELECT site FROM halls ORDER BY site")]
            for site in sorted(set(sites) - broken):  # each hall alone: the one(s) that fail are left out of this fold
                try:
                    folded += _fold_batch(conn, cfg, broken, site)
                except psycopg.OperationalError:
                    raise
                except Exception as e:
                    broken.add(site)
                    _report(conn, site, e)
            if not folded and len(broken) == before:  # no hall's events to blame: the fold's own fault
                raise
            total += folded
            continue
        if n == 0:
            for site in set(_reported) - broken:  # mended: told again if it breaks again
                _reported.pop(site, None)  # (another thread's fold may have forgotten it already)
            with conn.transaction():  # mended halls' alerts end, whichever process (or a restart) raised them
                conn.execute("UPDATE alerts SET cleared_at = now() WHERE kind = %s AND cleared_at IS NULL "
                             "AND NOT (site = ANY(%s))", (FOLD_ALERT, sorted(broken)))
            return total
        total += n


_reported: dict[str, str] = {}


def _report(conn, site: str, e: Exception) -> None:
    """Log and alert (``fold_failed``: the supervisors see that a hall's figures wait) once per hall and fault."""
    what = f"{e.__class__.__name__}: {e}"[:300]
    if _reported.get(site) != what:
        _reported[site] = what
        log.error("console: hall %s's events cannot be folded (%s); its figures wait, the other halls' go on", site,
                  what)
        with conn.transaction():
            raise_alert(conn, site, FOLD_ALERT, what)


def _fold_batch(conn, cfg: CountyConfig, broken: set[str], only: str | None = None) -> int:
    """One transaction: fold a batch of the halls' events (of ``only``, else of every hall not ``broken``); return
    how many (0: nothing was left to fold)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (FOLD_LOCK,))
        conn.execute("INSERT INTO console_cursor (site) SELECT site FROM halls ON CONFLICT DO NOTHING")
        rows = conn.execute(
            "SELECT e.site, e.seq, e.at, e.business_day, e.action, e.ticket, e.business, e.window_no, e.data "
            "FROM console_cursor c JOIN hall_progress p USING (site) "
            "CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.site = c.site AND e.seq > c.seq "
            "AND e.seq <= p.high_water ORDER BY e.seq LIMIT %s) e "
            "WHERE NOT (c.site = ANY(%s)) AND (%s::text IS NULL OR c.site = %s) ORDER BY e.site, e.seq LIMIT %s",
            (BATCH, sorted(broken), only, only, BATCH)).fetchall()  # a prefix of each hall's: the cursor moves
        if not rows:
            if only is None:
                # numbers absent or quarantined: skipped only where no event is stored between. Each statement
                # reads its own snapshot (READ COMMITTED): a batch that commits its events and high-water mark
                # after the SELECT above is seen here, and its events must be folded, not jumped over
                conn.execute("UPDATE console_cursor c SET seq = p.high_water FROM hall_progress p "
                             "WHERE p.site = c.site AND c.seq < p.high_water AND NOT EXISTS (SELECT 1 FROM events e "
                             "WHERE e.site = c.site AND e.seq > c.seq AND e.seq <= p.high_water)")
            return 0
        _fold_rows(conn, cfg, rows)
        return len(rows)


def _unfoldable(e: dict, day: date) -> str | None:
    """Why a stored event cannot be folded (stored before intake refused such events), or None: skipped, logged."""
    if abs((day - e["at"].date()).days) > DAY_SLACK_DAYS + 1:  # +1: the hall's date of `at`, read in another zone
        return f"business day {day} is far from its time {e['at']}"
    return None


def _fold_rows(conn, cfg: CountyConfig, rows: list[dict]) -> None:
    on_time = cfg.console.on_time_minutes * 60
    daily = _Daily()
    tickets: dict[tuple, dict | None] = {}
    followups: dict[str, int] = {}
    last: dict[str, tuple[int, date]] = {}

    def ticket(site: str, day: date, label: str | None) -> dict | None:
        if not label:
            return None
        key = (site, day, label)
        if key not in tickets:
            tickets[key] = conn.execute(
                "SELECT business, item, department, issued_at, called_at, state FROM console_tickets "
                "WHERE site = %s AND day = %s AND ticket = %s", key).fetchone()
        return tickets[key]

    _prefetch(conn, rows, tickets)
    for e in rows:
        site, day, action, data = e["site"], _day(e["business_day"]), e["action"], e["data"] or {}
        problem = _unfoldable(e, day)
        if problem is not None:
            log.warning("console: hall %s's event %d (%s) not folded: %s", site, e["seq"], action, problem)
            last[site] = (e["seq"], last[site][1] if site in last else None)
            continue
        last[site] = (e["seq"], day)
        business = e["business"] or ""
        if action == "issue" and e["ticket"]:
            item, dept = str(data.get("item") or "")[:64], str(data.get("department") or "")[:100]
            tickets[(site, day, e["ticket"])] = {"business": business, "item": item, "department": dept,
                                                 "issued_at": e["at"], "called_at": None, "state": "waiting"}
            daily.add((site, day, business, item, dept), issued=1)
        elif action in ("call", "call_back", "recall", "start"):
            t = ticket(site, day, e["ticket"])
            if t is not None:
                if t["called_at"] is None:
                    t["called_at"] = e["at"]
                    wait = max((e["at"] - t["issued_at"]).total_seconds(), 0.0)
                    daily.add(_key(site, day, t), called=1, wait_seconds=wait, wait_max=wait,
                              on_time=int(wait <= on_time))
                t["state"] = "serving"
        elif action in ("requeue", "hold"):
            t = ticket(site, day, e["ticket"])
            if t is not None and action == "requeue":
                t["state"] = "waiting"
        elif action == "transfer":
            t = ticket(site, day, e["ticket"])
            if t is not None:  # handed to another business: waits again, its first wait already counted
                t["state"], t["business"] = "waiting", business or t["business"]
        elif action in GONE:
            t = ticket(site, day, e["ticket"])
            if t is not None:
                t["state"] = GONE[action]
                if action == "complete":
                    daily.add(_key(site, day, t), served=1)
                elif action == "no_show":
                    daily.add(_key(site, day, t), no_show=1)
        elif action == "rate":
            t = ticket(site, day, e["ticket"])
            item = t["item"] if t is not None else ""
            dept = str(data.get("department") or (t["department"] if t is not None else ""))[:100]
            daily.add((site, day, business or (t["business"] if t else ""), item, dept), rated=1,
                      bad=int(bool(data.get("bad"))))
        elif action in ("open_window", "sign_in", "resume") and e["window_no"] is not None:
            _window(conn, site, e["window_no"], True, e["at"])
        elif action in ("close_window", "sign_out") and e["window_no"] is not None:
            _window(conn, site, e["window_no"], False, e["at"])
        elif action == "followup_opened" and data.get("due"):
            if site not in followups:
                followups[site] = conn.execute("SELECT COALESCE(max(n), 0) AS n FROM console_followups "
                                               "WHERE site = %s", (site,)).fetchone()["n"]
            followups[site] += 1
            try:
                due = date.fromisoformat(str(data["due"]))
            except ValueError:
                continue
            conn.execute("INSERT INTO console_followups (site, n, due) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                         (site, followups[site], due))
        elif action == "followup_closed" and type(data.get("followup")) is int and 0 < data["followup"] < 2**63:
            conn.execute("UPDATE console_followups SET closed = true WHERE site = %s AND n = %s",
                         (site, data["followup"]))
        elif action == "day_rolled_over":
            conn.execute("UPDATE console_tickets SET state = 'gone' WHERE site = %s AND day < %s "
                         "AND state IN ('waiting', 'serving')", (site, day))
    if any(t is not None for t in tickets.values()):
        conn.execute(
            "INSERT INTO console_tickets (site, day, ticket, business, item, department, issued_at, called_at, state) "
            "SELECT site, day, ticket, business, item, department, issued_at, called_at, state "
            "FROM json_to_recordset(%s::json) AS r(site text, day date, ticket text, business text, item text, "
            "department text, issued_at timestamptz, called_at timestamptz, state text) "
            "ON CONFLICT (site, day, ticket) DO UPDATE SET "
            "business = excluded.business, called_at = excluded.called_at, state = excluded.state",
            (_rows({"site": site, "day": day, "ticket": label, **t} for (site, day, label), t in tickets.items()
                   if t is not None),))
    halls = _rows({"site": site, "seq": seq, "day": day,
                   "keep_from": day - timedelta(KEEP_TICKET_DAYS) if day is not None else None}
                  for site, (seq, day) in last.items())
    conn.execute("UPDATE console_cursor c SET seq = r.seq, day = GREATEST(c.day, r.day), folded_at = now() "
                 "FROM json_to_recordset(%s::json) AS r(site text, seq bigint, day date) WHERE c.site = r.site",
                 (halls,))
    daily.write(conn)
    conn.execute("DELETE FROM console_tickets t USING json_to_recordset(%s::json) AS r(site text, keep_from date) "
                 "WHERE t.site = r.site AND t.day < r.keep_from", (halls,))


def _prefetch(conn, rows: list[dict], tickets: dict) -> None:
    """Read in one statement the stored tickets the batch's events name (a call, a completion, a rating: mostly of
    tickets issued in an earlier fold), rather than a round trip each in the loop. Only names met before their
    hall's ``day_rolled_over`` in the batch: that event changes stored tickets, and the loop reads those after it
    from the table as it then is, one by one, as before."""
    rolled: set[str] = set()
    wanted: dict[tuple, None] = {}
    for e in rows:
        if e["action"] == "day_rolled_over":
            rolled.add(e["site"])
        elif e["ticket"] and e["action"] != "issue" and e["site"] not in rolled:
            wanted[(e["site"], _day(e["business_day"]), e["ticket"])] = None
    if not wanted:
        return
    found = conn.execute(
        "SELECT t.site, t.day, t.ticket, t.business, t.item, t.department, t.issued_at, t.called_at, t.state "
        "FROM json_to_recordset(%s::json) AS r(site text, day date, ticket text) "
        "JOIN console_tickets t ON t.site = r.site AND t.day = r.day AND t.ticket = r.ticket",
        (_rows({"site": site, "day": day, "ticket": label} for site, day, label in wanted),)).fetchall()
    for key in wanted:
        tickets[key] = None  # not stored: the loop knows without asking again
    for r in found:
        tickets[(r["site"], r["day"], r["ticket"])] = {k: r[k] for k in ("business", "item", "department",
                                                                         "issued_at", "called_at", "state")}


def _key(site: str, day: date, t: dict) -> tuple:
    """A ticket's row of console_daily: its hall, day, business, item and the item's department."""
    return site, day, t["business"], t["item"], t["department"]


def _window(conn, site: str, number: int, open_: bool, at: datetime) -> None:
    conn.execute("INSERT INTO console_windows (site, window_no, open, since) VALUES (%s, %s, %s, %s) "
                 "ON CONFLICT (site, window_no) DO UPDATE SET open = excluded.open, "
                 "since = CASE WHEN console_windows.open = excluded.open THEN console_windows.since "
                 "ELSE excluded.since END", (site, number, open_, at))


# -- reading ---------------------------------------------------------------------------------------------

def today(cfg: CountyConfig) -> date:
    return datetime.now(ZoneInfo(cfg.timezone)).date()


def hall_now(now: datetime, offset_seconds) -> datetime:
    """The hall's clock: the platform's ``now`` less the hall's offset (:data:`HALL_OFFSET`), the platform's own when
    the offset is unknown or not sane (intake and the catch-up keep it within ``[ingest]``; an older database may
    hold one from before they did)."""
    offset = float(offset_seconds or 0)
    if not math.isfinite(offset) or abs(offset) > MAX_OFFSET_SECONDS:
        offset = 0.0
    return now - timedelta(seconds=offset)


# The platform's clock less a hall's (seconds), in a query over halls ``h``, hall_progress ``p`` and console_cursor
# ``c``: the newer of what its latest folded live event shows (received at, less its time) and what the catch-up
# read from its journal page's ``now`` (county/catchup.py). NULL (taken as 0) when neither is known yet.
HALL_OFFSET = (
    "COALESCE((SELECT CASE WHEN p.clock_offset_at > e.received_at THEN p.clock_offset_seconds "
    "ELSE extract(epoch FROM e.received_at - e.at) END FROM events e WHERE e.site = h.site AND e.seq <= c.seq "
    "AND e.source = 'live' ORDER BY e.seq DESC LIMIT 1), p.clock_offset_seconds)")


def overview(conn, cfg: CountyConfig, site: str | None = None) -> list[dict]:
    """Every hall (or one) on one line: level, open windows, waiting, longest wait, satisfaction today, bad
    reviews overdue, online/offline since when, open alerts. Reads the small tables only.

    Waits are measured on the hall's own clock: the platform's now less the hall's offset (HALL_OFFSET). A hall
    whose latest business day is before its today has not opened yet today: no one waits there (yesterday's
    tickets expire when its day rolls over)."""
    rows = conn.execute(
        "SELECT h.site, h.level, h.name, h.parent, h.active, p.server_state, p.server_state_since, p.last_heard_at, "
        "p.high_water, c.day, "
        "(SELECT count(*) FROM console_windows w WHERE w.site = h.site AND w.open) AS open_windows, "
        "(SELECT count(*) FROM console_tickets t WHERE t.site = h.site AND t.day = c.day "
        " AND t.state = 'waiting') AS waiting, "
        "(SELECT min(issued_at) FROM console_tickets t WHERE t.site = h.site AND t.day = c.day "
        " AND t.state = 'waiting') AS oldest, "
        f"{HALL_OFFSET} AS offset_seconds, "
        "(SELECT count(*) FROM console_followups f WHERE f.site = h.site AND NOT f.closed AND f.due < c.day) "
        " AS overdue, "
        "(SELECT row(sum(rated), sum(bad))::text FROM console_daily d WHERE d.site = h.site AND d.day = c.day) AS r, "
        "(SELECT array_agg(kind ORDER BY kind) FROM alerts a WHERE a.site = h.site AND a.cleared_at IS NULL "
        " AND a.kind = ANY(%s)) AS alerts "
        "FROM halls h LEFT JOIN hall_progress p USING (site) LEFT JOIN console_cursor c USING (site) "
        "WHERE h.active AND (%s::text IS NULL OR h.site = %s) "
        "ORDER BY array_position(ARRAY['city', 'district', 'town', 'village'], h.level), h.site",
        (list(ALERT_KINDS), site, site)).fetchall()
    now = datetime.now(timezone.utc)
    zone = ZoneInfo(cfg.timezone)
    for r in rows:
        here = hall_now(now, r.pop("offset_seconds"))
        oldest = r.pop("oldest")
        rated, bad = (int(x) if x else 0 for x in (r.pop("r") or "(,)").strip("()").split(","))
        if r["day"] is not None and r["day"] < here.astimezone(zone).date():
            r["waiting"], oldest, rated, bad = 0, None, 0, 0  # not open yet today
        r["longest_wait_minutes"] = max(int((here - oldest).total_seconds() // 60), 0) if oldest else 0
        r["rated"], r["bad"] = rated, bad
        r["satisfaction"] = (rated - bad) / rated if rated else None
        r["alerts"] = r["alerts"] or []
    return rows


def check_alerts(conn, cfg: CountyConfig) -> None:
    """Raise an alert per hall past a threshold of ``[console]``; clear it once the hall is back within."""
    c = cfg.console
    now = datetime.now(timezone.utc)
    for h in overview(conn, cfg):
        # silent: its server said offline/stopped (or its last will did) that long ago; or it never said anything
        # and nothing was heard from it for that long. An idle hall that is online is not silent.
        limit = timedelta(minutes=c.silent_minutes)
        since = h["server_state_since"] if h["server_state"] else h["last_heard_at"]
        silent = h["server_state"] != "online" and since is not None and now - since > limit
        wanted = {
            "wait": (h["longest_wait_minutes"] > c.wait_alert_minutes,
                     f"longest wait {h['longest_wait_minutes']} min > {c.wait_alert_minutes} min"),
            "satisfaction": (h["rated"] >= c.satisfaction_min_ratings and h["satisfaction"] is not None
                             and h["satisfaction"] < c.satisfaction_alert,
                             f"satisfaction today {h['satisfaction'] or 0:.0%} < {c.satisfaction_alert:.0%} "
                             f"({h['rated']} ratings)"),
            "silent": (silent, f"not heard from for over {c.silent_minutes} min"),
        }
        for kind, (on, detail) in wanted.items():
            if on and kind not in h["alerts"]:
                log.warning("alert for hall %s: %s: %s", h["site"], kind, detail)
                raise_alert(conn, h["site"], kind, detail)
            elif not on and kind in h["alerts"]:
                conn.execute("UPDATE alerts SET cleared_at = now() WHERE site = %s AND kind = %s AND cleared_at IS NULL",
                             (h["site"], kind))


ALERT_ACTIONS = {"acknowledge": "alert_acknowledged", "resolve": "alert_resolved"}
NOTE_MAX = 500
ALERT_COLUMNS = ("id, site, kind, detail, raised_at, last_at, count, cleared_at, acknowledged_at, acknowledged_by, "
                 "acknowledgement, resolved_by, resolution")


class AlertClosed(Exception):
    """The alert has ended already (cleared by itself or resolved): nothing to act on."""


def alerts(conn, site: str | None = None, state: str = "open", limit: int = 200) -> list[dict]:
    """Open alerts (newest activity first) or ended ones (``state="closed"``: the most recently ended first),
    of the county or one hall."""
    where, order = ("cleared_at IS NULL", "last_at DESC") if state == "open" else ("cleared_at IS NOT NULL",
                                                                                   "cleared_at DESC")
    return conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {where} AND (%s::text IS NULL OR site = %s) "
                        f"ORDER BY {order}, id DESC LIMIT %s", (site, site, limit)).fetchall()


def act_on_alert(conn, alert_id: int, username: str, action: str, note: str) -> dict:
    """A supervisor acknowledges (the alert stays open, marked as being handled) or resolves (it ends, with what
    was done) an open alert; journaled in ``audit`` with who, when and the note. The caller checks the role.

    Raises LookupError for an unknown alert, :class:`AlertClosed` for one that has ended, ValueError for a note
    too long (or missing, to resolve)."""
    note = scrub_text(" ".join(note.split()))  # one line, an ID or phone number in it masked
    if len(note) > NOTE_MAX or action == "resolve" and not note or action not in ALERT_ACTIONS:
        raise ValueError("note")
    with conn.transaction():
        row = conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = %s FOR UPDATE", (alert_id,)).fetchone()
        if row is None:
            raise LookupError(alert_id)
        if row["cleared_at"] is not None:
            raise AlertClosed(alert_id)
        if action == "acknowledge":
            row = conn.execute(f"UPDATE alerts SET acknowledged_at = now(), acknowledged_by = %s, acknowledgement = %s "
                               f"WHERE id = %s RETURNING {ALERT_COLUMNS}", (username, note, alert_id)).fetchone()
        else:
            row = conn.execute(f"UPDATE alerts SET cleared_at = now(), resolved_by = %s, resolution = %s "
                               f"WHERE id = %s RETURNING {ALERT_COLUMNS}", (username, note, alert_id)).fetchone()
        audit(conn, username, ALERT_ACTIONS[action], row["site"],
              {"alert": alert_id, "kind": row["kind"], "note": note})
    log.info("alert %d (%s, hall %s): %s by %s", alert_id, row["kind"], row["site"] or "-", ALERT_ACTIONS[action],
             username)
    return row


def rankings(conn, by: str, start: date, end: date, site: str | None = None) -> list[dict]:
    """Halls, departments, businesses or items ranked by average wait (shortest first), with on-time rate and
    satisfaction. A department is the one the hall's event named (its catalogue's, at the time)."""
    key = RANKINGS[by]
    rows = conn.execute(
        f"SELECT {key} AS key, sum(issued) AS issued, sum(called) AS called, sum(served) AS served, "
        "sum(wait_seconds) AS wait_seconds, max(wait_max) AS wait_max, sum(on_time) AS on_time, "
        "sum(rated) AS rated, sum(bad) AS bad FROM console_daily WHERE day BETWEEN %s AND %s "
        f"AND (%s::text IS NULL OR site = %s) AND {key} <> '' GROUP BY {key}",
        (start, end, site, site)).fetchall()
    out = [_ratios(r) for r in rows]
    out.sort(key=lambda r: (r["avg_wait_minutes"] is None, r["avg_wait_minutes"] or 0, r["key"]))
    return out


def _ratios(r: dict) -> dict:
    called, rated = int(r["called"] or 0), int(r["rated"] or 0)
    r = {k: (int(v) if isinstance(v, (int, float)) and k not in ("wait_seconds", "wait_max") else v)
         for k, v in r.items()}
    r["avg_wait_minutes"] = round(float(r["wait_seconds"]) / called / 60, 1) if called else None
    r["on_time_rate"] = int(r["on_time"]) / called if called else None
    r["satisfaction"] = (rated - int(r["bad"])) / rated if rated else None
    return r


def daily_series(conn, start: date, end: date, site: str | None = None) -> list[dict]:
    """One row per day of the period: the county's (or one hall's) totals and ratios."""
    rows = conn.execute(
        "SELECT day AS key, sum(issued) AS issued, sum(called) AS called, sum(served) AS served, "
        "sum(wait_seconds) AS wait_seconds, max(wait_max) AS wait_max, sum(on_time) AS on_time, "
        "sum(rated) AS rated, sum(bad) AS bad FROM console_daily WHERE day BETWEEN %s AND %s "
        "AND (%s::text IS NULL OR site = %s) GROUP BY day ORDER BY day", (start, end, site, site)).fetchall()
    return [_ratios(r) for r in rows]
