"""Preparing Kivy before it is imported: headless or not, window size, the CJK font.

Kivy reads its environment at import time, so :func:`prepare` must run
first. Without a display (no DISPLAY / WAYLAND_DISPLAY) the kiosk renders
offscreen through Mesa (``SDL_VIDEODRIVER=offscreen``) and writes
screenshots instead; ``SDL_VIDEODRIVER=dummy`` would draw nothing.
Kivy's default Roboto has no Chinese: WenQuanYi Micro Hei (Debian's
fonts-wqy-microhei) becomes Kivy's DEFAULT_FONT; a label with a rare character
it lacks (生僻字 of a name) is drawn with a fallback font (hallq.fonts).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
             "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cjk_font() -> str:
    for path in CJK_FONTS:
        if Path(path).exists():
            return path
    raise SystemExit("hallq kiosk: no Chinese font found; install fonts-wqy-microhei "
                     "(apt-get install fonts-wqy-microhei)")


def prepare(size: tuple[int, int], fullscreen: bool, headless: bool | None = None,
            kivy_home: str | None = None, multisamples: int | None = None) -> bool:
    """Set Kivy's environment and config; returns whether the kiosk runs headless.

    ``multisamples``: the window's MSAA (kiosk.toml ``multisamples``; None: the default,
    :data:`kiosk.config.DEFAULT_MULTISAMPLES`). With it, images through SDL2 only and glibc returning
    freed memory, as the board does (hallq.kivymem; docs/kiosk.md, "The kiosk's memory").
    """
    headless = (not has_display()) if headless is None else headless
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_HOME", kivy_home or tempfile.mkdtemp(prefix="hallq-kivy-"))
    # every size is in dp and sp of a 1080-pixel-wide screen: a 720p screen draws the same layout at 2/3
    os.environ.setdefault("KIVY_METRICS_DENSITY", f"{min(size) / 1080:.6g}")
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    from hallq.kivymem import configure
    from kiosk.config import DEFAULT_MULTISAMPLES

    configure(DEFAULT_MULTISAMPLES if multisamples is None else multisamples)
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "fullscreen", "auto" if fullscreen and not headless else "0")
    Config.set("graphics", "borderless", "1" if fullscreen and not headless else "0")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "keyboard_mode", "system")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kivy.core.text import DEFAULT_FONT, LabelBase

    LabelBase.register(DEFAULT_FONT, cjk_font())
    from hallq.fonts import install_kivy_fallback

    install_kivy_fallback()
    return headless
