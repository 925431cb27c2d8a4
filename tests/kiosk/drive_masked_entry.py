"""An ID number typed with a wrong check digit, on the real kiosk screen (offscreen, a subprocess): what is drawn.

    python tests/kiosk/drive_masked_entry.py SERVER_URL ID_NUMBER OUT_DIR

Taking a social-affairs number (an ID number is asked for), the resident types ID_NUMBER and presses 确定; the
screen with the sentence saying why is drawn (and, the kiosk having no display, written as its screenshot), then
the resident presses ⌫ on the keypad. Every text of the window at each moment goes to OUT_DIR/report.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
url, typed, out = sys.argv[1:4]
out_dir = Path(out)

from kiosk.ui.setup import prepare  # noqa: E402

prepare((1080, 1920), fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())

from kivy.clock import Clock  # noqa: E402
from kivy.uix.label import Label  # noqa: E402

from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.widgets import Keypad  # noqa: E402
from tests.kiosk.conftest import make_session  # noqa: E402

app = KioskApp(make_session(url), headless=True, background=False, screenshot_dir=str(out_dir / "screens"))
report: dict = {}


def drawn() -> list[str]:
    return [w.text for w in app.root.walk() if isinstance(w, Label) and w.text]


def go(flow: str, event: str, arg=None) -> None:
    name, view = app.process(flow, event, arg)
    if name is not None:
        app.show(name, view)


def start(dt) -> None:
    go("home", "__open__", {})
    go("take_number", "__open__", {})
    go("take_number", "choose", "social")
    go("take_number", "choose", "__none__")
    go("take_number", "action", "type_id")
    go("take_number", "submit", typed)
    Clock.schedule_once(refused, 0.5)       # after the screenshot (0.2 s after the screen is shown)


def refused(dt) -> None:
    view = app.flows["take_number"].view()
    report["refused"] = {"step": view.step, "error": view.entry.get("error"), "texts": drawn(),
                         "screenshots": sorted(p.name for p in (out_dir / "screens").glob("*.png"))}
    pad = next(w for w in app.root.walk() if isinstance(w, Keypad))
    report["keypad"] = pad.value
    pad.value = pad.value[:-1]             # ⌫: the resident corrects the last character
    Clock.schedule_once(corrected, 0.1)


def corrected(dt) -> None:
    report["corrected"] = {"texts": drawn()}
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False), "utf-8")
    app.stop()


app.on_start = lambda: Clock.schedule_once(start, 0)
app.run()
