"""Every board at both supported sizes (1920×1080, 1280×720) with each of the three languages first, measured from
the drawn widgets (render_board.measure): every text inside its box, no two texts over each other, every text
at a contrast of at least 4.5:1 against what is behind it: at rest, flashing a new call, and a transferred one.
The lobby board (recent calls, two languages) and the station's (one row per window, one language); one Kivy
process per board, size and language, about 30 s in all."""

from __future__ import annotations

import itertools

import pytest

from tests.display_board.conftest import VILLAGE, render
from tests.display_board.payloads import call
from tests.conftest import CITY

LANGS = {"zh-Hans": "en", "zh-Hant": "en", "en": "zh-Hans"}
COMBOS = list(itertools.product(("lobby", "station"), ("1920x1080", "1280x720"), tuple(LANGS)))


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind, layout, lang", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_every_board_at_every_size_and_language(request, tmp_path, artifacts, kind, layout, lang):
    hall = request.getfixturevalue("morning" if kind == "lobby" else "station")
    config = CITY if kind == "lobby" else VILLAGE
    site = "hallq/liupanshui" if kind == "lobby" else "hallq/zhoujia-village"
    languages = f'["{lang}", "{LANGS[lang]}"]' if kind == "lobby" else f'["{lang}"]'
    panel = 'panel = "windows"\n' if kind == "station" else ""
    boards = tmp_path / "board.toml"
    boards.write_text(f'hall = "{config}"\n\n[[boards]]\nid = "b"\nlayout = "{layout}"\nlanguages = {languages}\n'
                      f'{panel}recent_calls = 6\n\n[boards.notices]\nmode = "page"\n', "utf-8")
    board, notices = hall.board(), hall.notices()
    seq = board["last_seq"]
    first = "commerce" if kind == "lobby" else "general"
    moved = "B007" if kind == "lobby" else "A009"      # the village has one business: nothing is transferred there
    out = artifacts / "matrix" / f"{kind}-{layout}-{lang}"
    out.mkdir(parents=True, exist_ok=True)
    steps = [{"out": str(out / "at-rest.png"),
              "messages": [[f"{site}/board", board], [f"{site}/notices", notices]]},
             {"out": str(out / "flash.png"), "flash": True,
              "messages": [[f"{site}/calls", call(seq + 1, "A008" if kind == "lobby" else "A008", 2,
                                                  business=first, area="一楼A区" if kind == "lobby" else "")]]},
             {"out": str(out / "transferred.png"), "flash": True,
              "messages": [[f"{site}/calls", call(seq + 2, moved, 1, business=first)]]}]
    shots = render(tmp_path, "b", steps, boards=boards)
    problems = {s["png"].rsplit("/", 1)[-1]: s["problems"] for s in shots if s["problems"]}
    assert problems == {}
    assert shots[1]["ticket"] == "A008" and shots[2]["ticket"] == moved
