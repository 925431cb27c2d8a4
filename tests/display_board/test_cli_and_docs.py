"""The commands, their place in ``hallq start``, and the docs of every setting."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from hallq.hallconfig import ConfigError
from hallq.schema import Arr, Obj
from display_board.cli import hall_parts
from display_board.settings import ANNOUNCER, BOARD, load_boards
from launcher.cli import build_parser
from tests.conftest import CITY

DOCS = Path(__file__).resolve().parents[2] / "docs"


def keys(schema: Obj) -> set[str]:
    out = set()
    for name, field in schema.fields.items():
        out.add(name)
        inner = field.items if isinstance(field, Arr) else field
        if isinstance(inner, Obj):
            out |= keys(inner)
    return out


@pytest.mark.parametrize("doc, schema", [("display-board.md", BOARD), ("announcer.md", ANNOUNCER)])
def test_every_setting_is_documented(doc, schema):
    prose = re.sub(r"```.*?```", "", (DOCS / doc).read_text(encoding="utf-8"), flags=re.S)
    spans = " ".join(re.findall(r"`([^`]+)`", prose))  # a key counts when it is a word in a code span
    missing = sorted(k for k in keys(schema) if not re.search(rf"\b{k}\b", spans))
    assert not missing, f"settings not in docs/{doc}: {missing}"


def test_commands_are_registered_with_their_options():
    parser = build_parser()
    args = parser.parse_args(["board", "--board", "zone-b", "--offscreen"])
    assert args.func.__name__ == "cmd_board" and args.offscreen and args.board == "zone-b"
    args = parser.parse_args(["announce", "--output", "wav-dir"])
    assert args.func.__name__ == "cmd_announce" and args.output == "wav-dir"
    with pytest.raises(SystemExit):
        parser.parse_args(["board", "--offscreen", "--window"])  # one display mode, said explicitly


def test_hallq_start_runs_a_board_and_an_announcer_for_the_demo_hall():
    args = argparse.Namespace(config=str(CITY), host="127.0.0.1", port=8080, data_dir="/tmp/d", virtual_clock="next-open")
    parts = {name: (argv, needs) for name, argv, needs in hall_parts(args)}
    assert parts["board"] == (["board", "--config", str(CITY), "--data-dir", "/tmp/d",
                               "--virtual-clock", "next-open"], True)
    assert parts["announcer"] == (["announce", "--config", str(CITY), "--data-dir", "/tmp/d", "--output", "auto"], True)


def test_board_settings_are_checked_strictly(tmp_path):
    bad = tmp_path / "board.toml"
    bad.write_text(f'hall = "{CITY}"\n[[boards]]\nid = "a"\nwindows = [99]\nareas = ["二楼"]\nbusinesses = ["tax"]\n'
                   'layout = "800x600"\n[[boards]]\nid = "a"\n')
    with pytest.raises(ConfigError) as e:
        load_boards(bad)
    text = str(e.value)
    assert "boards[0].layout" in text and "must be one of" in text
    bad.write_text(f'hall = "{CITY}"\n[[boards]]\nid = "a"\nwindows = [99]\nareas = ["二楼"]\nbusinesses = ["tax"]\n'
                   '[[boards]]\nid = "a"\n')
    with pytest.raises(ConfigError) as e:
        load_boards(bad)
    text = str(e.value)
    for expected in ("boards[id=a].windows: unknown window 99", "boards[id=a].areas: unknown area '二楼'",
                     "boards[id=a].businesses: unknown business 'tax'", "boards[id=a]: duplicate board id"):
        assert expected in text
