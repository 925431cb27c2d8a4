"""One way to speak (hallq/i18n): every message by key from one catalogue per language.

* the committed catalogues are complete and the generated Traditional ones are fresh;
* the build finds what it must refuse (a key missing from English, a field lost, a
  generated file edited or stale, a reviewed word whose source changed, a key in two parts);
* a missing message raises in strict mode (the suite's) and falls back to Simplified without;
* a hall chooses Hong Kong or Taiwan Traditional Chinese;
* every key the kiosk's code names literally is in the catalogue.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from hallq import i18n
from hallq.i18n.build import build, fields, read_po
from hallq.testing import ROOT


@pytest.fixture
def locale(tmp_path, monkeypatch):
    """A copy of the catalogues the module reads instead of the committed ones."""
    copy = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, copy)
    monkeypatch.setattr(i18n, "LOCALE_DIR", copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_committed_catalogues_are_complete_and_fresh():
    assert build(check=True) == []
    parts = sorted(p.name for p in (i18n.LOCALE_DIR / "zh_Hans").glob("*.po"))
    assert "kiosk.po" in parts
    for lang in ("en", "zh_Hant_HK", "zh_Hant_TW"):
        assert sorted(p.name for p in (i18n.LOCALE_DIR / lang).glob("*.po")) == parts


def test_a_message_missing_from_english_is_found(locale):
    path = locale / "en" / "kiosk.po"
    _edit(path, 'msgid "kiosk.apply.address"\nmsgstr "Postal address"\n', "")
    assert build(locale, check=True) == ["en/kiosk.po: kiosk.apply.address is missing"]


def test_a_field_lost_in_translation_is_found(locale):
    source = read_po(locale / "zh_Hans" / "kiosk.po")
    key = next(k for k, m in sorted(source.items()) if fields(m))
    english = read_po(locale / "en" / "kiosk.po")[key]
    field = sorted(fields(english))[0]
    _edit(locale / "en" / "kiosk.po", f'msgstr "{english}"', f'msgstr "{english.replace("{" + field + "}", "{oops}")}"')
    problems = build(locale, check=True)
    assert len(problems) == 1 and problems[0].startswith(f"en/kiosk.po: {key} has fields ")


def test_a_hand_edited_or_stale_traditional_catalogue_is_found(locale):
    _edit(locale / "zh_Hant_TW" / "kiosk.po", "郵寄地址", "郵遞地址")
    assert build(locale, check=True) == ["zh_Hant_TW/kiosk.po is stale: run python -m hallq.i18n.build"]
    assert build(locale) == []  # regenerated
    assert build(locale, check=True) == []
    assert "郵寄地址" in (locale / "zh_Hant_TW" / "kiosk.po").read_text(encoding="utf-8")


def test_a_reviewed_message_whose_source_changed_stops_the_build(locale):
    _edit(locale / "zh_Hans" / "kiosk.po", "（指南内容为中文）", "（指南内容只有中文）")
    before = (locale / "zh_Hant_TW" / "kiosk.po").read_text(encoding="utf-8")
    problems = build(locale)
    assert any("kiosk.guide.chinese_only was reviewed for" in p for p in problems), problems
    assert (locale / "zh_Hant_TW" / "kiosk.po").read_text(encoding="utf-8") == before  # nothing half-written


def test_a_key_in_two_parts_is_found(locale):
    for lang in ("zh_Hans", "en"):
        text = (locale / lang / "kiosk.po").read_text(encoding="utf-8")
        (locale / lang / "other.po").write_text(text, encoding="utf-8")
    problems = build(locale, check=True)
    assert any("kiosk.apply.address is also in kiosk.po" in p for p in problems)


def test_a_fourth_language_is_a_new_catalogue_not_code(locale, monkeypatch):
    """Uyghur (ug) for a hall in Xinjiang: a directory of PO files and the hall's language list."""
    with pytest.raises(ValueError, match="no catalogue for language 'ug'"):
        i18n.use_languages(["zh-Hans", "ug"])
    (locale / "ug").mkdir()
    (locale / "ug" / "kiosk.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "kiosk.apply.address"\nmsgstr "پوچتا ئادرېسى"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "_languages", i18n.LANGS)
    i18n.use_languages(["zh-Hans", "ug"])
    assert i18n.texts("kiosk.apply.address") == {"zh-Hans": "邮寄地址", "ug": "پوچتا ئادرېسى"}


def test_a_missing_message_raises_in_strict_mode_and_falls_back_without(locale, monkeypatch):
    _edit(locale / "en" / "kiosk.po", 'msgid "kiosk.apply.address"\nmsgstr "Postal address"\n', "")
    monkeypatch.setenv("HALLQ_I18N_STRICT", "1")
    with pytest.raises(i18n.MissingMessage, match="kiosk.apply.address"):
        i18n.text("kiosk.apply.address", "en")
    monkeypatch.setenv("HALLQ_I18N_STRICT", "0")
    assert i18n.text("kiosk.apply.address", "en") == "邮寄地址"
    with pytest.raises(i18n.MissingMessage):  # no language has it: always an error
        i18n.text("kiosk.no.such.message", "en")


def test_a_hall_chooses_hong_kong_or_taiwan_traditional(monkeypatch):
    monkeypatch.setattr(i18n, "_traditional", "hk")
    key = next(k for k, m in i18n.catalogue("zh-Hans").items() if "身份证" in m)
    hk = i18n.text(key, "zh-Hant")
    i18n.use_traditional("tw")
    tw = i18n.text(key, "zh-Hant")
    assert "身份證" in hk and "身分證" in tw
    printed = next(k for k, m in i18n.catalogue("zh-Hans").items() if "打印" in m and "打印机" not in m)  # 印表機
    assert "列印" in i18n.text(printed, "zh-Hant")  # Taiwan phrasing (s2twp); Hong Kong keeps 打印
    with pytest.raises(ValueError):
        i18n.use_traditional("sg")


def test_fields_are_filled_and_configured_texts_fall_back_to_simplified():
    key = next(k for k, m in sorted(i18n.catalogue("zh-Hans").items()) if fields(m))
    params = {f: "⟨x⟩" for f in fields(i18n.text(key))}
    for lang in i18n.LANGS:
        assert "⟨x⟩" in i18n.text(key, lang, **params)
    assert i18n.pick({"zh-Hans": "综合窗口", "en": ""}, "en") == "综合窗口"
    assert i18n.pick(None) == ""


def _literal_kiosk_keys() -> list[tuple[str, int, str]]:
    """Keys the kiosk's code names as a literal first argument of ``tr``/``t``/``texts``."""
    out = []
    for path in sorted((ROOT / "kiosk").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in ("tr", "t", "texts"):
                    out.append((str(path.relative_to(ROOT)), node.lineno, node.args[0].value))
    return out


def test_every_key_the_kiosk_names_is_in_every_catalogue():
    found = _literal_kiosk_keys()
    assert len(found) > 50
    missing = [f"{where}:{line}: kiosk.{key}" for where, line, key in found
               if any(f"kiosk.{key}" not in i18n.catalogue(lang) for lang in ("zh-Hans", "en"))]
    assert not missing, "\n".join(missing)
