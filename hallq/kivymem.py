"""What the board and the kiosk share to keep a Kivy process small on a station's box (issue 16, item 3).

On software GL (Mesa's llvmpipe, a village station's mini PC) every GL buffer lives in the process's RAM.
docs/deployment.md, "The board's memory", and docs/kiosk.md, "The kiosk's memory", have what each saves.

* :data:`MULTISAMPLES`: the ``multisamples`` key of board.toml and kiosk.toml. Kivy asks for 2x MSAA unless
  told; llvmpipe rounds it up to 4 and keeps 4 samples of colour and depth for the whole window.
* :func:`lean_env`: images through SDL2_image only (Kivy's PIL provider maps Pillow for nothing).
* :func:`lean_malloc` / :func:`trim_heap`: glibc gives freed memory back.

Call :func:`configure` (or the parts) before anything imports kivy.
"""

from __future__ import annotations

import functools
import os

from hallq.schema import Int

MULTISAMPLES = Int(min=0, max=8, description="the window's antialiasing (MSAA) samples, 0 by default: each "
                                             "sample costs a screen-sized colour and depth buffer, in RAM on "
                                             "software GL")

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt() parameters (malloc.h)


def configure(multisamples: int) -> None:
    """Kivy's config for a lean process: ``multisamples``, SDL2-only images, glibc returning memory.
    Before ``kivy.core.window`` is imported (the window's pixel format is chosen when it opens)."""
    lean_env()
    lean_malloc()
    from kivy.config import Config

    Config.set("graphics", "multisamples", str(int(multisamples)))


def lean_env() -> None:
    # images (PNG screenshots, a QR code) through SDL2_image only: Kivy's PIL provider would load Pillow and
    # its libraries (2-4 MB of RSS) at start, for nothing (qrcode still imports Pillow when it draws one)
    os.environ.setdefault("KIVY_IMAGE", "sdl2")


@functools.lru_cache(maxsize=1)
def _libc():
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (musl has neither call): nothing to tune
        return None


def lean_malloc() -> bool:
    """Have glibc give memory back: blocks of 64 KB and more (label textures on their way to GL, a
    screenshot's pixels) in their own mappings, returned when freed, and the heap's free top trimmed past
    128 KB. glibc's default raises its mmap threshold after the first such block is freed (up to 32 MB),
    after which they are carved out of the heap and stay there. Returns whether it could (glibc only)."""
    libc = _libc()
    if libc is None:
        return False
    libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024)
    libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)
    return True


def trim_heap(*_) -> None:
    """Return the heap's free pages to the system (``malloc_trim``): what start-up and a burst freed."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
