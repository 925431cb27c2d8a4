"""Preparing Kivy for a hall TV, or for a machine without a screen. Import before Kivy.

Display mode (docs/display-board.md, "Display mode"):

* ``window``: a real window, full screen on the hall TV;
* ``offscreen``: SDL renders off screen through Mesa, and the board writes a
  screenshot (PNG) of every change to its data directory;
* ``auto`` (the default): ``window`` when ``DISPLAY`` or ``WAYLAND_DISPLAY``
  is set, else ``offscreen`` -- and it says so in the log, so nobody wonders
  why the TV stays dark.

Chinese needs a CJK font as Kivy's default: Kivy's own Roboto draws boxes.
Debian's ``fonts-wqy-microhei`` works as it is. (In ``NotoSansCJK-Regular.ttc``
face 0 is the Japanese one and Kivy only opens face 0, so it is not used.)
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from hallq.kivymem import configure, trim_idle  # noqa: F401 (trim_idle: board_main)

log = logging.getLogger("hallq.board")

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian/Ubuntu: fonts-wqy-microhei
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora: wqy-microhei-fonts
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian/Ubuntu: fonts-wqy-zenhei
)


class DisplayError(RuntimeError):
    """The board cannot show anything: the cause and the fix are in the message."""


def choose_mode(requested: str, environ: dict[str, str] | None = None) -> str:
    """``window`` or ``offscreen`` for ``requested`` (``auto``, ``window``, ``offscreen``)."""
    env = os.environ if environ is None else environ
    has_display = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if requested == "offscreen":
        return "offscreen"
    if requested == "window":
        if not has_display:
            raise DisplayError("--window needs a display, but neither DISPLAY nor WAYLAND_DISPLAY is set: "
                               "start the board inside the TV's desktop session, or use --offscreen")
        return "window"
    return "window" if has_display else "offscreen"


def find_cjk_font(configured: str = "") -> str:
    """The path of a CJK font Kivy can use; raise DisplayError with the fix when there is none."""
    candidates = [configured] if configured else [os.environ.get("HALLQ_CJK_FONT", ""), *CJK_FONTS]
    for path in candidates:
        if path and Path(path).is_file():
            return path
    if configured:
        raise DisplayError(f"the font {configured} does not exist: fix [boards] font, or remove it to use "
                           "fonts-wqy-microhei")
    raise DisplayError("no Chinese font found (Kivy would draw boxes): install it with "
                       "`apt-get install fonts-wqy-microhei` (run ./run.sh setup), or set HALLQ_CJK_FONT to a "
                       ".ttf/.ttc whose first face is Simplified Chinese")


def prepare_kivy(mode: str, kivy_home: Path, size: tuple[int, int], fullscreen: bool, multisamples: int = 0) -> None:
    """Set Kivy's environment and window configuration; call before anything imports kivy.

    ``multisamples`` is the window's MSAA (board.toml ``multisamples``, default 0): Kivy asks for 2 unless
    told, and on software GL (llvmpipe) the multisampled colour and depth buffers are 24 MB at 720p and
    55 MB at 1080p, for edges the board does not have (its lines and panels are axis-aligned).
    docs/deployment.md, "The board's memory", has what each setting here saves.
    """
    if "kivy.core.window" in sys.modules:
        # tests render several boards in one process: the window exists, just resize it
        from kivy.core.window import Window

        Window.size = size
        return
    kivy_home.mkdir(parents=True, exist_ok=True)
    os.environ["KIVY_NO_ARGS"] = "1"  # hallq parses the command line, not Kivy
    os.environ.setdefault("KIVY_HOME", str(kivy_home))
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")  # Kivy's log goes through hallq's logging
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    if mode == "offscreen":
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    configure(multisamples)  # MSAA as asked, images through SDL2 only, glibc returning memory (hallq.kivymem)
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "maxfps", "60")  # frames are drawn only on change; 60 halves the wait for the next one
    Config.set("kivy", "exit_on_escape", "0")  # a stray key must not blank the hall's board
    if mode == "window" and fullscreen:
        Config.set("graphics", "fullscreen", "auto")
        Config.set("graphics", "borderless", "1")
    Config.set("input", "mouse", "mouse,disable_multitouch")


def png_bytes(rgb: bytes, width: int, height: int, level: int = 1) -> bytes:
    """A PNG of ``rgb`` as ``glReadPixels`` gives it (RGB, rows bottom-up): rows flipped, zlib at ``level``.

    Python's zlib releases the GIL while it compresses, so a thread can write the board's screenshot
    while the main thread draws the next call (SDL2_image's PNG writer held the main thread for 100-160 ms
    at 720p on a busy station box)."""
    import struct
    import zlib

    stride = width * 3
    raw = b"".join(b"\x00" + rgb[(height - 1 - y) * stride:(height - y) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b""))


def register_font(path: str) -> None:
    """``path`` becomes Kivy's default font; texts with rare characters it lacks (生僻字) fall back (hallq.fonts)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    from hallq.fonts import install_kivy_fallback

    LabelBase.register(DEFAULT_FONT, path)
    install_kivy_fallback()
