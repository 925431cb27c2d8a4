"""The provincial hand-off: ratings (好差评) and completed applications (办结) for the provincial platforms.

The county platform holds every hall's journal (``events``). This module turns the events the provincial
好差评 system and the 一体化政务服务 platform want into *records* (docs/provincial.md, field by field):

* ``rate`` → a rating record (评价渠道, 评价等级, 事项编码, 办件编号, 部门, 评价时间…);
* ``application_result_ready`` (办结, approved or refused) and ``application_rejected`` (不予受理) →
  an application record, with the item code and times of the application's earlier events.

Records are built from named fields only, never by copying an event's data: the journal holds no full ID
number and no unmasked name, and a record holds neither, nor the actor's device or network address.

The hand-off is exactly once, in order, and survives restarts, through three PostgreSQL tables
(county/schema/003_provincial.sql):

1. **export** (:meth:`Handoff.export_once`): for each hall, the events after ``provincial_progress.exported``
   and up to the hall's ``high_water`` (everything at or below it is accounted for, so no event can turn up
   later below the cursor), in seq order, become records, grouped into a batch of the outbox in the same
   transaction that moves the cursor. A batch's id is ``<county>-<site>-<first seq>-<last seq>``;
2. **files** (:meth:`Handoff.write_day`): ``<files_dir>/<kind>/<day>.jsonl`` and ``.csv`` of every record of
   that business day, rewritten whole (a temporary file renamed over the old one) whenever a record of the
   day is added: a file is always complete for what the platform knows;
3. **push** (:meth:`Handoff.push_once`): the oldest unsent batch is POSTed to ``[provincial] endpoint``; the
   next one waits for it (the order is kept). A failure is retried with exponential backoff
   (``retry_base_seconds`` × 2ⁿ, at most ``retry_max_seconds``); after ``alert_after`` failures an alert
   ``provincial_push`` is raised for the supervision office, cleared when a push succeeds. The receiver
   sees the same ``batch_id`` (also the ``Idempotency-Key`` header) on a resend and must answer 2xx
   without storing it twice.

An event that cannot make a valid record (stored before intake refused such data: a rating's level that is not
an integer) is left out of the hand-off, with a log line and an alert ``provincial_skipped`` for its hall; it
stops neither its hall's later records nor the other halls'.

One process does the hand-off for a county (a PostgreSQL advisory lock): it runs in the platform's
process (``hallq platform serve``) when county.toml has a ``[provincial]`` section, or alone
(``hallq platform provincial``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from county import db as county_db
from county.config import CountyConfig, CountyConfigError, Provincial, resolve_secret
from county.store import raise_alert

log = logging.getLogger("hallq.county.provincial")

# the one process doing a county's hand-off: a session lock held as long as it runs, so a key of its own (it was
# console.FOLD_LOCK's, and every console page waited for ever behind a running hand-off); all keys differ: tested
PROVINCIAL_LOCK = 0x68616C6C74
ALERT = "provincial_push"
SKIPPED_ALERT = "provincial_skipped"  # an event that cannot make a record: left out, logged, alerted

RATING_ACTIONS = ("rate",)
APPLICATION_ACTIONS = ("application_result_ready", "application_rejected")
ACTIONS = RATING_ACTIONS + APPLICATION_ACTIONS

# 评价渠道: where the resident rated, from the kind of the rating's actor (never its id or address)
CHANNELS = {"kiosk": "kiosk", "tablet": "pad", "device": "pad", "anonymous": "mobile"}
CHANNEL_NAMES = {"kiosk": "政务服务一体机", "pad": "窗口评价器", "mobile": "移动端", "other": "其他"}
# 评价等级 (国办发〔2019〕51号: 非常满意、满意、基本满意、不满意、非常不满意)
LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
# 办件状态 of a completed application
STATUS = {"approved": ("approved", "办结（准予）"), "refused": ("refused", "办结（不予许可）"),
          "rejected": ("rejected", "不予受理")}

RATING_FIELDS = ("record_id", "kind", "region_code", "hall", "hall_level", "hall_name", "channel", "channel_name",
                 "level", "level_name", "bad", "stage", "item_code", "service_no", "department", "business",
                 "window", "rated_at", "day")
APPLICATION_FIELDS = ("record_id", "kind", "region_code", "hall", "hall_level", "hall_name", "tracking_no",
                      "item_code", "department", "business", "status", "status_name", "delivery", "submitted_at",
                      "accepted_at", "completed_at", "day")
FIELDS = {"rating": RATING_FIELDS, "application": APPLICATION_FIELDS}


class Handoff:
    """Export, files and push for one county; :meth:`start` runs them on a thread, :meth:`run_once` once."""

    def __init__(self, cfg: CountyConfig, settings: Provincial | None = None) -> None:
        self.cfg = cfg
        self.settings = settings or cfg.provincial or Provincial()
        self.tz = ZoneInfo(cfg.timezone)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.pushed = 0
        self.failures = 0

    # -- records ----------------------------------------------------------------------------------

    def _time(self, value: datetime | None) -> str | None:
        return value.astimezone(self.tz).isoformat(timespec="seconds") if value is not None else None

    def _hall(self, site: str, halls: dict[str, dict]) -> dict[str, Any]:
        h = halls.get(site) or {}
        name = h.get("name") or {}
        return {"region_code": self.settings.region_code or None, "hall": site, "hall_level": h.get("level"),
                "hall_name": name.get("zh-Hans") or next(iter(name.values()), site)}

    def _department(self, business: str | None) -> str | None:
        """For an event from a hall before events named their item's department: ``[provincial] departments``."""
        return self.settings.departments.get(business or "", business)

    def rating_record(self, e: dict, halls: dict[str, dict]) -> dict[str, Any]:
        data = e["data"] or {}
        kind = str(e["actor"]).partition(":")[0]
        channel = CHANNELS.get(kind, "other")
        level = data.get("level", 0)
        if type(level) is not int:  # never int("x"), int(True) or int(4.7): a record says what the hall said
            raise ValueError(f"rating level {str(level)[:30]!r} is not an integer")
        return {
            "record_id": f"{e['site']}:{e['seq']}", "kind": "rating", **self._hall(e["site"], halls),
            "channel": self.settings.channel_codes.get(channel, channel), "channel_name": CHANNEL_NAMES[channel],
            "level": level, "level_name": LEVEL_NAMES.get(level), "bad": bool(data.get("bad", level <= 2)),
            "stage": data.get("stage"), "item_code": data.get("item"),
            "service_no": f"{e['site']}-{e['business_day'].isoformat()}-{e['ticket']}" if e["ticket"] else None,
            "department": data.get("department") or self._department(e["business"]), "business": e["business"],
            "window": e["window_no"],
            "rated_at": self._time(e["at"]), "day": e["business_day"].isoformat(),
        }

    def application_record(self, conn, e: dict, halls: dict[str, dict]) -> dict[str, Any]:
        data = e["data"] or {}
        tracking = data.get("tracking_no")
        outcome = "rejected" if e["action"] == "application_rejected" else data.get("decision") or "approved"
        if not isinstance(tracking, str) or not isinstance(outcome, str):
            raise ValueError(f"tracking_no {str(tracking)[:30]!r} or decision {str(outcome)[:30]!r} is not a text")
        earlier = {r["action"]: r for r in conn.execute(
            "SELECT DISTINCT ON (action) action, at, data FROM events WHERE site = %s AND data ? 'tracking_no' "
            "AND data->>'tracking_no' = %s AND seq < %s AND action IN ('application_submitted', "
            "'application_accepted') ORDER BY action, seq DESC", (e["site"], tracking, e["seq"]))}
        submitted = earlier.get("application_submitted")
        accepted = earlier.get("application_accepted")
        status, status_name = STATUS.get(outcome, (outcome, outcome))
        return {
            "record_id": f"{e['site']}:{e['seq']}", "kind": "application", **self._hall(e["site"], halls),
            "tracking_no": tracking, "item_code": (submitted["data"] or {}).get("item") if submitted else None,
            "department": ((submitted["data"] or {}).get("department") if submitted else None)
            or self._department(e["business"]), "business": e["business"], "status": status,
            "status_name": status_name,
            "delivery": (submitted["data"] or {}).get("delivery") if submitted else None,
            "submitted_at": self._time(submitted["at"]) if submitted else None,
            "accepted_at": self._time(accepted["at"]) if accepted else None,
            "completed_at": self._time(e["at"]), "day": e["business_day"].isoformat(),
        }

    # -- 1. export: events -> records and batches ---------------------------------------------------

    def export_once(self, conn) -> set[tuple[str, str]]:
        """Turn every new accounted-for event into records and batches; return the (kind, day) files to rewrite.
        A hall whose export fails (a fault not foreseen) is logged and left for the next round; the others go on."""
        halls = {r["site"]: r for r in conn.execute("SELECT site, level, name FROM halls")}
        touched: set[tuple[str, str]] = set()
        for site in sorted(halls):
            try:
                self._export_hall(conn, site, halls, touched)
            except psycopg.OperationalError:
                raise  # the database away: the loop retries
            except Exception as e:
                if conn.closed:
                    raise
                log.error("provincial hand-off: hall %s's records cannot be exported (%s); the other halls' go on",
                          site, f"{e.__class__.__name__}: {e}"[:300])
        return touched

    def _records(self, conn, site: str, events: list[dict], halls: dict) -> list[tuple[dict, dict]]:
        """(event, record) for each event that makes a valid record; one that does not is logged and alerted."""
        out = []
        for e in events:
            try:
                out.append((e, self.rating_record(e, halls) if e["action"] in RATING_ACTIONS
                            else self.application_record(conn, e, halls)))
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as ex:
                what = f"event {e['seq']} ({e['action']}) left out of the hand-off: {ex}"[:500]
                log.warning("provincial hand-off: hall %s's %s", site, what)
                raise_alert(conn, site, SKIPPED_ALERT, what)
        return out

    def _export_hall(self, conn, site: str, halls: dict, touched: set[tuple[str, str]]) -> None:
        """Export one hall's new events, in batches, each in one transaction with its cursor."""
        while True:
            with conn.transaction():
                conn.execute("INSERT INTO provincial_progress (site) VALUES (%s) ON CONFLICT DO NOTHING", (site,))
                done = conn.execute("SELECT exported FROM provincial_progress WHERE site = %s FOR UPDATE",
                                    (site,)).fetchone()["exported"]
                hw = conn.execute("SELECT high_water FROM hall_progress WHERE site = %s",
                                  (site,)).fetchone()
                top = hw["high_water"] if hw else 0
                if top <= done:
                    break
                events = conn.execute(
                    "SELECT site, seq, at, business_day, actor, action, ticket, business, window_no, data "
                    "FROM events WHERE site = %s AND seq > %s AND seq <= %s AND action = ANY(%s) "
                    "ORDER BY seq LIMIT %s", (site, done, top, list(ACTIONS), self.settings.batch_size)).fetchall()
                full = len(events) == self.settings.batch_size
                upto = events[-1]["seq"] if full else top
                kept = self._records(conn, site, events, halls)
                if kept:
                    events, records = [e for e, _ in kept], [r for _, r in kept]
                    batch_id = f"{self.cfg.id}-{site}-{events[0]['seq']}-{events[-1]['seq']}"
                    batch = conn.execute("INSERT INTO provincial_batches (batch_id, site, records) "
                                         "VALUES (%s, %s, %s) RETURNING id",
                                         (batch_id, site, len(records))).fetchone()["id"]
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO provincial_records (site, seq, kind, day, batch, record) "
                            "VALUES (%s, %s, %s, %s, %s, %s)",
                            [(site, e["seq"], r["kind"], r["day"], batch, json.dumps(r, ensure_ascii=False))
                             for e, r in zip(events, records)])
                    touched.update((r["kind"], r["day"]) for r in records)
                conn.execute("UPDATE provincial_progress SET exported = %s WHERE site = %s", (upto, site))
            if not full:
                break

    # -- 2. files ---------------------------------------------------------------------------------

    def write_day(self, conn, kind: str, day: str) -> list[Path]:
        """Rewrite ``<files_dir>/<kind>/<day>.jsonl`` and ``.csv`` with every record of that day, in order."""
        if not self.settings.files_dir:
            return []
        records = [r["record"] for r in conn.execute(
            "SELECT record FROM provincial_records WHERE kind = %s AND day = %s ORDER BY batch, seq", (kind, day))]
        folder = Path(self.settings.files_dir) / kind
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for fmt in self.settings.formats:
            if fmt == "jsonl":
                text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
            else:
                out = io.StringIO()
                w = csv.DictWriter(out, fieldnames=FIELDS[kind], extrasaction="ignore", lineterminator="\r\n")
                w.writeheader()
                for r in records:
                    w.writerow({k: ("true" if v is True else "false" if v is False else v) for k, v in r.items()})
                text = "\ufeff" + out.getvalue()  # a BOM: Excel opens UTF-8 CSV right
            path = folder / f"{day}.{fmt}"
            tmp = path.with_suffix(f".{fmt}.tmp")
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            written.append(path)
        return written

    # -- 3. push ------------------------------------------------------------------------------------

    def _token(self) -> str:
        return resolve_secret(self.settings.token, "[provincial] token") if self.settings.token else ""

    def push_once(self, conn) -> float | None:
        """Push the oldest unsent batch if it is due. Return seconds until the next try (0: go on at once),
        or None when nothing is left to push."""
        if not self.settings.endpoint:
            return None
        head = conn.execute("SELECT id, batch_id, site, attempts, alerted, "
                            "GREATEST(0, EXTRACT(EPOCH FROM next_attempt_at - now()))::float AS wait "
                            "FROM provincial_batches WHERE sent_at IS NULL ORDER BY id LIMIT 1").fetchone()
        if head is None:
            return None
        if head["wait"] > 0:
            return float(head["wait"])
        records = [r["record"] for r in conn.execute(
            "SELECT record FROM provincial_records WHERE batch = %s ORDER BY seq", (head["id"],))]
        body = json.dumps({"batch_id": head["batch_id"], "county": self.cfg.id,
                           "region_code": self.settings.region_code or None, "hall": head["site"],
                           "count": len(records), "records": records}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": head["batch_id"]}
        error = None
        try:
            token = self._token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
            req = urllib.request.Request(self.settings.endpoint, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(req, timeout=self.settings.timeout_seconds) as r:
                r.read()
        except urllib.error.HTTPError as e:
            error = f"the endpoint answered HTTP {e.code}"
        except (OSError, CountyConfigError) as e:
            error = f"{e.__class__.__name__}: {e}"[:300]
        if error is None:
            with conn.transaction():
                conn.execute("UPDATE provincial_batches SET sent_at = now(), attempts = attempts + 1, "
                             "last_error = NULL WHERE id = %s", (head["id"],))
                conn.execute("UPDATE alerts SET cleared_at = now() WHERE kind = %s AND cleared_at IS NULL", (ALERT,))
            self.pushed += 1
            return 0.0
        attempts = head["attempts"] + 1
        delay = min(self.settings.retry_base_seconds * 2 ** (attempts - 1), self.settings.retry_max_seconds)
        self.failures += 1
        log.warning("provincial push of batch %s failed (attempt %d): %s; retrying in %.1f s", head["batch_id"],
                    attempts, error, delay)
        with conn.transaction():
            conn.execute("UPDATE provincial_batches SET attempts = %s, last_error = %s, "
                         "next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                         (attempts, error, delay, head["id"]))
            if attempts >= self.settings.alert_after and not head["alerted"]:
                raise_alert(conn, None, ALERT, f"batch {head['batch_id']} not accepted after {attempts} attempts: "
                                               f"{error} (endpoint {self.settings.endpoint}); later batches wait")
                conn.execute("UPDATE provincial_batches SET alerted = true WHERE id = %s", (head["id"],))
                log.error("provincial push: alert raised, batch %s failed %d times", head["batch_id"], attempts)
        return delay

    # -- running ----------------------------------------------------------------------------------

    def run_once(self, conn, push: bool = True) -> float | None:
        """Export, rewrite the touched files, push what is due; the wait before the next push (None: none)."""
        for kind, day in sorted(self.export_once(conn)):
            self.write_day(conn, kind, day)
        wait = None
        while push:
            wait = self.push_once(conn)
            if wait != 0.0 or self._stop.is_set():
                break
        return wait

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="county-provincial", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        conn = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = county_db.connect(self.cfg.database_url, autocommit=True)
                    if not conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (PROVINCIAL_LOCK,)).fetchone()["ok"]:
                        conn.close()
                        conn = None
                        self._stop.wait(5.0)  # another process does the hand-off
                        continue
                    log.info("provincial hand-off: files in %s, push to %s", self.settings.files_dir or "(none)",
                             self.settings.endpoint or "(none)")
                wait = self.run_once(conn)
            except Exception as e:
                log.warning("provincial hand-off: %s; retrying", f"{e.__class__.__name__}: {e}"[:300])
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                conn = None
                wait = 5.0
            pause = self.settings.interval_seconds if wait is None else min(wait, self.settings.interval_seconds)
            self._wake.wait(pause)
            self._wake.clear()
        if conn is not None:
            conn.close()
