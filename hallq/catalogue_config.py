"""The service catalogue of a hall's services files: its items (事项) and 一件事 packages, and their checks.

:func:`hallq.hallconfig.load_hall` reads the files and calls :func:`catalogue_items` and
:func:`catalogue_packages`; the manager's guides editor (queue_server/domain/guides.py) checks an edited
item with the same :data:`ITEM` schema and :func:`item_problems`, and the packages' forms and materials are
merged by :func:`merge_forms` and :func:`merge_materials` wherever a package is built.

Problems are ``(file, key, message)`` appended to the caller's list, as in hallq.hallconfig, so that every
mistake of every file is reported at once.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, cast

from hallq.config_schema import SERVICES_FILE
from hallq.i18n import Texts
from hallq.schema import Arr, Obj


@dataclass(frozen=True)
class ServiceItem:
    code: str
    business: str
    name: Texts
    guide: dict[str, Any]  # every other key of the item, as in the file


@dataclass(frozen=True)
class Package:
    """一件事 (``[[packages]]``): several items filed as one, with one form and one list of materials.

    ``form`` is the member items' fields merged by key (asked once; required when any item requires it;
    ``items`` lists who asks it). ``materials`` is their materials merged by name (an ID card needed by
    four items is asked once; ``of`` maps it to each item's own checklist index).
    """

    code: str
    name: Texts
    business: str
    items: tuple[str, ...]
    lead_department: str
    form: tuple[dict[str, Any], ...]
    materials: tuple[dict[str, Any], ...]
    guide: dict[str, Any]  # conditions, basis, note as in the file


def did_you_mean(word: str, choices: dict[str, Any]) -> str:
    """`` (did you mean "x"?)`` with the closest of ``choices`` to a mistyped ``word``, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean \"{close[0]}\"?)" if close else ""


ITEM = cast(Obj, cast(Arr, SERVICES_FILE.fields["items"]).items)  # one [[items]] entry's schema


def item_problems(it: dict[str, Any], businesses: dict[str, Any] | set[str]) -> list[tuple[str, str]]:
    """``(key, problem)`` of one service item that passed :data:`ITEM`, beyond what a schema can say.

    The same rules whether the item comes from the services file or from the manager's page
    (queue_server/domain/guides.py): a known business, a promise within the statutory limit, a sound form.
    """
    problems: list[tuple[str, str]] = []
    if "business" in it and it["business"] not in businesses:  # (absent: the schema said so)
        hint = did_you_mean(it["business"], dict.fromkeys(businesses))
        problems.append(("business", f"unknown business \"{it['business']}\"{hint} (known: {', '.join(businesses)})"))
    sd, pd = it.get("statutory_days"), it.get("promised_days")
    if sd and pd is not None and pd > sd:
        problems.append(("promised_days", f"promised {pd} working days exceeds the statutory {sd}"))
    return problems + _form_problems(it.get("form", []))


def _form_problems(form: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """An item's form: unique keys, options only (and always) on selects, patterns that compile, a person's name
    (a label with 姓名) of the type that masks it."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for j, f in enumerate(form):
        fkey = f"form[{j}]"
        if f["key"] in seen:
            problems.append((f"{fkey}.key", f"duplicate field key \"{f['key']}\""))
        seen.add(f["key"])
        if (f["type"] == "select") != bool(f.get("options")):
            problems.append((f"{fkey}.options", "a select field needs options, and only a select has them"))
        if "pattern" in f:
            try:
                re.compile(f["pattern"])
            except re.error as e:
                problems.append((f"{fkey}.pattern", f"not a valid regular expression: {e}"))
        if "min" in f and "max" in f and f["min"] > f["max"]:
            problems.append((f"{fkey}.min", "min is larger than max"))
        label = f["label"].get("zh-Hans", "") if isinstance(f.get("label"), dict) else ""
        if f["type"] in ("text", "textarea") and "姓名" in label:
            problems.append((f"{fkey}.type", f"\"{label}\" asks for a person's name: give it type = \"person_name\", "
                             "so that it is checked as a name and shown masked like the applicant's (显示全名 on "
                             "request), never in full"))
    return problems


def catalogue_items(raw: list[tuple[str, int, dict[str, Any]]], businesses: dict[str, Any],
                    problems: list) -> dict[str, ServiceItem]:
    """The ``[[items]]`` of the services files, ``(file label, index, entry)``, each checked by
    :func:`item_problems`."""
    items: dict[str, ServiceItem] = {}
    for slabel, _i, it in raw:
        key = f"items[code={it['code']}]"
        if it["code"] in items:
            problems.append((slabel, key, f"duplicate item code \"{it['code']}\""))
            continue
        problems += [(slabel, f"{key}.{k}", m) for k, m in item_problems(it, businesses)]
        guide = {k: v for k, v in it.items() if k not in ("code", "business", "name")}
        items[it["code"]] = ServiceItem(code=it["code"], business=it["business"], name=it["name"], guide=guide)
    return items


def catalogue_packages(raw: list[tuple[str, dict[str, Any]]], items: dict[str, ServiceItem], businesses: dict,
                       problems: list) -> dict[str, Package]:
    """一件事 packages: known items, each with a department, whose same-named fields agree; forms merged."""
    packages: dict[str, Package] = {}
    for slabel, p in raw:
        key = f"packages[code={p['code']}]"
        if p["code"] in packages:
            problems.append((slabel, key, f"duplicate package code \"{p['code']}\""))
            continue
        members: list[ServiceItem] = []
        for j, code in enumerate(p["items"]):
            if code not in items:
                problems.append((slabel, f"{key}.items[{j}]", f"unknown service item \"{code}\"{did_you_mean(code, items)}"
                                 " (an item of a package must be defined in [[items]])"))
            elif code in p["items"][:j]:
                problems.append((slabel, f"{key}.items[{j}]", f"item \"{code}\" listed twice"))
            elif not items[code].guide.get("department"):
                problems.append((slabel, f"{key}.items[{j}]", f"item \"{code}\" has no department: each item of a "
                                 "package goes to its department's back office; give the item a department"))
            else:
                members.append(items[code])
        business = p.get("business") or (members[0].business if members else "")
        if p.get("business") and business not in businesses:
            problems.append((slabel, f"{key}.business", f"unknown business \"{business}\"{did_you_mean(business, businesses)}"))
        if len(members) != len(p["items"]):
            continue
        form, clashes = merge_forms([(m.code, m.guide.get("form", [])) for m in members])
        problems += [(slabel, f"{key}.items", c) for c in clashes]
        packages[p["code"]] = Package(
            code=p["code"], name=p["name"], business=business, items=tuple(p["items"]),
            lead_department=p.get("lead_department") or members[0].guide["department"], form=tuple(form),
            materials=tuple(merge_materials([(m.code, m.guide.get("materials", [])) for m in members])),
            guide={k: v for k, v in p.items() if k in ("conditions", "basis", "note")})
    return packages


def merge_forms(forms: list[tuple[str, list[dict[str, Any]]]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The fields of several items' forms, each key once (一表申请); and every clash, as a sentence.

    Two items asking the same key must ask the same thing: the same type, and for a choice the same options.
    """
    merged: dict[str, dict[str, Any]] = {}
    clashes = []
    for code, form in forms:
        for f in form:
            first = merged.get(f["key"])
            if first is None:
                merged[f["key"]] = {**f, "items": [code]}
                continue
            if first["type"] != f["type"]:
                clashes.append(f"field \"{f['key']}\" is a {first['type']} in item \"{first['items'][0]}\" but a "
                               f"{f['type']} in item \"{code}\": one answer cannot serve both; rename one of them")
            elif f["type"] == "select" and ({o["value"] for o in first.get("options", [])}
                                            != {o["value"] for o in f.get("options", [])}):
                clashes.append(f"field \"{f['key']}\" has other options in item \"{code}\" than in item "
                               f"\"{first['items'][0]}\": one answer cannot serve both; give them the same options")
            first["required"] = first.get("required", False) or f.get("required", False)
            first["items"].append(code)
    return list(merged.values()), clashes


def merge_materials(lists: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Several items' materials, each name once (一套材料); ``of`` maps it to each item's own checklist index."""
    merged: dict[str, dict[str, Any]] = {}
    for code, materials in lists:
        for i, m in enumerate(materials):
            first = merged.setdefault(m["name"], {**m, "required": False, "copies": 0, "of": {}})
            first["required"] = first["required"] or m.get("required", True)
            first["copies"] = max(first["copies"], m.get("copies", 1))
            first["of"][code] = i
    return list(merged.values())
