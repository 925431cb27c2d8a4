"""Application forms: the fields a service item asks for, checked one by one.

A form is defined per item in services.toml (``form = [...]``, schema in
hallq/hallconfig.py). Every value is checked against its field; every
problem is reported at once, each with a sentence in three languages that
names the field, so a kiosk can show it beside the input and keep what was
typed. ID numbers typed into a form (e.g. a child's, a proxy's) are checked
and kept masked only: the clerk checks the original documents.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hallq.i18n import t3
from hallq.privacy import IdNumber, InvalidIdNumber, normalise_phone

DEFAULT_MAX = {"text": 200, "textarea": 2000}

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
            problems.append((prefix + str(key), "unknown_field", t3(
                f"表单中没有“{key}”这一项。", f"表單中沒有「{key}」這一項。", f"The form has no field \"{key}\".")))
    for f in form:
        key, path = f["key"], prefix + f["key"]
        raw = values.get(key)
        empty = raw is None or (isinstance(raw, str) and not raw.strip())
        if empty:
            if f.get("required") and not (partial and key not in values):
                problems.append((path, "required", _say(f, "请填写{l}。", "請填寫{l}。", "{l}: please fill this in.")))
            continue
        value, problem = _check_value(f, raw, today)
        if problem is not None:
            problems.append((path, problem[0], problem[1]))
        else:
            clean[key] = value
    return clean, problems


def _say(f: dict[str, Any], zh: str, hant: str, en: str, **kw: Any) -> dict[str, str]:
    label = f["label"]
    return t3(zh.format(l=label.get("zh-Hans", f["key"]), **kw), hant.format(l=label.get("zh-Hant") or
              label.get("zh-Hans", f["key"]), **kw), en.format(l=label.get("en") or f["key"], **kw))


def _check_value(f: dict[str, Any], raw: Any, today: date) -> tuple[Any, tuple[str, dict[str, str]] | None]:
    kind = f["type"]
    if kind == "number":
        return _number(f, raw)
    if not isinstance(raw, str):
        return None, ("wrong_type", _say(f, "{l}应为文字。", "{l}應為文字。", "{l}: enter text."))
    text = raw.strip()
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat(), None
        except ValueError:
            return None, ("invalid_date", _say(f, "{l}不是有效日期，格式如 2026-11-23。", "{l}不是有效日期，格式如 2026-11-23。",
                                               "{l}: not a valid date (like 2026-11-23)."))
    if kind == "phone":
        try:
            return normalise_phone(text), None
        except ValueError:
            return None, ("invalid_phone", _say(f, "{l}有误，请输入11位手机号码或带区号的固定电话。",
                                                "{l}有誤，請輸入11位手機號碼或帶區號的固定電話。",
                                                "{l}: not a valid phone number."))
    if kind == "id_number":
        try:
            return IdNumber.parse(text, today=today).masked, None
        except InvalidIdNumber as e:
            said = _say(f, "{l}有误：", "{l}有誤：", "{l}: not valid: ")
            return None, ("invalid_id_number", t3(said["zh-Hans"] + e.reason_zh + "。",
                                                  said["zh-Hant"] + e.reason_hant + "。", said["en"] + e.reason + "."))
    if kind == "select":
        values = [o["value"] for o in f.get("options", [])]
        if text not in values:
            return None, ("not_an_option", _say(f, "请从列表中选择{l}。", "請從列表中選擇{l}。", "{l}: choose one from the list."))
        return text, None
    limit = f.get("max_len", DEFAULT_MAX.get(kind, 200))
    if len(text) > limit:
        return None, ("too_long", _say(f, "{l}不能超过{n}个字。", "{l}不能超過{n}個字。", "{l}: at most {n} characters.",
                                       n=limit))
    if f.get("pattern") and not re.fullmatch(f["pattern"], text):
        said = _say(f, "{l}格式不正确", "{l}格式不正確", "{l}: wrong format")
        hint = f.get("hint") or {}
        ends = {k: (f" ({hint[k]})." if k == "en" else f"（{hint[k]}）。") if hint.get(k) else ("." if k == "en" else "。")
                for k in said}
        return None, ("wrong_format", {k: said[k] + ends[k] for k in said})
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
        return None, ("not_a_number", _say(f, "{l}应填写数字。", "{l}應填寫數字。", "{l}: enter a number."))
    if f.get("min") is not None and value < f["min"] or f.get("max") is not None and value > f["max"]:
        lo, hi = f.get("min", ""), f.get("max", "")
        return None, ("out_of_range", _say(f, "{l}应在 {lo} 到 {hi} 之间。", "{l}應在 {lo} 到 {hi} 之間。",
                                           "{l}: must be from {lo} to {hi}.", lo=lo, hi=hi))
    return (int(value) if float(value).is_integer() else value), None
