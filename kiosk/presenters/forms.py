"""Form fields on a kiosk: values kept as typed, each checked with a sentence in the resident's language.

Used by the booking's personal details, an item's application form and its
applicant. Field specs have the shape of hall.toml's ``form`` entries
(key, label, type, required, max_len, pattern, options, min, max).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hallq import i18n
from hallq.i18n import Msg, pick
from kiosk.presenters.base import Field, Option
from kiosk.validation import check_form_field

PERSON_FIELDS = [
    {"key": "name", "type": "name", "required": True, "max_len": 40, "label": Msg("kiosk.field.name")},
    {"key": "id_number", "type": "id_number", "required": True, "max_len": 18, "label": Msg("kiosk.field.id_number")},
    {"key": "phone", "type": "phone", "required": True, "max_len": 13, "label": Msg("kiosk.field.phone")},
]

BABEL_LOCALES = {"zh-Hans": "zh_Hans_CN", "zh-Hant": "zh_Hant_HK", "en": "en"}

# CLDR's names for the date fields a day's label uses, in the kiosk's languages (as Babel gives them for
# BABEL_LOCALES; tests/kiosk/test_day_label.py compares every day of a year): the home screen shows today's date
# at all times, and Babel's dates with its locale data would be 5 MB of an idle kiosk for these few words
_ZH_WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NAMES: dict[str, dict[str, Any]] = {
    "zh-Hans": {"EEEE": _ZH_WEEKDAYS, "EEE": tuple("周" + w[2] for w in _ZH_WEEKDAYS)},
    "zh-Hant": {"EEEE": _ZH_WEEKDAYS, "EEE": tuple("週" + w[2] for w in _ZH_WEEKDAYS)},
    "en": {"EEEE": _EN_WEEKDAYS, "EEE": tuple(w[:3] for w in _EN_WEEKDAYS), "MMMM": _EN_MONTHS,
           "MMM": tuple(m[:3] for m in _EN_MONTHS)},
}
_FIELD = re.compile(r"([A-Za-z])\1*")


def _plain_day_label(day: date, pattern: str, lang: str) -> str | None:
    """``pattern`` (CLDR) filled for ``day`` with the names above; None if it has a field or a quote they lack."""
    names = _NAMES.get(lang)
    if names is None or "'" in pattern:
        return None
    out: list[str] = []
    pos = 0
    for m in _FIELD.finditer(pattern):
        field = m.group(0)
        if field in ("M", "MM"):
            text = f"{day.month:0{len(field)}d}"
        elif field in ("d", "dd"):
            text = f"{day.day:0{len(field)}d}"
        elif field in ("y", "yyyy"):
            text = str(day.year)
        elif field in names:
            text = names[field][day.month - 1 if field.startswith("M") else day.weekday()]
        else:
            return None
        out.append(pattern[pos:m.start()] + text)
        pos = m.end()
    return "".join(out) + pattern[pos:]


def day_label(iso_day: str, lang: str) -> str:
    """``2026-11-24`` → ``11月24日 星期二`` / ``Tue 24 Nov`` (the pattern is the catalogue's, the names CLDR's)."""
    day, pattern = date.fromisoformat(iso_day), i18n.text("kiosk.date.day", lang)
    plain = _plain_day_label(day, pattern, lang)
    if plain is not None:
        return plain
    from babel.dates import format_date     # a pattern or a language the names above do not cover

    return format_date(day, pattern, locale=BABEL_LOCALES.get(lang, lang.replace("-", "_")))


class FormState:
    """Values and errors of a list of fields; nothing typed is ever dropped."""

    def __init__(self, specs: list[dict[str, Any]]) -> None:
        self.specs = specs
        self.values: dict[str, str] = {s["key"]: "" for s in specs}
        self.errors: dict[str, str] = {}
        self.clean: dict[str, Any] = {}

    def spec(self, key: str) -> dict[str, Any] | None:
        return next((s for s in self.specs if s["key"] == key), None)

    def set(self, key: str, value: Any, lang: str, today: date | None = None, strict: bool = False) -> bool:
        """Keep ``value`` and check it; True when it is fine.

        An empty field is only an error when ``strict`` (on "next"): a resident
        filling the form from the top must not see "required" under fields
        they have not reached yet.
        """
        spec = self.spec(key)
        if spec is None:
            return False
        self.values[key] = "" if value is None else str(value)
        if not strict and not self.values[key].strip():
            self.errors.pop(key, None)
            self.clean[key] = ""
            return True
        ok, err = check_form_field(spec, self.values[key], lang, today)
        if err:
            self.errors[key] = err
            self.clean.pop(key, None)
            return False
        self.errors.pop(key, None)
        self.clean[key] = ok
        return True

    def check_all(self, lang: str, today: date | None = None) -> bool:
        for spec in self.specs:
            self.set(spec["key"], self.values.get(spec["key"], ""), lang, today, strict=True)
        return not self.errors

    def fields(self, lang: str) -> list[Field]:
        out = []
        for s in self.specs:
            options = [Option(o["value"], pick(o["label"], lang), selected=o["value"] == self.values.get(s["key"]))
                       for o in s.get("options", [])]
            kind = s.get("type", "text")
            kind = "name" if kind == "person_name" else kind  # typed and checked as the applicant's name is
            out.append(Field(s["key"], pick(s.get("label"), lang) or s["key"], kind,
                             self.values.get(s["key"], ""), self.errors.get(s["key"], ""), bool(s.get("required")),
                             options, max_len=s.get("max_len"), pattern=s.get("pattern", "")))
        return out

    def server_errors(self, problems: dict[str, str]) -> None:
        """Errors the server found, keyed by field: shown beside the field, the value kept."""
        for key, message in problems.items():
            if key in self.values:
                self.errors[key] = message
                self.clean.pop(key, None)
