"""The Kivy shell of the display board: widgets fed from the presenter, nothing more.

Threads: MQTT messages arrive in paho's network thread, are decoded there
(:class:`~hallq.feed.HallFeed`), and handed to the Kivy main thread
with ``mainthread``; the model changes only on the main thread. Refreshes are
batched with ``Clock.create_trigger``: a burst of a hundred messages costs
one refresh. The only timers are the clock (once a second, drawing only when
the minute changes, a notice ends or, with more businesses than one page of
queue tiles holds, every ``TILE_PAGE_SECONDS`` to turn the page), the flash
while a new call flashes, and the notice ticker (display_board/ticker.py)
between pages or while a notice scrolls.

Widgets are made once: the recent-call rows and the queue tiles are a fixed
pool sized from the board's settings, so nothing grows however long the
board runs. Offscreen, each change is written as a PNG screenshot (at most
one per ``screenshot_interval`` seconds).

Import this module only after :func:`display_board.display.prepare_kivy`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock, mainthread
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.resources import resource_find
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.utils import get_color_from_hex

from display_board.model import BoardModel
from display_board.presenter import MAX_TILES, BoardView, by_window, panel_windows, present, tile_page, tiles_per_page
from display_board.ticker import NoticeTicker, software_gl  # noqa: F401 (NoticeTicker is used by board.kv)

log = logging.getLogger("hallq.board")

KV = Path(__file__).with_name("board.kv")
TILE_PAGE_SECONDS = 8.0  # more businesses than one page of tiles holds: each page shows this long, then the next


class RecentRow(BoxLayout):
    u = NumericProperty(1)
    seq = NumericProperty(0)
    ticket = StringProperty("")
    window = StringProperty("")
    business = StringProperty("")
    mark = StringProperty("")
    odd = BooleanProperty(False)
    scale = NumericProperty(1)   # a station's few rows (one per window) are drawn larger


class QueueTile(BoxLayout):
    u = NumericProperty(1)
    name = StringProperty("")
    waiting = StringProperty("")
    wait = StringProperty("")
    busy = BooleanProperty(False)


class BoardScreen(FloatLayout):
    u = NumericProperty(1)
    hall_name = StringProperty("")
    hall_name_2 = StringProperty("")
    date_text = StringProperty("")
    time_text = StringProperty("")
    ticket = StringProperty("")
    mark = StringProperty("")
    prompt = StringProperty("")
    prompt_pre = StringProperty("")
    prompt_number = StringProperty("")
    prompt_post = StringProperty("")
    prompt_2 = StringProperty("")
    detail = StringProperty("")
    placeholder = StringProperty("")
    flash_on = BooleanProperty(False)
    banner = StringProperty("")
    banner_2 = StringProperty("")
    stale = BooleanProperty(False)
    closed_badge = StringProperty("")
    recent_title = StringProperty("")
    queues_title = StringProperty("")
    queues_page = StringProperty("")  # "1/2" while the queue tiles are shown page by page


class BoardApp(App):
    """The board. ``now`` gives the hall time for the clock (a hallq Clock's ``now``)."""

    c_bg = ListProperty([0, 0, 0, 1])
    c_panel = ListProperty([0, 0, 0, 1])
    c_text = ListProperty([1, 1, 1, 1])
    c_muted = ListProperty([1, 1, 1, 1])
    c_accent = ListProperty([1, 1, 1, 1])
    c_flash = ListProperty([1, 0, 0, 1])
    c_recall = ListProperty([1, 1, 0, 1])
    c_alert = ListProperty([1, 0, 0, 1])
    c_alert_text = ListProperty([1, 0.5, 0.5, 1])
    c_ok = ListProperty([0, 1, 0, 1])
    # ticket numbers and the clock are Latin and digits only: Kivy's bundled Roboto Bold draws them heavier
    # and clearer from across a hall than the CJK font's synthetic bold
    numbers_font = StringProperty("Roboto")

    def __init__(self, model: BoardModel, now: Callable, screenshot: Path | None = None, finish_frames: bool = False,
                 **kw) -> None:
        super().__init__(**kw)
        # Offscreen, software GL rasterises a frame lazily, when the next one first touches a texture:
        # finishing each frame as it is flipped charges it to itself, not to the next call's frame.
        self.finish_frames = finish_frames
        self.model = model
        self.now = now
        self.screenshot_path = screenshot
        self.settings_ = model.settings
        self.title = f"hallq board {model.settings.id}"
        self.on_refreshed: list[Callable[[BoardView], None]] = []  # hooks for tests and benchmarks
        self.refreshes = 0
        self.screenshots = 0
        self._view: BoardView | None = None
        self._shot_version = -1
        self._shot_at = 0.0
        self._shot_event = None
        self._shot_lock = threading.Lock()  # screenshots written by threads, one at a time
        self._shots_taken = self._shot_newest_written = 0
        self._flash_event = None
        self.refresh = None
        self.tile_turn = 0  # page turns of the queue tiles so far (the page shown is this modulo the pages)
        self._tile_pages = 1
        self._tile_turn_at = 0.0

    # -- building --------------------------------------------------------------------

    def build(self):
        s = self.settings_
        for key, value in s.colours.items():
            setattr(self, f"c_{'bg' if key == 'background' else key}", get_color_from_hex(value))
        self.c_alert_text = get_color_from_hex("#FF8A80")
        self.numbers_font = resource_find("data/fonts/Roboto-Bold.ttf") or "Roboto"
        if KV.name not in {Path(f).name for f in Builder.files}:
            Builder.load_file(str(KV))
        root = BoardScreen()
        from kivy.core.window import Window

        Window.clearcolor = self.c_bg
        if self.finish_frames:
            from kivy.graphics.opengl import glFinish

            Window.bind(on_flip=lambda *a: glFinish())
        root.u = Window.height / 1080 * s.font_scale
        rows = max(1, len(panel_windows(s))) if by_window(s) else max(1, s.recent_calls - 1)
        self.rows = [RecentRow(u=root.u, odd=i % 2 == 0, scale=1.3 if by_window(s) else 1) for i in range(rows)]
        for r in self.rows:
            root.ids.recent.add_widget(r)
        shown = s.shown_businesses()
        count = len(shown) if shown is not None else len(s.hall.businesses)
        n_tiles = tiles_per_page(count)
        if count > MAX_TILES:
            log.info("board %s shows %d businesses' queues, more than the %d tiles a page holds: %d per page, each page "
                     "%g s, marked 1/%d…", s.id, count, MAX_TILES, n_tiles, TILE_PAGE_SECONDS, -(-count // n_tiles))
        grid = root.ids.queues
        grid.rows = 1 if n_tiles <= 6 else 2
        grid.cols = n_tiles if n_tiles <= 6 else (n_tiles + 1) // 2
        self.tiles = [QueueTile(u=root.u) for _ in range(n_tiles)]
        for t in self.tiles:
            grid.add_widget(t)
        root.ids.ticker.configure(s.notices, software=software_gl())
        self.refresh = Clock.create_trigger(self._refresh, -1)  # before the next frame: no frame of delay
        Clock.schedule_interval(self._tick, 1.0)
        self.refresh()
        return root

    # -- input (from the MQTT thread) ----------------------------------------------------------

    @mainthread
    def deliver(self, topic, params, payload) -> None:
        try:
            changed = self.model.apply(topic, params, payload)
        except Exception:  # a bug on one message must not take the hall's board down
            log.exception("could not apply a %s message", topic.name)
            return
        if changed:
            self.refresh()

    @mainthread
    def set_link(self, connected: bool) -> None:
        if self.model.set_link(connected):
            self.refresh()

    # -- refreshing ----------------------------------------------------------------------------

    def _tick(self, dt) -> None:
        """Once a second: the clock (drawn only when the minute changes), expired flashes and notices, and the
        next page of queue tiles when there are several."""
        try:
            view = present(self.model, self.now())
        except Exception:  # drawn (and logged) by _refresh
            self.refresh()
            return
        if self._tile_pages > 1 and time.monotonic() >= self._tile_turn_at:
            self.tile_turn += 1
            self._tile_turn_at = time.monotonic() + TILE_PAGE_SECONDS
            self.refresh()
        elif self._view is None or (view.time_text, view.flashing, view.notices) != (
                self._view.time_text, self._view.flashing, self._view.notices):
            self.refresh()

    def _refresh(self, dt=0) -> None:
        """Draw the model. A bug in drawing one state must not take the hall's board down (Kivy ends the app on an
        exception in a clock callback, and nothing restarts a board under ``hallq start``): it is logged, once per
        kind of fault a minute, and the board goes on with the next change."""
        try:
            self._draw()
        except Exception as e:
            kind = f"{type(e).__name__}: {e}"[:200]
            now = time.monotonic()
            if kind != self._draw_fault or now - self._draw_fault_at > 60:
                log.exception("could not draw the board (it goes on with the next change)")
                self._draw_fault, self._draw_fault_at = kind, now

    _draw_fault: str | None = None
    _draw_fault_at = 0.0

    def _draw(self) -> None:
        view = present(self.model, self.now())
        root = self.root
        newest = view.newest
        root.hall_name, root.hall_name_2 = view.hall_name, view.hall_name_2
        root.date_text, root.time_text = view.date_text, view.time_text
        root.ticket = newest.ticket if newest else ""
        root.mark = newest.mark if newest else ""
        root.prompt = view.prompt
        root.prompt_pre, root.prompt_number, root.prompt_post = view.prompt_parts
        root.prompt_2, root.detail = view.prompt_2, view.newest_detail
        root.placeholder = view.placeholder
        root.banner, root.banner_2, root.stale = view.banner, view.banner_2, view.stale
        root.closed_badge = view.closed_badge
        root.recent_title, root.queues_title = view.recent_title, view.queues_title
        self._set_rows(view)
        page, root.queues_page = tile_page(view.queues, len(self.tiles), self.tile_turn)
        pages = -(-len(view.queues) // len(self.tiles))
        if pages > 1 and self._tile_pages <= 1:
            self._tile_turn_at = time.monotonic() + TILE_PAGE_SECONDS  # the first page shows its full time
        self._tile_pages = pages
        for tile, q in zip(self.tiles, [*page, *[None] * len(self.tiles)]):
            tile.name = q.name if q else ""
            tile.waiting = q.waiting if q else ""
            tile.wait = q.wait if q else ""
            tile.busy = bool(q and q.busy)
        self._set_flash(view.flashing)
        root.ids.ticker.set_notices(tuple((n.text, n.level) for n in view.notices))
        self._view = view
        self.refreshes += 1
        for hook in self.on_refreshed:
            hook(view)
        if self.screenshot_path is not None and self.model.version != self._shot_version:
            self._schedule_screenshot()

    def _set_rows(self, view: BoardView) -> None:
        """Show the recent calls, moving rows rather than re-writing them: when a call arrives, the
        rows below shift down with their texts already drawn, and only the freed row gets new text
        (each changed text is a texture upload, which software GL makes costly)."""
        lines = view.recent[:len(self.rows)]
        # each row is used at most once, even if two lines had one seq (a widget added twice is an exception)
        kept: dict[int, RecentRow] = {}  # line index -> the row that already shows its seq
        taken: set[int] = set()
        for i, line in enumerate(lines):
            row = next((r for r in self.rows if r.seq and r.seq == line.seq and id(r) not in taken), None)
            if row is not None:
                kept[i] = row
                taken.add(id(row))
        spare = [row for row in self.rows if id(row) not in taken]
        ordered = []
        for i, line in enumerate(lines):
            row = kept.get(i) or spare.pop(0)
            row.seq, row.ticket, row.window, row.business, row.mark = \
                line.seq, line.ticket, line.window, line.business, line.mark
            ordered.append(row)
        for row in spare:
            row.seq, row.ticket, row.window, row.business, row.mark = 0, "", "", "", ""
        ordered += spare
        container = self.root.ids.recent
        if list(reversed(container.children)) != ordered:
            container.clear_widgets()
            for i, row in enumerate(ordered):
                row.odd = i % 2 == 0
                container.add_widget(row)

    def _set_flash(self, flashing: bool) -> None:
        if flashing and self._flash_event is None:
            # the new number is drawn first, the flashing starts half a second later: the frame that
            # shows a call is then the cheapest possible, and the change itself catches the eye
            self._flash_event = Clock.schedule_interval(self._flash, 0.5)
        elif not flashing and self._flash_event is not None:
            self._flash_event.cancel()
            self._flash_event = None
            self.root.flash_on = False

    def _flash(self, dt) -> None:
        if not self.model.flashing():
            self.refresh()
            return
        self.root.flash_on = not self.root.flash_on

    # -- screenshots (offscreen) -------------------------------------------------------------

    def _schedule_screenshot(self) -> None:
        if self._shot_event is not None:
            return
        wait = max(0.0, self._shot_at + self.settings_.screenshot_interval - time.monotonic())
        # one frame later at least, so the widgets have laid out the new texts
        self._shot_event = Clock.schedule_once(self._screenshot, max(wait, 0.05))

    def _screenshot(self, dt) -> None:
        self._shot_event = None
        self._shot_at = time.monotonic()
        self._shot_version = self.model.version
        self.save_screenshot_behind(self.screenshot_path)

    def save_screenshot_behind(self, path: Path) -> None:
        """Like :meth:`save_screenshot`, but only the pixels are read here: a thread compresses and writes
        them, so that a call arriving meanwhile is drawn at once (the PNG took the main thread 100-160 ms
        at 720p on a busy station PC). One write at a time; the newest picture is the one left."""
        from kivy.core.window import Window
        from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels

        from display_board.display import png_bytes

        width, height = Window.size
        try:
            pixels = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
        except Exception:
            log.exception("could not read the board for its screenshot %s", path)
            return
        self._shots_taken += 1
        number = self._shots_taken

        def write() -> None:
            with self._shot_lock:
                if number < self._shot_newest_written:  # a newer picture is there already
                    return
                self._shot_newest_written = number
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_name(f".{path.stem}.{os.getpid()}.png")
                    tmp.write_bytes(png_bytes(pixels, width, height))
                    os.replace(tmp, path)
                except Exception:
                    log.exception("could not write the board screenshot %s", path)
                    return
                self._screenshot_written(path)

        threading.Thread(target=write, name="board-screenshot", daemon=True).start()

    def _screenshot_written(self, path: Path) -> None:
        self.screenshots += 1
        if self.screenshots == 1:
            log.info("board screenshot written to %s (and again on every change)", path)

    def save_screenshot(self, path: Path) -> None:
        """Write the board as it is now to ``path`` (PNG), atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.png")
        try:
            # read the window itself (as Kivy's Window.screenshot does): it includes the clear colour
            # that is the board's background, which Widget.export_to_png would leave transparent
            from kivy.core.window import Window
            from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels

            width, height = Window.size
            Window._win.save_bytes_in_png(str(tmp), glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE),
                                          width, height)
            os.replace(tmp, path)
        except Exception:
            log.exception("could not write the board screenshot %s", path)
            return
        self._screenshot_written(path)
