"""Render a real board offscreen through a list of steps and write a PNG after each (run as a subprocess).

Usage: python tests/display_board/render_board.py SPEC.json RESULT.json

SPEC: {"boards": path, "board": id, "kivy_home": dir, "font": "cjk" | "kivy-default",
       "steps": [{"messages": [[topic, payload (object, or a string sent as raw text)], ...],
                  "link": true|false, "flash": true|false, "out": "x.png"}, ...]}
The messages go through the same HallFeed → mainthread → model path as on a hall TV.
RESULT: for each step, what the widgets show (texts) and the PNG path.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    from display_board.display import find_cjk_font, prepare_kivy
    from display_board.settings import load_boards

    settings = load_boards(spec["boards"])[spec["board"]]
    prepare_kivy("offscreen", Path(spec["kivy_home"]), settings.size, fullscreen=False)
    from kivy.clock import Clock

    from display_board.app import BoardApp
    from display_board.board_main import BOARD_TOPICS
    from display_board.display import register_font
    from hallq.feed import HallFeed
    from display_board.model import BoardModel
    from hallq.clock import CHINA

    if spec.get("font", "cjk") == "cjk":
        register_font(find_cjk_font())
    model = BoardModel(settings)
    now = datetime(2026, 11, 23, 9, 35, tzinfo=CHINA)
    app = BoardApp(model, now=lambda: now)
    feed = HallFeed(None, settings.hall.site, BOARD_TOPICS, deliver=app.deliver)
    results = []
    steps = list(spec["steps"])

    def run_step(dt):
        step = steps[len(results)]
        app.set_link(step.get("link", True))
        for topic, payload in step.get("messages", []):
            raw = payload.encode() if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False).encode()
            feed.handle(topic, raw)
        Clock.schedule_once(lambda dt: capture(step), 0.15)  # mainthread deliveries, then layout and a frame

    def capture(step):
        if not step.get("flash"):
            model.flash_until = 0
        app._refresh()
        if app._flash_event is not None:  # hold the flash still for the picture
            app._flash_event.cancel()
            app._flash_event = None
        app.root.flash_on = bool(step.get("flash"))
        app.root.ids.ticker.hold()  # a notice still, at its start, for the picture
        Clock.schedule_once(lambda dt: shoot(step), 0.05)

    def shoot(step):
        out = Path(step["out"])
        t = time.perf_counter()
        app.save_screenshot(out)
        print(f"screenshot {out.name} in {time.perf_counter() - t:.2f} s", file=sys.stderr)
        r = app.root
        results.append({
            "png": str(out), "ticket": r.ticket, "mark": r.mark, "prompt": r.prompt, "banner": r.banner,
            "prompt_parts": [r.prompt_pre, r.prompt_number, r.prompt_post],
            "hall_name": r.hall_name, "recent": [row.ticket for row in reversed(r.ids.recent.children) if row.ticket],
            "recent_marks": [row.mark for row in reversed(r.ids.recent.children) if row.ticket],
            "recent_rows": [[*row.to_window(*row.pos), *row.size] for row in reversed(r.ids.recent.children)
                            if row.ticket],
            "recent_box": [*r.ids.recent.to_window(*r.ids.recent.pos), *r.ids.recent.size],
            "detail": r.detail, "recent_title": r.recent_title,
            "tiles": [t.name for t in app.tiles if t.name], "ticker": r.ids.ticker.text,
            "problems": measure(r),
            "size": list(r.size), "widgets": sum(1 for _ in r.walk()), "bad": feed.bad.rejected,
            "ticket_box": [*r.ids.ticket.to_window(*r.ids.ticket.pos), *r.ids.ticket.size],
            "newest_box": [*r.ids.newest.to_window(*r.ids.newest.pos), *r.ids.newest.size],
        })
        if len(results) < len(steps):
            Clock.schedule_once(run_step, 0)
        else:
            Path(result_path).write_text(json.dumps(results, ensure_ascii=False, indent=1))
            app.stop()

    Clock.schedule_once(run_step, 0.3)
    app.run()


def measure(root) -> list[str]:
    """What a hall board must pass, measured on the drawn widgets: every text inside its box (a label draws its
    texture as large as the text, so a longer one spills over its neighbours), no two texts drawn over each
    other, every text at a contrast of at least 4.5:1 against what is drawn behind it (the flash included)."""
    from kivy.uix.label import Label

    from tests.kiosk.screen_checks import _intersect, _opacity, _over, background, contrast

    problems = []
    texts = [w for w in root.walk() if isinstance(w, Label) and w.text.strip() and _opacity(w) > 0
             and w.width > 1 and w.height > 1]
    boxes = []
    for w in texts:
        tw, th = w.texture_size
        x, y = w.to_window(w.x, w.y)
        if w.text_size[0] is None and tw > w.width + 2 and w.size_hint_x is not None:
            problems.append(f"text {w.text[:20]!r} too wide: {tw} > {w.width:.0f}")
        if th > w.height + 2:
            problems.append(f"text {w.text[:20]!r} too tall: {th} > {w.height:.0f}")
        left = x if w.halign == "left" else x + w.width - tw if w.halign == "right" else x + (w.width - tw) / 2
        boxes.append((w, (left, y + (w.height - th) / 2, tw, th)))
        ratio = contrast(_over(tuple(w.color), background(w)), background(w))
        if ratio < 4.5:
            problems.append(f"text {w.text[:20]!r} contrast {ratio:.1f}:1 < 4.5:1")
    for i, (a, ra) in enumerate(boxes):
        for b, rb in boxes[i + 1:]:
            if _intersect(ra, rb) > 4:
                problems.append(f"texts {a.text[:12]!r} and {b.text[:12]!r} overlap")
    return problems


if __name__ == "__main__":
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    main(sys.argv[1], sys.argv[2])
