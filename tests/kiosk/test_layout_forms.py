"""The kiosk's layout check on its forms (test_layout_matrix.py draws every screen; this draws the longest forms with
the on-screen keyboard open): the sample catalogues' two longest item forms per hall, every 一件事 package's merged
form and the applicant's step, with the keyboard (or keypad) opened by a tap on the last field a resident types
into. Measured from the drawn widgets (tests/kiosk/screen_checks.py): the focused field and its label whole above
the keyboard, every field whole in the form's view once scrolled to, the primary button (下一步) in the window and
not covered, a scroll bar drawn at rest when the fields overflow, and every check of the other screens (no text
clipped, touch targets ≥ 60 dp, text size, contrast).

By default the same representative combinations as test_layout_matrix.py, plus 1080p portrait elderly zh-Hans
(the largest texts in the tallest window); ``HALLQ_LAYOUT_MATRIX=full`` runs the whole matrix (both halls,
2 orientations × 2 resolutions × 2 modes × 3 languages). Screenshots in test-artifacts/kiosk-forms/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hallq.testing import ROOT
from tests.kiosk.test_layout_matrix import ALL, FULL, SOME

ART = ROOT / "test-artifacts" / "kiosk-forms"
SCRIPT = ROOT / "tests" / "kiosk" / "render_forms.py"
COMBOS = ALL if FULL else [("city", "portrait", "1080p", "elderly", "zh-Hans"), *SOME]


def draw(url: str, hall: str, layout: str, resolution: str, mode: str, lang: str) -> dict:
    out = ART / f"{hall}-{layout}-{resolution}-{mode}-{lang}"
    for old in out.glob("*.png"):
        old.unlink()
    (out / "report.json").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "KIVY_METRICS_DENSITY")}
    argv = [sys.executable, str(SCRIPT), url, str(out), layout, mode, lang, hall, resolution]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=280, cwd=ROOT)
    report_path = out / "report.json"
    assert report_path.exists(), run.stderr[-3000:]
    return json.loads(report_path.read_text("utf-8"))


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("hall, layout, resolution, mode, lang", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_the_longest_forms_with_the_keyboard_open(request, hall, layout, resolution, mode, lang):
    server = request.getfixturevalue(hall)
    report = draw(server.url, hall, layout, resolution, mode, lang)
    short, long = (720, 1280) if resolution == "720p" else (1080, 1920)
    assert report["window"] == ([short, long] if layout == "portrait" else [long, short])
    assert "applicant" in report["selected"] and any(n.startswith("item-") for n in report["selected"])
    if hall == "city":      # the sample city hall has 一件事 packages: their merged forms are the longest
        assert any(n.startswith("package-") for n in report["selected"])
    problems = {name: f.get("error") or f["problems"] for name, f in report["forms"].items()
                if f.get("error") or f["problems"]}
    assert problems == {}
