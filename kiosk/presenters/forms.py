"""Form fields on a kiosk: values kept as typed, each checked with a sentence in the resident's language.

Used by the booking's personal details, an item's application form and its
applicant. Field specs have the shape of hall.toml's ``form`` entries
(key, label, type, required, max_len, pattern, options, min, max).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hallq.i18n import pick, t3
from kiosk.presenters.base import Field, Option
from kiosk.validation import check_form_field

PERSON_FIELDS = [
    {"key": "name", "type": "name", "required": True, "max_len": 40, "label": t3("姓名", "姓名", "Name")},
    {"key": "id_number", "type": "id_number", "required": True, "max_len": 18,
     "label": t3("身份证号", "身分證號", "ID number")},
    {"key": "phone", "type": "phone", "required": True, "max_len": 13, "label": t3("手机号", "手機號", "Mobile")},
]

WEEKDAYS = {"zh-Hans": "一二三四五六日", "zh-Hant": "一二三四五六日"}
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_label(iso_day: str, lang: str) -> str:
    """``2026-11-24`` → ``11月24日 星期二`` / ``Tue 24 Nov``."""
    d = date.fromisoformat(iso_day)
    if lang == "en":
        return f"{EN_WEEKDAYS[d.weekday()]} {d.day} {EN_MONTHS[d.month - 1]}"
    return f"{d.month}月{d.day}日 星期{WEEKDAYS[lang if lang in WEEKDAYS else 'zh-Hans'][d.weekday()]}"


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
            out.append(Field(s["key"], pick(s.get("label"), lang) or s["key"], s.get("type", "text"),
                             self.values.get(s["key"], ""), self.errors.get(s["key"], ""), bool(s.get("required")),
                             options, max_len=s.get("max_len"), pattern=s.get("pattern", "")))
        return out

    def server_errors(self, problems: dict[str, str]) -> None:
        """Errors the server found, keyed by field: shown beside the field, the value kept."""
        for key, message in problems.items():
            if key in self.values:
                self.errors[key] = message
                self.clean.pop(key, None)
