"""What an age-friendly screen must pass, measured on the drawn Kivy widgets (used by render_screens.py
and drive_keyboard.py, inside their Kivy process): touch targets ≥ 60 dp, text ≥ 18 sp (main actions
≥ 30 sp in elderly mode), no text clipped, nothing outside the window; optionally no two touch
targets overlapping."""

from __future__ import annotations

from kivy.core.window import Window
from kivy.metrics import dp, sp
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

from kiosk.ui.widgets import KButton, Tile


def measure(root, elderly: bool, overlaps: bool = False) -> list[str]:
    problems = []
    width, height = Window.size
    min_target = dp(60)
    targets = []
    for w in root.walk():
        if not w.get_parent_window() or w.opacity == 0 or w.width <= 1 or w.height <= 1:
            continue
        in_scroll = any(isinstance(p, ScrollView) for p in _parents(w))
        x, y = w.to_window(w.x, w.y)
        if not in_scroll and (x < -1 or x + w.width > width + 1 or y < -1 or y + w.height > height + 1):
            problems.append(f"{type(w).__name__} {getattr(w, 'text', '')[:20]!r} outside the window")
        if isinstance(w, (KButton, Tile)) and not w.disabled:
            if w.height < min_target or w.width < min_target:
                problems.append(f"target {getattr(w, 'text', '')[:20]!r} is {w.width:.0f}x{w.height:.0f}")
            if not in_scroll:
                targets.append((w, x, y))
        if isinstance(w, Label) and w.text.strip():
            if w.font_size < sp(18):
                problems.append(f"text {w.text[:20]!r} at {w.font_size:.0f}px < 18sp")
            if w.text_size[0] and w.texture_size[1] > w.height + 3:
                problems.append(f"text {w.text[:20]!r} clipped: needs {w.texture_size[1]} px, has {w.height:.0f}")
            if w.text_size[0] is None and w.texture_size[0] > w.width + 3 and not isinstance(w, KButton):
                problems.append(f"text {w.text[:20]!r} too wide: {w.texture_size[0]} > {w.width:.0f}")
            if elderly and isinstance(w, KButton) and w.font_size < sp(30) and len(w.text) > 2:
                if not w.text.startswith(("简体", "繁體", "English", "【")):
                    problems.append(f"action {w.text[:20]!r} at {w.font_size:.0f}px < 30sp in elderly mode")
    for sv in root.walk():     # a list at rest shows whole tiles: one cut at its edge reads as the list's end
        if isinstance(sv, ScrollView) and sv.get_parent_window() and sv.height > 1:
            left, bottom = sv.to_window(sv.x, sv.y)
            for w in sv.walk(restrict=True):     # the tiles of a list (a form's fields scroll freely: not yet)
                if isinstance(w, Tile):
                    x, y = w.to_window(w.x, w.y)
                    inside = bottom - 1 <= y and y + w.height <= bottom + sv.height + 1
                    outside = y >= bottom + sv.height - 1 or y + w.height <= bottom + 1
                    if not inside and not outside:
                        problems.append(f"target {getattr(w, 'text', '')[:20]!r} cut at the edge of its list")
    if overlaps:
        for i, (a, ax, ay) in enumerate(targets):
            for b, bx, by in targets[i + 1:]:
                if ax < bx + b.width - 1 and bx < ax + a.width - 1 and \
                        ay < by + b.height - 1 and by < ay + a.height - 1:
                    problems.append(f"targets {a.text[:12]!r} and {b.text[:12]!r} overlap")
    return problems


def _parents(w):
    p = w.parent
    while p is not None and p is not p.parent:
        yield p
        p = p.parent


def targets(root) -> list[dict]:
    """Every touch target drawn: its text, its box in window coordinates, whether it is in a list that scrolls and,
    if so, whether it is in sight (for tests that measure a layout, e.g. how many items a list shows)."""
    out = []
    for w in root.walk():
        if not isinstance(w, (KButton, Tile)) or not w.get_parent_window() or w.opacity == 0 or w.height <= 1:
            continue
        x, y = w.to_window(w.x, w.y)
        sv = next((p for p in _parents(w) if isinstance(p, ScrollView)), None)
        seen = True
        if sv is not None:
            left, bottom = sv.to_window(sv.x, sv.y)
            seen = bottom - 1 <= y and y + w.height <= bottom + sv.height + 1
        out.append({"text": w.text, "key": getattr(w, "key", ""), "box": [x, y, w.width, w.height],
                    "in_list": sv is not None, "in_sight": seen})
    return out
