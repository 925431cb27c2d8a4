"""Type Chinese on the kiosk's on-screen keyboard, for real and offscreen; screenshots and a report (a subprocess).

    python tests/kiosk/drive_keyboard.py SERVER_URL OUT_DIR LAYOUT MODE LANG [system]

The application form of 城乡居民基本养老保险参保登记 (520201-RS-GG-0001)
against a real server: touches go through Kivy's window like a finger's
(the key must be where it is drawn and not covered). The address field is
tapped, "beijing" typed, 北京 chosen and 确定 pressed; the bank account is
typed on the 123 page (where it opens: its pattern allows only digits); the address is then extended with 市, 12 and 号 on
the pages they are on; then 路 is typed and, without 确定, the bank account
field and 下一步 are tapped (what was typed must reach the presenter all
the same); last, the idle timeout wipes the visit while the keyboard is
open, and the next visit's form must show none of it. With ``system``
(kiosk.text_input = "system") the form has Kivy TextInputs instead, filled
as an input method would, and 下一步 sends them. After every step: a PNG,
the age-friendly checks (tests/kiosk/screen_checks.py, with no two touch
targets overlapping) and what the keyboard and the presenter hold, in
report.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

url, out, layout, mode, lang = sys.argv[1:6]
text_input = sys.argv[6] if len(sys.argv) > 6 else "onscreen"
out_dir = Path(out)
out_dir.mkdir(parents=True, exist_ok=True)

from kiosk.ui.setup import prepare  # noqa: E402

prepare((1080, 1920) if layout == "portrait" else (1920, 1080), fullscreen=False, headless=True,
        kivy_home=tempfile.mkdtemp())

from kivy.core.window import Window  # noqa: E402

from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.form_step import FormStep  # noqa: E402
from kiosk.ui.touch import tap  # noqa: E402  (a finger on the screen: the autopilot's too)
from tests.kiosk import screen_checks  # noqa: E402
from tests.kiosk.plan_runner import run_plan  # noqa: E402
from tests.kiosk.plan_runner import pump as plan_pump  # noqa: E402
from tests.kiosk.plan_runner import until as plan_until  # noqa: E402
from tests.kiosk.conftest import make_session  # noqa: E402

ITEM = "520201-RS-GG-0001"
session = make_session(url, layout=layout, elderly_mode=mode == "elderly", text_input=text_input)
session.set_lang(lang)
session.elderly = mode == "elderly"
app = KioskApp(session, headless=True, background=False)
apply = app.flows["apply"]
report: dict = {"layout": layout, "mode": mode, "lang": lang, "steps": [], "window": None}


def pump() -> None:
    """What the worker thread does, here in order on the main thread: every queued event, then draw."""
    plan_pump(app)


def form() -> FormStep:
    step = app.sm.get_screen("apply").ids.body.children[0]
    assert isinstance(step, FormStep), type(step)
    return step


def field(key: str):
    """Scroll the form to the field (as a finger would), tap it once the scroll has come to rest, and go on
    once its keyboard is open. (A tap inside a ScrollView reaches the button on its release, 0.2 s later;
    were the form still bouncing back from an overscroll then, the finger would no longer be on it.)"""
    def scroll():
        form().ids.scroll.scroll_to(form().buttons[key], padding=10, animate=False)
        PLAN[0:0] = [(None, until(lambda: 0 <= form().ids.scroll.scroll_y <= 1, "the form scrolled to rest",
                                  explain=lambda: where(form().buttons[key]))),
                     (None, lambda: tap(form().buttons[key])),
                     (None, until(lambda: form().keyboard_field is not None and form().keyboard_field.key == key,
                                  f"the keyboard opened on {key}", explain=lambda: where(form().buttons[key])))]
    return scroll


def where(widget) -> str:
    sv = form().ids.scroll
    return (f"button at {widget.to_window(*widget.center)} size {widget.size}; scroll view at {sv.to_window(*sv.pos)} "
            f"size {sv.size} scroll_y {sv.scroll_y:.3f}; keyboard on "
            f"{form().keyboard_field.key if form().keyboard_field else None}")


def until(condition, what: str, timeout: float = 10.0, explain=lambda: ""):
    """A step that lets frames pass until ``condition()`` holds (an event, not a fixed wait)."""
    return plan_until(PLAN, condition, what, timeout, explain)


def keyboard():
    kb = form().keyboard
    assert kb is not None, "the keyboard is not open"
    return kb


tap_ms: list[float] = []


def key(name: str):
    """A key's tap, timed: from the finger's touch to the keyboard drawn anew (candidates included)."""
    def press():
        t0 = time.perf_counter()
        tap(keyboard().keys[name])
        tap_ms.append((time.perf_counter() - t0) * 1000)
        report.setdefault("taps", []).append([name, round(tap_ms[-1], 1)])
    return press


def keys(*names: str) -> list:
    """One step per key: the keyboard is laid out again between two taps, as between two fingers' taps."""
    return [(None, key(n)) for n in names]


def pick(text: str):
    """Tap the candidate ``text`` (on this page, or ▶ first)."""
    def run():
        kb = keyboard()
        for b in kb.cand_buttons:
            if b.text == text:
                tap(b)
                return
        if kb.next_btn.role == "disabled":
            raise AssertionError(f"{text} is not among the candidates")
        tap(kb.next_btn)
        PLAN.insert(0, (None, run))   # look again once the next page is drawn
    return run


def state() -> dict:
    step = form()
    kb = step.keyboard
    out = {"fields": dict(apply.fields.values), "errors": dict(apply.fields.errors), "pending": dict(step.pending),
           "buttons": {k: b.text for k, b in step.buttons.items()}, "inputs": sorted(step.inputs)}
    if kb is not None:
        c = kb.composer
        out.update(text=c.text, pinyin=c.pinyin, mode=c.mode, symbols=c.symbols,
                   shown=[b.text for b in kb.cand_buttons], field=step.keyboard_field.key,
                   key_size=[round(kb.keys["q" if not c.symbols else "1"].width),
                             round(kb.keys["q" if not c.symbols else "1"].height)])
    return out


def start():
    app.show(*app.process("apply", "__open__", {"item": ITEM}))


def sent():
    tap(keyboard().keys["ok"])
    pump()


PINYIN = keys("mode") if lang == "en" else []      # English residents start with letters: switch to 拼音


PLAN: list = [
    ("form", start),
    (None, field("address")), ("address-keyboard", lambda: None),
    *PINYIN, *keys(*"beijin"), ("address-beijing", key("g")),
    ("address-picked", pick("北京")),
    ("address-sent", sent),
    (None, field("bank_account")), ("account-keyboard", lambda: None),  # only digits allowed: it opens on 123
    *keys(*"621700123456789"), ("account-digits", key("0")),
    ("account-sent", sent),
    (None, field("address")),
    *PINYIN, *keys(*"sh"), ("address-shi", key("i")),
    (None, pick("市")), *keys("symbols", "1", "2", "symbols", "h", "a"), ("address-hao", key("o")),
    (None, pick("号")), (None, key("mode")), (None, key("shift")), ("address-english", key("b")),
    (None, key("delete")), ("address-extended", sent),
    (None, field("address")), *PINYIN, *keys("l"), (None, key("u")), (None, pick("路")),
    (None, field("bank_account")), ("address-pending", lambda: None),
    ("next-pressed", lambda: (tap(next(b for b in form().ids.actions.children if b.key == "next")), pump())),
    (None, field("address")), (None, key("clear")), (None, sent),
    (None, field("address")), *PINYIN, *keys("z", "h", "o", "u"), ("typing", lambda: None),
    ("next-visit", lambda: (app.show(*app.process("apply", "__wipe__", None)), start())),
]


def system_input(key: str, text: str):
    def fill():
        ti = form().inputs[key]
        tap(ti)
        ti.text = text                # what an input method (fcitx, ibus, a handwriting pad) commits
    return fill


if text_input == "system":
    PLAN[:] = [
        ("form", start),
        (None, system_input("address", "贵州省六盘水市钟山区")),
        ("system-typed", system_input("bank_account", "6217001234567890")),
        ("next-pressed", lambda: (tap(next(b for b in form().ids.actions.children if b.key == "next")), pump())),
    ]


errors: list[str] = []


def capture(entry: dict) -> None:
    try:
        entry.update(state())
    except Exception as e:
        entry.setdefault("error", f"{e.__class__.__name__}: {e}")
    entry["problems"] = screen_checks.measure(app.root, elderly=mode == "elderly", overlaps=True)


def finish() -> None:
    report["window"] = list(Window.size)
    report["errors"] = errors
    report["tap_ms"] = {"median": round(statistics.median(tap_ms), 1), "max": round(max(tap_ms), 1),
                        "n": len(tap_ms)} if tap_ms else {}
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")


run_plan(app, PLAN, report["steps"], errors,
         lambda index, name: out_dir / f"keyboard-{layout}-{mode}-{lang}-{index:02d}-{name}.png", capture, finish)
app.run()
