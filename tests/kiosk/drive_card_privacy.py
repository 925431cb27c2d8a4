"""Book and apply with an ID card on the real kiosk screens, offscreen, and record every text drawn (a subprocess).

    python tests/kiosk/drive_card_privacy.py SERVER_URL OUT_DIR LAYOUT MODE TEXT_INPUT

TEXT_INPUT is "onscreen" (the pinyin keyboard) or "system" (Kivy's TextInput). Against a real server: a booking
of 企业设立登记 with the demo ID card (the person step, the confirm screen, a refusal of the server that sends the
resident back to the person step, the booking code), an application of 出生医学证明首次签发 (the newborn's,
the mother's and the father's names and ID numbers typed on the form, the applicant from the card, the confirm
screen, the receipt), then a second visit that retypes what the card gave: its boxes tapped as a finger would.
After every step: a PNG, every text of the widget tree (labels, buttons, text inputs), the age-friendly checks of
screen_checks.py, and what the form and the presenter hold, in report.json with the bodies sent to the server.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

url, out, layout, mode, text_input = sys.argv[1:6]
out_dir = Path(out)
out_dir.mkdir(parents=True, exist_ok=True)

from kiosk.ui.setup import prepare  # noqa: E402

prepare((1080, 1920) if layout == "portrait" else (1920, 1080), fullscreen=False, headless=True,
        kivy_home=tempfile.mkdtemp())

from kivy.uix.label import Label  # noqa: E402
from kivy.uix.textinput import TextInput  # noqa: E402

from device_drivers.sim_id_reader import demo_card  # noqa: E402
from hallq.client import ApiError  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.form_step import FormStep  # noqa: E402
from kiosk.ui.touch import tap  # noqa: E402
from kiosk.ui.widgets import KButton, Keypad  # noqa: E402
from tests.kiosk import screen_checks  # noqa: E402
from tests.kiosk.plan_runner import run_plan  # noqa: E402
from tests.kiosk.plan_runner import pump as plan_pump  # noqa: E402
from tests.kiosk.plan_runner import until as plan_until  # noqa: E402
from tests.kiosk.conftest import make_session  # noqa: E402
from tests.kiosk.test_card_privacy import BOOKABLE, NEWBORN, NEWBORN_VALUES, PHONE, RETYPED_ID  # noqa: E402

session = make_session(url, layout=layout, elderly_mode=mode == "elderly", text_input=text_input)
session.elderly = mode == "elderly"
app = KioskApp(session, headless=True, background=False)
card = demo_card()
report: dict = {"layout": layout, "mode": mode, "text_input": text_input, "steps": [], "errors": [],
                "bodies": {"book": [], "submit_application": []}}


def recorded(name: str, refuse_first: ApiError | None = None) -> None:
    """The bodies sent with ``session.api.<name>`` go to the report; the first is refused with ``refuse_first``."""
    real, bodies = getattr(session.api, name), report["bodies"][name]

    def call(*args):
        bodies.append(next(a for a in args if isinstance(a, dict)))
        if refuse_first is not None and len(bodies) == 1:
            raise refuse_first
        return real(*args)
    setattr(session.api, name, call)


recorded("book", ApiError(400, "invalid_fields", {"zh-Hans": "请求内容有误：手机号", "en": "Invalid request: phone"},
                          fields=[{"field": "phone"}],
                          detail={"fields": {"phone": {"zh-Hans": "请核对手机号", "en": "Check the phone"}}}))
recorded("submit_application")


def go(flow: str, event: str, arg=None) -> None:
    """An event through the app as the worker would take it, and its view drawn."""
    name, view = app.process(flow, event, arg)
    if name is not None:
        app.show(name, view)


def pump() -> None:
    """What the worker thread does, here in order on the main thread: every queued event, then draw."""
    plan_pump(app)


def form() -> FormStep:
    step = app.sm.current_screen.ids.body.children[0]
    assert isinstance(step, FormStep), type(step)
    return step


def box(key: str) -> KButton:
    """The box of a form's field: the button that shows its value."""
    return next(w for w in form()._row(key).walk(restrict=True) if isinstance(w, KButton))


def drawn() -> list[str]:
    """Every text in the widget tree of the window: labels and buttons, text inputs and their hints."""
    out = []
    for w in app.root.walk():
        if isinstance(w, Label) and w.text:
            out.append(w.text)
        elif isinstance(w, TextInput):
            out += [t for t in (w.text, w.hint_text) if t]
    return out


def state() -> dict:
    flow = app.flows[app.sm.current]
    out: dict = {"screen": app.sm.current, "step": flow.view().step}
    person = getattr(flow, "person", None) or getattr(flow, "applicant", None)
    if out["step"] in ("person", "applicant") and person is not None:
        step = form()
        out.update(card_keys=sorted(getattr(person, "card_keys", ())),
                   values={k: person.values.get(k) for k in ("name", "id_number")},
                   boxes={k: box(k).text if any(isinstance(w, KButton) for w in step._row(k).walk(restrict=True))
                          else None for k in ("name", "id_number")},
                   inputs=sorted(step.inputs), pending=sorted(step.pending),
                   keyboard=step.keyboard_field.key if step.keyboard is not None else None,
                   composer=step.keyboard.composer.text if step.keyboard is not None else None,
                   keypad=next((w.value for w in step.ids.editor.walk(restrict=True) if isinstance(w, Keypad)), None))
    return out


def until(condition, what: str, timeout: float = 10.0):
    """A step that lets frames pass until ``condition()`` holds."""
    return plan_until(PLAN, condition, what, timeout)


def touch(key: str):
    """Tap a field's box once the form has come to rest, as a finger would."""
    def run():
        form().ids.scroll.scroll_to(box(key), padding=10, animate=False)
        PLAN[0:0] = [(None, until(lambda: 0 <= form().ids.scroll.scroll_y <= 1, "the form at rest")),
                     (None, lambda: tap(box(key)))]
    return run


def keypad() -> Keypad:
    return next(w for w in form().ids.editor.walk(restrict=True) if isinstance(w, Keypad))


def type_id() -> None:
    """The ID number typed afresh on the keypad that opened empty, and 确定."""
    pad = keypad()
    for digit in RETYPED_ID:
        tap(next(b for b in pad.children if isinstance(b, KButton) and b.key == digit))
    tap(next(b for b in pad.children if isinstance(b, KButton) and b.key == "pad:ok"))
    pump()


def next_pressed() -> None:
    tap(next(b for b in form().ids.actions.children if getattr(b, "key", "") == "next"))
    pump()


PLAN: list = [
    ("book-person", lambda: (go("book", "__open__", {"item": BOOKABLE}), go("book", "choose", "2026-11-24"),
                             go("book", "choose", "09:00"))),
    ("book-card-read", lambda: go("book", "card", card)),
    ("book-phone", lambda: go("book", "field", ("phone", PHONE))),
    ("book-confirm", lambda: go("book", "action", "next")),
    ("book-refused", lambda: go("book", "action", "confirm")),          # the server refuses: back to the person step
    ("book-confirm-again", lambda: go("book", "action", "next")),
    ("book-result", lambda: go("book", "action", "confirm")),
    ("apply-form", lambda: [go("apply", "__open__", {"item": NEWBORN})] +
     [go("apply", "field", kv) for kv in NEWBORN_VALUES.items()]),
    ("apply-materials", lambda: go("apply", "action", "next")),
    ("apply-card-read", lambda: (go("apply", "action", "next"), go("apply", "card", card))),
    ("apply-confirm", lambda: (go("apply", "field", ("phone", PHONE)), go("apply", "action", "next"))),
    ("apply-result", lambda: go("apply", "action", "submit")),
    # the next visit: the card read, then its values retyped
    ("retype-card-read", lambda: (go("book", "__wipe__"), go("book", "__open__", {"item": BOOKABLE}),
                                  go("book", "choose", "2026-11-24"), go("book", "choose", "09:00"),
                                  go("book", "card", card))),
    (None, touch("name")),
]
if text_input == "system":
    PLAN += [
        (None, until(lambda: "name" in form().inputs, "a text input in place of the name's mask")),
        ("retype-name-open", lambda: None),
        ("retype-name-left-empty", next_pressed),                      # nothing typed: the card's name stays
        (None, touch("name")),
        (None, until(lambda: "name" in form().inputs, "a text input in place of the name's mask")),
        ("retype-name-typed", lambda: (setattr(form().inputs["name"], "text", "张晓红"), next_pressed())),
    ]
else:
    PLAN += [
        (None, until(lambda: form().keyboard_field is not None and form().keyboard_field.key == "name",
                     "the keyboard open on the name")),
        ("retype-name-open", lambda: None),
        (None, touch("id_number")),
        (None, until(lambda: any(isinstance(w, Keypad) for w in form().ids.editor.walk(restrict=True)),
                     "the keypad open on the ID number")),
        ("retype-id-open", lambda: None),                              # the name's keyboard closed, nothing typed
        ("retype-id-typed", type_id),
    ]

def capture(entry: dict) -> None:
    entry["texts"] = drawn()
    try:
        entry.update(state())
    except Exception as e:
        entry.setdefault("error", f"{e.__class__.__name__}: {e}")
    entry["problems"] = screen_checks.measure(app.root, elderly=mode == "elderly")


def finish() -> None:
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")


run_plan(app, PLAN, report["steps"], report["errors"],
         lambda index, name: out_dir / f"kiosk-privacy-{layout}-{mode}-{text_input}-{index:02d}-{name}.png",
         capture, finish)
app.run()
