"""Every kiosk screen drawn for real (Kivy offscreen), saved under test-artifacts/kiosk/, and checked:
touch targets ≥ 60 dp, text ≥ 18 sp (main actions ≥ 30 sp in elderly mode), nothing clipped or off
screen, the CJK font in use. Each combination runs in its own process (one Kivy window per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import zxingcpp
from PIL import Image

from hallq.testing import ROOT

ART = ROOT / "test-artifacts" / "kiosk"
SCRIPT = ROOT / "tests" / "kiosk" / "render_screens.py"
EVERY = None
SOME = ("home,take-business,take-result,take-paper-out,guide-detail,book-day,book-slot,book-person-errors,"
        "apply-form-errors,help")

COMBOS = [  # (the first two draw all 34 screens, the others a chain of 10)
    ("portrait", "normal", "zh-Hans", EVERY),      # the city hall's entrance kiosk
    ("landscape", "elderly", "zh-Hans", EVERY),    # the village station's counter kiosk
    ("portrait", "elderly", "en", SOME),
    ("landscape", "normal", "zh-Hant", SOME),
]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("layout, mode, lang, only", COMBOS, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in COMBOS])
def test_every_screen_renders_readably(city, layout, mode, lang, only):
    out = ART / f"{layout}-{mode}-{lang}"
    for old in out.glob("*.png"):
        old.unlink()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    argv = [sys.executable, str(SCRIPT), city.url, str(out), layout, mode, lang] + ([only] if only else [])
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=280, cwd=ROOT)
    report_path = out / "report.json"
    assert report_path.exists(), run.stderr[-3000:]
    report = json.loads(report_path.read_text("utf-8"))
    assert all("wqy-microhei" in f for f in report["font"])          # Kivy's DEFAULT_FONT is the CJK font
    assert report["window"] == ([1080, 1920] if layout == "portrait" else [1920, 1080])
    expected = len(only.split(",")) if only else 34
    assert len(report["screens"]) == expected
    for name, screen in report["screens"].items():
        assert "error" not in screen, f"{name}: {screen.get('error')}\n{screen.get('trace')}"
        assert screen["problems"] == [], f"{name}: {screen['problems']}"
        img = Image.open(screen["png"]).convert("RGB")
        assert img.size == tuple(report["window"])
        colours = img.resize((270, 480) if layout == "portrait" else (480, 270)).getcolors(maxcolors=100_000)
        assert len(colours) > 20, f"{name}: the screenshot looks blank"
        header = img.getpixel((5, 5))
        assert header[2] > 100 and header[0] < 40, f"{name}: no header bar"    # the dark blue header
        if screen["qr"]:   # the QR on the screen is real: a phone (here zxing-cpp) reads the same text back
            assert [b.text for b in zxingcpp.read_barcodes(img)] == [screen["qr"]], name


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_village_station_item_list_in_landscape_elderly_mode_shows_whole_rows_and_its_way_out(village):
    """Issue 17: at the station's counter kiosk the item list showed 2.5 of 11 rows (the third cut), "不确定"
    (the last item) was off-screen, and the two green-channel buttons took 40 % of the height."""
    out = ART / "village-landscape-elderly-zh-Hans"
    for old in out.glob("*.png"):
        old.unlink()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    argv = [sys.executable, str(SCRIPT), village.url, str(out), "landscape", "elderly", "zh-Hans", "", "village"]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, cwd=ROOT)
    report_path = out / "report.json"
    assert report_path.exists(), run.stderr[-3000:]
    report = json.loads(report_path.read_text("utf-8"))
    for name, screen in report["screens"].items():
        assert "error" not in screen, f"{name}: {screen.get('error')}\n{screen.get('trace')}"
        assert screen["problems"] == [], f"{name}: {screen['problems']}"
    targets = report["screens"]["take-item"]["targets"]
    items = [t for t in targets if t["in_list"]]
    assert len(items) == 10                                   # the station's ten items, and "不确定" apart
    assert sum(t["in_sight"] for t in items) >= 6             # at least six whole rows' worth in sight, none cut
    unsure = next(t for t in targets if t["key"] == "__none__")
    assert not unsure["in_list"] and unsure["box"][1] >= 0     # always in sight, never scrolled away
    green = [t for t in targets if t["key"].startswith("green_")]
    assert len(green) == 2
    _, height = report["window"]
    assert sum(t["box"][3] for t in green) <= 0.25 * height
    # beside the list, not under it: the list has the screen's height
    assert all(g["box"][0] + g["box"][2] <= min(t["box"][0] for t in items) for g in green)
