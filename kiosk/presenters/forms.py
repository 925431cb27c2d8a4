"""Form fields on a kiosk: values kept as typed, each checked with a sentence in the resident's language.

Used by the booking's personal details, an item's application form and its
applicant. Field specs have the shape of hall.toml's ``form`` entries
(key, label, type, required, max_len, pattern, options, min, max).
"""

from __future__ import annotations

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


def day_label(iso_day: str, lang: str) -> str:
    """``2026-11-24`` → ``11月24日 星期二`` / ``Tue 24 Nov`` (the pattern is the catalogue's, the names CLDR's)."""
    from babel.dates import format_date

    return format_date(date.fromisoformat(iso_day), i18n.text("kiosk.date.day", lang),
                       locale=BABEL_LOCALES.get(lang, lang.replace("-", "_")))


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
