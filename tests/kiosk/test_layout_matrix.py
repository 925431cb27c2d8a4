"""Every kiosk screen at every supported size and orientation, in both modes and the three languages, measured
from the drawn widgets (tests/kiosk/screen_checks.py): no text clipped or drawn over another, every touch target
≥ 60×60 dp, text ≥ 18 sp (main actions ≥ 30 sp in elderly mode), text at a contrast of at least 4.5:1 against what
is behind it, no tile cut at the edge of its list, nothing off screen.

The whole matrix is 2 orientations × 2 resolutions × 2 modes × 3 languages = 24 combinations of the city hall's
34 screens, and the same 24 of the village station's kiosk: about 10 minutes on two cores. By default a
representative part runs (what test_screens.py does not draw: 720p, Traditional Chinese and English in
elderly mode, where texts are largest, both halls); ``HALLQ_LAYOUT_MATRIX=full`` runs all of it. Each
combination is one Kivy process that draws each screen once.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest

from hallq.testing import ROOT

ART = ROOT / "test-artifacts" / "kiosk-matrix"
SCRIPT = ROOT / "tests" / "kiosk" / "render_screens.py"
FULL = os.environ.get("HALLQ_LAYOUT_MATRIX") == "full"

ALL = list(itertools.product(("city", "village"), ("portrait", "landscape"), ("1080p", "720p"),
                             ("normal", "elderly"), ("zh-Hans", "zh-Hant", "en")))
SOME = [("city", "portrait", "720p", "elderly", "zh-Hant"), ("city", "landscape", "720p", "elderly", "en"),
        ("village", "landscape", "720p", "elderly", "en"), ("village", "portrait", "1080p", "normal", "zh-Hant")]
COMBOS = ALL if FULL else SOME


def draw(url: str, hall: str, layout: str, resolution: str, mode: str, lang: str) -> dict:
    out = ART / f"{hall}-{layout}-{resolution}-{mode}-{lang}"
    for old in out.glob("*.png"):
        old.unlink()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "KIVY_METRICS_DENSITY")}
    argv = [sys.executable, str(SCRIPT), url, str(out), layout, mode, lang, "", hall, resolution]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=280, cwd=ROOT)
    report_path = out / "report.json"
    assert report_path.exists(), run.stderr[-3000:]
    return json.loads(report_path.read_text("utf-8"))


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("hall, layout, resolution, mode, lang", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_every_screen_at_every_size_mode_and_language(request, hall, layout, resolution, mode, lang):
    server = request.getfixturevalue(hall)
    report = draw(server.url, hall, layout, resolution, mode, lang)
    short, long = (720, 1280) if resolution == "720p" else (1080, 1920)
    assert report["window"] == ([short, long] if layout == "portrait" else [long, short])
    assert len(report["screens"]) == (34 if hall == "city" else 6)
    problems = {name: s.get("error") or s["problems"] for name, s in report["screens"].items()
                if s.get("error") or s["problems"]}
    assert problems == {}
