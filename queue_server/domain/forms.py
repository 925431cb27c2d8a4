"""Application forms: the fields a service item asks for, checked one by one.

A form is defined per item in services.toml (``form = [...]``, schema in
hallq/hallconfig.py). Every value is checked against its field; every
problem is reported at once, each with a sentence in three languages that
names the field, so a kiosk can show it beside the input and keep what was
typed. ID numbers typed into a form (e.g. a child's, a proxy's) are checked
and kept masked only: the clerk checks the original documents. A person's name
typed into a form (``type = "person_name"``: the baby's, the mother's, a
guardian's) is checked as the applicant's name is, kept whole (the case needs it)
and shown masked like it (:func:`mask_held_whole`); the full one only on request,
journaled (queue_server/domain/resident_names.py). A phone typed into a form
(``type = "phone"``: the mailing recipient's) is kept whole too (the courier calls it)
and masked in every view the same way (``138****5678``), answered in full with the names.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hallq.privacy import IdNumber, InvalidIdNumber, mask_name, mask_phone, normalise_phone
from queue_server.domain.errors import messages
from queue_server.domain.people import valid_name

PERSON_NAME = "person_name"
PHONE = "phone"
HELD_WHOLE = (PERSON_NAME, PHONE)  # kept whole for the case, shown masked, answered in full only on request

DEFAULT_MAX = {"text": 200, "textarea": 2000, PERSON_NAME: 40}

Problem = tuple[str, str, dict[str, str]]  # (path, code, texts) as in queue_server.domain.people


def public_form(form: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The form as a kiosk renders it: every key with its defaults filled in."""
    out = []
    for f in form:
        field = {"key": f["key"], "label": f["label"], "type": f["type"], "required": f.get("required", False),
                 "max_len": f.get("max_len", DEFAULT_MAX.get(f["type"])), "pattern": f.get("pattern"),
                 "options": f.get("options", []), "min": f.get("min"), "max": f.get("max"), "hint": f.get("hint")}
        out.append(field)
    return out


def person_name_keys(form: list[dict[str, Any]]) -> set[str]:
    """The keys of a form's fields that hold a person's name."""
    return {f["key"] for f in form if f.get("type") == PERSON_NAME}


def held_whole_keys(form: list[dict[str, Any]]) -> dict[str, str]:
    """The keys of a form's fields kept whole but shown masked (a person's name, a phone), with their type."""
    return {f["key"]: f["type"] for f in form if f.get("type") in HELD_WHOLE}


def _masked(kind: str, value: str) -> str:
    if kind == PHONE:
        return value if "*" in value else mask_phone(value)
    return mask_name(value)


def mask_held_whole(form: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """A form's answers as every view shows them: a person's name masked (张*三) as the applicant's is, a phone
    masked (138****5678) as the applicant's is."""
    kinds = held_whole_keys(form)
    return {k: _masked(kinds[k], v) if k in kinds and isinstance(v, str) else v for k, v in values.items()}


def held_whole(form: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, str]:
    """The full values a form's answers hold of the fields every view masks (names and phones), by key (for 显示全名
    only: queue_server/domain/resident_names.py)."""
    kinds = held_whole_keys(form)
    return {k: v for k, v in values.items() if k in kinds and isinstance(v, str)}


mask_person_names = mask_held_whole  # the names of releases before phones were masked too
person_names = held_whole


def check_fields(form: list[dict[str, Any]], values: dict[str, Any], today: date, prefix: str = "fields.",
                 partial: bool = False) -> tuple[dict[str, Any], list[Problem]]:
    """Check ``values`` against ``form``; return the clean values and every problem.

    ``partial``: a supplement (补正) sends only some fields; required ones that
    are absent are not reported.
    """
    by_key = {f["key"]: f for f in form}
    clean: dict[str, Any] = {}
    problems: list[Problem] = []
    for key in values:
        if key not in by_key:
            problems.append((prefix + str(key), "unknown_field", messages("error.form.unknown_field", key=key)))
    for f in form:
        key, path = f["key"], prefix + f["key"]
        raw = values.get(key)
        empty = raw is None or (isinstance(raw, str) and not raw.strip())
        if empty:
            if f.get("required") and not (partial and key not in values):
                problems.append((path, "required", _say(f, "error.form.required")))
            continue
        value, problem = _check_value(f, raw, today)
        if problem is not None:
            problems.append((path, problem[0], problem[1]))
        else:
            clean[key] = value
    return clean, problems


def _say(f: dict[str, Any], key: str, **kw: Any) -> dict[str, str]:
    """The problem ``key`` (``error.form.*``) of field ``f``, its ``{label}`` in each language (else its key)."""
    label = f["label"]
    zh = label.get("zh-Hans", f["key"])
    said = {"zh-Hans": zh, "zh-Hant": label.get("zh-Hant") or zh, "en": label.get("en") or f["key"]}
    return messages(key, label=said, **kw)


def _check_value(f: dict[str, Any], raw: Any, today: date) -> tuple[Any, tuple[str, dict[str, str]] | None]:
    kind = f["type"]
    if kind == "number":
        return _number(f, raw)
    if not isinstance(raw, str):
        return None, ("wrong_type", _say(f, "error.form.wrong_type"))
    text = raw.strip()
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat(), None
        except ValueError:
            return None, ("invalid_date", _say(f, "error.form.invalid_date"))
    if kind == PHONE:  # kept whole (the courier calls it), masked in every view: mask_held_whole
        try:
            return normalise_phone(text), None
        except ValueError:
            return None, ("invalid_phone", _say(f, "error.form.invalid_phone"))
    if kind == "id_number":
        try:
            return IdNumber.parse(text, today=today).masked, None
        except InvalidIdNumber as e:
            return None, ("invalid_id_number", _say(f, "error.form.invalid_id_number", reason=e.messages()))
    if kind == PERSON_NAME:
        name = " ".join(text.split())
        if not valid_name(name):
            return None, ("invalid_name", _say(f, "error.form.invalid_name"))
        return name, None
    if kind == "select":
        values = [o["value"] for o in f.get("options", [])]
        if text not in values:
            return None, ("not_an_option", _say(f, "error.form.not_an_option"))
        return text, None
    limit = f.get("max_len", DEFAULT_MAX.get(kind, 200))
    if len(text) > limit:
        return None, ("too_long", _say(f, "error.form.too_long", limit=limit))
    if f.get("pattern") and not re.fullmatch(f["pattern"], text):
        hint = f.get("hint") or {}
        if any(hint.values()):  # a language the hint is not written in reads it in Simplified Chinese
            return None, ("wrong_format", _say(f, "error.form.wrong_format_hint", hint=hint))
        return None, ("wrong_format", _say(f, "error.form.wrong_format"))
    return text, None


def _number(f: dict[str, Any], raw: Any) -> tuple[Any, tuple[str, dict[str, str]] | None]:
    value: float | None = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None, ("not_a_number", _say(f, "error.form.not_a_number"))
    if f.get("min") is not None and value < f["min"] or f.get("max") is not None and value > f["max"]:
        lo, hi = f.get("min", ""), f.get("max", "")
        return None, ("out_of_range", _say(f, "error.form.out_of_range", lo=lo, hi=hi))
    return (int(value) if float(value).is_integer() else value), None
