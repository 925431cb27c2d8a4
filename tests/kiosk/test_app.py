"""The real kiosk app with its threads, offscreen: worker, device poller, idle timeout; and `hallq kiosk`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hallq.testing import ROOT


def _env():
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_card_read_by_the_poller_issues_the_number_and_idle_returns_home(city, tmp_path):
    out = tmp_path / "drive.json"
    run = subprocess.run([sys.executable, str(ROOT / "tests" / "kiosk" / "drive_app.py"), city.url, str(out)],
                         env=_env(), capture_output=True, text=True, timeout=100, cwd=ROOT)
    assert out.exists(), run.stderr[-3000:]
    result = json.loads(out.read_text())
    steps = {e["what"]: e for e in result["log"]}
    assert "idle home" in steps, result["log"]
    assert steps["card read before asked"]["reads"] == 0       # no card read on screens that did not ask
    assert steps["ticket"]["number"] == "C001" and steps["ticket"]["jobs"] == 1
    assert steps["ticket"]["listening"] == []                  # the result screen reads no cards
    assert steps["wiped"] == {**steps["wiped"], "lang": "zh-Hans", "elderly": False}
    assert steps["idle home"]["t"] - steps["ticket on screen"]["t"] >= 2.5   # result_timeout_seconds = 3
    assert result["ready_s"] < 3.0
    # the help screen's timer asked again by itself, and the resident reads who is coming
    assert "工作人员（工号1001）正在过来" in steps["coming"]["notice"]
    assert steps["staff coming"]["t"] - steps["taken"]["t"] < 3.0


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_hallq_kiosk_without_display_logs_it_and_writes_screenshots(village, tmp_path):
    shots = tmp_path / "shots"
    proc = subprocess.Popen([sys.executable, "-m", "launcher", "kiosk", "--simulate", "--server", village.url,
                             "--screenshots", str(shots), "--config", str(ROOT / "config" / "village-station" /
                                                                          "kiosk.toml")],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (shots / "home-menu.png").exists():
            time.sleep(0.1)
        assert (shots / "home-menu.png").exists()
        from PIL import Image

        assert Image.open(shots / "home-menu.png").size == (1920, 1080)     # the station's landscape terminal
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0]
    assert "no display: the kiosk runs offscreen (landscape, 1920x1080)" in output
    assert "kiosk ready: home screen drawn" in output
