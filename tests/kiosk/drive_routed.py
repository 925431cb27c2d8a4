"""Draw the routed-application screens of the real kiosk offscreen (run in a subprocess by test_routed_kiosk.py).

    python tests/kiosk/drive_routed.py SERVER_URL OUT_DIR ITEM FIELD=VALUE

A village station's kiosk: the item list with an item another hall handles, its form (the handling hall's
definition, kept at the station), the receipt, and the progress of that application. Each step is drawn by the
real Kivy screens, exported as PNG and measured (screen_checks: text over its box, targets too small...);
report.json lists the texts each view showed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

url, out, item, field = sys.argv[1:5]
key, _, value = field.partition("=")
out_dir = Path(out)
out_dir.mkdir(parents=True, exist_ok=True)

from kiosk.ui.setup import prepare  # noqa: E402

prepare((1080, 1920), fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())

from kivy.clock import Clock  # noqa: E402

from device_drivers.sim_id_reader import demo_card  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from tests.kiosk import offscreen, screen_checks  # noqa: E402
from tests.kiosk.conftest import make_session  # noqa: E402

session = make_session(url)
app = KioskApp(session, headless=True, background=False)
F = app.flows


step = offscreen.stepper(F)


SCENARIOS = [
    ("apply-items", step("apply", ("start",))),
    ("apply-form", step("apply", ("choose", item))),
    ("apply-result", step("apply", ("field", (key, value)), ("action", "next"), ("toggle", "0"), ("action", "next"),
                          ("card", demo_card()), ("field", ("phone", "13987654321")), ("action", "next"),
                          ("action", "submit"))),
    ("progress-detail", lambda: (F["progress"].start(),
                                 F["progress"].handle("scan", F["apply"].application["tracking_no"]), "progress")[-1]),
]
report: dict = {"screens": {}}


def texts_of(view) -> list[str]:
    out = [o.label + " " + (o.detail or "") for o in view.options]
    out += [line for s in view.sections for line in [s.title, *s.lines]]
    out += [str(x) for x in (view.result or {}).get("lines", [])]
    return out


def record(screen: str) -> dict:
    view = F[screen].view()
    return {"step": view.step, "texts": texts_of(view), "number": (view.result or {}).get("number", ""),
            "problems": screen_checks.measure(app.root, elderly=False)}


def finish() -> None:
    report["printed"] = session.devices.printer.last.text if session.devices.printer.last else ""
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
    app.stop()


app.on_start = lambda: Clock.schedule_once(
    lambda dt: offscreen.render_all(app, SCENARIOS, report["screens"],
                                    lambda index, name: out_dir / f"{index:02d}-{name}.png", record, finish), 0)
app.run()
