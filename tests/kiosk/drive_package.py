"""Drive the real kiosk app offscreen through a 一件事 package by touches; count the taps; write what happened.

    python tests/kiosk/drive_package.py SERVER_URL OUT_JSON

Every touch goes through Kivy's window onto the widget drawn there (kiosk.ui.touch), with the autopilot's
machinery (a tap that went unanswered is tapped again and not counted twice). A tap is counted as a **screen
tap** when it moves the flow: a tile, a choice, a button. Typing a value only the resident knows (the baby's
name, the hospital, a date, the mother's ID number, the phone) is counted apart: the tap that opens the
field, every key and its 确定/OK. Reading the ID card is no tap.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
url, out = sys.argv[1:3]

from kiosk.ui.setup import prepare  # noqa: E402

prepare((1080, 1920), fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())

from kivy.clock import Clock  # noqa: E402

from kiosk.autopilot import Autopilot, Steps  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from tests.conftest import make_id  # noqa: E402
from tests.kiosk.conftest import make_session  # noqa: E402

MOTHER = make_id("19930304", seq=246)
TYPED = {"child_name": "li an", "child_birth_date": "2026-11-10", "birth_hospital": "liupanshui fuyou",
         "mother_name": "zhang li", "household_address": "renmin lu ba hao"}


class Counting(Autopilot):
    """The autopilot's finger, counting the taps that were taken: the flow's, and the typing's apart."""

    def __init__(self, app) -> None:
        super().__init__(app, interval=0.1, dwell=0.3)
        self.typing = False
        self.taps: list[str] = []
        self.typed: list[str] = []
        self.result: dict = {}

    def tap_until(self, key, what, probe) -> Steps:
        yield from super().tap_until(key, what, probe)
        (self.typed if self.typing else self.taps).append(key)

    def typed_in(self, steps: Steps) -> Steps:
        self.typing = True
        try:
            yield from steps
        finally:
            self.typing = False

    def package(self) -> Steps:
        flow = self.app.flows["apply"]
        yield from self.on("home", "menu")
        yield from self.tap_to("apply", "the applications tile", "apply", "item")
        yield from self.tap_to("pkg:newborn", "新生儿出生一件事", "apply", "package")
        yield from self.press("print_notice", "print the notice")
        yield from self.until("the notice printed", lambda: flow.notice is not None and flow.notice.level == "ok")
        yield from self.tap_to("start", "start", "apply", "form")
        for spec in flow.fields.specs:
            key = spec["key"]
            if not spec.get("required"):
                continue
            if spec.get("type") == "select":
                value = {"child_sex": "female", "registered_with": "mother"}.get(key, str(spec["options"][0]["value"]))
                yield from self.press(value, key)
            elif spec.get("type") == "id_number":
                value = MOTHER
                yield from self.typed_in(self._keypad(key, value))
            else:
                value = TYPED[key]
                yield from self.typed_in(self.type_text(key, value, digits=spec.get("type") == "date"))
            yield from self.until(f"{key} filled", lambda key=key, value=value: flow.fields.values.get(key) == value)
        yield from self.tap_to("next", "next", "apply", "materials")
        yield from self.press("all", "材料都带齐了")
        yield from self.until("every material ticked",
                              lambda: flow.provided == {m["index"] for m in flow.form["materials"]})
        yield from self.tap_to("next", "next", "apply", "applicant")
        self.card()
        yield from self.until("the ID card read", lambda: bool(flow.applicant.values.get("id_number")))
        yield from self.typed_in(self._keypad("phone", "13912345678"))
        yield from self.until("the phone taken", lambda: flow.applicant.values.get("phone") == "13912345678")
        yield from self.tap_to("next", "next", "apply", "confirm")
        yield from self.press("submit", "submit")
        yield from self.on("apply", "result")
        self.result = {"tracking_no": (flow.application or {}).get("tracking_no"),
                       "parts": len((flow.application or {}).get("parts") or []),
                       "printed": len(self.app.session.devices.printer.jobs)}

    def _keypad(self, key: str, digits: str) -> Steps:
        yield from self.tap_until(key, f"the field {key}",
                                  lambda: next(self._with("pad:ok"), None) is not None)
        yield from self.keys(key, digits)

    def _with(self, key: str):
        from kiosk.ui.touch import with_key

        return with_key(self.app.sm.current_screen, key)


session = make_session(url)
app = KioskApp(session, headless=True)
pilot = Counting(app)


def finish(*_) -> None:
    Path(out).write_text(json.dumps({"taps": pilot.taps, "typed": pilot.typed, "done": pilot.done,
                                     "failed": pilot.failed, **pilot.result}, ensure_ascii=False), "utf-8")
    app.stop()


def begin(*_) -> None:
    pilot._flow = "package"
    pilot._steps = pilot.package()
    Clock.schedule_interval(pilot._tick, 0.1)
    Clock.schedule_interval(lambda dt: (finish() if pilot._steps is None else None), 0.2)


pilot._end = lambda: (setattr(pilot, "_steps", None), setattr(pilot, "_wait", None))   # stay on the result
Clock.schedule_once(begin, 0.5)
Clock.schedule_once(finish, 150)
app.run()
