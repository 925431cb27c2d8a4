"""``hallq board`` and ``hallq announce``, and their place in ``hallq start``.

Which files: the hall is ``--config`` (default ``$HALLQ_CONFIG`` or the sample
city hall); the board and announcer settings are ``board.toml`` and
``announcer.toml`` beside it unless ``--boards`` / ``--announcer`` say
otherwise. When ``--config`` is not given, the ``hall = …`` line of those
files names the hall.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("hallq.board")


def _hall_path(args) -> Path:
    from hallq.settings import config_path

    return config_path(getattr(args, "config", None))


def _beside_hall(args, explicit: str | None, name: str) -> Path:
    return Path(explicit) if explicit else _hall_path(args).parent / name


def _hall_override(args) -> str | None:
    return args.config or os.environ.get("HALLQ_CONFIG") or None


def cmd_board(args: argparse.Namespace) -> int:
    """Run a display board (综合屏): calls, waiting counts, notices, on the hall's TV.

    Without a display (no DISPLAY or WAYLAND_DISPLAY) it renders offscreen and
    writes a screenshot of each change to the data directory, and says so.
    """
    from hallq.hallconfig import ConfigError
    from display_board.settings import load_boards

    path = _beside_hall(args, args.boards, "board.toml")
    try:
        boards = load_boards(path, _hall_override(args))
    except ConfigError as e:
        print(f"hallq board: the board configuration has problems:\n{e}", file=sys.stderr)
        return 2
    board_id = args.board or next(iter(boards))
    if board_id not in boards:
        print(f"hallq board: {path} has no board {board_id!r} (it has: {', '.join(boards)})", file=sys.stderr)
        return 2
    clock = None
    if args.virtual_clock:
        from hallq.clock import clock_from_spec

        try:
            clock = clock_from_spec(args.virtual_clock, boards[board_id].hall)
        except ValueError as e:
            raise SystemExit(f"hallq: {e}") from None
    from display_board.board_main import run_board

    mode = "offscreen" if args.offscreen else "window" if args.window else "auto"
    return run_board(boards[board_id], mode=mode, data_dir=args.data_dir, clock=clock,
                     screenshot=args.screenshot, windowed=args.windowed)


def cmd_announce(args: argparse.Namespace) -> int:
    """Run the voice announcer (语音叫号): speaks each call, in order, never overlapping.

    Plays through the sound device; with output "wav-dir" (or "auto" and no
    sound device) it writes the WAV files it would have played.
    """
    from hallq.hallconfig import ConfigError
    from display_board.settings import load_announcer

    path = _beside_hall(args, args.announcer, "announcer.toml")
    try:
        settings = load_announcer(path, _hall_override(args))
    except ConfigError as e:
        print(f"hallq announce: the announcer configuration has problems:\n{e}", file=sys.stderr)
        return 2
    from display_board.announce_main import run_announcer

    return run_announcer(settings, output=args.output, wav_dir=args.wav_dir, data_dir=args.data_dir)


def register(add) -> None:
    s = add("board", cmd_board, "run a display board (综合屏)",
            "hallq board --board lobby            (or --offscreen on a machine without a screen)")
    s.add_argument("--config", help="hall config file (default: $HALLQ_CONFIG, else board.toml's hall)")
    s.add_argument("--boards", metavar="FILE", help="board settings (default: board.toml beside the hall config)")
    s.add_argument("--board", metavar="ID", help="which board of the file (default: the first)")
    mode = s.add_mutually_exclusive_group()
    mode.add_argument("--offscreen", action="store_true", help="render offscreen and write screenshots")
    mode.add_argument("--window", action="store_true", help="open a window (fail if there is no display)")
    s.add_argument("--windowed", action="store_true", help="a normal window instead of full screen")
    s.add_argument("--screenshot", metavar="PNG", help="where to write screenshots (default: data dir)")
    s.add_argument("--data-dir", help="override $HALLQ_DATA_DIR")
    s.add_argument("--virtual-clock", metavar="WHEN", help="'next-open' or an ISO time, as for hallq serve")

    s = add("announce", cmd_announce, "run the voice announcer (语音叫号)",
            "hallq announce --output wav-dir      (WAV files instead of the loudspeaker)")
    s.add_argument("--config", help="hall config file (default: $HALLQ_CONFIG, else announcer.toml's hall)")
    s.add_argument("--announcer", metavar="FILE", help="announcer settings (default: announcer.toml beside the hall)")
    s.add_argument("--output", choices=["device", "wav-dir", "auto"], help="override the configured output")
    s.add_argument("--wav-dir", metavar="DIR", help="where output wav-dir writes (default: <data dir>/announcements)")
    s.add_argument("--data-dir", help="override $HALLQ_DATA_DIR")


def hall_parts(args) -> list[tuple[str, list[str], bool]]:
    """For ``hallq start``: the hall's first board (display chosen by the documented rule) and its announcer."""
    hall = _hall_path(args)
    common = ["--config", str(hall)]
    if getattr(args, "data_dir", None):
        common += ["--data-dir", args.data_dir]
    parts: list[tuple[str, list[str], bool]] = []
    boards = hall.parent / "board.toml"
    if boards.exists():
        argv = ["board", *common]
        if getattr(args, "virtual_clock", None):
            argv += ["--virtual-clock", args.virtual_clock]
        parts.append(("board", argv, True))
    if (hall.parent / "announcer.toml").exists():
        parts.append(("announcer", ["announce", *common, "--output", "auto"], True))
    return parts
