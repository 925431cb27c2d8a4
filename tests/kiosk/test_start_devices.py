"""``hallq start`` runs the hall's kiosk with the devices kiosk.toml configures: a simulator is chosen by
configuration, never silently (docs/kiosk.md, "Running it"); only ``--demo`` simulates every device.

The kiosk part ``hallq start`` would run is run for real with ``--check`` (its devices built and asked how they are):
a village station whose kiosk.toml names a serial printer and reader and no scanner."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

import pytest

from hallq.testing import ROOT
from kiosk.cli import hall_parts


@pytest.fixture
def station(tmp_path):
    """A copy of the sample village station whose kiosk.toml configures real devices (serial ports that are not
    plugged in here) and, as the sample does, no scanner."""
    conf = tmp_path / "station"
    shutil.copytree(ROOT / "config" / "village-station", conf)
    kiosk = conf / "kiosk.toml"
    text = kiosk.read_text(encoding="utf-8")
    text, printers = re.subn(r'\[printer\]\ndriver = "simulator"', f'[printer]\ndriver = "serial"\nport = '
                             f'"{tmp_path}/ttyPrinter"', text)
    text, readers = re.subn(r'\[id_reader\]\ndriver = "simulator"', f'[id_reader]\ndriver = "serial"\nport = '
                            f'"{tmp_path}/ttyReader"', text)
    text, voices = re.subn(r'\[voice\]\ndriver = "espeak"', '[voice]\ndriver = "none"', text)
    assert (printers, readers, voices) == (1, 1, 1) and 'driver = "none"                          # no scanner' in text
    kiosk.write_text(text, encoding="utf-8")
    return conf / "hall.toml"


def check(argv: list[str]) -> str:
    """``hallq <argv> --check``: the kiosk's devices as ``hallq start`` would run them, one line each."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "HALLQ_DEMO")}
    run = subprocess.run([sys.executable, "-m", "launcher", *argv, "--check"], env=env, capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    return run.stdout


def test_hallq_start_runs_the_kiosk_on_the_devices_its_config_names(station, tmp_path, monkeypatch):
    monkeypatch.delenv("HALLQ_DEMO", raising=False)
    args = argparse.Namespace(config=str(station), host="0.0.0.0", port=8081, data_dir=str(tmp_path / "data"),
                              virtual_clock=None, demo=False)
    (_, argv, _), = hall_parts(args)
    assert "--simulate" not in argv and "--autopilot" not in argv
    # the serial printer and reader it names (not plugged in here, so said to be), and no scanner at all
    assert check(argv).splitlines() == ["kiosk-station-id-reader: unplugged", "kiosk-station-printer: unplugged"]


def test_hallq_start_demo_simulates_every_device(station, tmp_path, monkeypatch):
    monkeypatch.delenv("HALLQ_DEMO", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    args = argparse.Namespace(config=str(station), host="0.0.0.0", port=8081, data_dir=str(tmp_path / "data"),
                              virtual_clock=None, demo=True)
    (_, argv, _), = hall_parts(args)
    assert "--simulate" in argv and argv[-2:] == ["--autopilot", "15"]   # no display: the demo taps itself
    shown = check([a for a in argv if a not in ("--autopilot", "15")])
    assert shown.splitlines() == ["kiosk-station-id-reader: ok", "kiosk-station-printer: ok",
                                  "kiosk-station-scanner: ok"]
    monkeypatch.setenv("HALLQ_DEMO", "1")                               # demo mode asked by the environment
    (_, argv, _), = hall_parts(argparse.Namespace(**{**vars(args), "demo": False}))
    assert "--simulate" in argv
