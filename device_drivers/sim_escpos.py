"""Reading ESC/POS back: what a job would print, for the printer simulators and the tests.

:func:`decode` reads a job: lines of text (GB18030 between ``FS &`` and
``FS .`` decoded, with their size, bold and alignment), the payload of every
native QR code (``GS ( k``), raster images (``GS v 0``: the lines with rare
characters, see device_drivers.printer), cuts, status queries, and anything that would
print as garbage (bytes above 0x7F outside Chinese mode) or is not
understood. It never raises, whatever the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RasterImage:
    """A ``GS v 0`` image: ``width`` × ``height`` dots, rows of ``width / 8`` bytes, 1 = black."""

    width: int
    height: int
    bits: bytes

    def dot(self, x: int, y: int) -> bool:
        return bool(self.bits[y * (self.width // 8) + x // 8] & (0x80 >> (x % 8)))

    def to_image(self) -> Any:
        """A PIL image, black text on white (tests, previews)."""
        from PIL import Image

        return Image.frombytes("1", (self.width, self.height), bytes(255 - b for b in self.bits))


@dataclass
class PrintedLine:
    text: str
    width: int = 1
    height: int = 1
    bold: bool = False
    align: str = "left"
    image: RasterImage | None = None   # a line printed as an image; its text is "[image W×H]"


@dataclass
class Printout:
    """What a job prints, as read back from its bytes."""

    lines: list[PrintedLine] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    images: list[RasterImage] = field(default_factory=list)
    qr_module: int | None = None
    cuts: int = 0
    chinese_segments: list[str] = field(default_factory=list)
    stray_bytes: int = 0            # >0x7F outside FS & … FS .: would print as code-page garbage
    status_queries: list[int] = field(default_factory=list)
    unknown: list[bytes] = field(default_factory=list)
    size: int = 0

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def find(self, needle: str) -> PrintedLine | None:
        return next((line for line in self.lines if needle in line.text), None)


_ALIGN = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}
_ESC_ONE_ARG = set(b"!EadJ-GMtR{V3 U")  # ESC x n
_GS_ONE_ARG = set(b"!BhwHfbra")


def decode(data: bytes, encoding: str = "gb18030") -> Printout:
    """Read an ESC/POS job back; never raises (unknown commands are listed in ``unknown``)."""
    out = Printout(size=len(data))
    st = {"w": 1, "h": 1, "bold": False, "align": "left", "chinese": False}
    parts: list[tuple[bytes, bool]] = []
    buf = bytearray()
    qr_store: list[str] = []

    def flush_run() -> None:
        if buf:
            parts.append((bytes(buf), st["chinese"]))
            buf.clear()

    def end_line() -> None:
        flush_run()
        text = ""
        for raw, chinese in parts:
            if chinese:
                seg = raw.decode(encoding, errors="replace")
                out.chinese_segments.append(seg)
                text += seg
            else:
                out.stray_bytes += sum(1 for b in raw if b > 0x7F)
                text += raw.decode("latin-1")
        parts.clear()
        out.lines.append(PrintedLine(text, st["w"], st["h"], st["bold"], st["align"]))

    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x1B and i + 1 < n:                      # ESC
            c = data[i + 1]
            if c == 0x40:
                flush_run()
                st.update(w=1, h=1, bold=False, align="left", chinese=False)
                i += 2
            elif c in _ESC_ONE_ARG and i + 2 < n:
                arg = data[i + 2]
                flush_run()
                if c == ord("!"):
                    st.update(bold=bool(arg & 0x08), h=2 if arg & 0x10 else 1, w=2 if arg & 0x20 else 1)
                elif c == ord("E"):
                    st["bold"] = bool(arg & 1)
                elif c == ord("a"):
                    st["align"] = _ALIGN.get(arg, "left")
                elif c == ord("d"):
                    for _ in range(arg):
                        end_line()
                i += 3
            elif c == ord("2"):
                i += 2
            else:
                out.unknown.append(data[i:i + 3])
                i += 2
        elif b == 0x1D and i + 1 < n:                    # GS
            c = data[i + 1]
            if c == ord("(") and i + 4 < n and data[i + 2] == ord("k"):
                length = data[i + 3] + 256 * data[i + 4]
                body = data[i + 5:i + 5 + length]
                if len(body) >= 2 and body[0] == 0x31:   # cn = 49: QR code
                    fn = body[1]
                    if fn == 0x43 and len(body) >= 3:
                        out.qr_module = body[2]
                    elif fn == 0x50:
                        qr_store[:] = [body[3:].decode("utf-8", errors="replace")]
                    elif fn == 0x51 and qr_store:
                        out.qr_codes.append(qr_store.pop())
                i += 5 + length
            elif c == ord("v") and i + 7 < n and data[i + 2] in (0, 48):   # GS v 0 m xL xH yL yH d…
                row, rows = data[i + 4] + 256 * data[i + 5], data[i + 6] + 256 * data[i + 7]
                flush_run()
                img = RasterImage(row * 8, rows, bytes(data[i + 8:i + 8 + row * rows]))
                out.images.append(img)
                out.lines.append(PrintedLine(f"[image {img.width}×{img.height}]", align=st["align"], image=img))
                i += 8 + row * rows
            elif c == ord("V") and i + 2 < n:
                m = data[i + 2]
                flush_run()
                out.cuts += 1
                i += 4 if m in (65, 66) else 3
            elif c == ord("!") and i + 2 < n:
                arg = data[i + 2]
                flush_run()
                st.update(w=(arg >> 4) + 1, h=(arg & 0x0F) + 1)
                i += 3
            elif c in _GS_ONE_ARG and i + 2 < n:
                flush_run()
                i += 3
            else:
                out.unknown.append(data[i:i + 3])
                i += 2
        elif b == 0x1C and i + 1 < n:                    # FS
            c = data[i + 1]
            flush_run()
            if c == 0x26:
                st["chinese"] = True
                i += 2
            elif c == 0x2E:
                st["chinese"] = False
                i += 2
            elif c in b"!-CW" and i + 2 < n:
                i += 3
            else:
                out.unknown.append(data[i:i + 3])
                i += 2
        elif b == 0x10 and i + 2 < n and data[i + 1] == 0x04:   # DLE EOT n
            out.status_queries.append(data[i + 2])
            i += 3
        elif b == 0x0A:
            end_line()
            i += 1
        elif b < 0x20:
            i += 1                                        # CR, HT and other controls print nothing here
        else:
            buf.append(b)
            i += 1
    if buf or parts:
        end_line()
    return out


