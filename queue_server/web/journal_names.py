"""The audit journal in the manager's words: action codes (``no_show``) as 过号 / 過號 / No-show.

The journal keeps codes (stable, machine-readable, what the API and exports
carry); the journal page shows their names from the one registry of actions
(queue_server/domain/actions.py), with the code beside it for whoever searches
the logs, and each entry's details as words: ``工号：2001；当日序号：12`` rather than
``job_no=2001, seq=12`` (each field named by web.journal.field.<name>, a business by its name,
a rating by its level's name).
"""

from __future__ import annotations

from typing import Any

from hallq import i18n
from queue_server.domain import actions
from queue_server.domain.attention import device_name, problem_texts

_YES_NO = {True: "web.journal.yes", False: "web.journal.no"}

# the name of each field the server journals (web.po); a field not named here shows as its code
FIELDS = {
    "day": "web.journal.field.day",
    "note": "web.journal.field.note",
    "not_restored": "web.journal.field.not_restored",
    "deadlines_moved": "web.journal.field.deadlines_moved",
    "changes_not_journaled": "web.journal.field.changes_not_journaled",
    "job_no": "web.journal.field.job_no",
    "followup": "web.journal.field.followup",
    "contact_erased": "web.journal.field.contact_erased",
    "followup_contact_days": "web.journal.field.followup_contact_days",
    "code": "web.journal.field.code",
    "updated": "web.journal.field.updated",
    "reason": "web.journal.field.reason",
    "id_masked": "web.journal.field.id_masked",
    "added": "web.journal.field.added",
    "window": "web.journal.field.window",
    "waiting": "web.journal.field.waiting",
    "source": "web.journal.field.source",
    "item": "web.journal.field.item",
    "from": "web.journal.field.from",
    "to": "web.journal.field.to",
    "expired": "web.journal.field.expired",
    "est_wait_minutes": "web.journal.field.est_wait_minutes",
    "device": "web.journal.field.device",
    "date": "web.journal.field.date",
    "business": "web.journal.field.business",
    "windows_closed": "web.journal.field.windows_closed",
    "tracking_no": "web.journal.field.tracking_no",
    "staff_id": "web.journal.field.staff_id",
    "seq": "web.journal.field.seq",
    "restored": "web.journal.field.restored",
    "previous": "web.journal.field.previous",
    "level": "web.journal.field.level",
    "late": "web.journal.field.late",
    "import": "web.journal.field.import",
    "id": "web.journal.field.id",
    "help_request": "web.journal.field.help_request",
    "failures": "web.journal.field.failures",
    "client": "web.journal.field.client",
    "windows": "web.journal.field.windows",
    "wait_seconds": "web.journal.field.wait_seconds",
    "valid": "web.journal.field.valid",
    "upheld": "web.journal.field.upheld",
    "until": "web.journal.field.until",
    "to_window": "web.journal.field.to_window",
    "to_business": "web.journal.field.to_business",
    "ticket": "web.journal.field.ticket",
    "start": "web.journal.field.start",
    "stage": "web.journal.field.stage",
    "slot": "web.journal.field.slot",
    "since": "web.journal.field.since",
    "sessions_ended": "web.journal.field.sessions_ended",
    "serves": "web.journal.field.serves",
    "role": "web.journal.field.role",
    "repeated": "web.journal.field.repeated",
    "recalls": "web.journal.field.recalls",
    "rating": "web.journal.field.rating",
    "rate": "web.journal.field.rate",
    "prompted_at": "web.journal.field.prompted_at",
    "problems": "web.journal.field.problems",
    "previous_day": "web.journal.field.previous_day",
    "place": "web.journal.field.place",
    "personal_data_days": "web.journal.field.personal_data_days",
    "ok": "web.journal.field.ok",
    "now": "web.journal.field.now",
    "no_shows": "web.journal.field.no_shows",
    "missing_required": "web.journal.field.missing_required",
    "kind": "web.journal.field.kind",
    "green_reason": "web.journal.field.green_reason",
    "from_business": "web.journal.field.from_business",
    "eased": "web.journal.field.eased",
    "due": "web.journal.field.due",
    "delivery": "web.journal.field.delivery",
    "deleted": "web.journal.field.deleted",
    "created": "web.journal.field.created",
    "count": "web.journal.field.count",
    "class": "web.journal.field.class",
    "changed": "web.journal.field.changed",
    "business_day": "web.journal.field.business_day",
    "before": "web.journal.field.before",
    "bad": "web.journal.field.bad",
    "auto_assign": "web.journal.field.auto_assign",
    "assign": "web.journal.field.assign",
    "appointment_no_shows": "web.journal.field.appointment_no_shows",
    "alert": "web.journal.field.alert",
    "console": "web.journal.field.console",
    "hash": "web.journal.field.hash",
    "file": "web.journal.field.file",
    "businesses": "web.journal.field.businesses",
    "items": "web.journal.field.items",
}
# the words of coded values (a ticket's class, a rating's stage, how a result is delivered)
VALUES = {
    ("class", "ordinary"): "web.journal.value.class.ordinary",
    ("class", "green"): "web.journal.value.class.green",
    ("class", "appointment"): "web.journal.value.class.appointment",
    ("stage", "window"): "web.journal.value.stage.window",
    ("delivery", "onsite"): "web.journal.value.delivery.onsite",
    ("delivery", "mail"): "web.journal.value.delivery.mail",
    # the words the consoles already say them with: an account's role, a day's kind, a green-channel reason
    ("role", "staff"): "web.common.clerk", ("role", "manager"): "web.common.manager",
    ("role", "admin"): "web.common.administrator",
    ("kind", "holiday"): "web.calendar.holiday", ("kind", "workday"): "web.calendar.workday",
    **{("green_reason", r): f"web.window.{r}" for r in ("elderly", "disabled", "pregnant", "military", "other")},
    # why a clerk cancelled a number (queue_server/domain/tickets.py CANCEL_REASONS): as the window console says it
    **{("reason", r): f"web.window.cancel_reason_{r}" for r in ("left", "duplicate", "wrong_business", "other")},
    ("source", "console"): "web.journal.value.source.console", ("source", "config"): "web.journal.value.source.config",
    # a business's settings changed in the console: as the services page labels them
    **{("changed", k): f"web.services.{k}" for k in ("daily_limit", "service_minutes", "name", "prefix", "active",
                                                      "appointment_target_minutes", "ordinary_target_minutes")},
    ("changed", "ticket_requires"): "web.services.needs",
    ("changed", "green_target_minutes"): "web.services.green_channel_target_minutes",
}
_BUSINESS_FIELDS = {"business", "from_business", "to_business", "serves"}
_MAYBE_BUSINESSES = {"previous", "restored"}  # a tidal window's businesses before and after (or a count, a role…)


def action_name(code: str, lang: str) -> str:
    """The action's name in ``lang``; a code not registered is shown as it is."""
    return actions.name(code, lang)


def business_name(code: Any, businesses: dict[str, Any], lang: str) -> str:
    """A business by its name (商事登记), not its code (``commerce``); an unknown code as it is."""
    b = businesses.get(code) if isinstance(code, str) else None
    return i18n.pick(b["name"], lang) if b else str(code)


def _all_businesses(v: Any, businesses: dict[str, Any]) -> bool:
    codes = v if isinstance(v, list) else [v]
    return bool(codes) and all(isinstance(c, str) and c in businesses for c in codes)


def _value(key: str, v: Any, lang: str, businesses: dict[str, Any]) -> str:
    if isinstance(v, bool):
        return i18n.text(_YES_NO[v], lang)
    if key in _BUSINESS_FIELDS or key in _MAYBE_BUSINESSES and _all_businesses(v, businesses):
        codes = v if isinstance(v, list) else [v]
        return "、".join(business_name(c, businesses, lang) for c in codes)
    if key == "level" and isinstance(v, int) and 1 <= v <= 5:
        return i18n.text(f"domain.rating_level.{v}", lang)
    if isinstance(v, str) and (key, v) in VALUES:
        return i18n.text(VALUES[key, v], lang)
    if isinstance(v, list):
        return "、".join(i18n.text(VALUES[key, x], lang) if isinstance(x, str) and (key, x) in VALUES else str(x)
                        for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{a}: {b}" for a, b in v.items())
    return str(v)


def _device_value(key: str, v: Any, kind: str, lang: str) -> str | None:
    """A device's health report (device_health): its kind and problem codes as words, as the consoles' attention bar
    says them (打印机 / 窗口屏; 窗口屏没有应答：…); None for its other fields."""
    if key == "kind" and isinstance(v, str):
        return i18n.pick(device_name(v), lang)
    if key == "problems" and isinstance(v, list):
        return "、".join(i18n.pick(t, lang) for t in problem_texts([str(c) for c in v], kind))
    return None


def details(data: dict[str, Any], lang: str, businesses: dict[str, Any] | None = None) -> str:
    """The entry's fields a person can read: named, empty values left out, booleans as 是/否, lists joined."""
    out = []
    device_kind = str(data.get("kind")) if "problems" in data and "device" in data else None  # a device_health entry
    for k, v in data.items():
        if v is None or v == "" or v == [] or v == {}:
            continue
        name = i18n.text(FIELDS[k], lang) if k in FIELDS else k
        value = _device_value(k, v, device_kind, lang) if device_kind is not None else None
        if value is None:
            value = _value(k, v, lang, businesses or {})
        out.append(i18n.text("web.journal.pair", lang, field=name, value=value))
    return i18n.text("web.journal.joiner", lang).join(out)
