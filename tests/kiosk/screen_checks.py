"""What an age-friendly screen must pass, measured on the drawn Kivy widgets (used by render_screens.py
and drive_keyboard.py, inside their Kivy process): touch targets ≥ 60 dp, text ≥ 18 sp (main actions
≥ 30 sp in elderly mode), no text clipped, nothing outside the window, no two texts drawn over each
other, text against what is drawn behind it at a contrast of at least 4.5:1 (WCAG 2, as MIIT's 适老化
rules ask), no tile cut at the edge of its list; optionally no two touch targets overlapping."""

from __future__ import annotations

from kivy.core.window import Window
from kivy.graphics import Color, Rectangle, RoundedRectangle
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
    texts = [w for w in root.walk() if isinstance(w, Label) and w.text.strip() and w.get_parent_window()
             and _opacity(w) > 0 and w.width > 1 and w.height > 1 and _in_sight(w)]
    boxes = [(w, _clipped(w, text_box(w))) for w in texts]
    for i, (a, ra) in enumerate(boxes):        # two texts drawn over each other
        for b, rb in boxes[i + 1:]:
            if _intersect(ra, rb) > 4:
                problems.append(f"texts {a.text[:12]!r} and {b.text[:12]!r} overlap")
    for w in texts:                            # text against what is drawn behind it
        fg = tuple(w.disabled_color if w.disabled else w.color)
        bg = background(w)
        ratio = contrast(_over(fg, bg), bg)
        if ratio < 4.5:
            problems.append(f"text {w.text[:20]!r} contrast {ratio:.1f}:1 < 4.5:1")
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


def text_box(w: Label) -> tuple[float, float, float, float]:
    """Where the text itself is drawn (window coordinates x, y, w, h): its texture placed in the label's box by
    halign and valign (Kivy centres a texture that is smaller than its box unless text_size says otherwise)."""
    tw, th = w.texture_size
    x, y = w.to_window(w.x, w.y)
    if w.text_size[0] is None or w.halign == "center":
        x += (w.width - tw) / 2
    elif w.halign == "right":
        x += w.width - tw
    if w.text_size[1] is None or w.valign == "middle":
        y += (w.height - th) / 2
    elif w.valign == "top":
        y += w.height - th
    return x, y, tw, th


def _clipped(w, box):
    """The part of ``box`` a resident sees: a list (ScrollView) draws nothing outside itself."""
    x, y, bw, bh = box
    for sv in (p for p in _parents(w) if isinstance(p, ScrollView)):
        left, bottom = sv.to_window(sv.x, sv.y)
        x2, y2 = min(x + bw, left + sv.width), min(y + bh, bottom + sv.height)
        x, y = max(x, left), max(y, bottom)
        bw, bh = max(x2 - x, 0), max(y2 - y, 0)
    return x, y, bw, bh


def _intersect(a, b) -> float:
    dx = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    dy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return dx * dy if dx > 0 and dy > 0 else 0.0


def _opacity(w) -> float:
    o = w.opacity
    for p in _parents(w):
        o *= getattr(p, "opacity", 1)
    return o


def _in_sight(w) -> bool:
    """Not scrolled out of its list (a text there is not drawn, so it overlaps nothing)."""
    for sv in (p for p in _parents(w) if isinstance(p, ScrollView)):
        left, bottom = sv.to_window(sv.x, sv.y)
        x, y = w.to_window(w.x, w.y)
        if y >= bottom + sv.height or y + w.height <= bottom:
            return False
    return True


def background(w) -> tuple[float, float, float]:
    """The colour drawn behind ``w``: the first opaque rectangle, on ``w`` or a parent, that covers it (a button's
    fill, a notice bar, the header, a tile, the screen); the window's clear colour if none."""
    wx, wy = w.to_window(w.x, w.y)
    for node in [w, *_parents(w)]:
        canvas = getattr(node, "canvas", None)
        if canvas is None:
            continue
        colour = None
        for instr in canvas.before.children:
            if isinstance(instr, Color):
                colour = tuple(instr.rgba)
            elif isinstance(instr, (Rectangle, RoundedRectangle)) and colour is not None and colour[3] > 0.99:
                nx, ny = node.to_window(*instr.pos)     # canvas coordinates are those of the widget's pos
                iw, ih = instr.size
                if iw * ih > 0 and nx <= wx + 1 and ny <= wy + 1 and nx + iw >= wx + w.width - 1 \
                        and ny + ih >= wy + w.height - 1:
                    return colour[:3]
    return tuple(Window.clearcolor[:3])


def _over(fg, bg) -> tuple[float, float, float]:
    """A colour with alpha, as drawn over ``bg``."""
    a = fg[3] if len(fg) > 3 else 1.0
    return tuple(f * a + b * (1 - a) for f, b in zip(fg[:3], bg))


def luminance(rgb) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg, bg) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


# -- forms: fields at the scroll edge and under the on-screen keyboard ------------------------------------------

def _rect(w) -> tuple[float, float, float, float]:
    x, y = w.to_window(w.x, w.y)
    return x, y, w.width, w.height


def _inside(inner, outer, slack: float = 1.0) -> bool:
    return inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and \
        inner[0] + inner[2] <= outer[0] + outer[2] + slack and inner[1] + inner[3] <= outer[1] + outer[3] + slack


def _field_parts(form, key: str):
    """A field's row, its label (the row's first child) and its box (the button or input after it)."""
    row = next(r for r in form.ids.fields.children if getattr(r, "field_key", None) == key)
    return row, row.children[-1], row.children[-2]


def _viewport(form):
    """What a resident sees of the form's fields: its ScrollView, less what the editor (keyboard, keypad) covers
    and less the window's edges."""
    sv = form.ids.scroll
    x, y, w, h = _rect(sv)
    width, height = Window.size
    x2, y2 = min(x + w, width), min(y + h, height)
    x, y = max(x, 0), max(y, 0)
    editor = form.ids.editor
    if editor.children and editor.height > 1:
        ex, ey, ew, eh = _rect(editor)
        if ex < x2 and x < ex + ew:              # the keyboard under the form (portrait) cuts its bottom
            if ey + eh > y and ey < y2:
                y = max(y, ey + eh)
    return x, y, max(x2 - x, 0), max(y2 - y, 0)


def form_problems(form, focused: str) -> list[str]:
    """A form with the keyboard (or keypad) open on ``focused``: that field and its label whole in sight above the
    keyboard and not covered by it; the primary button (下一步/提交) in the window, whole and not covered; a form
    whose fields overflow its viewport says so with a scroll bar drawn at rest (as the lists do)."""
    problems = []
    sv = form.ids.scroll
    view = _viewport(form)
    width, height = Window.size
    editor = form.ids.editor
    kb = _rect(editor) if editor.children else None
    row, label, box = _field_parts(form, focused)
    for part, what in ((label, "label"), (box, "box")):
        r = _rect(part)
        if not _inside(r, view):
            problems.append(f"focused field {focused!r}: its {what} at y {r[1]:.0f}..{r[1] + r[3]:.0f} is not whole "
                            f"in the form's view y {view[1]:.0f}..{view[1] + view[3]:.0f} above the keyboard")
        elif kb is not None and _intersect(r, kb) > 4:
            problems.append(f"focused field {focused!r}: its {what} is covered by the keyboard")
    primary = [b for b in form.ids.actions.children if getattr(b, "role", "") == "primary"]
    if not primary:
        problems.append("no primary button (下一步/提交) on the form")
    for b in primary:
        r = _rect(b)
        if not _inside(r, (0, 0, width, height)) or b.opacity == 0 or b.height < dp(60) - 1:
            problems.append(f"primary button {b.text!r} not reachable: at {r[0]:.0f},{r[1]:.0f} size {r[2]:.0f}x{r[3]:.0f}")
        elif kb is not None and _intersect(r, kb) > 4:
            problems.append(f"primary button {b.text!r} covered by the keyboard")
        elif _intersect(r, _rect(sv)) > 4:
            problems.append(f"primary button {b.text!r} drawn over the form's fields")
    if form.ids.fields.height > sv.height + 1 and (sv.bar_inactive_color[3] < 0.99 or sv.bar_width < dp(6)):
        problems.append(f"the form's fields overflow its view ({form.ids.fields.height:.0f} > {sv.height:.0f} px) "
                        f"with no scroll bar drawn at rest")
    if form.ids.fields.height > sv.height + 1:    # the bar is drawn on the view's right edge: beside the fields
        sx, sy, sw, sh = _rect(sv)
        bar = (sx + sw - sv.bar_width - sv.bar_margin, sy, sv.bar_width, sh)
        for r in form.ids.fields.children:
            b = _rect(r.children[-2])
            if _intersect(_clipped_to(b, view), bar) > 4:
                problems.append(f"the scroll bar is drawn over the field {getattr(r, 'field_key', '')!r}")
                break
    if view[3] < box.height:
        problems.append(f"the form's view above the keyboard ({view[3]:.0f} px) is lower than one field")
    return problems + edge_problems(form)


def edge_problems(form) -> list[str]:
    """At rest, the form's view never shows a field's box at its edge without the field's label."""
    problems = []
    view = _viewport(form)
    for r in form.ids.fields.children:
        key = getattr(r, "field_key", None)
        if key is None:
            continue
        _, lab, bx = _field_parts(form, key)
        br, lr = _clipped_to(_rect(bx), view), _rect(lab)
        if br[3] > dp(8) and not _inside(lr, view):
            problems.append(f"field {key!r}: its box is in sight at the form's edge without its label")
    return problems


def _clipped_to(r, view):
    x2, y2 = min(r[0] + r[2], view[0] + view[2]), min(r[1] + r[3], view[1] + view[3])
    x, y = max(r[0], view[0]), max(r[1], view[1])
    return x, y, max(x2 - x, 0), max(y2 - y, 0)


def field_revealed(form, key: str) -> list[str]:
    """After the form was scrolled to the field ``key``: its label and box whole in the view above the keyboard."""
    view = _viewport(form)
    row, label, box = _field_parts(form, key)
    lr, br = _rect(label), _rect(box)
    if _inside(lr, view) and _inside(br, view):
        return []
    return [f"field {key!r} cannot be shown whole: scrolled to it, its label is at y {lr[1]:.0f}..{lr[1] + lr[3]:.0f}"
            f" and its box at y {br[1]:.0f}..{br[1] + br[3]:.0f}, the view y {view[1]:.0f}..{view[1] + view[3]:.0f}"]
