"""The QR / barcode scanner: booking codes, ticket QR codes, receipt codes.

Two kinds exist in halls: serial scanners (RS-232 or a USB CDC port) that
send each code followed by CR and/or LF, and "keyboard wedge" scanners that
type the code as fast keystrokes ending with Enter. Both become one
:class:`Scanner` whose :meth:`~Scanner.read` returns one cleaned code at a
time: UTF-8 (GB18030 accepted), no control characters, at most
:data:`MAX_SCAN` characters; anything else is dropped and counted, never
passed on. The simulators are in :mod:`device_drivers.sim_scanner`;
:func:`device_drivers.factory.build_scanner` chooses by configuration.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from device_drivers.base import DeviceError

log = logging.getLogger("hallq.devices.scanner")

MAX_SCAN = 512


def clean_scan(raw: bytes | str) -> str | None:
    """A scanned code as text, or None when it is empty, too long, or holds control characters."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("gb18030", errors="replace")
    else:
        text = raw
    text = text.strip().lstrip("\ufeff")
    if not text or len(text) > MAX_SCAN or "\ufffd" in text:
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        return None
    return text


@dataclass(frozen=True)
class ScannerStatus:
    present: bool
    detail: dict[str, Any] | None = None

    @property
    def problems(self) -> list[str]:
        return [] if self.present else ["unplugged"]


class Scanner(ABC):
    name: str = "scanner"
    dropped = 0   # scans refused by clean_scan

    @abstractmethod
    def read(self, timeout: float) -> str | None:
        """The next code scanned within ``timeout`` seconds, or None."""

    def status(self) -> ScannerStatus:
        return ScannerStatus(True)

    def close(self) -> None:
        """Release the port (idempotent)."""


class SerialScanner(Scanner):
    """A scanner on a serial port (path or pyserial URL); codes end with CR, LF or CR LF."""

    def __init__(self, port: str, baudrate: int = 9600, name: str = "scanner") -> None:
        from device_drivers.serial_port import SerialLink

        self.link = SerialLink(port, baudrate, name=f"scanner {port}")
        self.name = name
        self._buf = bytearray()
        self._skipping = False   # inside an over-long line: drop up to its end
        self.dropped = 0

    def _take_line(self) -> str | None | bool:
        """A finished line from the buffer: its text, None (dropped), or False (no full line yet)."""
        while True:
            ends = [i for i in (self._buf.find(b"\r"), self._buf.find(b"\n")) if i >= 0]
            if not ends:
                if len(self._buf) > MAX_SCAN * 4:   # no terminator for far too long: noise
                    self._buf.clear()
                    self._skipping = True
                return False
            end = min(ends)
            line = bytes(self._buf[:end])
            del self._buf[:end + 1]
            if self._skipping:
                self._skipping = False
                self.dropped += 1
                continue
            if not line.strip():
                continue   # the LF of a CR LF pair, or an empty scan
            text = clean_scan(line)
            if text is None:
                self.dropped += 1
                log.info("scanner %s: dropped an unreadable scan of %d bytes", self.name, len(line))
                continue
            return text

    def read(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            line = self._take_line()
            if line:
                return line
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.link.open()
            self._buf += self.link.read(min(left, 0.2))

    def status(self) -> ScannerStatus:
        try:
            self.link.open()
        except DeviceError as e:
            return ScannerStatus(False, {"problem": e.code})
        return ScannerStatus(True)

    def close(self) -> None:
        self.link.close()


class QueueScanner(Scanner):
    """Scans delivered by someone else (the UI's keyboard events, a simulator) through a queue."""

    def __init__(self, name: str = "scanner") -> None:
        self.name = name
        self._queue: queue.Queue[str] = queue.Queue(maxsize=32)
        self.dropped = 0

    def _deliver(self, raw: bytes | str) -> bool:
        text = clean_scan(raw)
        if text is None:
            self.dropped += 1
            return False
        try:
            self._queue.put_nowait(text)
        except queue.Full:   # nobody reads (no screen wants a scan): old scans are worthless
            self.dropped += 1
            return False
        return True

    def read(self, timeout: float) -> str | None:
        try:
            return self._queue.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None

    def clear(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()


class KeyboardScanner(QueueScanner):
    """A keyboard-wedge scanner: the UI forwards each typed character and Enter.

    Only a burst counts: at least ``min_length`` characters with gaps under
    ``max_gap`` seconds, ended by Enter. Slow typing by a person is ignored,
    so a resident at a physical keyboard does not "scan" by accident.
    """

    def __init__(self, name: str = "scanner", max_gap: float = 0.05, min_length: int = 4,
                 clock=time.monotonic) -> None:
        super().__init__(name)
        self.max_gap = max_gap
        self.min_length = min_length
        self._clock = clock
        self._burst = ""
        self._last = 0.0
        self._lock = threading.Lock()

    def key(self, char: str) -> None:
        with self._lock:
            now = self._clock()
            if self._burst and now - self._last > self.max_gap:
                self._burst = ""
            self._burst = (self._burst + char)[-MAX_SCAN - 1:]
            self._last = now

    def enter(self) -> bool:
        """Enter pressed: deliver the burst if it was one. Returns True when a scan was delivered."""
        with self._lock:
            burst, self._burst = self._burst, ""
            fast = self._clock() - self._last <= self.max_gap * 2
        if len(burst) >= self.min_length and fast:
            return self._deliver(burst)
        return False
