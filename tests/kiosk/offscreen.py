"""What the offscreen kiosk scripts share (render_screens.py, drive_routed.py, drive_read_aloud.py), inside their
Kivy process, imported after ``kiosk.ui.setup.prepare``: a scenario's steps through the real presenters, and the
walk that shows each scenario on the real screens, lets Kivy lay it out, exports it as PNG and records it."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock

Scenario = Callable[[], str]          # runs a scenario's events; returns the name of the screen to show


def stepper(flows: dict[str, Any]) -> Callable[..., Scenario]:
    """``step(flow, *events)``: a scenario that sends ``events`` to ``flows[flow]`` (``("start", {kw})`` starts
    it, any other tuple goes to ``handle``), then shows that flow."""
    def step(flow: str, *events: tuple) -> Scenario:
        def run() -> str:
            for e in events:
                if e[0] == "start":
                    flows[flow].start(**(e[1] if len(e) > 1 else {}))
                else:
                    flows[flow].handle(*e)
            return flow
        return run
    return step


def render_all(app, scenarios: list[tuple[str, Scenario]], screens: dict[str, dict], png: Callable[[int, str], Path],
               record: Callable[[str], dict], finish: Callable[[], None]) -> None:
    """Show each ``(name, scenario)`` in turn, and once its layout has settled export it to ``png(index, name)``
    and keep ``screens[name]``: the PNG's path and what ``record(screen)`` measured. A scenario that raises is
    kept as its error and trace (a test failure with its cause), and the walk goes on; ``finish()`` at the end."""
    def run_next(index: int) -> None:
        if index >= len(scenarios):
            finish()
            return
        name, fn = scenarios[index]
        try:
            screen = fn()
            app.show(screen, app.flows[screen].view())
        except Exception as e:
            screens[name] = {"error": f"{e.__class__.__name__}: {e}", "trace": traceback.format_exc()}
            Clock.schedule_once(lambda dt: run_next(index + 1), 0)
            return

        def capture(dt) -> None:
            path = png(index, name)
            app.root.export_to_png(str(path))
            screens[name] = {"png": str(path), **record(screen)}
            Clock.schedule_once(lambda dt: run_next(index + 1), 0)
        Clock.schedule_once(lambda dt: Clock.schedule_once(capture, 0.05), 0)

    run_next(0)
