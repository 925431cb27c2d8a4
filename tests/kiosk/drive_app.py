"""Drive the real kiosk app (worker thread, device poller, idle timer) offscreen; write what happened.

    python tests/kiosk/drive_app.py SERVER_URL OUT_JSON

A resident takes a social-affairs number with the (simulated) ID card: the
poller reads the card only on the screen that asks for it, the worker issues
the number, the ticket is printed; then nobody touches the screen and the
idle timeout wipes the visit and returns home. Last, a resident asks for
staff on the help screen; a clerk takes the request over HTTP and the app's
own timer (not a touch) brings "工号1001 正在过来" to the screen.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
url, out = sys.argv[1:3]

from kiosk.ui.setup import prepare  # noqa: E402

prepare((1080, 1920), fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())

from kivy.clock import Clock  # noqa: E402

from device_drivers.sim_id_reader import demo_card  # noqa: E402
from hallq.client import HallClient  # noqa: E402
from kiosk.presenters import help as help_screen  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from tests.kiosk.conftest import make_session  # noqa: E402

help_screen.REFRESH_SECONDS = 0.5       # the help screen asks the server this often (5 s in a hall)
session = make_session(url, idle_timeout_seconds=4, idle_warning_seconds=2, result_timeout_seconds=3)
app = KioskApp(session, headless=True)
log: list[dict] = []
t0 = time.monotonic()


def note(what: str, **kw) -> None:
    log.append({"t": round(time.monotonic() - t0, 2), "what": what, **kw})


def screen() -> str:
    return app.sm.current if app.root else ""


plan = [
    ("home shown", lambda: screen() == "home" and app.first_frame_at is not None,
     lambda: app.send("home", "choose", "take_number")),
    ("business list", lambda: screen() == "take_number" and app.flows["take_number"].step == "business",
     lambda: app.send("take_number", "choose", "social")),
    ("item list", lambda: app.flows["take_number"].step == "item",
     lambda: (note("card read before asked", reads=session.devices.reader.state.reads),
              session.devices.reader.place(demo_card()), app.send("take_number", "choose", "__none__"))),
    ("ticket on screen", lambda: app.shown == ("take_number", "result"),
     lambda: note("ticket", number=app.flows["take_number"].ticket["ticket"], jobs=len(session.devices.printer.jobs),
                  listening=list(app.listening))),
    ("idle home", lambda: app.shown[0] == "home" and app.flows["take_number"].ticket is None,
     lambda: (note("wiped", lang=session.lang, elderly=session.elderly), app.send("home", "action", "help"))),
    ("help shown", lambda: app.shown[0] == "help", lambda: app.send("help", "action", "call")),
    ("help asked", lambda: app.flows["help"].request is not None, lambda: take_help(app.flows["help"].request["id"])),
    ("staff coming", lambda: "工号1001" in getattr(app.flows["help"].notice, "text", ""),
     lambda: note("coming", notice=app.flows["help"].notice.text)),
]


def take_help(request_id: int) -> None:
    clerk = HallClient(url)
    clerk.login("1001", "hallq-demo")
    clerk.request("POST", f"/help-requests/{request_id}/take", {})
    note("taken", at=round(time.monotonic() - t0, 2))


def step(dt) -> None:
    if not plan:
        Path(out).write_text(json.dumps({"log": log, "ready_s": app.first_frame_at - app.started_at}), "utf-8")
        app.stop()
        return
    name, ready, action = plan[0]
    if ready():
        note(name)
        plan.pop(0)
        action()
    elif time.monotonic() - t0 > 40:
        note("timeout waiting for " + name, screen=screen(), step=app.flows["take_number"].step)
        plan.clear()


Clock.schedule_interval(step, 0.1)
app.run()
