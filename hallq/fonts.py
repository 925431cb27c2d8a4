"""Fonts for rare characters (生僻字): which font has which glyph, and the fallback when the main one lacks it.

The resident ID card carries names with characters beyond the Basic Multilingual Plane (CJK Extensions B–H,
e.g. 𪚥 U+2A6A5, 𠇔 U+201D4, 𰻞 U+30EDE) and in Extension A (䶮 U+4DAE). WenQuanYi Micro Hei, the kiosk's and
the board's main font, has none of them: a label drawn with it shows a box. Debian packages fonts with them:

==============================  ===========================================================  ==================
font (Debian package)           coverage (measured from the cmap, Debian 12)                 used for
==============================  ===========================================================  ==================
BabelStone Han                  all URO, Latin, 4613/6592 Ext A, 14133/42720 Ext B, part of  mixed labels: one
(fonts-babelstone-han)          C–H (3045/4944 Ext G, 2271/4192 Ext H)                       font for the text
HanaMinA (fonts-hanazono)       20971/20992 URO, 6582/6592 Ext A (all of Unicode 3.0's),     Ext A
                                472/512 compatibility, 2858/42720 Ext B
HanaMinB (fonts-hanazono)       all of Ext B, C, D, E, F (no URO, no G/H)                    Ext B–F
==============================  ===========================================================  ==================

Kivy draws a label with one font (no per-glyph fallback), so :func:`install_kivy_fallback` makes every label
whose text has characters its font lacks use the fallback font that covers the whole text, or the most of it
(:func:`font_for`). The printer's raster lines (device_drivers.printer) take each character from the first font
of the chain that has it (:func:`font_for_char`), so they can mix fonts. ``HALLQ_CJK_EXT_FONTS`` (paths
separated by ``:``) puts other fonts first.

The cmap is read here (formats 4 and 12 of TrueType/OpenType, collections too) rather than guessed from a
rendering: a font's missing-glyph box and a real glyph cannot be told apart reliably by their pixels.
"""

from __future__ import annotations

import logging
import os
import struct
from array import array
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger("hallq.fonts")

# the main CJK font, as the kiosk (kiosk/ui/setup.py) and the board (display_board/display.py) find it
MAIN_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",   # Debian/Ubuntu: fonts-wqy-microhei
              "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",   # Fedora
              "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
ENV_FONTS = "HALLQ_CJK_EXT_FONTS"
# the order matters for labels: the first font that covers a whole text wins
EXT_FONTS = ("/usr/share/fonts/truetype/babelstone/BabelStoneHan.ttf",   # Debian: fonts-babelstone-han
             "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf",          # Debian: fonts-hanazono
             "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf")
PACKAGES = "fonts-babelstone-han fonts-hanazono"

# characters every CJK font has or that need no glyph: never a reason to look further
_SIMPLE_BELOW = 0x3400


class FontError(ValueError):
    """A font file that cannot be read (missing, not TrueType/OpenType, no Unicode cmap)."""


def _u16(b: bytes, at: int) -> int:
    return int(struct.unpack_from(">H", b, at)[0])


def _u32(b: bytes, at: int) -> int:
    return int(struct.unpack_from(">I", b, at)[0])


def _format4(b: bytes, at: int, out: set[int]) -> None:
    seg2 = _u16(b, at + 6)
    ends, starts, deltas, ranges = at + 14, at + 16 + seg2, at + 16 + 2 * seg2, at + 16 + 3 * seg2
    for i in range(0, seg2, 2):
        start, end = _u16(b, starts + i), _u16(b, ends + i)
        delta, offset = _u16(b, deltas + i), _u16(b, ranges + i)
        for c in range(start, min(end, 0xFFFE) + 1):
            if offset == 0:
                glyph = (c + delta) & 0xFFFF
            else:
                where = ranges + i + offset + 2 * (c - start)
                glyph = _u16(b, where) if where + 2 <= len(b) else 0
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                out.add(c)


def _format12(b: bytes, at: int, out: set[int]) -> None:
    groups = _u32(b, at + 12)
    for g in range(groups):
        start, end, glyph = struct.unpack_from(">III", b, at + 16 + 12 * g)
        out.update(range(start + (glyph == 0), min(end, 0x10FFFF) + 1))


@lru_cache(maxsize=16)
def codepoints(path: str, index: int = 0) -> array:
    """The sorted code points ``path`` has a glyph for (font ``index`` of a .ttc collection)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise FontError(f"cannot read the font {path}: {e.strerror}") from None
    try:
        base = 0
        if data[:4] == b"ttcf":
            base = _u32(data, 12 + 4 * index)
        tables = {data[base + 12 + 16 * i:base + 16 + 16 * i]: _u32(data, base + 20 + 16 * i)
                  for i in range(_u16(data, base + 4))}
        cmap = tables.get(b"cmap")
        if cmap is None:
            raise FontError(f"{path} has no cmap table: not a TrueType/OpenType font")
        subtables = {}
        for i in range(_u16(data, cmap + 2)):
            platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
            subtables[(platform, encoding, _u16(data, cmap + offset))] = cmap + offset
        out: set[int] = set()
        full = next((subtables[k] for k in ((3, 10, 12), (0, 6, 12), (0, 4, 12)) if k in subtables), None)
        if full is not None:
            _format12(data, full, out)
        else:
            bmp = next((subtables[k] for k in ((3, 1, 4), (0, 3, 4), (0, 1, 4)) if k in subtables), None)
            if bmp is None:
                raise FontError(f"{path} has no Unicode cmap (format 4 or 12)")
            _format4(data, bmp, out)
    except (struct.error, IndexError):
        raise FontError(f"{path} is damaged or not a TrueType/OpenType font") from None
    return array("I", sorted(out))


def has(path: str, ch: str) -> bool:
    cps = codepoints(path)
    c = ord(ch)
    i = bisect_left(cps, c)
    return i < len(cps) and cps[i] == c


def missing(text: str, path: str) -> list[str]:
    """The characters of ``text`` that ``path`` has no glyph for (spaces and controls need none)."""
    return [ch for ch in dict.fromkeys(text) if ord(ch) >= _SIMPLE_BELOW and not ch.isspace() and not has(path, ch)]


def needs_fallback(text: str) -> bool:
    """Cheap first test: only text with a character from U+3400 on can miss a glyph in a CJK font."""
    return not text.isascii() and any(ord(ch) >= _SIMPLE_BELOW for ch in text)


def fallback_fonts() -> list[str]:
    """The fallback fonts present on this machine, in order: ``$HALLQ_CJK_EXT_FONTS`` first, then :data:`EXT_FONTS`."""
    configured = [p for p in os.environ.get(ENV_FONTS, "").split(os.pathsep) if p]
    return [p for p in dict.fromkeys([*configured, *EXT_FONTS]) if Path(p).is_file()]


def chain() -> list[str]:
    """The main CJK font (when present) followed by :func:`fallback_fonts`: what a raster line is drawn with."""
    main = [p for p in MAIN_FONTS if Path(p).is_file()][:1]
    return [*main, *fallback_fonts()]


def font_for(text: str, main: str, fallbacks: list[str] | None = None) -> str:
    """The font to draw all of ``text`` with: ``main`` when it has every glyph, else the first fallback that has
    them all, else the one that lacks the fewest (``main`` when no fallback is installed or none does better)."""
    if not needs_fallback(text):
        return main
    lacking = missing(text, main)
    if not lacking:
        return main
    best, best_missing = main, len(lacking)
    for path in fallbacks if fallbacks is not None else fallback_fonts():
        try:
            n = len(missing(text, path))
        except FontError as e:
            log.warning("fallback font skipped: %s", e)
            continue
        if n < best_missing:
            best, best_missing = path, n
            if n == 0:
                break
    return best


def font_for_char(ch: str, chain: list[str]) -> str | None:
    """The first font of ``chain`` with a glyph for ``ch`` (None when none has it)."""
    for path in chain:
        try:
            if ord(ch) < _SIMPLE_BELOW and ch.isspace() or has(path, ch):
                return path
        except FontError:
            continue
    return None


# -- images (the printer's raster lines) -------------------------------------------------------------

def render_line(text: str, width: int, height: int, align: str = "left", fonts: list[str] | None = None) -> Any:
    """``text`` drawn black on white in a ``width`` × ``height`` PIL image (mode ``1``), each character in the
    first font of ``fonts`` (default :func:`chain`) that has it; ``align`` left | center | right. A character
    that no font has is drawn with the first font (its missing-glyph box) and logged, never dropped silently."""
    from PIL import Image, ImageDraw, ImageFont

    fonts = chain() if fonts is None else fonts
    if not fonts:
        raise FontError(f"no CJK font installed to draw {len(text)} characters as an image: install "
                        f"fonts-wqy-microhei {PACKAGES} (./run.sh setup)")
    size = max(8, int(height * 0.92))
    loaded: dict[str, Any] = {}

    def font(path: str) -> Any:
        if path not in loaded:
            loaded[path] = ImageFont.truetype(path, size)
        return loaded[path]

    runs: list[tuple[str, Any]] = []
    for ch in text:
        path = font_for_char(ch, fonts)
        if path is None:
            log.warning("no installed font has U+%04X: it prints as a box (install %s)", ord(ch), PACKAGES)
            path = fonts[0]
        f = font(path)
        if runs and runs[-1][1] is f:
            runs[-1] = (runs[-1][0] + ch, f)
        else:
            runs.append((ch, f))
    total = sum(f.getlength(t) for t, f in runs)
    x = {"center": (width - total) / 2, "right": width - total}.get(align, 0.0)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    for t, f in runs:
        draw.text((max(x, 0), height / 2), t, font=f, fill=0, anchor="lm")
        x += f.getlength(t)
    return img.point(lambda v: 255 if v < 128 else 0, mode="1")  # bit 1 = a dot burnt, as ESC/POS wants


# -- Kivy -------------------------------------------------------------------------------------------

_installed: list[str] = []


def install_kivy_fallback() -> list[str]:
    """Make every Kivy label whose font lacks a glyph of its text use a fallback font (:func:`font_for`).

    Kivy resolves a label's font file in ``LabelBase.resolve_font_name`` before each rendering (``refresh``);
    the wrapper changes the resolved file only for a text with a character the font lacks, so labels without
    生僻字 keep their font and cost one ``isascii``/range check. Returns the fallback fonts found (an empty list
    is logged: rare names then show boxes; ``./run.sh setup`` installs them). Idempotent.
    """
    from kivy.core.text import LabelBase

    fonts = fallback_fonts()
    if not fonts:
        log.warning("no font for rare characters (生僻字, CJK Extension A-H) found: names with them show boxes; "
                    "install %s (./run.sh setup) or set %s", PACKAGES, ENV_FONTS)
    if _installed:
        _installed[:] = fonts
        return fonts
    _installed[:] = fonts
    original = LabelBase.resolve_font_name

    def resolve_font_name(self: LabelBase) -> None:
        original(self)
        options = self.options
        resolved = options.get("font_name_r")
        text = self.text
        if resolved and _installed and isinstance(text, str) and needs_fallback(text):
            try:
                options["font_name_r"] = font_for(text, resolved, _installed)
            except FontError:  # the label's own font is not a file we can read (an embedded font): keep it
                pass

    LabelBase.resolve_font_name = resolve_font_name
    return fonts
