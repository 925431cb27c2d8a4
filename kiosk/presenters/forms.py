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
from hallq.privacy import mask_id_number, mask_name, mask_phone
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


def masked(kind: str, value: str) -> str:
    """A value as a screen shows it back (docs/privacy.md): an ID number, a person's name or a phone masked with
    hallq.privacy's masks (``520201********1007``, ``王*明``, ``138****5678``), anything else as it is."""
    if not value:
        return value
    if kind == "id_number":
        return mask_id_number(value)
    if kind in ("name", "person_name"):
        return mask_name(value)
    if kind == "phone":
        return mask_phone(value)
    return value


class FormState:
    """Values and errors of a list of fields; nothing typed is ever dropped.

    Values read from the ID card (:meth:`from_card`) are kept and sent whole like typed ones, but a screen only
    ever gets their masks (:meth:`fields`); typing into such a field replaces the card's value.
    """

    def __init__(self, specs: list[dict[str, Any]]) -> None:
        self.specs = specs
        self.values: dict[str, str] = {s["key"]: "" for s in specs}
        self.errors: dict[str, str] = {}
        self.clean: dict[str, Any] = {}
        self.card_keys: set[str] = set()     # the fields whose value was read from the ID card

    def spec(self, key: str) -> dict[str, Any] | None:
        return next((s for s in self.specs if s["key"] == key), None)

    def set(self, key: str, value: Any, lang: str, today: date | None = None, strict: bool = False) -> bool:
        """Keep ``value`` (typed: it replaces a value read from the card) and check it; True when it is fine.

        An empty field is only an error when ``strict`` (on "next"): a resident
        filling the form from the top must not see "required" under fields
        they have not reached yet.
        """
        self.card_keys.discard(key)
        return self._keep(key, value, lang, today, strict)

    def from_card(self, key: str, value: Any, lang: str, today: date | None = None) -> bool:
        """Keep and check a value read from the ID card: sent whole, shown masked."""
        ok = self._keep(key, value, lang, today)
        if self.values.get(key):
            self.card_keys.add(key)
        return ok

    def typed(self, key: str, value: Any) -> None:
        """Keep a value sent with the form, unchecked (:meth:`check_all` checks it); a changed one is typed."""
        if key in self.values:
            text = "" if value is None else str(value)
            if text != self.values[key]:
                self.card_keys.discard(key)
            self.values[key] = text

    def _keep(self, key: str, value: Any, lang: str, today: date | None = None, strict: bool = False) -> bool:
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
            self._keep(spec["key"], self.values.get(spec["key"], ""), lang, today, strict=True)
        return not self.errors

    def fields(self, lang: str) -> list[Field]:
        """The fields as a screen draws them: a value read from the ID card as its mask (``from_card``)."""
        out = []
        for s in self.specs:
            options = [Option(o["value"], pick(o["label"], lang), selected=o["value"] == self.values.get(s["key"]))
                       for o in s.get("options", [])]
            kind = s.get("type", "text")
            kind = "name" if kind == "person_name" else kind  # typed and checked as the applicant's name is
            value = self.values.get(s["key"], "")
            card = s["key"] in self.card_keys and bool(value)
            out.append(Field(s["key"], pick(s.get("label"), lang) or s["key"], kind,
                             masked(kind, value) if card else value, self.errors.get(s["key"], ""),
                             bool(s.get("required")), options, max_len=s.get("max_len"), pattern=s.get("pattern", ""),
                             from_card=card))
        return out

    def server_errors(self, problems: dict[str, str]) -> None:
        """Errors the server found, keyed by field: shown beside the field, the value kept."""
        for key, message in problems.items():
            if key in self.values:
                self.errors[key] = message
                self.clean.pop(key, None)
