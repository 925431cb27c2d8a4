"""No message is written in code: every user-facing text is a key of one catalogue per language.

Read from the source (AST) of every package: a dict literal keyed by languages
(``"zh-Hant"``, or ``"zh-Hans"`` with ``"en"``) whose values are strings or f-strings (or
tables of them), and three strings in a row (a tuple, a list, a call's arguments) that are the
same words in Simplified and Traditional Chinese and in English, are a message written in
place, where a catalogue key belongs (docs/i18n.md: add the key to
``hallq/locale/zh_Hans/<part>.po`` and ``en/<part>.po``, then ``i18n.text``/``texts``).
The few dicts keyed by language that are not translations are in ALLOWED, each with its
reason. A text the hall configures (a business's name) is read from its files, never a
literal, so it is not seen here.

And for the parts no other test scans (``common.po``, ``devices.po``, ``simulation.po``):
every key the source names is in the Simplified and the English catalogues, and every
message of theirs is named somewhere.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from device_gateway.actions import SIMPLE
from hallq.i18n import LOCALE_DIR, read_po
from hallq.targets import CLASSES, PROMISES
from hallq.testing import ROOT
from simulation.stats import LABELS

PACKAGES = ("hallq", "queue_server", "kiosk", "display_board", "device_gateway", "device_drivers", "launcher",
            "simulation")
LANGS = {"zh-Hans", "zh-Hant", "en"}
CJK = re.compile(r"[\u4e00-\u9fff]")
# (file, the name the dict is assigned to): why it is not a message
ALLOWED = {
    ("kiosk/presenters/home.py", "LANG_NAMES"): "each language's name in itself (endonyms): the language "
                                                "button reads the same whatever language the screen is in",
    ("kiosk/presenters/forms.py", "BABEL_LOCALES"): "the Babel locale of each language, not a text",
    ("kiosk/voice.py", "VOICES"): "the espeak-ng voice of each language, not a text",
}
# the parts this test guards, and the keys the source makes with an f-string: template -> every key it can be
PARTS = {"common.po": "common.", "devices.po": "devices.", "simulation.po": "simulation."}
KEY = re.compile(r"(common|devices|simulation)\.[a-z0-9_]+(\.[a-z0-9_]+)*")
COMPUTED = {
    "common.targets.{}.range": set(CLASSES),  # hallq.targets.problems
    "common.targets.{}.looser": set(PROMISES),
    "common.targets.{}.unkeepable": set(PROMISES),
    "simulation.{}": set(LABELS),  # simulation.stats.labels
    "devices.keypad.done.{}": set(SIMPLE),  # device_gateway.actions: a key done at once
}
# strings shaped like a key that are not messages: file and module names, a scenario file's key paths
NOT_KEYS = {"devices.toml", "simulation.toml", "simulation.cli", "simulation.date", "simulation.staff",
            "simulation.manager", "simulation.staff.{}"}


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _written(node: ast.AST) -> str | None:
    """The text of a string or f-string literal (``{}`` for each value), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _is_text(node: ast.AST) -> bool:
    """A string or f-string literal, or a dict, tuple or list literal holding one."""
    if _written(node) is not None:
        return True
    inner = node.values if isinstance(node, ast.Dict) else node.elts if isinstance(node, (ast.Tuple, ast.List)) else []
    return any(_written(v) is not None for v in inner)


def _three_languages(values: list[ast.expr]) -> bool:
    """Three literals in a row that read as (Simplified, Traditional, English) in any order: two Chinese
    strings of the same length that differ (their characters' forms) and one in Latin letters."""
    said = [_written(v) for v in values]
    for i in range(len(said) - 2):
        row = said[i:i + 3]
        if None in row:
            continue
        chinese = [t for t in row if t and CJK.search(t)]
        latin = [t for t in row if t and not CJK.search(t) and re.search("[A-Za-z]", t)]
        if len(chinese) == 2 and len(latin) == 1 and chinese[0] != chinese[1] and len(chinese[0]) == len(chinese[1]):
            return True
    return False


def texts_in_code(path: Path, source: str | None = None) -> list[str]:
    """``file:line (name)`` of every dict literal in ``path`` that is a message written in several languages."""
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    names: dict[int, str] = {}  # id of a dict -> the name it is assigned to
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names[id(node.value)] = next((t.id for t in targets if isinstance(t, ast.Name)), "")
    try:
        where = str(path.relative_to(ROOT))
    except ValueError:
        where = str(path)
    found = []
    for node in ast.walk(tree):
        row = node.elts if isinstance(node, (ast.Tuple, ast.List)) else node.args if isinstance(node, ast.Call) else []
        if row and _three_languages(row):
            found.append(f"{where}:{node.lineno}")
        if not isinstance(node, ast.Dict):
            continue
        by_lang = {k.value: v for k, v in zip(node.keys, node.values)
                   if isinstance(k, ast.Constant) and k.value in LANGS}
        if not ("zh-Hant" in by_lang or {"zh-Hans", "en"} <= set(by_lang)):
            continue
        if not any(_is_text(v) for v in by_lang.values()):
            continue  # values computed from a catalogue or the hall's config
        name = names.get(id(node), "")
        if (where, name) not in ALLOWED:
            found.append(f"{where}:{node.lineno}" + (f" ({name})" if name else ""))
    return found


def test_no_message_is_written_in_several_languages_in_code():
    found = [site for path in _sources() for site in texts_in_code(path)]
    assert not found, ("a message written in code in several languages; give it a key in hallq/locale/"
                       f"zh_Hans/<part>.po and en/<part>.po (docs/i18n.md): {found}")


def test_every_exception_still_exists():
    """An entry of ALLOWED whose dict is gone is removed, so the list only says what is true."""
    assigned = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                assigned |= {(str(path.relative_to(ROOT)), t.id) for t in node.targets if isinstance(t, ast.Name)}
    assert set(ALLOWED) <= assigned, set(ALLOWED) - assigned


@pytest.mark.parametrize("written, line, name", [
    ('say({"zh-Hans": "请稍候", "zh-Hant": "請稍候", "en": "Please wait"})', 1, ""),
    ('def f(n):\n    return {"zh-Hans": f"{n}号", "en": f"No. {n}"}', 2, ""),  # no zh-Hant: still a message
    ('GREETING = {"zh-Hant": "歡迎"}', 1, "GREETING"),
    ('LANG_NAMES = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}', 1, "LANG_NAMES"),  # home.py's only
    ('LABELS = {"zh-Hans": {"total": "全厅"}, "en": {"total": "Whole hall"}}', 1, "LABELS"),  # a table per language
    ('PROBLEMS = {"paper_out": ("缺纸", "缺紙", "out of paper")}', 1, ""),  # (zh-Hans, zh-Hant, en)
    ('raise InvalidIdNumber("the check digit", "校验位不正确", "校驗位不正確")', 1, ""),  # in a call, any order
    ('out.append((k, f"{zh}目标应为 {lo} 分钟", f"{hant}目標應為 {lo} 分鐘", f"must be {lo}"))', 1, ""),
])
def test_the_scan_finds_a_message_planted_in_a_module(tmp_path, written, line, name):
    planted = tmp_path / "planted.py"
    planted.write_text(written + "\n", encoding="utf-8")
    assert texts_in_code(planted) == [f"{planted}:{line}" + (f" ({name})" if name else "")]


@pytest.mark.parametrize("clean", [
    '{"zh-Hans": text("x.y", "zh-Hans"), "en": text("x.y", "en")}',  # from the catalogue
    '{lang: text("x.y", lang) for lang in languages()}',
    'said = {"zh-Hans": name, "zh-Hant": hant or name, "en": en or code}',  # the hall's own config
    '{"zh-Hans": "计数", "count": 3}',  # one language is no translation
    'ONLINE = ("全程网办", "网上预审", "窗口办理")',  # Chinese words, not one word in three languages
    'log.info("%s %s 第%d行: %s", label, name, n, line)',
])
def test_the_scan_leaves_what_comes_from_a_catalogue_or_the_config(tmp_path, clean):
    planted = tmp_path / "clean.py"
    planted.write_text(clean + "\n", encoding="utf-8")
    assert texts_in_code(planted) == []


@pytest.fixture(scope="module")
def used() -> dict[str, list[str]]:
    """Every key of the guarded parts the source names: literals, and the keys of the f-strings in COMPUTED."""
    keys: dict[str, list[str]] = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            site = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY.fullmatch(node.value) \
                    and node.value not in NOT_KEYS:
                keys.setdefault(node.value, []).append(site)
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant) \
                    and str(node.values[0].value).startswith(tuple(PARTS.values())):
                template = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
                if template in NOT_KEYS:
                    continue
                assert template in COMPUTED, f"{site}: declare the keys {template!r} can be in COMPUTED"
                for value in COMPUTED[template]:
                    keys.setdefault(template.format(value), []).append(site)
    return keys


@pytest.mark.parametrize("part", PARTS)
def test_every_key_named_is_in_the_simplified_and_english_catalogues(used, part):
    named = {k: sites for k, sites in used.items() if k.startswith(PARTS[part])}
    assert named
    for lang in ("zh_Hans", "en"):
        catalogue = read_po(LOCALE_DIR / lang / part)
        missing = {k: sites for k, sites in named.items() if k not in catalogue}
        assert not missing, f"keys missing from {lang}/{part}: {missing}"


@pytest.mark.parametrize("part", PARTS)
def test_every_message_of_the_part_is_named(used, part):
    unused = set(read_po(LOCALE_DIR / "zh_Hans" / part)) - set(used)
    assert not unused, f"messages the source names no more (remove them from {part}): {sorted(unused)}"
