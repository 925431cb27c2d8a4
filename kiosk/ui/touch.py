"""A finger on the kiosk's screen, for the demo's autopilot (kiosk.autopilot) and the tests that drive the app.

A tap goes through Kivy's window like a real touch screen's: it lands on
whatever is drawn at that point (a widget covered by a modal, or scrolled out
of its ScrollView, is not reached), so driving the app this way checks what a
resident could really do. A tap inside a ScrollView reaches its button on the
release, about 0.2 s later (Kivy waits to tell a tap from a scroll).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from kivy.base import EventLoop
from kivy.input.motionevent import MotionEvent
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

_ids = itertools.count(1)


class Finger(MotionEvent):
    """One touch at window coordinates (x, y)."""

    def __init__(self, x: float, y: float) -> None:
        win = EventLoop.window
        super().__init__("hallq-finger", next(_ids), {"x": x / (win.width - 1.0), "y": y / (win.height - 1.0)},
                         is_touch=True, type_id="touch")
        self.profile = ["pos"]

    def depack(self, args: dict[str, Any]) -> None:
        self.sx = args["x"]
        self.sy = args["y"]
        super().depack(args)


def tap(widget: Widget) -> None:
    """Touch the middle of ``widget`` and lift the finger (main thread)."""
    x, y = widget.to_window(*widget.center)
    finger = Finger(x, y)
    EventLoop.post_dispatch_input("begin", finger)
    EventLoop.post_dispatch_input("end", finger)


def with_key(root: Widget, key: str) -> Iterator[Widget]:
    """The enabled widgets under ``root`` whose ``key`` is ``key`` (buttons, tiles, keypad keys), top first."""
    for w in root.walk(restrict=True):
        if getattr(w, "key", None) == key and not w.disabled:
            yield w


def _scroll_view(widget: Widget) -> ScrollView | None:
    parent = widget.parent
    while parent is not None and not isinstance(parent, ScrollView):
        parent = parent.parent if parent.parent is not parent else None    # the window is its own parent
    return parent


def at_rest(widget: Widget) -> bool:
    """Whether the ScrollView holding ``widget`` (if any) has stopped moving: a touch on a moving one only
    stops it (Kivy's scroll effects), as a finger's does, and reaches no button."""
    sv = _scroll_view(widget)
    if sv is None:
        return True
    moving = any(e is not None and abs(getattr(e, "velocity", 0) or 0) > 1e-3 for e in (sv.effect_x, sv.effect_y))
    return not moving and 0.0 <= sv.scroll_y <= 1.0 and 0.0 <= sv.scroll_x <= 1.0


def scroll_into_sight(widget: Widget) -> bool:
    """Scroll the ScrollView holding ``widget`` so that its middle can be touched; True if it had to scroll
    (positions are updated on the next frame: look again then)."""
    parent = _scroll_view(widget)
    if parent is None:
        return False
    x, y = widget.to_window(*widget.center)
    left, bottom = parent.to_window(*parent.pos)
    if left <= x <= left + parent.width and bottom <= y <= bottom + parent.height:
        return False
    parent.scroll_to(widget, padding=10, animate=False)
    parent.scroll_y = min(1.0, max(0.0, parent.scroll_y))    # never left past an end (it would spring back)
    return True
