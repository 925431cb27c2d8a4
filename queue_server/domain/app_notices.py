"""The correction notice (补齐补正通知): ONE notice listing everything to correct (一次性告知).

行政许可法 第三十二条: an incomplete application is told everything to correct at once. A later notice (after a
supplement that is still not right) may only repeat what the first one asked for; asking for anything new is refused
(409 ``one_time_notice``). A 一件事 package's parts together have ONE notice: the comprehensive window sends it across
them (packages.review, which checks the package as a whole), and a part that got nothing on it cannot be sent a
notice of its own later, by the package or on its own (docs/applications.md).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hallq.i18n import LANGS, languages, pick, text
from hallq.privacy import scrub_text
from queue_server.domain.context import Tx
from queue_server.domain.errors import Conflict, DomainError
from queue_server.domain.progress import materials_of, missing_required


def notice_entries(app: sqlite3.Row, it: dict[str, Any], asked: list[str]) -> dict[str, dict[str, Any]]:
    """What a notice to ``app`` would list, by key (``material:2``, ``field:child_name``, ``other:<words>``): every
    required material still missing plus what the clerk lists (``asked``); empty when there is nothing."""
    materials = materials_of(it)
    by_name = {plain(m["name"]): m for m in materials}
    form = {f["key"]: f for f in it["guide"].get("form", [])}
    by_label = {plain(label): f for f in form.values() for label in f["label"].values() if label}
    entries: dict[str, dict[str, Any]] = {}
    for m in missing_required(it, json.loads(app["materials"])):
        entries[f"material:{m['index']}"] = material_entry(m)
    for a in asked:
        a = " ".join(a.split())
        if not a:
            continue
        p = plain(a)
        if p in by_name:  # a material, by its name
            entries[f"material:{by_name[p]['index']}"] = material_entry(by_name[p])
        elif a in form or p in by_label:  # a form field, by the label the clerk sees (or its key)
            f = form[a] if a in form else by_label[p]
            entries[f"field:{f['key']}"] = {"kind": "field", "key": f["key"], "name": f["label"]}
        else:  # anything else the clerk writes (其他需补正的内容): in their words, any ID or phone number masked
            a = scrub_text(a)
            entries[f"other:{a}"] = {"kind": "other", "name": dict.fromkeys(LANGS, a)}
    return entries


def empty_notice() -> DomainError:
    err = DomainError("error.correction.empty", code="invalid_fields", status=400)
    err.fields = [{"field": "missing", "problem": "is empty"}]
    return err


def one_time_notice(new: dict[str, dict[str, Any]], detail: dict[str, Any] | None = None) -> Conflict:
    """409 ``one_time_notice``: a later notice asks for ``new`` entries (by key) the first one did not."""
    names = {lang: text("common.separator.list", lang).join(pick(e["name"], lang) for e in new.values())
             for lang in languages()}
    return Conflict("error.one_time_notice", names=names, code="one_time_notice",
                    detail={"new": list(new), **(detail or {})})


def package_noticed(conn: sqlite3.Connection, app: sqlite3.Row) -> bool:
    """Whether ``app`` is a part of a 一件事 package another part of which got the package's notice already."""
    return app["package_id"] is not None and conn.execute(
        "SELECT 1 FROM applications WHERE package_id = ? AND id != ? AND correction IS NOT NULL LIMIT 1",
        (app["package_id"], app["id"])).fetchone() is not None


def correction_notice(tx: Tx, app: sqlite3.Row, it: dict[str, Any], asked: list[str], reason: str,
                      package_checked: bool = False) -> dict:
    """The ONE notice (一次性告知): every required material still missing plus what the clerk lists.

    A later notice may only repeat what the first one asked for: asking for something new is refused
    (409 one_time_notice). A package's part that was left out of the package's notice has nothing it may be asked
    later (``package_checked``: packages.review checked the package as a whole already).
    """
    entries = notice_entries(app, it, asked)
    if not entries:
        raise empty_notice()
    first = json.loads(app["correction"]) if app["correction"] else None
    if first is None and not package_checked and package_noticed(tx.conn, app):
        first = {"keys": [], "notices": 0}  # the package's one notice went out without this part
    if first is not None:
        new = {k: e for k, e in entries.items() if k not in first["keys"]}
        if new:
            raise one_time_notice(new)
    return {"keys": first["keys"] if first else list(entries), "missing": list(entries.values()),
            "reason": reason.strip(), "at": tx.at, "notices": (first["notices"] + 1) if first else 1}


def plain(name: str) -> str:
    """A name as the clerk may type it: without spaces, full-width colons or brackets around it."""
    return "".join(name.split()).strip("：:;；。.《》").lower()


def material_entry(m: dict[str, Any]) -> dict[str, Any]:
    # material names are official Chinese document names: the same text in every language
    return {"kind": "material", "index": m["index"], "name": dict.fromkeys(LANGS, m["name"])}
