"""The notice line at the bottom of the board (公告), as a Kivy widget.

Each notice is shown in turn. One that fits the line stands still for
``page_seconds``: nothing is redrawn meanwhile. One that does not fit either
scrolls through once, or is cut into pages that fit, each standing still:

* ``mode = "scroll"``: scroll it;
* ``mode = "page"``: cut it into pages;
* ``mode = "auto"`` (default): scroll when the board draws with a GPU, pages
  when it draws with software GL (Mesa llvmpipe: a board PC without a GPU
  driver, or offscreen). Scrolling redraws the whole screen every frame:
  nothing for a GPU, a full CPU core for llvmpipe at 1920x1080.
"""

from __future__ import annotations

import logging

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.stencilview import StencilView

from display_board.presenter import split_to_fit
from display_board.settings import NoticeSettings

log = logging.getLogger("hallq.board")

SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "swiftshader")


def software_gl() -> bool:
    """Whether OpenGL is drawn by the CPU (Mesa llvmpipe and the like)."""
    from kivy.graphics.opengl import GL_RENDERER, glGetString

    renderer = (glGetString(GL_RENDERER) or b"").decode("ascii", "replace").lower()
    return any(name in renderer for name in SOFTWARE_RENDERERS)


class NoticeTicker(StencilView):
    u = NumericProperty(1)
    text = StringProperty("")
    level = StringProperty("info")
    offset = NumericProperty(0)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.settings = NoticeSettings()
        self.scrolls = True
        self._notices: tuple[tuple[str, str], ...] = ()
        self._pages: list[tuple[str, str]] = []
        self._index = 0
        self._event = None
        self.bind(width=lambda *a: self._paginate(keep_index=True))

    def configure(self, settings: NoticeSettings, software: bool) -> None:
        self.settings = settings
        self.scrolls = settings.mode == "scroll" or (settings.mode == "auto" and not software)
        if settings.mode == "auto":
            log.info("notices too long for the ticker %s (%s GL)", "scroll" if self.scrolls else
                     "are shown page by page", "software" if software else "hardware")

    @property
    def margin(self) -> float:
        return self.u * 36

    def set_notices(self, notices: tuple[tuple[str, str], ...]) -> None:
        """``(text, level)`` of each notice; the same list again changes nothing."""
        if notices == self._notices:
            return
        self._notices = notices
        self._paginate(keep_index=False)

    def hold(self) -> None:
        """Stop moving (for a still picture): the current page at its start."""
        self._cancel()
        self.offset = self.margin

    # -- showing ---------------------------------------------------------------------------

    def _fits(self, text: str) -> bool:
        line = self.ids.line
        width = CoreLabel(text=text, font_size=line.font_size, font_name=line.font_name).get_extents(text)[0]
        return width <= self.width - 2 * self.margin

    def _paginate(self, keep_index: bool) -> None:
        pages: list[tuple[str, str]] = []
        for text, level in self._notices:
            if self.scrolls or self._fits(text):
                pages.append((text, level))
            else:
                pages.extend((page, level) for page in split_to_fit(text, self._fits))
        self._pages = pages
        self._show(self._index if keep_index else 0)

    def _cancel(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None

    def _show(self, index: int) -> None:
        self._cancel()
        if not self._pages:
            self.text = ""
            return
        self._index = index % len(self._pages)
        self.text, self.level = self._pages[self._index]
        if self.scrolls and not self._fits(self.text):
            self.offset = self.width
            self._event = Clock.schedule_interval(self._step, 1 / self.settings.fps)
            return
        self.offset = self.margin
        if len(self._pages) > 1:
            self._event = Clock.schedule_once(lambda dt: self._show(self._index + 1), self.settings.page_seconds)

    def _step(self, dt) -> None:
        self.offset -= self.settings.speed * self.u * dt
        if self.offset < -self.ids.line.width:
            self._show(self._index + 1)
