"""The kiosk's memory settings (docs/kiosk.md, "The kiosk's memory"), checked on real processes.

``multisamples`` is a kiosk.toml key (0 by default); the GL context a kiosk process opens has the samples asked
for, asked of GL itself in a process that prepares Kivy as ``hallq kiosk`` does (kiosk.ui.setup.prepare), and
Kivy's image providers stop at SDL2 (its PIL provider not loaded). A real ``hallq kiosk --headless`` of the
village station then holds well under what it held with Kivy's default 2x MSAA.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hallq.hallconfig import ConfigError
from hallq.testing import wait_until
from kiosk.config import DEFAULT_MULTISAMPLES, load_kiosk
from tests.kiosk.conftest import ROOT

# the village kiosk (1920×1080) idle, once its heap is first trimmed (10 s after start): 280 MB here with Kivy's
# default 2x MSAA (llvmpipe keeps 4 samples of colour and depth), ~197 MB with multisamples = 0: the bound lies halfway
RSS_BOUND_MB = 238


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "KIVY_IMAGE")}
    env.update(KIVY_NO_ARGS="1", HALLQ_DEMO="1", **extra)
    return env


def test_multisamples_is_a_kiosk_setting_off_by_default(tmp_path):
    assert DEFAULT_MULTISAMPLES == 0
    assert load_kiosk(ROOT / "config" / "village-station" / "kiosk.toml").multisamples == 0
    assert load_kiosk(ROOT / "config" / "city-hall" / "kiosk.toml").multisamples == 0
    base = '[kiosk]\nid = "k1"\nserver_url = "http://h:1"\ndevice_key = "demo-kiosk-1"\n[printer]\ndriver = "none"\n'
    f = tmp_path / "kiosk.toml"
    f.write_text(base.replace("[printer]", "multisamples = 4\n[printer]"), encoding="utf-8")
    assert load_kiosk(f).multisamples == 4
    f.write_text(base.replace("[printer]", "multisamples = 16\n[printer]"), encoding="utf-8")
    with pytest.raises(ConfigError, match="kiosk.multisamples"):
        load_kiosk(f)


PROBE = """
import json
import sys
sys.path.insert(0, {root!r})
from kiosk.ui.setup import prepare
prepare((1280, 720), fullscreen=False, headless=True, kivy_home={home!r}, {arg})
from kivy.core.window import Window
from kivy.graphics.opengl import glGetIntegerv
print(json.dumps({{"samples": glGetIntegerv(0x80A9)[0], "pil": "PIL" in sys.modules}}))
"""


@pytest.mark.parametrize("asked", [None, 0, 2])
def test_the_kiosk_gl_context_has_the_samples_asked_for(tmp_path, asked):
    arg = "" if asked is None else f"multisamples={asked}"
    out = subprocess.run([sys.executable, "-c", PROBE.format(root=str(ROOT), home=str(tmp_path), arg=arg)],
                         env=_env(), capture_output=True, text=True, timeout=60, check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    expect_none = asked in (None, 0)  # None: the kiosk's default, no MSAA
    assert (got["samples"] == 0) == expect_none, got  # llvmpipe rounds 2 up to 4
    assert got["pil"] is False  # Kivy's image providers: SDL2 only (qrcode imports Pillow when it draws a code)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no Rss in smaps_rollup")


@pytest.mark.timeout(120)
def test_a_real_village_kiosk_idles_without_msaa_buffers(tmp_path, village):
    shots = tmp_path / "screens"
    log = open(tmp_path / "kiosk.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "launcher", "kiosk", "--config",
                             str(ROOT / "config" / "village-station" / "kiosk.toml"), "--server", village.url,
                             "--headless", "--simulate", "--data-dir", str(tmp_path / "data"),
                             "--screenshots", str(shots)],
                            env=_env(HALLQ_MQTT_URL="mqtt://127.0.0.1:1"), cwd=ROOT, stdout=log, stderr=log)
    try:
        wait_until(lambda: shots.exists() and any(shots.glob("home*.png")) or proc.poll() is not None, 60,
                   "the kiosk's home screen")
        assert proc.poll() is None, (tmp_path / "kiosk.log").read_text()[-2000:]
        # (Pillow comes with python-escpos at the first ticket: tests/kiosk/test_idle_memory.py)
        assert "libSDL2_image" in Path(f"/proc/{proc.pid}/maps").read_text()
        # what start-up freed goes back when the heap is first trimmed, 10 s after start (kiosk/cli.py)
        wait_until(lambda: proc.poll() is not None or _rss_mb(proc.pid) < RSS_BOUND_MB, 40,
                   f"the idle village kiosk under {RSS_BOUND_MB} MB RSS: are MSAA buffers back?")
        assert proc.poll() is None, (tmp_path / "kiosk.log").read_text()[-2000:]
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
