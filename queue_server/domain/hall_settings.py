"""Hall settings a manager changes at run time, over hall.toml: holidays, hours, capacity, businesses.

hall.toml seeds the hall; the database holds what managers change (docs/
consoles.md, "Hall settings"):

* holidays and make-up workdays (调休) for a year the calendar package does
  not know yet, or a local closure: ``calendar_overrides``, which win over the
  file and the package;
* opening periods on working days (or one weekday): ``hours_overrides``;
* appointment places per slot, by default, per item or per business:
  ``capacity_overrides``, read by the appointment rules through
  ``hall.config.appointments``;
* a business's daily limit (每日限号), service minutes, age limit and what it
  needs to take a number: straight in ``businesses`` (as hall.toml's values are).

The overrides are applied to the in-memory :class:`~hallq.hallconfig.HallConfig`
of this process at once, and other server processes pick them up within
``SYNC_SECONDS`` (:func:`sync`), by a version number in ``meta``.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from datetime import date
from typing import TYPE_CHECKING, Any

from hallq.hours import WEEKDAYS, OpeningHours, Period, check_no_overlap
from hallq.i18n import languages, text
from hallq.targets import CLASSES as TARGET_CLASSES
from hallq.targets import problems as target_problems
from hallq.workdays import WorkCalendar
from queue_server.domain import catalogue
from queue_server.domain.context import Actor, Hall, Tx
from queue_server.domain.errors import Invalid, NotFound, unknown_business, unknown_item

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService

VERSION_META = "hall_settings_version"
SYNC_SECONDS = 2.0
HOURS_KEYS = ("workdays", *WEEKDAYS)
REQUIRES = ("none", "id", "phone", "id_or_phone")

_lock = threading.Lock()


@dataclasses.dataclass
class _FileSettings:
    calendar: WorkCalendar
    hours: OpeningHours
    appointments: Any
    applied_version: str | None = None
    checked_at: float = 0.0


def _file(hall: Hall) -> _FileSettings:
    base = getattr(hall, "_file_settings", None)
    if base is None:
        base = _FileSettings(hall.config.calendar, hall.config.hours, hall.config.appointments)
        hall._file_settings = base  # the file's values, kept to re-derive from after every change
    return base


def apply(conn: sqlite3.Connection, hall: Hall) -> None:
    """Rebuild the calendar, hours and appointment rules of ``hall.config`` from the file plus the overrides."""
    with _lock:
        base = _file(hall)
        cal0 = base.calendar
        days = {r["day"]: r["kind"] for r in conn.execute("SELECT day, kind FROM calendar_overrides")}
        holidays = {d for d in cal0.holidays if date.isoformat(d) not in days} | \
            {date.fromisoformat(d) for d, k in days.items() if k == "holiday"}
        workdays = {d for d in cal0.workdays if date.isoformat(d) not in days} | \
            {date.fromisoformat(d) for d, k in days.items() if k == "workday"}
        cal = WorkCalendar(cal0.mode, holidays, workdays)
        h0 = base.hours
        periods = {r["key"]: [Period.parse(p) for p in json.loads(r["periods"])]
                   for r in conn.execute("SELECT key, periods FROM hours_overrides")}
        by_weekday = {**h0.by_weekday, **{k: v for k, v in periods.items() if k in WEEKDAYS[:5]}}
        weekend = {**h0.weekend, **{k: v for k, v in periods.items() if k in WEEKDAYS[5:]}}
        hours = dataclasses.replace(h0, calendar=cal, workdays=periods.get("workdays", h0.workdays),
                                    by_weekday=by_weekday, weekend=weekend)
        caps = {(r["scope"], r["key"]): r["capacity"] for r in conn.execute("SELECT * FROM capacity_overrides")}
        a0 = base.appointments
        appointments = dataclasses.replace(
            a0, capacity=caps.get(("default", ""), a0.capacity),
            item_capacity={**a0.item_capacity, **{k: v for (s, k), v in caps.items() if s == "item"}},
            business_capacity={**a0.business_capacity, **{k: v for (s, k), v in caps.items() if s == "business"}})
        hall.config.calendar, hall.config.hours, hall.config.appointments = cal, hours, appointments
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (VERSION_META,)).fetchone()
        base.applied_version = row[0] if row else None
        base.checked_at = time.monotonic()


def sync(conn: sqlite3.Connection, hall: Hall) -> bool:
    """Re-apply if another process changed the settings (checked at most every ``SYNC_SECONDS``)."""
    base = _file(hall)
    if time.monotonic() - base.checked_at < SYNC_SECONDS:
        return False
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (VERSION_META,)).fetchone()
    base.checked_at = time.monotonic()
    if (row[0] if row else None) != base.applied_version:
        apply(conn, hall)
        return True
    return False


def _changed(tx: Tx, action: str, data: dict[str, Any]) -> None:
    version = int(tx.meta(VERSION_META) or 0) + 1
    tx.set_meta(VERSION_META, str(version))
    tx.journal(action, data=data)


# -- calendar and hours ------------------------------------------------------------------

def set_day(tx: Tx, day: str, kind: str | None, note: str = "") -> None:
    """Mark ``day`` a holiday or a working day (None: back to the file and the official calendar). The deadlines of
    the applications not yet decided are counted again on the new calendar (app_deadlines.calendar_changed), in this
    transaction; the journal entry says how many moved (``deadlines_moved``)."""
    from queue_server.domain.app_deadlines import calendar_changed, calendar_with_overrides

    try:
        date.fromisoformat(day)
    except ValueError:
        raise Invalid("error.invalid_date", code="invalid_date") from None
    base = _file(tx.hall).calendar
    before = calendar_with_overrides(tx.conn, base)  # as every process will have had it, read in this transaction
    if kind is None:
        tx.conn.execute("DELETE FROM calendar_overrides WHERE day = ?", (day,))
    elif kind in ("holiday", "workday"):
        tx.conn.execute("INSERT INTO calendar_overrides (day, kind, note, changed_at, changed_by) VALUES (?,?,?,?,?) "
                        "ON CONFLICT(day) DO UPDATE SET kind = excluded.kind, note = excluded.note, "
                        "changed_at = excluded.changed_at, changed_by = excluded.changed_by",
                        (day, kind, (note or "")[:100], tx.at, tx.actor.label))
    else:
        raise Invalid("error.invalid_kind", code="invalid_kind")
    moved = calendar_changed(tx, base, before)
    _changed(tx, "calendar_changed", {"day": day, "kind": kind, "note": note, "deadlines_moved": moved})


def set_hours(tx: Tx, key: str, periods: list[str] | None) -> None:
    """Opening periods on working days (``workdays``) or one weekday; None: back to hall.toml."""
    if key not in HOURS_KEYS:
        raise Invalid("error.invalid_hours_key", allowed=", ".join(HOURS_KEYS),
                      code="invalid_hours_key")
    if periods is None:
        tx.conn.execute("DELETE FROM hours_overrides WHERE key = ?", (key,))
    else:
        try:
            parsed = [Period.parse(p) for p in periods]
            check_no_overlap(parsed)
        except ValueError as e:
            raise Invalid("error.periods.invalid", reason=e, code="invalid_periods") from None
        if key == "workdays" and not parsed:
            raise Invalid("error.periods.none", code="invalid_periods")
        tx.conn.execute("INSERT INTO hours_overrides (key, periods, changed_at, changed_by) VALUES (?,?,?,?) "
                        "ON CONFLICT(key) DO UPDATE SET periods = excluded.periods, changed_at = excluded.changed_at, "
                        "changed_by = excluded.changed_by",
                        (key, json.dumps([str(p) for p in sorted(parsed, key=lambda p: p.start)]), tx.at,
                         tx.actor.label))
    _changed(tx, "hours_changed", {"key": key, "periods": periods})


def set_capacity(tx: Tx, scope: str, key: str, capacity: int | None) -> None:
    """Appointment places per slot: ``default`` (key ""), per ``item`` or per ``business``; None removes."""
    if scope == "item" and not tx.one("SELECT 1 FROM items WHERE code = ?", (key,)):
        raise unknown_item(key)
    if scope == "business" and not tx.one("SELECT 1 FROM businesses WHERE code = ?", (key,)):
        raise unknown_business(key)
    if scope not in ("default", "item", "business") or (scope == "default") != (key == ""):
        raise Invalid("error.invalid_scope", code="invalid_scope")
    if capacity is None:
        tx.conn.execute("DELETE FROM capacity_overrides WHERE scope = ? AND key = ?", (scope, key))
    else:
        tx.conn.execute("INSERT INTO capacity_overrides (scope, key, capacity, changed_at, changed_by) "
                        "VALUES (?,?,?,?,?) ON CONFLICT(scope, key) DO UPDATE SET capacity = excluded.capacity, "
                        "changed_at = excluded.changed_at, changed_by = excluded.changed_by",
                        (scope, key, capacity, tx.at, tx.actor.label))
    _changed(tx, "capacity_changed", {"scope": scope, "key": key, "capacity": capacity})


# -- businesses --------------------------------------------------------------------------

BUSINESS_FIELDS = {"daily_limit": (1, 9999), "service_minutes": (1, 240)}


def update_business(tx: Tx, code: str, changes: dict[str, Any]) -> sqlite3.Row:
    """Change a business's daily limit, service minutes, targets, ticket requirement or names.

    ``changes["targets"]`` may give some classes (``{"green": 8}``); all three are
    checked together with :func:`hallq.targets.problems`, as ``hallq check-config``
    checks the file (again when only ``service_minutes`` changes), and nothing is
    written when one is wrong. A business whose residents still wait today (waiting, called or held) is
    not deactivated: 409 ``business_has_tickets`` (:func:`.catalogue.refuse_deactivating`).
    """
    b = tx.one("SELECT * FROM businesses WHERE code = ?", (code,))
    if b is None:
        raise unknown_business(code)
    sets: dict[str, Any] = {}
    for k, (lo, hi) in BUSINESS_FIELDS.items():
        if k in changes:
            v = changes[k]
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise Invalid("error.settings.integer_range", field=k, lo=lo, hi=hi, code="invalid_value",
                              detail={"field": k})
            sets[k] = v
    if "daily_limit" in sets and len(b["prefix"]) + len(str(sets["daily_limit"])) > 6:
        raise Invalid("error.settings.daily_limit_too_long", code="invalid_value")
    if "targets" in changes or "service_minutes" in sets:
        # a longer service can make a promise unkeepable, so the targets are checked again with it
        checked = _targets(tx, b, changes.get("targets", {}), sets.get("service_minutes", b["service_minutes"]))
        if "targets" in changes:
            sets.update(checked)
    if "ticket_requires" in changes:
        if changes["ticket_requires"] not in REQUIRES:
            raise Invalid("error.settings.ticket_requires", allowed=", ".join(REQUIRES),
                          code="invalid_value", detail={"field": "ticket_requires"})
        sets["ticket_requires"] = changes["ticket_requires"]
    if "name" in changes:
        name = changes["name"]
        if not isinstance(name, dict) or not (name.get("zh-Hans") or "").strip():
            raise Invalid("error.settings.business_name_required", code="invalid_value", detail={"field": "name"})
        sets["name"] = json.dumps({k: v for k, v in name.items() if v}, ensure_ascii=False)
    if "active" in changes:
        sets["active"] = int(bool(changes["active"]))
        if b["active"] and not sets["active"]:  # residents still waiting for it: nobody would call them
            catalogue.refuse_deactivating(tx, [code])
    if not sets:
        return b
    tx.conn.execute(f"UPDATE businesses SET {', '.join(f'{k} = ?' for k in sets)} WHERE code = ?",
                    (*sets.values(), code))
    # "config_applied" makes the publisher reload names and republish every snapshot; the version
    # makes other server processes drop their cached business names
    tx.set_meta(VERSION_META, str(int(tx.meta(VERSION_META) or 0) + 1))
    tx.journal("config_applied", business=code, data={"source": "console", "business": code,
                                                      "changed": sorted(sets)})
    return tx.row("SELECT * FROM businesses WHERE code = ?", (code,))


def _targets(tx: Tx, b: sqlite3.Row, given: Any, service_minutes: int) -> dict[str, int]:
    if not isinstance(given, dict) or not set(given) <= set(TARGET_CLASSES):
        raise Invalid("error.settings.target_keys", keys=", ".join(TARGET_CLASSES), code="invalid_value",
                      detail={"field": "targets"})
    targets = {k: given.get(k, b[f"{k}_target_minutes"]) for k in TARGET_CLASSES}
    windows = tx.row("SELECT COUNT(*) AS n FROM windows WHERE active")["n"]
    wrong = target_problems(targets, service_minutes, windows)
    if wrong:
        # hallq.targets says each problem; each language lists them its own way (English: by key)
        said = {lang: text("common.separator.clauses", lang).join(
                    text(f"error.invalid_targets.{p.klass}", lang, problem=p.says(lang)) for p in wrong)
                for lang in languages()}
        err = Invalid("error.invalid_targets", problems=said, code="invalid_targets",
                      detail={"field": f"targets.{wrong[0].klass}"})
        err.fields = [{"field": f"targets.{p.klass}", "problem": p.reason} for p in wrong]
        raise err
    return {f"{k}_target_minutes": v for k, v in targets.items()}


def overview(conn: sqlite3.Connection, hall: Hall, today: date) -> dict[str, Any]:
    """What the settings page shows: effective hours, overrides, the next weeks' calendar, capacities."""
    cfg = hall.config
    base = _file(hall)
    days = [date.fromordinal(today.toordinal() + i) for i in range(60)]
    return {
        "hours": {"workdays": [str(p) for p in cfg.hours.workdays],
                  **{d: [str(p) for p in ps] for d, ps in {**cfg.hours.by_weekday, **cfg.hours.weekend}.items()}},
        "file_hours": [str(p) for p in base.hours.workdays],
        "hours_overrides": {r["key"]: json.loads(r["periods"]) for r in conn.execute("SELECT * FROM hours_overrides")},
        "calendar_overrides": [dict(r) for r in conn.execute("SELECT * FROM calendar_overrides ORDER BY day")],
        "upcoming": [{**cfg.hours.describe(d), "weekday": d.weekday()} for d in days],
        "unknown_years": sorted(y for y in {today.year, today.year + 1} if not cfg.calendar.is_known(y)),
        "capacity": {"default": cfg.appointments.capacity, "item": dict(cfg.appointments.item_capacity),
                     "business": dict(cfg.appointments.business_capacity),
                     "slot_minutes": cfg.appointments.slot_minutes, "enabled": cfg.appointments.enabled},
        "capacity_overrides": [dict(r) for r in conn.execute("SELECT * FROM capacity_overrides ORDER BY scope, key")],
    }


def require_business(conn: sqlite3.Connection, code: str) -> None:
    if conn.execute("SELECT 1 FROM businesses WHERE code = ?", (code,)).fetchone() is None:
        raise NotFound("error.unknown_business", business=code, code="unknown_business")


# -- the desk: one transaction per change (QueueService.settings) ----------------------------------

class SettingsDesk:
    """A manager's changes to the hall's settings and catalogue; every one is one transaction.

    After a change the process applies it to its own ``hall.config`` (``queue_server.readmodel.settings.reload``);
    other processes see the new version within :data:`SYNC_SECONDS`.
    """

    def __init__(self, service: QueueService) -> None:
        self.service = service

    def update_business(self, actor: Actor, code: str, changes: dict[str, Any]) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            row = update_business(tx, code, changes)
            return {"code": row["code"], "daily_limit": row["daily_limit"], "service_minutes": row["service_minutes"],
                    "targets": {k: row[f"{k}_target_minutes"] for k in TARGET_CLASSES},
                    "ticket_requires": row["ticket_requires"], "active": bool(row["active"])}
        return self.service._run(actor, None, run)

    def import_businesses(self, actor: Actor, text: str) -> dict[str, int]:
        """Businesses from CSV: all or nothing, problems listed by line (:mod:`.catalogue`)."""
        return self.service._run(actor, None, lambda tx: catalogue.import_businesses(tx, text))

    def import_items(self, actor: Actor, text: str) -> dict[str, int]:
        return self.service._run(actor, None, lambda tx: catalogue.import_items(tx, text))

    def set_day(self, actor: Actor, day: str, kind: str | None, note: str = "") -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            set_day(tx, day, kind, note)
            return {"day": day, "kind": kind}
        return self.service._run(actor, None, run)

    def set_hours(self, actor: Actor, key: str, periods: list[str] | None) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            set_hours(tx, key, periods)
            return {"key": key, "periods": periods}
        return self.service._run(actor, None, run)

    def set_capacity(self, actor: Actor, scope: str, key: str, capacity: int | None) -> dict[str, Any]:
        def run(tx: Tx) -> dict[str, Any]:
            set_capacity(tx, scope, key, capacity)
            return {"scope": scope, "key": key, "capacity": capacity}
        return self.service._run(actor, None, run)
