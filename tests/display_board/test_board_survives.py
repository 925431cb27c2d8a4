"""A fault while drawing one state does not take the hall's board down: Kivy ends the app on an exception in a
clock callback, and nothing restarts a board under ``hallq start`` (display_board/app.py ``_refresh``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CITY

BOARDS = CITY.parent / "board.toml"

SCRIPT = """
import json, sys
from pathlib import Path
from display_board.display import prepare_kivy
from display_board.settings import load_boards
settings = load_boards(sys.argv[1])["lobby"]
prepare_kivy("offscreen", Path(sys.argv[2]), settings.size, fullscreen=False)
from kivy.clock import Clock
import display_board.app as board_app
from display_board.model import BoardModel
from tests.display_board.payloads import T0
app = board_app.BoardApp(BoardModel(settings), now=lambda: T0)
real = board_app.present
broken = {"on": False}
def present(model, now):
    if broken["on"]:
        raise ValueError("a bug in drawing this state")
    return real(model, now)
board_app.present = present
out = {}
def step(dt):
    broken["on"] = True
    app.refresh()
def check(dt):
    broken["on"] = False
    app.root.hall_name = ""
    app.refresh()
def done(dt):
    out["hall_name"] = app.root.hall_name
    app.stop()
Clock.schedule_once(step, 0.3)
Clock.schedule_once(check, 2.5)
Clock.schedule_once(done, 3.0)
app.run()
print(json.dumps(out))
"""


def test_a_fault_in_drawing_is_logged_and_the_board_goes_on(tmp_path):
    script = tmp_path / "survive.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(KIVY_NO_ARGS="1", PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    r = subprocess.run([sys.executable, str(script), str(BOARDS), str(tmp_path / "kivy"), ""], env=env,
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["hall_name"]  # drawn again once the fault is gone
    assert "could not draw the board" in r.stderr and r.stderr.count("could not draw the board") == 1
