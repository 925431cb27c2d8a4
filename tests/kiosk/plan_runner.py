"""The step runner of the offscreen kiosk drivers (drive_keyboard.py, drive_card_privacy.py).

A plan is a list of ``(name, action)``: each action runs on Kivy's clock; a named step is then captured (a PNG of the
window, and whatever ``capture`` adds to its entry) once the frame after it is drawn, an unnamed one only gives the
screen two frames to settle. An action that raises ends the plan (the steps after it would only fail the same way),
its cause in ``errors``. Actions may put steps at the front of the same list (a wait that repeats itself)."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path

from kivy.clock import Clock


def run_plan(app, plan: list, steps: list[dict], errors: list[str], png: Callable[[int, str], Path],
             capture: Callable[[dict], None], finish: Callable[[], None]) -> None:
    """Run ``plan`` once ``app`` starts; each named step appended to ``steps``; ``finish()`` before the app stops."""
    shots = 0

    def run() -> None:
        nonlocal shots
        if not plan:
            finish()
            app.stop()
            return
        name, action = plan.pop(0)
        try:
            action()
        except Exception as e:  # reported with its cause; the steps after it would only fail the same way
            errors.append(f"{name or action}: {e.__class__.__name__}: {e}\n{traceback.format_exc()}")
            plan.clear()
        if name is None:
            Clock.schedule_once(lambda dt: Clock.schedule_once(lambda dt: run(), 0), 0)
            return
        entry: dict = {"name": name}
        steps.append(entry)
        index = shots
        shots += 1

        def shoot(dt) -> None:
            path = png(index, name)
            app.root.export_to_png(str(path))
            entry["png"] = str(path)
            capture(entry)
            Clock.schedule_once(lambda dt: run(), 0)
        Clock.schedule_once(lambda dt: Clock.schedule_once(shoot, 0.05), 0)

    app.on_start = lambda: Clock.schedule_once(lambda dt: run(), 0)


def until(plan: list, condition: Callable[[], bool], what: str, timeout: float = 10.0,
          explain: Callable[[], str] = lambda: ""):
    """A step of ``plan`` that lets frames pass until ``condition()`` holds (an event, not a fixed wait): it puts
    itself back at the front of the plan until then, and fails after ``timeout`` seconds saying what it waited for
    (and ``explain()``)."""
    deadline: list[float] = []

    def check():
        deadline[:] = deadline or [time.monotonic() + timeout]
        if condition():
            return
        if time.monotonic() > deadline[0]:
            raise AssertionError(f"waited {timeout:.0f} s for {what}" + (f" ({explain()})" if explain() else ""))
        plan.insert(0, (None, check))
    return check


def pump(app) -> None:
    """What the kiosk's worker thread does, here in order on the main thread: every queued event, then draw."""
    while not app._events.empty():
        name, view = app.process(*app._events.get_nowait())
        if name is not None:
            app.show(name, view)
