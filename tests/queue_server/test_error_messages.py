"""Every refusal of the server names its message by a key of the catalogue ``errors.po``.

Read from the source (AST): each ``"error.…"`` string the server holds is a key of the
Simplified and the English catalogues, each key of ``errors.po`` is used (and the same for
the domain's other words, ``"domain.…"`` in ``domain.po``), no refusal is
built from sentences given in place (the three positional strings of old), and a refusal
the API gives in Traditional Chinese is the hall's generated catalogue (Hong Kong by default).
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from hallq import i18n
from hallq.i18n import LOCALE_DIR, read_po
from hallq.testing import ROOT
from hallq.targets import CLASSES as TARGET_CLASSES
from queue_server.api import HTTP_ERRORS
from queue_server.domain.actions import ACTIONS
from queue_server.domain.attention import KINDS as DEVICE_KINDS, PROBLEMS as DEVICE_PROBLEMS
from queue_server.domain.ratings import LEVELS
from queue_server.domain.applications import TRANSITIONS
from queue_server.domain.appointments import HOLIDAYS
from queue_server.domain.app_statistics import GROUPS as APP_GROUPS
from queue_server.domain.statistics import GROUPS as STATS_GROUPS
from queue_server.readmodel.app_stats import COLUMNS as APP_COLUMNS
from queue_server.readmodel.stats import COLUMNS

SOURCES = ("queue_server", "hallq", "device_gateway")
KEY = re.compile(r"(error|domain)\.[a-z0-9_]+(\.[a-z0-9_]+)*")
PARTS = {"errors.po": "error.", "domain.po": "domain."}
# a key made by an f-string: its template ({} for each value) and every key it can be
COMPUTED = {
    "error.booking.{}": {"not_a_working_day", "too_soon", "too_far_ahead"},  # appointments.day_refusal
    "error.identity_required.{}": {"id", "phone", "id_or_phone"},  # a business's ticket_requires
    "error.outside_hours.{}": {"closed_today", "before_opening", "after_closing", "break"},  # issuing_state
    "error.http.{}": set(HTTP_ERRORS.values()),  # what werkzeug refuses before a view runs
    "error.invalid_targets.{}": set(TARGET_CLASSES),  # hall_settings._targets: each target's problems
    "domain.journal.{}": set(ACTIONS),
    "domain.progress.{}": set(TRANSITIONS) | {s for tos in TRANSITIONS.values() for s in tos},
    "domain.application.note.{}": {"submitted", "pre_review", "pre_review_again", "supplemented", "accepted",
                                   "accepted_no_date", "correction", "rejected", "result_ready_onsite",
                                   "result_ready_mail", "delivered_onsite", "delivered_mail"},  # applications._note
    "domain.stats.column.{}": set(COLUMNS),
    "domain.stats.sheet.{}": set(STATS_GROUPS),  # api/stats.py: export, the Excel sheet's name
    "domain.stats.app_column.{}": set(APP_COLUMNS),  # readmodel/app_stats.py: column_name
    "domain.stats.app_sheet.{}": set(APP_GROUPS),  # api/stats.py: get_application_statistics, the sheet's name
    "domain.holiday.{}": set(HOLIDAYS.values()),
    "domain.device_problem.{}": set(DEVICE_PROBLEMS),  # attention.problem_texts
    "domain.device_kind.{}": set(DEVICE_KINDS) | {"other"},  # attention.device_name
    "domain.rating_level.{}": set(LEVELS),  # ratings.level_name
}
RESERVED = {"code", "status", "detail"}  # DomainError's own keywords: never a message's field


def _sources() -> list[Path]:
    return sorted(p for part in SOURCES for p in (ROOT / part).rglob("*.py"))


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """DomainError and every class deriving from it (by name, followed to a fixed point), and Malformed."""
    names = {"DomainError", "Malformed"}
    while True:
        more = {n.name for tree in trees.values() for n in ast.walk(tree) if isinstance(n, ast.ClassDef)
                and any(isinstance(b, ast.Name) and b.id in names for b in n.bases)} - names
        if not more:
            return names
        names |= more


def _site(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


@pytest.fixture(scope="module")
def trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in _sources()}


@pytest.fixture(scope="module")
def used(trees) -> dict[str, list[str]]:
    """Every key the source names: ``"error.…"`` literals and the keys of the f-strings in COMPUTED."""
    keys: dict[str, list[str]] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY.fullmatch(node.value):
                keys.setdefault(node.value, []).append(_site(path, node))
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant) \
                    and str(node.values[0].value).startswith(tuple(PARTS.values())):
                template = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
                assert template in COMPUTED, f"{_site(path, node)}: declare the keys {template!r} can be in COMPUTED"
                for value in COMPUTED[template]:
                    keys.setdefault(template.format(value), []).append(_site(path, node))
    return keys


@pytest.mark.parametrize("part", PARTS)
def test_every_key_the_server_names_is_in_the_simplified_and_english_catalogues(used, part):
    named = {k: sites for k, sites in used.items() if k.startswith(PARTS[part])}
    assert len(named) > 100  # the scan sees the refusals, the journal actions...
    for lang in ("zh_Hans", "en"):
        catalogue = read_po(LOCALE_DIR / lang / part)
        missing = {k: sites for k, sites in named.items() if k not in catalogue}
        assert not missing, f"keys missing from {lang}/{part}: {missing}"


@pytest.mark.parametrize("part", PARTS)
def test_every_message_of_errors_and_domain_po_is_used(used, part):
    unused = set(read_po(LOCALE_DIR / "zh_Hans" / part)) - set(used)
    assert not unused, f"messages the source names no more (remove them from {part}): {sorted(unused)}"


def test_no_message_has_a_field_named_like_a_keyword_of_domain_error():
    for key, message in read_po(LOCALE_DIR / "zh_Hans" / "errors.po").items():
        fields = {f for _, f, _, _ in string.Formatter().parse(message) if f}
        assert not fields & RESERVED, f"{key}: the field {fields & RESERVED} would be taken as DomainError's keyword"


def test_every_refusal_names_a_key_and_none_gives_its_sentences_in_place(trees):
    classes = _error_classes(trees)
    assert {"NotFound", "Conflict", "Invalid", "Forbidden", "Unauthorized", "BadRequest"} <= classes
    calls = 0
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            if name not in classes:
                continue
            calls += 1
            assert len(node.args) <= 1, f"{_site(path, node)}: {name}(key, **fields), not the sentences in place"
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant):
                assert KEY.fullmatch(str(first.value)), f"{_site(path, node)}: {first.value!r} is not a key error.*"
            elif isinstance(first, ast.JoinedStr):
                assert isinstance(first.values[0], ast.Constant) and first.values[0].value.startswith("error."), \
                    f"{_site(path, node)}: a computed key must begin with error."
    assert calls > 150


def test_a_refusal_in_traditional_chinese_comes_from_the_hall_catalogue(api):
    r = api.get("/applications", as_="kiosk")  # a kiosk must give the ID number read from the card
    err = r.get_json()["error"]
    assert r.status_code == 400 and err["code"] == "invalid_fields"
    key = "error.applications.id_number_required"
    hk, tw = (read_po(LOCALE_DIR / f"zh_Hant_{v}" / "errors.po")[key] for v in ("HK", "TW"))
    assert i18n.traditional() == "hk" and err["messages"]["zh-Hant"] == hk == "請刷身份證查詢辦理進度。"
    assert tw == "請刷身分證查詢辦理進度。"  # a hall in Taiwan would read 身分證
    assert err["messages"]["zh-Hans"] == i18n.text(key) and err["messages"]["en"] == i18n.text(key, "en")
