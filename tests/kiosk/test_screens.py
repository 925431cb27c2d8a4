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

COMBOS = [  # (the first two draw all 32 screens, the others a chain of 10)
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
    expected = len(only.split(",")) if only else 32
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
