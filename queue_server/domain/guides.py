"""Service guides (办事指南) edited by the manager, versioned, and the catalogue as services.toml.

A manager edits an item's guide in the browser (conditions, materials, fees, basis, time limits, the
application form): :meth:`GuideDesk.save_item` checks the item exactly as the services file is checked
(:data:`hallq.catalogue_config.ITEM` and :func:`hallq.catalogue_config.item_problems`), then in one transaction writes
the item, keeps the new version whole in ``item_versions`` (version 1 being the item as it was before its
first edit) and journals ``item_edited`` with the keys that changed.

TOML stays the import and export format: :func:`export_toml` writes the active items as a services file
(``[[items]]``, the keys of docs/configuration.md) that ``hall.toml`` can name; :meth:`GuideDesk.import_toml`
reads such a file back, checked whole, and says what it would change (``apply=False``, a dry run) or
changes it (journal ``catalogue_imported``, one version per item changed). Items the file does not hold
are left as they are, as the CSV import does (:mod:`.catalogue`).

Which wins (docs/configuration.md, "Guides edited in the browser"): the database's version, until the
services file itself changes; then the server applies the file at its next start
(queue_server/hallsync.py) and the file's items replace the edited ones, each replaced edit kept as a
version (``file``) so nothing is lost. Kiosks keep the items they read: ``GET /hall`` carries
``catalogue``, a version that changes with every edit, and a kiosk reads the items again when it moves.
"""

from __future__ import annotations

import json
import sqlite3
import tomllib
from typing import TYPE_CHECKING, Any

from hallq.catalogue_config import ITEM, item_problems, merge_forms
from hallq.config_schema import SERVICES_FILE
from hallq.i18n import languages, text
from queue_server.domain import search
from queue_server.domain.context import Actor, Tx
from queue_server.domain.errors import Forbidden, Invalid, unknown_item

if TYPE_CHECKING:
    from queue_server.domain.service import QueueService

META_KEY = "catalogue_version"  # moves with every change of the items (GET /hall's catalogue)
KEYS = tuple(ITEM.fields)  # an item's keys, in the services file's order
TOP = ("code", "business", "name")  # the rest is the guide
MAX_TOML = 4 * 1024 * 1024


def touch(tx: Tx) -> None:
    """Say that the items changed: kiosks that keep them read them again (``GET /hall``'s ``catalogue``)."""
    tx.set_meta(META_KEY, str(int(tx.meta(META_KEY) or 0) + 1))


def catalogue_version(conn: sqlite3.Connection) -> str:
    """What ``GET /hall`` says of the catalogue: changes when the file is applied and at every edit."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('config_hash', ?)", (META_KEY,)).fetchall())
    return f"{(rows.get('config_hash') or '')[:12]}.{rows.get(META_KEY) or 0}"


def as_entry(row: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
    """An items row as a services file's ``[[items]]`` entry: code, business, name, then the guide's keys."""
    guide = json.loads(row["guide"]) if isinstance(row["guide"], str) else row["guide"]
    name = json.loads(row["name"]) if isinstance(row["name"], str) else row["name"]
    entry: dict[str, Any] = {"code": row["code"], "business": row["business"], "name": name}
    entry.update({k: guide[k] for k in KEYS if k in guide and k not in TOP})
    entry.update({k: v for k, v in guide.items() if k not in entry})  # keys of a newer release, kept
    return entry


def check(entry: dict[str, Any], businesses: set[str] | dict[str, Any]) -> list[tuple[str, str]]:
    """Every ``(field, problem)`` of one item, as the services file would be refused for it."""
    problems = ITEM.validate(entry)
    # and the config's other rules over the keys the schema let through: every problem at once
    wrong = {path.split(".")[0].split("[")[0] for path, _ in problems}
    return problems + item_problems({k: v for k, v in entry.items() if k not in wrong}, businesses)


def refuse(problems: list[tuple[str, str]]) -> Invalid:
    """422 ``invalid_fields`` listing every field's problem (the page shows each beside its field)."""
    listed = {lang: text("common.separator.clauses", lang).join(
                  text("error.invalid_fields.item", lang, field=p, problem=m) for p, m in problems[:30])
              for lang in languages()}
    err = Invalid("error.invalid_fields", problems=listed, code="invalid_fields",
                  detail={"count": len(problems)})
    err.fields = [{"field": p, "problem": m} for p, m in problems]
    return err


def changed_keys(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """The keys whose values differ between two entries (an added or removed key counts)."""
    if old is None:
        return [k for k in new if k != "code"]
    keys = [*new, *(k for k in old if k not in new)]
    return [k for k in keys if k != "code" and old.get(k) != new.get(k)]


def _businesses(tx: Tx) -> set[str]:
    return {r["code"] for r in tx.all("SELECT code FROM businesses WHERE active")}


def _version(tx: Tx, code: str, row: dict[str, Any], source: str, changed: list[str], active: bool) -> int:
    n = tx.row("SELECT COALESCE(MAX(version), 0) + 1 FROM item_versions WHERE code = ?", (code,))[0]
    tx.conn.execute(
        "INSERT INTO item_versions (code, version, at, actor, source, business, name, guide, active, changed) "
        "VALUES (?,?,?,?,?,?,?,?,?,?)",
        (code, n, tx.at, tx.actor.label, source, row["business"], _dump(row["name"]), _dump(_guide(row)),
         int(active), _dump(changed)))
    return int(n)


def _guide(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in TOP}


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_item(tx: Tx, entry: dict[str, Any], source: str) -> dict[str, Any] | None:
    """Write one checked entry: the item, its version (the one before first, if none was kept), no journal.

    ``{"item", "version", "changed", "added"}``, or None when nothing changed.
    """
    code = entry["code"]
    row = tx.one("SELECT * FROM items WHERE code = ?", (code,))
    old = as_entry(row) if row is not None else None
    changed = changed_keys(old, entry)
    if row is not None and not changed and row["active"]:
        return None
    if row is not None and not tx.one("SELECT 1 FROM item_versions WHERE code = ?", (code,)):
        _version(tx, code, dict(old or {}), "file", [], bool(row["active"]))  # the version before the first edit
    position = row["position"] if row is not None else tx.row("SELECT COALESCE(MAX(position), 0) + 1 FROM items")[0]
    tx.conn.execute(
        "INSERT INTO items (code, business, name, guide, position, active) VALUES (?,?,?,?,?,1) "
        "ON CONFLICT(code) DO UPDATE SET business = excluded.business, name = excluded.name, "
        "guide = excluded.guide, active = 1", (code, entry["business"], _dump(entry["name"]), _dump(_guide(entry)),
                                               position))
    if row is not None and not row["active"]:
        changed = [*changed, "active"]
    version = _version(tx, code, entry, source, changed, True)
    return {"item": code, "version": version, "changed": changed, "added": row is None}


def package_clashes(tx: Tx, entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Forms that a 一件事 package could no longer merge once ``entries`` are written (a key asked as another type,
    or with other options, by another of its items): refused as the services file would be, since a package's one
    form is merged from its items as they are now (queue_server/domain/packages.py ``current``)."""
    new = {e["code"]: e for e in entries}
    out = []
    for pkg in tx.hall.config.packages.values():
        if not new.keys() & set(pkg.items):
            continue
        forms = []
        for code in pkg.items:
            if code in new:
                forms.append((code, new[code].get("form", [])))
            else:
                row = tx.one("SELECT guide FROM items WHERE code = ?", (code,))
                forms.append((code, json.loads(row["guide"]).get("form", []) if row else []))
        out += [("form", f"package \"{pkg.code}\": {c}") for c in merge_forms(forms)[1]]
    return out


def save_item(tx: Tx, code: str, body: dict[str, Any]) -> dict[str, Any]:
    """The manager's edit of one item (the whole entry but its code), checked, kept, journaled, published."""
    if tx.one("SELECT 1 FROM items WHERE code = ?", (code,)) is None:
        raise unknown_item(code)
    entry = {"code": code, **{k: v for k, v in body.items() if k != "code"}}
    problems = check(entry, _businesses(tx))
    problems = problems or package_clashes(tx, [entry])
    if problems:
        raise refuse(problems)
    done = write_item(tx, entry, "console")
    if done is None:
        current = tx.row("SELECT MAX(version) FROM item_versions WHERE code = ?", (code,))[0]
        return {"item": code, "version": current, "changed": []}
    search.rebuild(tx.conn, tx.set_meta)
    touch(tx)
    tx.journal("item_edited", business=entry["business"],
               data={"item": code, "version": done["version"], "changed": done["changed"]})
    return {"item": code, "version": done["version"], "changed": done["changed"]}


def versions(conn: sqlite3.Connection, code: str) -> list[dict[str, Any]]:
    """Every kept version of an item, newest first: who, when, from where, what changed, the whole item."""
    rows = conn.execute("SELECT * FROM item_versions WHERE code = ? ORDER BY version DESC", (code,)).fetchall()
    return [{"version": r["version"], "at": r["at"], "actor": r["actor"], "source": r["source"],
             "changed": json.loads(r["changed"]), "active": bool(r["active"]),
             "item": as_entry({"code": code, "business": r["business"], "name": r["name"], "guide": r["guide"]})}
            for r in rows]


# -- the catalogue as services.toml -----------------------------------------------------------------------------

def export_toml(conn: sqlite3.Connection, hall_name: str = "") -> str:
    """The active items as a services file (``[[items]]``), in the catalogue's order; loads as it is."""
    out = ["# Service items (事项) and their guides, exported by hallq" + (f" from {hall_name}" if hall_name else ""),
           "# A services file: hall.toml names it in [hall] services; the manager's page imports it back.",
           "# 一件事 packages ([[packages]]) stay in the services file hall.toml names: not exported.", ""]
    for r in conn.execute("SELECT * FROM items WHERE active ORDER BY position, code"):
        out += _table("items", as_entry(r))
    return "\n".join(out)


def _table(header: str, entry: dict[str, Any]) -> list[str]:
    lines = [f"[[{header}]]"]
    subtables = []
    for k, v in entry.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            subtables.append((k, v))
        else:
            lines.append(f"{k} = {_toml(v)}")
    for k, rows in subtables:
        for row in rows:
            lines += ["", f"[[{header}.{k}]]", *(f"{rk} = {_toml(rv)}" for rk, rv in row.items())]
    return [*lines, ""]


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        # a JSON string is a TOML basic string but for DEL, which TOML wants escaped
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007F")
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _key(k: str) -> str:
    import re

    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml(k)


def read_toml(tx: Tx, data: bytes) -> list[dict[str, Any]]:
    """The items of an uploaded services file, checked whole as the server checks the file at start."""
    if len(data) > MAX_TOML:
        raise refuse([("(file)", f"larger than {MAX_TOML // (1024 * 1024)} MB")])
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise refuse([("(file)", "not UTF-8 text: save the file as UTF-8")]) from None
    except tomllib.TOMLDecodeError as e:
        raise refuse([("(file)", f"not valid TOML: {e}")]) from None
    except RecursionError:  # arrays nested thousands deep: Python's TOML parser gives up
        raise refuse([("(file)", "nested too deeply: a services file's arrays and tables are a few levels deep")]) \
            from None
    problems = SERVICES_FILE.validate(raw)
    if problems:
        raise refuse(problems)
    if not raw.get("items"):  # an empty body, or a file of packages only: nothing to import is a mistake
        raise refuse([("(file)", "holds no [[items]]: send the services file itself (GET /catalogue.toml gives one)")])
    businesses = _businesses(tx)
    seen: set[str] = set()
    for it in raw["items"]:
        key = f"items[code={it['code']}]"
        if it["code"] in seen:
            problems.append((key, f"duplicate item code \"{it['code']}\""))
        seen.add(it["code"])
        problems += [(f"{key}.{k}", m) for k, m in item_problems(it, businesses)]
    problems = problems or package_clashes(tx, raw["items"])
    if problems:
        raise refuse(problems)
    return list(raw["items"])


def import_toml(tx: Tx, data: bytes, apply: bool) -> dict[str, Any]:
    """What the file changes (``apply=False``: the dry run, nothing written) or what it changed."""
    entries = read_toml(tx, data)
    existing = {r["code"]: r for r in tx.all("SELECT * FROM items")}
    changes = []
    for it in entries:
        row = existing.get(it["code"])
        keys = changed_keys(as_entry(row) if row is not None else None, it)
        if row is not None and not row["active"]:
            keys.append("active")
        if row is None or keys:
            changes.append({"item": it["code"], "name": it["name"], "added": row is None, "changed": keys})
    untouched = sorted(set(r for r, row in existing.items() if row["active"]) - {it["code"] for it in entries})
    result = {"applied": False, "items": len(entries), "changes": changes,
              "added": sum(c["added"] for c in changes), "updated": sum(not c["added"] for c in changes),
              "not_in_file": untouched}
    if not apply or not changes:
        return result
    for it in entries:
        write_item(tx, it, "import")
    search.rebuild(tx.conn, tx.set_meta)
    touch(tx)
    tx.journal("catalogue_imported", data={"added": result["added"], "updated": result["updated"],
                                           "items": [c["item"] for c in changes][:50]})
    return {**result, "applied": True}


def after_file_applied(tx: Tx) -> list[str]:
    """After the services file was applied (hallsync): keep as a version every edited item it replaced."""
    replaced = []
    for r in tx.all("SELECT i.*, v.business AS v_business, v.name AS v_name, v.guide AS v_guide FROM items i "
                    "JOIN item_versions v ON v.code = i.code AND v.version = "
                    "(SELECT MAX(version) FROM item_versions WHERE code = i.code)"):
        entry = as_entry(r)
        kept = as_entry({"code": r["code"], "business": r["v_business"], "name": r["v_name"], "guide": r["v_guide"]})
        keys = changed_keys(kept, entry)
        if keys:
            _version(tx, r["code"], entry, "file", keys, bool(r["active"]))
            replaced.append(r["code"])
    touch(tx)
    return replaced


class GuideDesk:
    """Guides edited in the browser and the catalogue imported as TOML: managers only."""

    def __init__(self, service: QueueService) -> None:
        self.service = service

    def save_item(self, actor: Actor, code: str, body: dict[str, Any]) -> dict[str, Any]:
        _managers_only(actor)
        return self.service._run(actor, None, lambda tx: save_item(tx, code, body))

    def import_toml(self, actor: Actor, data: bytes, apply: bool) -> dict[str, Any]:
        _managers_only(actor)
        return self.service._run(actor, None, lambda tx: import_toml(tx, data, apply))


def _managers_only(actor: Actor) -> None:
    if not (actor.is_manager or actor.kind == "system"):
        raise Forbidden("error.manager_only", code="manager_only")


def edited_apart_from_file(conn: sqlite3.Connection, items: dict[str, Any]) -> list[str]:
    """The items edited in the browser (or imported) that differ now from the services file's ``items``
    (:class:`hallq.catalogue_config.ServiceItem` by code): what the file would replace if it changed."""
    out = []
    for r in conn.execute("SELECT * FROM items WHERE active AND code IN (SELECT code FROM item_versions)"):
        it = items.get(r["code"])
        mine = as_entry(r)
        theirs = None if it is None else as_entry({"code": it.code, "business": it.business, "name": it.name,
                                                   "guide": it.guide})
        if theirs is None or changed_keys(theirs, mine):
            out.append(r["code"])
    return out
