"""What the board and the kiosk share to keep a Kivy process small on a station's box (issue 16, item 3).

On software GL (Mesa's llvmpipe, a village station's mini PC) every GL buffer lives in the process's RAM.
docs/deployment.md, "The board's memory", and docs/kiosk.md, "The kiosk's memory", have what each saves.

* :data:`MULTISAMPLES`: the ``multisamples`` key of board.toml and kiosk.toml. Kivy asks for 2x MSAA unless
  told; llvmpipe rounds it up to 4 and keeps 4 samples of colour and depth for the whole window.
* :func:`lean_env`: images through SDL2_image only (Kivy's PIL provider maps Pillow for nothing).
* :func:`lean_malloc` / :func:`trim_heap`: glibc gives freed memory back.
* :func:`release_compiler_code`: the pages of LLVM's code that llvmpipe's shader compiles touched (about 50 MB),
  unmapped once the screen's shaders are compiled; read back from the file if a later compile needs them.
  :func:`trim_idle` does both, for the board and the kiosk.

Call :func:`configure` (or the parts) before anything imports kivy.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator

from hallq.schema import Int

MULTISAMPLES = Int(min=0, max=8, description="the window's antialiasing (MSAA) samples, 0 by default: each "
                                             "sample costs a screen-sized colour and depth buffer, in RAM on "
                                             "software GL")

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt() parameters (malloc.h)
MADV_DONTNEED = 4  # madvise(2), the same on every Linux architecture
COMPILER_LIBRARIES = ("libLLVM",)  # Mesa's llvmpipe compiles shaders with it; nothing else runs its code


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


def _mappings(smaps: str) -> Iterator[list]:
    """(start, end, permissions, path, rss kB, anonymous kB) of each mapping in a /proc/<pid>/smaps text."""
    entry = None
    for line in smaps.splitlines():
        head = line.split(maxsplit=5)
        if "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
            if entry:
                yield entry
            start, end = (int(x, 16) for x in head[0].split("-"))
            entry = [start, end, head[1], head[5] if len(head) > 5 else "", 0, 0]
        elif entry and head[0] == "Rss:":
            entry[4] = int(head[1])
        elif entry and head[0] == "Anonymous:":
            entry[5] = int(head[1])
    if entry:
        yield entry


def release_compiler_code(libraries: tuple[str, ...] = COMPILER_LIBRARIES) -> int:
    """Unmap the resident pages of ``libraries``' read-only mappings (their code and constants): the kernel
    reads them back from the file, or from its page cache, if the code runs again (a shader compiled for a
    screen shown later). Only mappings no page of which was ever written (``Anonymous: 0``: no private
    copies, which madvise would throw away) are released. Returns the kB released (0 off Linux or glibc)."""
    libc = _libc()
    if libc is None:
        return 0
    try:
        with open("/proc/self/smaps") as f:
            smaps = f.read()
    except OSError:
        return 0
    import ctypes

    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    for start, end, perms, path, rss, anonymous in _mappings(smaps):
        if (rss and not anonymous and perms.startswith("r") and "w" not in perms
                and any(name in path.rsplit("/", 1)[-1] for name in libraries)):
            if libc.madvise(start, end - start, MADV_DONTNEED) == 0:
                released += rss
    return released


def trim_idle(*_) -> None:
    """What an idle board or kiosk holds for nothing: the heap's free pages, the shader compiler's code."""
    trim_heap()
    release_compiler_code()
