"""The ticket printer (取号机热敏打印机): ESC/POS with Chinese text, a native QR code and honest status.

What a ticket printer in a Chinese hall needs, and how it is done here:

* **Chinese text** as GB18030 bytes between ``FS &`` (enter Chinese
  character mode) and ``FS .`` (leave it), sent raw. python-escpos' "magic"
  encoding never sends ``FS &`` and prints punctuation-only text as ``????``
  (docs/printer-and-id-reader.md), so every command byte but the text is
  built by python-escpos and the text goes through ``_raw``. The encoding
  is a per-printer setting (``gb18030`` for current firmware, ``gbk`` /
  ``gb2312`` for older ones: characters they lack print as ``?``).
* **Rare characters** (生僻字 of a name: CJK Extension B and later, 4-byte
  GB18030 sequences that no printer's built-in font has, or any character the
  profile's encoding lacks) would print as boxes or ``?``: a line with one is
  sent as a raster image (``GS v 0``) drawn with PIL in the fonts that have
  the glyphs (:func:`hallq.fonts.render_line`); every other line stays text.
* **The QR code** with the printer's own ``GS ( k`` commands
  (``native=True``): a ticket stays near 400 bytes instead of a 16 KB raster.
* **Status before printing** by ``DLE EOT`` with a short timeout. A printer
  that does not answer is reported as *unknown*, never as "paper adequate"
  (python-escpos' ``Serial.paper_status`` waits a second and then claims
  paper when the printer is silent). Paper out, cover open, offline and
  cutter jams refuse the job with a :class:`DeviceError` whose code the kiosk
  shows and reports (``paper_out``, ``cover_open``, ``offline``, ``jammed``).
* **Transports** from configuration: ``serial`` (a path or a pyserial URL,
  through :class:`device_drivers.serial_port.SerialLink`), ``network`` (raw
  TCP, port 9100) and ``usb`` (the kernel's usblp device, ``/dev/usb/lp0``),
  in :mod:`device_drivers.printer_transports`.

The simulators live in :mod:`device_drivers.sim_printer`; :func:`device_drivers.factory.build_printer`
chooses between them and the real driver by configuration.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from device_drivers.base import DeviceError
from device_drivers.printer_transports import Transport
from hallq.fonts import FontError, render_line

log = logging.getLogger("hallq.devices.printer")

FS_CHINESE_ON = b"\x1c\x26"   # FS &
FS_CHINESE_OFF = b"\x1c\x2e"  # FS .
GS_RASTER = b"\x1d\x76\x30"   # GS v 0: a raster bit image, printed where the line would be
DLE_EOT = b"\x10\x04"
ENCODINGS = ("gb18030", "gbk", "gb2312")


# -- profile and layout ---------------------------------------------------------------

@dataclass(frozen=True)
class PrinterProfile:
    """What differs between printer models: text encoding, paper width, QR size, cutter."""

    encoding: str = "gb18030"
    paper_mm: int = 80
    qr_module: int = 6            # dots per QR module (1-16); 6 on 80 mm paper is ~4 cm wide
    number_scale: int = 3         # the ticket number's size multiplier (GS !), 1-8
    cut: str = "partial"          # full | partial | none
    feed_before_cut: int = 4

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise DeviceError("bad_config", f"printer encoding {self.encoding!r} is not supported",
                              f"use one of {', '.join(ENCODINGS)}")
        if self.paper_mm not in (58, 80):
            raise DeviceError("bad_config", f"paper width {self.paper_mm} mm", "use 58 or 80")
        if not 1 <= self.qr_module <= 16 or not 1 <= self.number_scale <= 8:
            raise DeviceError("bad_config", "qr_module must be 1-16 and number_scale 1-8")
        if self.cut not in ("full", "partial", "none"):
            raise DeviceError("bad_config", f"cut {self.cut!r}", "use full, partial or none")

    @property
    def dots(self) -> int:
        """Printable dots across: 576 on 80 mm paper, 384 on 58 mm (8 dots/mm, 72 or 48 mm printed)."""
        return 384 if self.paper_mm == 58 else 576

    @property
    def columns(self) -> int:
        """Half-width columns of font A (12×24 dots): 32 on 58 mm, 48 on 80 mm paper."""
        return 32 if self.paper_mm == 58 else 48


def display_columns(text: str) -> int:
    """Printed width in half-width columns: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F", "A") and ord(ch) > 0x7F else 1 for ch in text)


def wrap(text: str, columns: int) -> list[str]:
    """Break ``text`` into lines of at most ``columns`` printed columns (Chinese may break anywhere)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, width = "", 0
        for ch in paragraph:
            w = display_columns(ch)
            if width + w > columns and line:
                lines.append(line.rstrip())
                line, width = "", 0
                if ch == " ":
                    continue
            line += ch
            width += w
        lines.append(line.rstrip())
    return lines


def needs_image(text: str, encoding: str) -> bool:
    """Whether a line must print as an image: a character beyond the BMP (CJK Extension B-H: GB18030 encodes
    it in 4 bytes, but thermal printers' built-in fonts stop at the BMP) or one ``encoding`` cannot encode."""
    if any(ord(ch) > 0xFFFF for ch in text):
        return True
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return True
    return False


def raster(bits: bytes, width: int, height: int) -> bytes:
    """``GS v 0`` (normal density) for an image of ``width`` × ``height`` dots, rows of ``width / 8`` bytes,
    the most significant bit leftmost, 1 = a black dot."""
    row = (width + 7) // 8
    if len(bits) != row * height:
        raise ValueError(f"{len(bits)} bytes for a {width}x{height} image, expected {row * height}")
    return GS_RASTER + bytes([0, row & 0xFF, row >> 8, height & 0xFF, height >> 8]) + bits


def _printable(text: str) -> str:
    # control characters in data (a name read from a card, a field typed in) must never
    # reach the printer as commands
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)


class TicketDocument:
    """Builds the bytes of one print job; every command but Chinese text comes from python-escpos.

    >>> doc = TicketDocument(PrinterProfile())
    >>> doc.line("六盘水市政务服务中心", align="center"); doc.number("A001"); doc.qr("http://h/t/x"); doc.cut()
    >>> len(doc.data) < 1024
    True
    """

    def __init__(self, profile: PrinterProfile) -> None:
        # python-escpos (with Pillow, qrcode, python-barcode, PyYAML and its capabilities table: 15 MB) is imported at
        # the first ticket, not when the kiosk starts: an idle kiosk does not hold it (docs/kiosk.md, "Memory on a
        # village station")
        from escpos.printer import Dummy

        self.profile = profile
        self._p = Dummy()
        self._p._raw(b"\x1b\x40")  # ESC @: a clean state whatever the last job left behind

    def _text(self, text: str, align: str = "left", scale: int = 1) -> None:
        text = _printable(text)
        if text.isascii():
            self._p._raw(text.encode("ascii") + b"\n")
        elif needs_image(text, self.profile.encoding):
            self._image_line(text, align, scale)
        else:
            data = text.encode(self.profile.encoding, errors="replace")
            self._p._raw(FS_CHINESE_ON + data + FS_CHINESE_OFF + b"\n")

    def _image_line(self, text: str, align: str, scale: int) -> None:
        """One line as a ``GS v 0`` raster the width of the paper and the height of the text (24 dots a size)."""
        width, height = self.profile.dots, 24 * scale
        try:
            img = render_line(text, width, height, align)
        except FontError as e:  # no font at all: the text is better than nothing ('?' for what the printer lacks)
            log.warning("printing a line as text, not as an image: %s", e)
            self._p._raw(FS_CHINESE_ON + text.encode(self.profile.encoding, errors="replace") + FS_CHINESE_OFF + b"\n")
            return
        self._p._raw(raster(img.tobytes(), width, height))

    def line(self, text: str, align: str = "left", bold: bool = False, scale: int = 1) -> None:
        """One or more lines of text, wrapped to the paper, in a size ``scale`` (1-8)."""
        self._p.set(align=align, bold=bold)
        if scale > 1:
            self._p.set(custom_size=True, width=scale, height=scale)
        for part in wrap(text, max(self.profile.columns // scale, 1)):
            self._text(part, align, scale)
        if scale > 1:
            self._p.set(normal_textsize=True)
        if bold:
            self._p.set(bold=False)

    def number(self, label: str) -> None:
        """The ticket number, large and centred."""
        self.line(label, align="center", bold=True, scale=self.profile.number_scale)

    def rule(self) -> None:
        self._p.set(align="left")
        self._p._raw(b"-" * self.profile.columns + b"\n")

    def qr(self, payload: str) -> None:
        """The printer's own QR code (GS ( k), centred; ``payload`` is ASCII (a URL or a code)."""
        if not payload.isascii():
            raise ValueError("QR payloads are ASCII (URLs, codes)")
        self._p.set(align="center")
        self._p.qr(payload, native=True, size=self.profile.qr_module)
        self._p._raw(b"\n")
        self._p.set(align="left")

    def feed(self, lines: int = 1) -> None:
        self._p._raw(b"\n" * lines)

    def cut(self) -> None:
        if self.profile.cut == "none":
            self.feed(self.profile.feed_before_cut)
            return
        # python-escpos feeds 6 lines (ESC d 6) past the cutter, then GS V 0 (full) or GS V 1 (partial)
        self._p.cut(mode="PART" if self.profile.cut == "partial" else "FULL", feed=True)

    @property
    def data(self) -> bytes:
        return self._p.output


# -- status ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PrinterStatus:
    """The printer's answer to DLE EOT 1/2/3/4, or ``answered=False`` when it stayed silent."""

    answered: bool
    online: bool | None = None
    paper: str = "unknown"            # ok | near_end | out | unknown
    cover_open: bool = False
    error: str | None = None          # jammed (cutter) | unrecoverable | recoverable
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> str | None:
        """The problem that must stop a print job, or None."""
        if not self.answered:
            return None
        if self.paper == "out":
            return "paper_out"
        if self.cover_open:
            return "cover_open"
        if self.error:
            return self.error if self.error == "jammed" else "printer_error"
        if self.online is False:
            return "offline"
        return None

    @property
    def problems(self) -> list[str]:
        """Health codes for MQTT: blocking ones, ``paper_near_end``, ``no_status``."""
        out = []
        if not self.answered:
            out.append("no_status")
        b = self.blocking
        if b:
            out.append(b)
        if self.paper == "near_end":
            out.append("paper_near_end")
        return out

    @classmethod
    def from_replies(cls, printer: int, paper: int | None, offline_cause: int | None = None,
                     error_cause: int | None = None) -> "PrinterStatus":
        """Decode the ESC/POS real-time status bytes (bit 3 of DLE EOT 1 = offline; DLE EOT 4 bits 2-3 =
        near end, bits 5-6 = paper end; DLE EOT 2 bit 2 = cover open, bit 5 = stopped at paper end;
        DLE EOT 3 bit 3 = autocutter error, bit 5 = unrecoverable, bit 6 = auto-recoverable)."""
        online = not printer & 0x08
        state = "ok"
        if paper is not None:
            if paper & 0x60:
                state = "out"
            elif paper & 0x0C:
                state = "near_end"
        else:
            state = "unknown"
        cover = bool(offline_cause is not None and offline_cause & 0x04)
        if offline_cause is not None and offline_cause & 0x20:
            state = "out"
        error = None
        if error_cause is not None:
            if error_cause & 0x08:
                error = "jammed"
            elif error_cause & 0x20:
                error = "unrecoverable"
            elif error_cause & 0x40:
                error = "recoverable"
        if offline_cause is not None and offline_cause & 0x40 and error is None:
            error = "recoverable"
        detail = {k: v for k, v in (("printer", printer), ("paper", paper), ("offline_cause", offline_cause),
                                    ("error_cause", error_cause)) if v is not None}
        return cls(True, online, state, cover, error, detail)


def valid_status_byte(b: int) -> bool:
    """Every DLE EOT reply has bits 1 and 4 set and bits 0 and 7 clear (0xx1xx10 pattern)."""
    return b & 0x93 == 0x12


class TicketPrinter(ABC):
    """A ticket printer: check its status, print a job (bytes from :class:`TicketDocument`)."""

    name: str = "printer"
    profile: PrinterProfile

    @abstractmethod
    def status(self) -> PrinterStatus:
        """Ask the printer how it is (short timeout). Raises DeviceError("unplugged") when unreachable."""

    def print_job(self, data: bytes) -> PrinterStatus:
        """Check the status, then print; raise DeviceError with the blocking problem's code."""
        st = self.status()
        problem = st.blocking
        if problem:
            raise DeviceError(problem, *PROBLEMS.get(problem, (problem, "")))
        self._write(data)
        return st

    @abstractmethod
    def _write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """Release the port (idempotent)."""


PROBLEMS = {  # code: (what is wrong, what staff should do)
    "paper_out": ("the ticket printer is out of paper", "load a new roll (thermal side towards the head), close the cover"),
    "cover_open": ("the ticket printer's cover is open", "close the printer cover firmly"),
    "offline": ("the ticket printer is offline", "check the printer's power and its error light"),
    "jammed": ("the ticket printer's cutter is jammed", "open the cover, clear the paper at the cutter, close it"),
    "printer_error": ("the ticket printer reports an error", "switch it off and on; call maintenance if it persists"),
}


# -- the real driver --------------------------------------------------------------------

class EscPosPrinter(TicketPrinter):
    """A real ESC/POS printer behind one :class:`Transport`."""

    def __init__(self, transport: Transport, profile: PrinterProfile, name: str = "printer",
                 status_timeout: float = 0.3) -> None:
        self.transport = transport
        self.profile = profile
        self.name = name
        self.status_timeout = status_timeout
        self._lock = threading.Lock()

    def _ask(self, n: int) -> int | None:
        self.transport.write(DLE_EOT + bytes([n]))
        reply = self.transport.read(self.status_timeout)
        for b in reply:  # some printers echo noise first: take the first well-formed status byte
            if valid_status_byte(b):
                return b
        return None

    def status(self) -> PrinterStatus:
        with self._lock:
            if not self.transport.bidirectional:
                return PrinterStatus(False, detail={"reason": "write-only transport"})
            self.transport.discard_input()
            printer = self._ask(1)
            if printer is None:
                return PrinterStatus(False, detail={"reason": f"no answer to DLE EOT within {self.status_timeout} s"})
            paper = self._ask(4)
            offline = error = None
            if printer & 0x08:
                offline = self._ask(2)
                error = self._ask(3)
            return PrinterStatus.from_replies(printer, paper, offline, error)

    def _write(self, data: bytes) -> None:
        with self._lock:
            self.transport.write(data)

    def close(self) -> None:
        self.transport.close()
