"""``hallq board``: one display board process, from its settings to a running Kivy app."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

from hallq import contract
from hallq.settings import data_dir as hall_data_dir
from display_board.settings import BoardSettings

log = logging.getLogger("hallq.board")

BOARD_TOPICS = (contract.BOARD, contract.CALLS, contract.QUEUE, contract.WINDOW, contract.NOTICES, contract.STATUS)


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
    prepare_kivy(chosen, directory / "kivy", settings.size, settings.fullscreen and not windowed)

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
    feed = HallFeed(connection, hall.site, BOARD_TOPICS, deliver=app.deliver, on_link=app.set_link)
    feed.start()
    log.info("board %s of %s listening on %s (hallq/%s/…)", settings.id, hall.site, connection.address, hall.site)
    connection.start()
    signal.signal(signal.SIGTERM, lambda *a: Clock.schedule_once(lambda dt: app.stop()))
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
