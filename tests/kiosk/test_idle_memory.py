"""What an idle kiosk does not load (docs/kiosk.md, "Memory on a village station"), on a real offscreen kiosk.

A kiosk in a subprocess, prepared as ``hallq kiosk`` prepares it, against a real server: once its home screen is
drawn, the pinyin keyboard's data is not loaded, and neither python-escpos (with Pillow, qrcode, python-barcode and
PyYAML) nor Babel (the home screen's date is made without it: tests/kiosk/test_day_label.py) is imported; a form
with a text field then loads the pinyin data (in the background, as it opens), and the first ticket's document
imports python-escpos. Were any of them loaded at start again, the idle kiosk would hold it for nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.kiosk.conftest import ROOT

CHILD = r"""
import json, sys, tempfile, time
sys.path.insert(0, {root!r})
from kiosk.ui.setup import prepare
prepare((1080, 1920), fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())
from kivy.clock import Clock
from kiosk.ime import engine
from kiosk.ui.app import KioskApp
from tests.kiosk.conftest import make_session

HEAVY = ("escpos", "PIL", "qrcode", "barcode", "yaml", "babel")
app = KioskApp(make_session({url!r}), headless=True)
seen = {{}}
deadline = time.monotonic() + 40


def note(stage):
    seen[stage] = {{"pinyin": engine._shared is not None and engine._shared.loaded,
                    "heavy": sorted(m for m in HEAVY if m in sys.modules)}}


def idle(dt):
    if app.first_frame_at is None or app.sm.current != "home" or not app.flows["home"].hall:
        return time.monotonic() < deadline      # the next frame (an event, not a fixed wait)
    note("home")
    app.show(*app.process("apply", "__open__", {{"item": "520201-RS-GG-0001"}}))   # a form: the keyboard's data loads
    Clock.schedule_interval(typing, 0)
    return False


def typing(dt):
    if not (engine._shared is not None and engine._shared.loaded) and time.monotonic() < deadline:
        return
    note("form")
    seen["load_seconds"] = engine._shared.load_seconds if engine._shared else None
    from device_drivers.printer import PrinterProfile, TicketDocument
    TicketDocument(PrinterProfile())      # what every ticket, receipt and slip is built with (kiosk/receipts.py)
    note("ticket")
    print("SEEN", json.dumps(seen), flush=True)
    app.stop()
    return False


Clock.schedule_interval(idle, 0)
app.run()
"""


@pytest.mark.timeout(90)
def test_an_idle_kiosk_loads_no_pinyin_data_and_no_printer_library_until_used(city):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "KIVY_IMAGE")}
    env.update(KIVY_NO_ARGS="1", HALLQ_DEMO="1")
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), url=city.url)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=80)
    lines = [line for line in out.stdout.splitlines() if line.startswith("SEEN ")]
    assert lines, out.stderr[-3000:]
    seen = json.loads(lines[0][5:])
    assert seen["home"] == {"pinyin": False, "heavy": []}, seen     # the idle home screen holds neither
    assert seen["form"]["pinyin"] is True, seen                      # a form with text fields loads the keyboard's data
    assert seen["form"]["heavy"] == [], seen                         # ... and still not the printer's library
    assert "escpos" in seen["ticket"]["heavy"], seen


def test_python_escpos_pickles_its_capabilities_in_the_kiosk_data_dir(tmp_path, monkeypatch):
    """Not a fresh temporary directory per start (read from JSON through PyYAML again, 0.3 s, and left behind)."""
    from kiosk.cli import _escpos_cache

    monkeypatch.delenv("ESCPOS_CAPABILITIES_PICKLE_DIR", raising=False)
    _escpos_cache(tmp_path)
    cache = tmp_path / "escpos-cache"
    assert os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] == str(cache) and cache.is_dir()
    code = "from device_drivers.printer import PrinterProfile, TicketDocument; TicketDocument(PrinterProfile())"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60, env=dict(os.environ))
    assert list(cache.glob("*.capabilities.pickle"))


REFRESH_CHILD = r"""
import json, sys, tempfile
sys.path.insert(0, {root!r})
from kiosk.ui.setup import prepare
prepare((1080, 1920), fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())
from kivy.clock import Clock
from kiosk.ui.app import KioskApp
from tests.kiosk.conftest import make_session

app = KioskApp(make_session({url!r}), headless=True, background=False)   # no threads: this script is the timer
out = {{}}


def widgets():
    ids = app.sm.get_screen("home").ids
    return [w for box in (ids.hero, ids.tiles, ids.settings, ids.footer) for w in box.children]


def texts():
    return sorted(getattr(w, "text", "") for w in widgets())


def start(dt):
    app.show(*app.process("home", "__open__", None))
    Clock.schedule_once(refreshes, 0)


def refreshes(dt):
    home = app.flows["home"]
    before = widgets()
    out["before"] = texts()
    for minute in range(3):                   # what the home screen's timer does every 10 s, a minute apart each
        app.show(*app.process("home", "refresh", None))
        home.hall["clock"]["now"] = "2026-11-23T09:%02d:00+08:00" % (41 + minute)
        app.show("home", home.view())
    after = widgets()
    out["kept"] = len(before) > 5 and len(after) == len(before) and all(a is b for a, b in zip(after, before))
    out["clock"] = app.sm.get_screen("home").ids.header.step
    app.show(*app.process("home", "action", "lang:en"))     # a new language: new words on every tile and button
    out["rebuilt"] = not any(w in before for w in widgets())
    out["english"] = texts()
    print("SEEN", json.dumps(out, ensure_ascii=False), flush=True)
    app.stop()


Clock.schedule_once(start, 0)
app.run()
"""


def _seen(child: str, city) -> dict:
    """Run ``child`` (a kiosk in a process of its own, offscreen) against ``city``; what its SEEN line reports."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "KIVY_IMAGE")}
    env.update(KIVY_NO_ARGS="1", HALLQ_DEMO="1")
    out = subprocess.run([sys.executable, "-c", child.format(root=str(ROOT), url=city.url)], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=80)
    lines = [line for line in out.stdout.splitlines() if line.startswith("SEEN ")]
    assert lines, out.stderr[-3000:]
    return json.loads(lines[0][5:])


@pytest.mark.timeout(90)
def test_the_home_screens_refresh_keeps_its_tiles_and_buttons_and_updates_the_clock(city):
    """The home screen asks the server again every 10 s and, on an idle kiosk, gets the same tiles and buttons
    back: they are kept (building them anew made ~20 widgets and their textures every 10 s, and the idle kiosk's
    heap grew by ~19 MB in 15 minutes: docs/performance.md), while the clock shows the new time; a view with
    other options (another language) is built anew."""
    seen = _seen(REFRESH_CHILD, city)
    assert seen["kept"] is True, seen                  # the same widget objects after three refreshes
    assert seen["clock"].endswith("09:43"), seen      # ... and the header says the latest time
    assert seen["rebuilt"] is True, seen
    assert seen["english"] != seen["before"] and "Take a number" in " ".join(seen["english"]), seen


SHOT_CHILD = r"""
import gc, json, sys, tempfile
sys.path.insert(0, {root!r})
from kiosk.ui.setup import prepare
prepare((1080, 1920), fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())
from kivy.clock import Clock
from kivy.graphics import Fbo
from kiosk.ui.app import KioskApp
from tests.kiosk.conftest import make_session

app = KioskApp(make_session({url!r}), headless=True, background=False, screenshot_dir=tempfile.mkdtemp())


def fbos():
    return sum(isinstance(o, Fbo) for o in gc.get_objects())


def start(dt):
    app.show(*app.process("home", "__open__", None))
    Clock.schedule_once(shoot, 0.3)       # after the screenshot show() itself asked for (0.2 s)


def shoot(dt):
    gc.collect()
    gc.disable()                          # an idle kiosk allocates too little for the collector to run by itself
    before = fbos()
    shots = [app.screenshot("home-%d" % n) for n in range(3)]
    print("SEEN", json.dumps({{"before": before, "after": fbos(), "written": all(p.stat().st_size for p in shots)}}),
          flush=True)
    app.stop()


Clock.schedule_once(start, 0)
app.run()
"""


@pytest.mark.timeout(90)
def test_a_headless_kiosks_screenshot_leaves_no_window_sized_fbo_behind(city):
    """A headless kiosk writes a screenshot of each screen it shows, every 10 s on the idle home screen (its
    refresh). Kivy's export draws into an Fbo of the whole window (~10 MB at 1080p on llvmpipe) that only the
    cyclic collector frees; an idle kiosk allocates too little to run it, and held one more Fbo per screenshot
    (10 MB per 10 s: docs/performance.md). With the collector off, three screenshots leave none behind."""
    seen = _seen(SHOT_CHILD, city)
    assert seen["written"] is True, seen
    assert seen["after"] == seen["before"], seen
