"""``hallq board``: one display board process, from its settings to a running Kivy app."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from hallq import contract
from hallq.settings import data_dir as hall_data_dir
from display_board.settings import BoardSettings

log = logging.getLogger("hallq.board")

DRAWN_LOG = "HALLQ_BOARD_DRAWN_LOG"  # for benchmarks: a file where the board notes when it drew each call
HEAP_TRIM_FIRST = 10.0  # seconds after start
HEAP_TRIM_EVERY = 600.0  # seconds
BOARD_TOPICS = (contract.BOARD, contract.CALLS, contract.QUEUE, contract.WINDOW, contract.NOTICES, contract.STATUS)
# of the availability topics only the server's: every part of the hall may write its own, and a board subscribed to
# all of them could be flooded through any one (the model ignores the others anyway)
BOARD_NARROW = {contract.STATUS.name: {"kind": "server", "id": "queue"}}


def run_board(settings: BoardSettings, mode: str = "auto", data_dir: str | None = None, clock=None,
              screenshot: str | None = None, windowed: bool = False) -> int:
    """Run the board until it is closed or gets SIGTERM; return an exit code."""
    from display_board.display import DisplayError, choose_mode, find_cjk_font, prepare_kivy

    hall = settings.hall
    directory = hall_data_dir(hall.site, data_dir)
    try:
        chosen = choose_mode(mode)
        font = find_cjk_font()
    except DisplayError as e:
        log.error("%s", e)
        return 2
    shot: Path | None = Path(screenshot) if screenshot else None
    if chosen == "offscreen":
        shot = shot or directory / f"board-{settings.id}.png"
        why = "--offscreen was given" if mode == "offscreen" else "no DISPLAY or WAYLAND_DISPLAY is set"
        log.warning("board %s renders OFFSCREEN (%s): nothing appears on a screen; the board is written to %s "
                    "on every change (at most every %.1f s). Start it in the TV's desktop session, or with "
                    "--window, to show it.", settings.id, why, shot, settings.screenshot_interval)
    else:
        log.info("board %s opens a %s window %s", settings.id, "windowed" if windowed else "full-screen",
                 settings.layout)
    prepare_kivy(chosen, directory / "kivy", settings.size, settings.fullscreen and not windowed,
                 multisamples=settings.multisamples)

    from kivy.clock import Clock

    from display_board.app import BoardApp
    from display_board.display import register_font
    from hallq.feed import HallFeed
    from display_board.model import BoardModel
    from hallq.mqtt import connect_from_settings

    register_font(font)
    if clock is None:
        from hallq.clock import Clock as HallClock
        from zoneinfo import ZoneInfo

        clock = HallClock(ZoneInfo(hall.timezone))
    model = BoardModel(settings)
    app = BoardApp(model, clock.now, screenshot=shot, finish_frames=chosen == "offscreen")
    connection = connect_from_settings(hall.mqtt, hall.site, "board", settings.id, directory)
    feed = HallFeed(connection, hall.site, BOARD_TOPICS, deliver=app.deliver, on_link=app.set_link,
                    narrow=BOARD_NARROW)
    if os.environ.get(DRAWN_LOG):
        log_draws(app, Path(os.environ[DRAWN_LOG]))
    feed.start()
    log.info("board %s of %s listening on %s (hallq/%s/…)", settings.id, hall.site, connection.address, hall.site)
    connection.start()
    signal.signal(signal.SIGTERM, lambda *a: Clock.schedule_once(lambda dt: app.stop()))
    schedule_heap_trim()
    try:
        app.run()
    except KeyboardInterrupt:
        pass
    finally:
        connection.stop()
        log.info("board %s stopped (%d messages, %d ignored as bad, %d calls, %d duplicates, %d gaps)",
                 settings.id, feed.received, feed.bad.rejected, model.stats.calls, model.stats.duplicates,
                 model.stats.gaps)
    return 0


def schedule_heap_trim() -> None:
    """What start-up freed (the kv rules parsed, the first textures uploaded, shaders compiled) back to the
    system, with the shader compiler's code, once the first snapshot is drawn, then now and then
    (docs/deployment.md, "The board's memory")."""
    from kivy.clock import Clock

    from display_board.display import trim_idle

    Clock.schedule_once(trim_idle, HEAP_TRIM_FIRST)
    Clock.schedule_interval(trim_idle, HEAP_TRIM_EVERY)


def log_draws(app, path: Path) -> None:
    """Append ``<call seq> <CLOCK_MONOTONIC seconds>`` to ``path`` when the first frame that shows a call is
    drawn (flipped, and finished: software GL rasterises lazily). For benchmarks of a board started as it
    runs in a hall (bench/bench_station.py: call → board drawn across processes); ``$HALLQ_BOARD_DRAWN_LOG``
    turns it on. CLOCK_MONOTONIC is one clock for every process of the machine."""
    from collections import deque

    from kivy.core.window import Window
    from kivy.graphics.opengl import glFinish

    out = open(path, "a", buffering=1, encoding="ascii")  # open while the board runs
    noted: deque[int] = deque(maxlen=64)  # the calls already noted (bounded: the board never grows)
    pending: list[int] = []

    def on_refreshed(view) -> None:
        # the newest call and those in the list beside it: a call overtaken by the next before a frame was
        # drawn is drawn in the list, in the same frame (a station's window rows without a call have no seq)
        for line in [view.newest, *view.recent]:
            if line is not None and line.seq > 0 and line.seq not in noted and line.seq not in pending:
                noted.append(line.seq)
                pending.append(line.seq)

    def on_flip(*_) -> None:
        if pending:
            glFinish()
            now = time.monotonic()
            out.write("".join(f"{seq} {now:.6f}\n" for seq in pending))
            pending.clear()

    app.on_refreshed.append(on_refreshed)
    Window.bind(on_flip=on_flip)
    log.info("board %s notes when it draws each call in %s ($%s)", app.settings_.id, path, DRAWN_LOG)
