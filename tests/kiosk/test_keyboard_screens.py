"""The on-screen pinyin keyboard on a real application form, drawn offscreen and typed on with real touches
(tests/kiosk/drive_keyboard.py in its own process: one Kivy window per process). Screenshots are saved
under test-artifacts/kiosk/keyboard-<layout>-<mode>-<lang>/ and checked like every other screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from hallq.testing import ROOT

ART = ROOT / "test-artifacts" / "kiosk"
SCRIPT = ROOT / "tests" / "kiosk" / "drive_keyboard.py"

COMBOS = [
    ("portrait", "normal", "zh-Hans"),      # the city hall's entrance kiosk
    ("landscape", "elderly", "zh-Hans"),    # the village station's counter kiosk
    ("portrait", "elderly", "en"),
    ("landscape", "normal", "zh-Hant"),
]


def drive(url: str, layout: str, mode: str, lang: str, text_input: str = "onscreen") -> dict[str, dict]:
    """Run the driver in its own process; every screenshot checked; the steps by name."""
    out = ART / (f"keyboard-{layout}-{mode}-{lang}" + ("-system" if text_input == "system" else ""))
    for old in out.glob("*.png"):
        old.unlink()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run([sys.executable, str(SCRIPT), url, str(out), layout, mode, lang, text_input], env=env,
                         capture_output=True, text=True, timeout=170, cwd=ROOT)
    report_path = out / "report.json"
    assert report_path.exists(), run.stderr[-3000:]
    report = json.loads(report_path.read_text("utf-8"))
    assert report["errors"] == [], "\n".join(report["errors"])
    assert report["window"] == ([1080, 1920] if layout == "portrait" else [1920, 1080])
    steps = {s["name"]: s for s in report["steps"]}
    for name, s in steps.items():
        assert "error" not in s, f"{name}: {s['error']}"
        assert s["problems"] == [], f"{name}: {s['problems']}"
        img = Image.open(s["png"]).convert("RGB")
        assert img.size == tuple(report["window"])
        header = img.getpixel((5, 5))
        assert header[2] > 100 and header[0] < 40, f"{name}: no header bar"
        colours = img.resize((270, 480) if layout == "portrait" else (480, 270)).getcolors(maxcolors=100_000)
        assert len(colours) > 20, f"{name}: the screenshot looks blank"
    return steps


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("layout, mode, lang", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_typing_chinese_on_the_application_form(city, layout, mode, lang):
    steps = drive(city.url, layout, mode, lang)
    assert steps["form"]["inputs"] == [] and set(steps["form"]["buttons"]) == {"bank_account", "address"}

    # tap the field: the keyboard opens on it, in pinyin mode (English letters for English), with large keys
    opened = steps["address-keyboard"]
    assert opened["field"] == "address" and opened["mode"] == ("en" if lang == "en" else "zh")
    assert opened["text"] == "" and not opened["symbols"]
    width, height = opened["key_size"]
    target = 120 if mode == "elderly" else 96
    assert height >= (target * 0.75 if layout == "landscape" else target) - 1 and width >= 60
    # "beijing" typed: 北京 is the first candidate; choosing it empties the pinyin
    typed = steps["address-beijing"]
    assert typed["pinyin"] == "beijing" and typed["shown"][0] == "北京" and len(typed["shown"]) >= 5
    assert steps["address-picked"]["text"] == "北京" and steps["address-picked"]["pinyin"] == ""
    # 确定 sends it: the presenter holds 北京, and the form shows it
    assert steps["address-sent"]["fields"]["address"] == "北京"
    # digits on the 123 page
    assert steps["account-keyboard"]["symbols"] and steps["account-keyboard"]["field"] == "bank_account"
    assert steps["account-digits"]["symbols"] and steps["account-digits"]["text"] == "6217001234567890"
    assert steps["account-sent"]["fields"]["bank_account"] == "6217001234567890"
    assert steps["account-sent"]["errors"] == {}
    # the field opens again with its value; 市, 12 and 号 are added on their pages
    assert steps["address-shi"]["text"] == "北京" and steps["address-shi"]["shown"][:3] == ["是", "时", "市"]
    assert steps["address-hao"]["text"] == "北京市12" and "号" in steps["address-hao"]["shown"]
    assert steps["address-english"]["mode"] == "en" and steps["address-english"]["text"] == "北京市12号B"
    assert steps["address-extended"]["fields"]["address"] == "北京市12号"
    assert steps["address-extended"]["fields"]["bank_account"] == "6217001234567890"
    # 路 typed, then another field opened without 确定: kept, shown, and sent with 下一步
    pending = steps["address-pending"]
    assert pending["pending"] == {"address": "北京市12号路"} and pending["buttons"]["address"] == "北京市12号路"
    assert pending["fields"]["address"] == "北京市12号" and pending["field"] == "bank_account"
    pressed = steps["next-pressed"]
    assert pressed["fields"]["address"] == "北京市12号路" and pressed["pending"] == {}
    assert set(pressed["errors"]) == {"contribution_level"}         # the one field left empty: still on the form
    # the visit wiped while typing in the (emptied) address: the next resident's form keeps nothing of it
    assert steps["typing"]["field"] == "address" and steps["typing"]["pinyin"] == "zhou"
    fresh = steps["next-visit"]
    assert "field" not in fresh and fresh["pending"] == {} and set(fresh["fields"].values()) == {""}
    assert set(fresh["buttons"].values()) == {"点此输入"}           # and in the kiosk's first language again


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_terminal_with_a_real_keyboard_keeps_the_text_inputs(city):
    """kiosk.text_input = "system": Kivy's TextInput and the system's IME; 下一步 sends what they hold."""
    steps = drive(city.url, "portrait", "normal", "zh-Hans", "system")
    assert steps["form"]["inputs"] == ["address", "bank_account"] and steps["form"]["buttons"] == {}
    assert steps["next-pressed"]["fields"]["address"] == "贵州省六盘水市钟山区"
    assert steps["next-pressed"]["fields"]["bank_account"] == "6217001234567890"
