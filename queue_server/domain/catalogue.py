"""Businesses and service items as CSV (业务与事项导入导出): what a manager edits in a spreadsheet.

Export writes every business (or item) with the columns below; import reads
the same columns back. Import is all or nothing: every line is checked first,
and one wrong line refuses the whole file with every problem listed by line
and column, so a manager fixes the sheet once (一次性告知 applies to us too).

* businesses: existing codes are updated; a new code adds a business (with a
  new unique prefix); a window serves it once the allocation says so. A
  prefix another business issued numbers under today is refused (the number
  counter is per business, so A003 would be issued twice: 同一天不重号), and
  so is deactivating a business whose residents still wait (a 409
  ``business_has_tickets``, :func:`refuse_deactivating`: no window would call
  them);
* items: the names, department, time limits, online level, whether it can be
  booked, and whether it is active; the rest of the guide (conditions,
  materials, basis) stays as hall.toml's services file gave it.

hall.toml stays the seed: if its file changes, the server applies it again at
start and its values win (see queue_server/hallsync.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from typing import Any

from hallq import i18n
from hallq.targets import CLASSES, LIMITS
from hallq.targets import problems as target_problems
from queue_server.domain import search
from queue_server.domain.context import Tx
from queue_server.domain.errors import Conflict, Invalid

TARGET_COLUMNS = {k: f"{k}_target_minutes" for k in CLASSES}
BUSINESS_COLUMNS = ("code", "prefix", "name_zh_hans", "name_zh_hant", "name_en", "daily_limit", "ticket_requires",
                    "service_minutes", *TARGET_COLUMNS.values(), "active")
# a sheet exported before the targets (2026-12) has age_limit_minutes, the ordinary target's older name
_OLD_COLUMNS = {"age_limit_minutes": TARGET_COLUMNS["ordinary"]}
ITEM_COLUMNS = ("code", "business", "name_zh_hans", "name_zh_hant", "name_en", "department", "statutory_days",
                "promised_days", "online", "appointment", "active")
MAX_ROWS = 5000
_CODE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_ITEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PREFIX = re.compile(r"[A-Z]{1,2}")
ONLINE = ("全程网办", "网上预审", "窗口办理")


def _csv(columns: tuple[str, ...], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    w.writerows(rows)
    return "\ufeff" + buf.getvalue()  # the BOM makes Excel read UTF-8


def export_businesses(conn: sqlite3.Connection) -> str:
    rows = []
    for r in conn.execute("SELECT * FROM businesses ORDER BY position, code"):
        n = json.loads(r["name"])
        rows.append([r["code"], r["prefix"], n.get("zh-Hans", ""), n.get("zh-Hant", ""), n.get("en", ""),
                     r["daily_limit"], r["ticket_requires"], r["service_minutes"],
                     *(r[c] for c in TARGET_COLUMNS.values()), r["active"]])
    return _csv(BUSINESS_COLUMNS, rows)


def export_items(conn: sqlite3.Connection) -> str:
    rows = []
    for r in conn.execute("SELECT * FROM items ORDER BY position, code"):
        n, g = json.loads(r["name"]), json.loads(r["guide"])
        rows.append([r["code"], r["business"], n.get("zh-Hans", ""), n.get("zh-Hant", ""), n.get("en", ""),
                     g.get("department", ""), g.get("statutory_days", ""), g.get("promised_days", ""),
                     g.get("online", ""), int(bool(g.get("appointment"))), r["active"]])
    return _csv(ITEM_COLUMNS, rows)


class _Lines:
    """Collects every problem of a file, by line and column."""

    def __init__(self) -> None:
        self.problems: list[dict[str, Any]] = []

    def bad(self, line: int, column: str, problem: str) -> None:
        self.problems.append({"line": line, "column": column, "problem": problem})

    def int_(self, line: int, row: dict, column: str, lo: int, hi: int, required: bool = True) -> int | None:
        raw = (row.get(column) or "").strip()
        if not raw:
            if required:
                self.bad(line, column, "is required")
            return None
        # ASCII digits, few enough for int(): \d also takes "١٢", and 5,000 digits made int() raise
        if not re.fullmatch(r"-?[0-9]{1,18}", raw) or not lo <= int(raw) <= hi:
            self.bad(line, column, f"must be an integer from {lo} to {hi}")
            return None
        return int(raw)

    def flag(self, line: int, row: dict, column: str, default: bool = True) -> bool:
        raw = (row.get(column) or "").strip().lower()
        if raw == "":
            return default
        if raw in ("1", "true", "yes", "是", "y"):
            return True
        if raw in ("0", "false", "no", "否", "n"):
            return False
        self.bad(line, column, "must be 1 or 0")
        return default

    def refuse(self) -> None:
        if self.problems:
            shown = "; ".join(f"line {p['line']} {p['column']}: {p['problem']}" for p in self.problems[:20])
            n = len(self.problems)
            raise Invalid("error.invalid_csv", count=n, problems=shown, code="invalid_csv",
                          detail={"problems": self.problems})


def _rows(text: str, columns: tuple[str, ...], lines: _Lines, optional: tuple[str, ...] = (),
          renamed: dict[str, str] | None = None) -> list[tuple[int, dict]]:
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    try:
        reader.fieldnames  # noqa: B018 (the property reads the header line)
    except csv.Error as e:  # e.g. a field over csv's 128 KB limit
        lines.bad(1, "", str(e))
        lines.refuse()
    if renamed and reader.fieldnames:
        for old, new in renamed.items():
            if old in reader.fieldnames and new in reader.fieldnames:  # which one would count? refuse to guess
                lines.bad(1, old, f"give one of {old} and {new} ({old} is the older name of {new})")
                lines.refuse()
        reader.fieldnames = [renamed.get(c, c) for c in reader.fieldnames]
    missing = [c for c in columns if c not in (reader.fieldnames or []) and c not in optional]
    if missing:
        lines.bad(1, ",".join(missing), "missing column(s); export a file to see the expected header")
        lines.refuse()
    try:
        out = [(i + 2, row) for i, row in enumerate(reader)]
    except csv.Error as e:  # e.g. a field over csv's 128 KB limit
        lines.bad(reader.line_num, "", str(e))
        lines.refuse()
    if len(out) > MAX_ROWS:
        lines.bad(MAX_ROWS + 2, "", f"at most {MAX_ROWS} rows")
        lines.refuse()
    return out


def _names(row: dict) -> dict[str, str]:
    return {k: (row.get(c) or "").strip()[:200] for k, c in
            (("zh-Hans", "name_zh_hans"), ("zh-Hant", "name_zh_hant"), ("en", "name_en")) if (row.get(c) or "").strip()}


def import_businesses(tx: Tx, text: str) -> dict[str, int]:
    lines = _Lines()
    rows = _rows(text, BUSINESS_COLUMNS, lines, optional=tuple(TARGET_COLUMNS.values()), renamed=_OLD_COLUMNS)
    existing = {r["code"]: r for r in tx.all("SELECT * FROM businesses")}
    windows = tx.row("SELECT COUNT(*) AS n FROM windows WHERE active")["n"]
    default = tx.rules.targets.as_dict()  # [queue] targets, as a business added in the file would get
    prefixes: dict[str, str] = {r["prefix"]: c for c, r in existing.items()}
    issued = prefixes_issued_today(tx)
    seen: set[str] = set()
    plan = []
    for line, row in rows:
        code = (row.get("code") or "").strip()
        if not _CODE.fullmatch(code):
            lines.bad(line, "code", "must be lower-case letters, digits or _ (starting with a letter)")
            continue
        if code in seen:
            lines.bad(line, "code", "appears twice")
        seen.add(code)
        prefix = (row.get("prefix") or "").strip()
        if not _PREFIX.fullmatch(prefix):
            lines.bad(line, "prefix", "must be 1 or 2 capital letters")
        elif prefixes.get(prefix, code) != code:
            lines.bad(line, "prefix", f"is already used by {prefixes[prefix]}")
        elif (code not in existing or existing[code]["prefix"] != prefix) and issued.get(prefix, {code}) - {code}:
            others = ", ".join(sorted(issued[prefix] - {code}))
            lines.bad(line, "prefix", f"numbers {prefix}… were issued today by {others}: a number must not be "
                                      "issued twice in a day; give another prefix, or change it on another day")
        prefixes[prefix] = code
        names = _names(row)
        if "zh-Hans" not in names:
            lines.bad(line, "name_zh_hans", "is required")
        limit = lines.int_(line, row, "daily_limit", 1, 9999)
        if limit is not None and len(prefix) + len(str(limit)) > 6:
            lines.bad(line, "daily_limit", "makes ticket numbers longer than 6 characters")
        requires = (row.get("ticket_requires") or "none").strip()
        if requires not in ("none", "id", "phone", "id_or_phone"):
            lines.bad(line, "ticket_requires", "must be none, id, phone or id_or_phone")
        minutes = lines.int_(line, row, "service_minutes", 1, 240)
        targets, malformed = {}, False
        for k, column in TARGET_COLUMNS.items():  # blank: the business's current target, or the hall's default
            given = lines.int_(line, row, column, *LIMITS, required=False)
            malformed |= given is None and bool((row.get(column) or "").strip())
            targets[k] = given if given is not None else existing[code][column] if code in existing else default[k]
        # a malformed cell is reported alone: comparing the others with a value nobody typed would mislead
        if minutes is not None and not malformed:
            for problem in target_problems(targets, minutes, windows):
                lines.bad(line, TARGET_COLUMNS[problem.klass], problem.reason)
        plan.append((code, prefix, names, limit, requires, minutes, targets, lines.flag(line, row, "active")))
    lines.refuse()
    refuse_deactivating(tx, [p[0] for p in plan if not p[7] and p[0] in existing and existing[p[0]]["active"]])
    added = updated = 0
    for pos, (code, prefix, names, limit, requires, minutes, targets, active) in enumerate(plan):
        if code in existing:
            tx.conn.execute("UPDATE businesses SET prefix = '~' || code WHERE prefix = ? AND code != ?", (prefix, code))
            updated += 1
        else:
            added += 1
        tx.conn.execute(
            "INSERT INTO businesses (code, prefix, name, daily_limit, ticket_requires, service_minutes, "
            "green_target_minutes, appointment_target_minutes, ordinary_target_minutes, position, active) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(code) DO UPDATE SET "
            "prefix = excluded.prefix, name = excluded.name, daily_limit = excluded.daily_limit, "
            "ticket_requires = excluded.ticket_requires, service_minutes = excluded.service_minutes, "
            "green_target_minutes = excluded.green_target_minutes, "
            "appointment_target_minutes = excluded.appointment_target_minutes, "
            "ordinary_target_minutes = excluded.ordinary_target_minutes, active = excluded.active",
            (code, prefix, json.dumps(names, ensure_ascii=False), limit, requires, minutes,
             targets["green"], targets["appointment"], targets["ordinary"],
             existing[code]["position"] if code in existing else 100 + pos, int(active)))
    tx.journal("config_applied", data={"source": "console", "import": "businesses", "added": added,
                                       "updated": updated})
    return {"added": added, "updated": updated}


def prefixes_issued_today(tx: Tx) -> dict[str, set[str]]:
    """Each prefix today's numbers were issued under, and the businesses that issued them (a label is the
    prefix then digits: A003)."""
    out: dict[str, set[str]] = {}
    for r in tx.all("SELECT DISTINCT rtrim(label, '0123456789') AS prefix, origin_business FROM tickets "
                    "WHERE business_day = ?", (tx.day,)):
        out.setdefault(r["prefix"], set()).add(r["origin_business"])
    return out


def refuse_deactivating(tx: Tx, codes: list[str]) -> None:
    """409 ``business_has_tickets`` when one of ``codes`` still has tickets today that wait, are called or
    are held: no window calls an inactive business, so its residents would wait for nothing (the console's
    form and the CSV import alike). Serve, transfer or cancel them first."""
    if not codes:
        return
    marks = ", ".join("?" * len(codes))
    rows = tx.all("SELECT t.business, b.name, COUNT(*) AS n FROM tickets t JOIN businesses b ON b.code = t.business "
                  f"WHERE t.business_day = ? AND t.business IN ({marks}) "
                  "AND (t.state = 'waiting' OR t.state = 'called' OR t.state = 'held') "
                  "GROUP BY t.business ORDER BY t.business", (tx.day, *codes))
    if rows:
        names = [json.loads(r["name"]) for r in rows]
        business = {lang: i18n.text("common.separator.list", lang).join(i18n.pick(n, lang) for n in names)
                    for lang in i18n.languages()}
        counts = {r["business"]: r["n"] for r in rows}
        raise Conflict("error.business_has_tickets", business=business, count=sum(counts.values()),
                       code="business_has_tickets", detail={"businesses": counts})


def import_items(tx: Tx, text: str) -> dict[str, int]:
    lines = _Lines()
    rows = _rows(text, ITEM_COLUMNS, lines)
    businesses = {r["code"] for r in tx.all("SELECT code FROM businesses")}
    existing = {r["code"]: r for r in tx.all("SELECT * FROM items")}
    seen: set[str] = set()
    plan = []
    for line, row in rows:
        code = (row.get("code") or "").strip()
        if not _ITEM.fullmatch(code):
            lines.bad(line, "code", "must be letters, digits, '.', '_' or '-'")
            continue
        if code in seen:
            lines.bad(line, "code", "appears twice")
        seen.add(code)
        business = (row.get("business") or "").strip()
        if business not in businesses:
            lines.bad(line, "business", f"unknown business \"{business}\"")
        names = _names(row)
        if "zh-Hans" not in names:
            lines.bad(line, "name_zh_hans", "is required")
        statutory = lines.int_(line, row, "statutory_days", 0, 365, required=False)
        promised = lines.int_(line, row, "promised_days", 0, 365, required=False)
        if statutory and promised is not None and promised > statutory:
            lines.bad(line, "promised_days", "must not exceed statutory_days")
        online = (row.get("online") or "").strip()
        if online and online not in ONLINE:
            lines.bad(line, "online", "must be 全程网办, 网上预审 or 窗口办理")
        plan.append((code, business, names, (row.get("department") or "").strip()[:100], statutory, promised, online,
                     lines.flag(line, row, "appointment", default=False), lines.flag(line, row, "active")))
    lines.refuse()
    added = updated = 0
    for pos, (code, business, names, dept, statutory, promised, online, appointment, active) in enumerate(plan):
        guide = json.loads(existing[code]["guide"]) if code in existing else {}
        for k, v in (("department", dept), ("statutory_days", statutory), ("promised_days", promised),
                     ("online", online)):
            if v not in (None, ""):
                guide[k] = v
            else:
                guide.pop(k, None)
        guide["appointment"] = appointment
        if code in existing:
            updated += 1
        else:
            added += 1
        tx.conn.execute(
            "INSERT INTO items (code, business, name, guide, position, active) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT(code) DO UPDATE SET business = excluded.business, name = excluded.name, "
            "guide = excluded.guide, active = excluded.active",
            (code, business, json.dumps(names, ensure_ascii=False), json.dumps(guide, ensure_ascii=False),
             existing[code]["position"] if code in existing else 10000 + pos, int(active)))
    search.rebuild(tx.conn, tx.set_meta)  # names and departments may have changed
    tx.set_meta("catalogue_version", str(int(tx.meta("catalogue_version") or 0) + 1))  # kiosks read items again
    tx.journal("config_applied", data={"source": "console", "import": "items", "added": added, "updated": updated})
    return {"added": added, "updated": updated}
