"""Draw the kiosk's longest forms with the on-screen keyboard open, and measure them (run in a subprocess).

    python tests/kiosk/render_forms.py SERVER_URL OUT_DIR LAYOUT MODE LANG HALL RESOLUTION

The forms are the sample catalogue's own, asked of the real server: the two longest item forms of the
hall (routed items included: a village station files them), every 一件事 package's merged form and the
applicant step. On each, the last field a resident types into (text: the pinyin keyboard; a number: the
keypad) is tapped through Kivy's window like a finger, after scrolling to it as a finger would; once the
keyboard is open and the form at rest, the screen is saved as a PNG and measured
(tests/kiosk/screen_checks.py: ``measure``, with no two touch targets overlapping, and ``form_problems``);
then each field is scrolled to in turn, keyboard still open, and must then be whole in the form's viewport
(``field_revealed``). report.json holds the problems by form.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

url, out, layout, mode, lang, hall, resolution = sys.argv[1:8]
out_dir = Path(out)
out_dir.mkdir(parents=True, exist_ok=True)

from kiosk.config import KioskConfig  # noqa: E402
from kiosk.ui.setup import prepare  # noqa: E402

size = KioskConfig(path=ROOT, id="kiosk-1", server_url=url, device_key="-", layout=layout, resolution=resolution).size
prepare(size, fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())

from kivy.clock import Clock  # noqa: E402
from kivy.core.window import Window  # noqa: E402

from kiosk.presenters.application import PACKAGE  # noqa: E402
from kiosk.ui.app import KioskApp  # noqa: E402
from kiosk.ui.form_step import FormStep  # noqa: E402
from kivy.base import EventLoop  # noqa: E402

from kiosk.ui.touch import Finger, at_rest, scroll_into_sight, tap  # noqa: E402
from tests.conftest import make_id  # noqa: E402
from tests.kiosk import screen_checks  # noqa: E402
from tests.kiosk.conftest import make_session  # noqa: E402

session = make_session(url, key="demo-kiosk-station" if hall == "village" else "demo-kiosk-1", layout=layout,
                       resolution=resolution, elderly_mode=mode == "elderly")
session.set_lang(lang)
session.elderly = mode == "elderly"
app = KioskApp(session, headless=True, background=False)
apply = app.flows["apply"]
report: dict = {"layout": layout, "mode": mode, "lang": lang, "hall": hall, "resolution": resolution,
                "forms": {}, "window": None}


def longest_forms() -> list[tuple[str, list]]:
    """(name, events that bring the apply flow to the form) for the longest forms of the hall's catalogue."""
    apply.start()
    items = [i["code"] for i in apply._items()] + [i["code"] for i in apply.routed]
    sized = sorted(((len(session.api.form(code).get("fields", [])), code) for code in items), reverse=True)
    forms = [(f"item-{code}", [("choose", code)]) for n, code in sized[:2] if n]
    forms += [(f"package-{p['package']}", [("choose", PACKAGE + p["package"]), ("action", "start")])
              for p in apply.packages]
    if sized:    # the applicant's step: name, ID number, phone, how the result is delivered
        forms.append(("applicant", [("choose", sized[0][1]), ("field_all", None), ("action", "next"),
                                    ("action", "all_or_next")]))
    return forms


def step() -> FormStep | None:
    body = app.sm.get_screen("apply").ids.body
    w = body.children[0] if body.children else None
    return w if isinstance(w, FormStep) else None


def fill_all() -> None:
    """Valid values for the item's form, so 下一步 leads on (to the applicant's step)."""
    for n, f in enumerate(apply.fields.fields(lang)):
        if f.value:
            continue
        typed = "1" * (f.max_len or 6) if f.digits_only else "测试"
        value = {"select": (f.options[0].key if f.options else ""), "date": "2026-11-10", "number": "3",
                 "phone": "13912345678", "id_number": make_id(seq=300 + n)}.get(f.kind, typed)
        apply.handle("field", (f.key, value))


def open_form(events: list) -> None:
    apply.start()
    for event, arg in events:
        if event == "field_all":
            fill_all()
        elif event == "action" and arg == "all_or_next":
            if apply.step == "materials":
                apply.handle("action", "all" if apply.package is not None else "next")
                apply.provided = {m["index"] for m in (apply.form or {}).get("materials", [])}
                apply.handle("action", "next")
        else:
            apply.handle(event, arg)
    wanted = "applicant" if events[-1] == ("action", "all_or_next") else "form"
    errors = {f.key: (f.value, f.error) for f in apply.fields.fields(lang) if f.error}
    assert apply.step == wanted, f"the flow is at {apply.step}, not {wanted} ({errors})"
    app.show("apply", apply.view())


def frames(n: int = 3):
    for _ in range(n):
        yield None


def until(condition, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        yield None


def drag(form: FormStep, fraction: float, hold: bool = False):
    """A finger on the form's fields pushes them up (``fraction`` > 0) or down by that part of the view's height, in
    small moves a frame apart, and lets go: the form glides on, as under a real finger; with ``hold`` the finger
    rests a moment before it lets go, so the form stays where it was pushed."""
    sv = form.ids.scroll
    x, y = sv.to_window(sv.x + sv.width * 0.3, sv.y + sv.height * (0.3 if fraction > 0 else 0.7))
    finger = Finger(x, y)
    EventLoop.post_dispatch_input("begin", finger)
    win = EventLoop.window
    moves = 8
    # the first move at once, past Kivy's scroll distance (as a finger's first move is, at 60 frames a second): a
    # finger still after the ScrollView's scroll_timeout presses the button under it instead (Kivy hands the
    # touch to it), and a headless frame can take longer than that timeout
    first = max(abs(sv.height * fraction) / moves, sv.scroll_distance * 2) / abs(sv.height * fraction)
    for i in range(1, moves + 1):
        if i > 1:
            yield None
        ny = y + sv.height * fraction * (first + (1 - first) * (i - 1) / (moves - 1))
        finger.move({"x": x / (win.width - 1.0), "y": ny / (win.height - 1.0)})
        EventLoop.post_dispatch_input("update", finger)
    yield None
    if hold:
        still = time.monotonic() + 0.25      # Kivy's velocity is taken over the last 1/6 s of moves
        while time.monotonic() < still:
            EventLoop.post_dispatch_input("update", finger)
            yield None
    EventLoop.post_dispatch_input("end", finger)


def settled(form: FormStep):
    """Until the form has stopped gliding and snapping: its scroll position the same, to half a pixel, over several
    frames."""
    last, same, seen = None, 0, []
    deadline = time.monotonic() + 10
    while same < 6:
        if time.monotonic() > deadline:
            sv = form.ids.scroll
            raise AssertionError(f"the form did not come to rest in 10 s: scroll_y {sv.scroll_y!r}, velocity "
                                 f"{sv.effect_y.velocity!r}, manual {sv.effect_y.is_manual}, settling "
                                 f"{getattr(form, '_settling', None) is not None}, padding {form.ids.fields.padding}, "
                                 f"last {seen}")
        yield None
        # in pixels, to the half: Kivy's spring back from past an end creeps by a fraction of a pixel for a while
        now = round(form.ids.scroll.scroll_y * max(form.ids.fields.height - form.ids.scroll.height, 1) * 2) / 2
        seen = (seen + [now])[-8:]
        same = same + 1 if now == last and getattr(form, "_settling", None) is None else 0
        last = now


def free_scroll(form: FormStep, shot: Path):
    """The form scrolled by a finger as a resident would, in uneven strokes, down to its end and back: at rest after
    each, no field's box in sight at the view's edge without its label; at the end, the last field whole."""
    problems = []
    if form.ids.fields.height <= form.ids.scroll.height + 1:
        return problems
    strokes = [(0.37, True), (0.23, True), (0.61, True), (0.29, False)] + [(0.9, False)] * 20   # uneven, then on
    for fraction, hold in strokes:
        yield from drag(form, fraction, hold)
        yield from settled(form)
        problems += [f"after a stroke of {fraction:+.2f} of the view{' held' if hold else ''}: {p}"
                     for p in screen_checks.edge_problems(form)]
        if not shot.exists():
            app.root.export_to_png(str(shot))      # the form at rest after the first stroke, to look at
        if form.ids.scroll.scroll_y <= 0.0005:
            last = min(form.ids.fields.children, key=lambda r: r.y)
            problems += screen_checks.field_revealed(form, last.field_key)
            break
    else:
        problems.append("twenty strokes did not reach the form's end")
    sv = form.ids.scroll
    back = min(0.45, 0.8 * (form.ids.fields.height - sv.height) / sv.height)   # not past the top
    yield from drag(form, -back, hold=True)
    yield from settled(form)
    problems += [f"after a stroke back: {p}" for p in screen_checks.edge_problems(form)]
    return problems


def run_form(index: int, name: str, events: list):
    open_form(events)
    yield from until(lambda: step() is not None and step().ids.fields.children, "the form drawn")
    yield from frames()
    form = step()
    scrolled = yield from free_scroll(form, out_dir / f"{hall}-{layout}-{resolution}-{mode}-{lang}-{index:02d}-{name}"
                                                         f"-scrolled.png")
    yield from until(lambda: at_rest(form.ids.fields), "the form at rest after the strokes")
    form.ids.scroll.scroll_y = 1.0
    yield from frames()
    editable = [f for f in apply.view().fields if f.kind != "select"]
    assert editable, "no field to type into"
    f = editable[-1]                              # the last field typed into: near the bottom
    target = form.buttons.get(f.key) or _row_box(form, f.key)
    if scroll_into_sight(target):
        yield from frames()
    yield from until(lambda: at_rest(target), "the form at rest")
    tap(target)
    yield from until(lambda: step() is not None and step().ids.editor.children, f"the keyboard open on {f.key}")
    yield from frames(4)
    yield from until(lambda: at_rest(step().ids.fields), "the form at rest with the keyboard open")
    yield from frames(2)
    form = step()
    path = out_dir / f"{hall}-{layout}-{resolution}-{mode}-{lang}-{index:02d}-{name}.png"
    app.root.export_to_png(str(path))
    problems = screen_checks.measure(app.root, elderly=mode == "elderly", overlaps=True)
    problems += screen_checks.form_problems(form, f.key) + scrolled
    for key in [r.field_key for r in reversed(form.ids.fields.children)]:    # every field can be shown whole
        row = _row(form, key)
        form.ids.scroll.scroll_to(row, padding=0, animate=False)
        form.ids.scroll.scroll_y = min(1.0, max(0.0, form.ids.scroll.scroll_y))
        yield from frames(2)
        problems += screen_checks.field_revealed(form, key)
    report["forms"][name] = {"png": str(path), "focused": f.key, "fields": len(form.ids.fields.children),
                             "problems": problems}


def _row(form: FormStep, key: str):
    return next(r for r in form.ids.fields.children if getattr(r, "field_key", None) == key)


def _row_box(form: FormStep, key: str):
    return _row(form, key).children[-2]


def driver():
    forms = longest_forms()
    report["selected"] = [n for n, _ in forms]
    for index, (name, events) in enumerate(forms):
        try:
            yield from run_form(index, name, events)
        except Exception as e:  # a broken form is a test failure, reported with its cause
            report["forms"][name] = {"error": f"{e.__class__.__name__}: {e}", "trace": traceback.format_exc()}
    report["window"] = list(Window.size)
    (out_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
    app.stop()


gen = driver()


def tick(dt) -> None:
    try:
        next(gen)
    except StopIteration:
        return
    Clock.schedule_once(tick, 0)


app.on_start = lambda: Clock.schedule_once(tick, 0)
app.run()
