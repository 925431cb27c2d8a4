"""Touch 读给我听 on kiosk screens offscreen (run in a subprocess); write what the voice driver was asked to say.

    python tests/kiosk/drive_read_aloud.py SERVER_URL OUT_JSON LAYOUT MODE LANG

Each screen of every flow (each kind of step: menu, list, checklist, identity, keypad, form, guide, ticket)
is drawn by the real presenters against a real server. On each: the header's 读给我听 button is looked for and
measured, touched (a finger through Kivy's window), then touched again. The simulated voice "plays" each
sentence for up to 30 s, so a reading is still going on when it is touched again or the screen changes.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
url, out, layout, mode, lang = sys.argv[1:6]

from kiosk.config import KioskConfig  # noqa: E402
from kiosk.ui.setup import prepare  # noqa: E402

size = KioskConfig(path=ROOT, id="kiosk-1", server_url=url, device_key="-", layout=layout).size
prepare(size, fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())

from kivy.clock import Clock  # noqa: E402
from kivy.metrics import dp  # noqa: E402

from device_drivers.sim_id_reader import demo_card  # noqa: E402
from kiosk.reading import sentences  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.touch import tap, with_key  # noqa: E402
from kiosk.voice import RecordingVoice  # noqa: E402
from tests.kiosk import offscreen  # noqa: E402
from tests.kiosk.conftest import make_session  # noqa: E402

session = make_session(url, layout=layout, elderly_mode=mode == "elderly")
session.devices.voice = voice = RecordingVoice(hold=30)
session.set_lang(lang)
app = KioskApp(session, headless=True, background=False)
F = app.flows


step = offscreen.stepper(F)


SCREENS = [
    ("home", step("home", ("start",))),
    ("take-business", step("take_number", ("start",))),
    ("take-item", step("take_number", ("choose", "commerce"))),
    ("take-identity", step("take_number", ("start",), ("choose", "social"), ("choose", "__none__"))),
    ("take-entry", step("take_number", ("action", "type_id"))),
    ("take-result", step("take_number", ("start",), ("choose", "construction"), ("choose", "__none__"))),
    ("guide-detail", step("guide", ("start", {"item": "520200-SCJG-XK-0001"}))),
    ("guide-search", step("guide", ("start",), ("action", "search"))),
    ("appointment-menu", step("appointment", ("start",))),
    ("book-day", step("book", ("start", {"item": "520200-SCJG-XK-0001"}))),
    ("book-slot", step("book", ("choose", "2026-11-24"))),
    ("book-person", step("book", ("choose", "09:00"))),
    ("checkin-method", step("checkin", ("start",))),
    ("apply-form", step("apply", ("start", {"item": "520201-RS-GG-0001"}))),
    ("apply-materials", step("apply", ("field", ("contribution_level", "500")),
                             ("field", ("bank_account", "6217001234567890")),
                             ("field", ("address", "贵州省六盘水市钟山区大河镇周家村三组12号")), ("action", "next"))),
    ("apply-applicant", step("apply", ("action", "next"), ("card", demo_card()))),
    ("progress-lookup", step("progress", ("start",))),
    ("requeue", step("requeue", ("start",))),
    ("rate-scan", step("rate", ("start",))),
    ("help", step("help", ("start",))),
]

report: dict = {"screens": {}, "left": None}


def button():
    found = list(with_key(app.root, "read_aloud"))
    return found[0] if found else None


def later(fn, dt: float = 0.05) -> None:
    Clock.schedule_once(lambda _: Clock.schedule_once(lambda _: fn(), dt), 0)


def until(ready, then, deadline: float) -> None:
    """Call ``then`` once ``ready()`` holds (looked at each frame); give up at ``deadline``."""
    if ready() or time.monotonic() > deadline:
        then()
    else:
        Clock.schedule_once(lambda _: until(ready, then, deadline), 0.02)


def run(index: int) -> None:
    if index >= len(SCREENS):
        left_screen()
        return
    name, fn = SCREENS[index]
    screen = fn()
    view = F[screen].view()
    app.show(screen, view)
    entry: dict = {"screen": screen, "kind": view.kind, "title": view.title, "prompt": view.prompt,
                   "expected": sentences(view, lang)}
    report["screens"][name] = entry

    def measure_and_touch():
        b = button()
        entry["button"] = None if b is None else {
            "text": b.text, "width_dp": b.width / dp(1), "height_dp": b.height / dp(1), "opacity": b.opacity,
            "disabled": b.disabled, "in_window": 0 <= b.to_window(b.x, b.y)[1] and b.right <= app.root.width}
        if b is None or b.disabled:
            later(lambda: run(index + 1))
            return
        mark = len(voice.asked)
        tap(b)

        def touched():
            entry["asked"] = [t for _, t in voice.asked[mark:]]
            entry["asked_lang"] = sorted({lg for lg, _ in voice.asked[mark:]})
            entry["reading"] = app.reading and voice.reading
            entry["label_while_reading"] = b.text
            started = time.monotonic()
            tap(b)
            until(lambda: not app.reading and not voice.reading, lambda: stopped(started), time.monotonic() + 10)

        def stopped(started: float):
            entry["stopped_after_s"] = round(time.monotonic() - started, 3)
            entry["reading_after_second_touch"] = app.reading or voice.reading
            entry["label_after"] = b.text
            voice.wait_idle(5)
            later(lambda: run(index + 1))
        until(lambda: app.reading and len(voice.asked) > mark, touched, time.monotonic() + 10)
    later(measure_and_touch)


def left_screen() -> None:
    """A reading under way stops when the resident leaves the screen (here: 返回首页 on the help screen)."""
    mark = len(voice.asked)
    tap(button())

    def go():
        report["left"] = {"reading_before": app.reading and voice.reading, "asked": len(voice.asked) - mark}
        started = time.monotonic()
        F["home"].start()
        app.show("home", F["home"].view())

        def done():
            report["left"].update(reading_after=app.reading or voice.reading,
                                  stopped_after_s=round(time.monotonic() - started, 3),
                                  idle=voice.wait_idle(5))
            auto_read()
        until(lambda: not app.reading and not voice.reading, done, time.monotonic() + 10)
    until(lambda: app.reading and len(voice.asked) > mark, go, time.monotonic() + 10)


def auto_read() -> None:
    """kiosk.auto_read = true: in elderly mode a new step is read by itself, as if 读给我听 were touched."""
    app.cfg = session.cfg = dataclasses.replace(session.cfg, auto_read=True)
    session.elderly = True
    mark = len(voice.asked)
    F["take_number"].start()
    view = F["take_number"].view()
    app.show("take_number", view)

    def done():
        report["auto"] = {"reading": app.reading and voice.reading, "asked": [t for _, t in voice.asked[mark:]],
                          "expected": sentences(view, lang)}
        app.stop_reading()
        voice.wait_idle(5)
        Path(out).write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
        app.stop()
    until(lambda: len(voice.asked) > mark, done, time.monotonic() + 10)


app.on_start = lambda: Clock.schedule_once(lambda dt: run(0), 0)
app.run()
