"""Checking what a resident types, with a clear sentence in their language; the input is never lost.

The server checks everything again and is the authority; checking here
first means the resident hears "the check digit does not match" while the
number is still on the screen, instead of after a round trip.
Each check returns ``(value, error)``: the normalised value, or ``None`` and
a sentence saying what is wrong.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hallq.i18n import pick
from hallq.privacy import InvalidIdNumber, IdNumber, name_length, normalise_phone
from kiosk.texts import tr

Checked = tuple[Any, str]


def check_id_number(raw: str, lang: str, today: date | None = None) -> Checked:
    try:
        return IdNumber.parse(raw, today=today).value, ""
    except InvalidIdNumber as e:
        return None, tr("invalid.id_number", lang, reason=e.says(lang))


def check_phone(raw: str, lang: str) -> Checked:
    try:
        return normalise_phone(raw), ""
    except ValueError:
        return None, tr("invalid.phone", lang)


# a letter (any script), with the variation selectors a rare character may carry (U+FE00-FE0F, the ideographic
# variation selectors U+E0100-E01EF): they choose the glyph the ID card shows and are part of the name
_LETTER = r"[^\W\d_][\ufe00-\ufe0f\U000e0100-\U000e01ef]?"  # one selector, as Unicode allows (and the server)
_NAME = re.compile(f"(?:{_LETTER})+(?:[ ·•.](?:{_LETTER})+)*")


def check_name(raw: str, lang: str) -> Checked:
    name = " ".join(raw.split())
    # a real name: 2-40 characters as a reader counts them (a character with its selector is one: name_length),
    # letters (any script), the middle dot of minority names, spaces
    if not (1 < name_length(name) <= 40) or not _NAME.fullmatch(name):
        return None, tr("invalid.name", lang)
    return name, ""


def check_form_field(spec: dict[str, Any], raw: Any, lang: str, today: date | None = None) -> Checked:
    """One field of an item's application form (types of hallq.hallconfig.FORM_FIELD_TYPES)."""
    label = pick(spec.get("label"), lang) or spec["key"]
    value = "" if raw is None else str(raw).strip()
    kind = spec.get("type", "text")
    if not value:
        if spec.get("required"):
            return None, tr("invalid.required" if kind != "select" else "invalid.option", lang, label=label)
        return "", ""
    if spec.get("max_len") and len(value) > spec["max_len"]:
        return None, tr("invalid.too_long", lang, label=label, n=spec["max_len"])
    if kind == "id_number":
        return check_id_number(value, lang, today)
    if kind in ("name", "person_name"):  # the applicant's, or another person's on the form (新生儿, 母亲...)
        return check_name(value, lang)
    if kind == "phone":
        return check_phone(value, lang)
    if kind == "number":
        if not re.fullmatch(r"-?\d+", value):
            return None, tr("invalid.number", lang, label=label)
        n = int(value)
        lo, hi = spec.get("min"), spec.get("max")
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            return None, tr("invalid.range", lang, label=label, lo=lo if lo is not None else "", hi=hi if hi is not None else "")
        return value, ""
    if kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return None, tr("invalid.date", lang, label=label)
        return value, ""
    if kind == "select":
        if value not in [o["value"] for o in spec.get("options", [])]:
            return None, tr("invalid.option", lang, label=label)
        return value, ""
    if spec.get("pattern") and not re.fullmatch(spec["pattern"], value):
        return None, tr("invalid.pattern", lang, label=label)
    return value, ""
