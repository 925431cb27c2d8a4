"""tests/display_board/render_board.py, also reporting the queue tiles' page (run as a subprocess).

Usage: python tests/display_board/render_pages.py SPEC.json RESULT.json [TURNS]

The same steps and RESULT as render_board.py; besides, RESULT.pages.json lists for each screenshot the
"1/2" shown beside the queues' title and the tiles' names. With TURNS, before each screenshot the tiles
are turned to page TURNS[i] (as the board's one-second tick does every few seconds).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(spec_path: str, result_path: str, turns: list[int]) -> None:
    import display_board.display as display

    from tests.display_board import render_board

    pages: list[dict] = []
    prepare = display.prepare_kivy

    def prepare_then_watch(*args, **kw):
        prepare(*args, **kw)
        from display_board.app import BoardApp  # only after prepare_kivy

        save, refresh = BoardApp.save_screenshot, BoardApp._refresh

        def refresh_at_turn(app, dt=0):
            if len(pages) < len(turns):  # the page of the next picture
                app.tile_turn = turns[len(pages)]
            refresh(app, dt)

        def save_and_note(app, path):
            save(app, path)
            pages.append({"png": str(path), "page": app.root.queues_page, "tiles": [t.name for t in app.tiles],
                          "widgets": sum(1 for _ in app.root.walk())})

        refresh_at_turn.__name__ = "_refresh"  # Kivy's clock calls a bound method back by its name
        BoardApp._refresh, BoardApp.save_screenshot = refresh_at_turn, save_and_note

    display.prepare_kivy = prepare_then_watch
    render_board.main(spec_path, result_path)
    Path(result_path).with_suffix(".pages.json").write_text(json.dumps(pages, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    import os

    os.environ.setdefault("KIVY_NO_ARGS", "1")
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else [])
