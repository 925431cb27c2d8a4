"""Render every kiosk screen offscreen, save screenshots and measure them (run in a subprocess).

    python tests/kiosk/render_screens.py SERVER_URL OUT_DIR LAYOUT MODE LANG [ONLY] [HALL] [RESOLUTION]

HALL is "city" (the city hall's screens, the default) or "village" (the village station's kiosk);
RESOLUTION "1080p" (the default) or "720p" (kiosk.resolution).

Walks the real presenters against a real server, draws each step with the
real Kivy screens, exports a PNG per step and writes report.json with what
an age-friendly check needs: every touch target's size, every text's size,
text that does not fit its box, widgets outside the window.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

url, out, layout, mode, lang = sys.argv[1:6]
only = set(sys.argv[6].split(",")) if len(sys.argv) > 6 and sys.argv[6] else None
hall = sys.argv[7] if len(sys.argv) > 7 and sys.argv[7] else "city"
resolution = sys.argv[8] if len(sys.argv) > 8 else "1080p"
out_dir = Path(out)
out_dir.mkdir(parents=True, exist_ok=True)

from kiosk.config import KioskConfig  # noqa: E402
from kiosk.ui.setup import prepare  # noqa: E402

size = KioskConfig(path=ROOT, id="kiosk-1", server_url=url, device_key="-", layout=layout, resolution=resolution).size
prepare(size, fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from device_drivers.sim_id_reader import demo_card  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from tests.conftest import make_id  # noqa: E402
from tests.kiosk import offscreen, screen_checks  # noqa: E402
from tests.kiosk.conftest import make_session  # noqa: E402

session = make_session(url, key="demo-kiosk-station" if hall == "village" else "demo-kiosk-1", layout=layout,
                       resolution=resolution, elderly_mode=mode == "elderly")
session.set_lang(lang)
session.elderly = mode == "elderly"
app = KioskApp(session, headless=True, background=False)
F = app.flows


step = offscreen.stepper(F)


def paper_out():
    session.devices.printer.state.paper = "out"
    return step("take_number", ("start",), ("choose", "construction"), ("choose", "__none__"))()


def paper_back():
    session.devices.printer.state.paper = "ok"
    return "home"


def unreachable():
    session.api.client.base_url = "http://127.0.0.1:9"
    session.api.client._port = 9
    session.api.client._drop()
    F["take_number"].start()
    F["take_number"].handle("choose", "construction")
    F["take_number"].handle("choose", "__none__")
    return "take_number"


def rate_at(step_name: str):
    """The rating flow at a bad review's call-back steps (回访: phone, then consent), its ticket as if scanned."""
    def run():
        f = F["rate"]
        f.start()
        f.ticket, f.level, f.reasons, f.step = {"id": "x", "ticket": "B001"}, 1, {"attitude"}, step_name
        f.contact = "13912345678" if step_name == "consent" else ""
        return "rate"
    return run


SCENARIOS = [
    ("home", step("home", ("start",))),
    ("take-business", step("take_number", ("start",))),
    ("take-item", step("take_number", ("start",), ("choose", "commerce"))),
    ("take-identity", step("take_number", ("start",), ("choose", "social"), ("choose", "__none__"))),
    ("take-entry-error", step("take_number", ("action", "type_id"), ("submit", make_id()[:-1] + "0"))),
    ("take-result", step("take_number", ("start",), ("choose", "construction"), ("choose", "__none__"))),
    ("take-result-green", step("take_number", ("start",), ("choose", "social"), ("choose", "__none__"),
                               ("card", demo_card()))),
    ("take-paper-out", paper_out),
    ("home-printer-warning", step("home", ("start",))),
    ("home-again", paper_back),
    ("guide-items", step("guide", ("start",), ("choose", "social"))),
    ("guide-detail", step("guide", ("start", {"item": "520200-SCJG-XK-0001"}))),
    ("guide-search", step("guide", ("start",), ("action", "search"), ("field", ("q", "")))),
    ("guide-found", step("guide", ("field", ("q", "yl")))),
    ("appointment-menu", step("appointment", ("start",))),
    ("book-day", step("book", ("start", {"item": "520200-SCJG-XK-0001"}))),
    ("book-slot", step("book", ("choose", "2026-11-24"))),
    ("book-person-errors", step("book", ("choose", "09:00"), ("field", ("name", "张晓红")),
                                ("field", ("phone", "1381234")), ("action", "next"))),
    ("book-confirm", step("book", ("field", ("id_number", make_id(seq=77))), ("field", ("phone", "13812345678")),
                          ("action", "next"))),
    ("book-result", step("book", ("action", "confirm"))),
    ("checkin-method", step("checkin", ("start",))),
    ("checkin-code", step("checkin", ("action", "type_code"), ("submit", "K7Q2"))),
    ("apply-form-errors", step("apply", ("start", {"item": "520201-RS-GG-0001"}), ("field", ("bank_account", "123")),
                               ("action", "next"))),
    ("apply-materials", step("apply", ("field", ("contribution_level", "500")),
                             ("field", ("bank_account", "6217001234567890")),
                             ("field", ("address", "贵州省六盘水市钟山区大河镇周家村三组12号")), ("action", "next"),
                             ("toggle", "0"))),
    ("apply-applicant", step("apply", ("action", "next"), ("card", demo_card()))),
    ("apply-result", step("apply", ("field", ("phone", "13987654321")), ("action", "next"), ("action", "submit"))),
    ("progress-lookup", step("progress", ("start",))),
    ("progress-detail", lambda: (F["progress"].start(), F["progress"].handle("scan", F["apply"].application["tracking_no"]),
                                 "progress")[-1]),
    ("requeue-entry", step("requeue", ("start",), ("action", "type_ticket"), ("submit", "B1"))),
    ("rate-scan", step("rate", ("start",))),
    ("rate-contact", rate_at("contact")),
    ("rate-consent", rate_at("consent")),
    ("help", step("help", ("start",))),
    ("take-unreachable", unreachable),
]

VILLAGE = [   # the village station: one business, so taking a number starts at its items
    ("home", step("home", ("start",))),
    ("take-item", step("take_number", ("start",))),
    ("take-identity", step("take_number", ("choose", "520201-CJ-MZ-JF-0001"))),
    ("guide-items", step("guide", ("start",), ("choose", "general"))),
    ("apply-items", step("apply", ("start",))),
    ("help", step("help", ("start",))),
]
if hall == "village":
    SCENARIOS = VILLAGE

if only:
    SCENARIOS = [s for s in SCENARIOS if s[0] in only]

report: dict = {"layout": layout, "mode": mode, "lang": lang, "resolution": resolution, "screens": {}}


def record(screen: str) -> dict:
    view = F[screen].view()
    return {"screen": screen, "problems": screen_checks.measure(app.root, elderly=mode == "elderly"),
            "targets": screen_checks.targets(app.root), "step": view.step, "qr": view.result.get("qr", ""),
            "number": view.result.get("number", "")}


def finish() -> None:
    from kivy.core.text import DEFAULT_FONT, LabelBase

    report["font"] = LabelBase._fonts[DEFAULT_FONT]
    report["window"] = list(Window.size)
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
    app.stop()


app.on_start = lambda: Clock.schedule_once(
    lambda dt: offscreen.render_all(app, SCENARIOS, report["screens"],
                                    lambda index, name: out_dir / f"{layout}-{mode}-{lang}-{index:02d}-{name}.png",
                                    record, finish), 0)
app.run()
