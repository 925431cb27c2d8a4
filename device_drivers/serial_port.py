"""A serial port that the gateway owns: opened by path or pyserial URL, watched for unplugging.

:class:`SerialLink` wraps one ``serial.Serial`` (``/dev/ttyUSB0``,
``/dev/serial/by-id/...``, ``rfc2217://host:port``, ``socket://``, ``loop://``).
Every failure of the port itself (it disappeared, a write or read failed)
becomes a :class:`~device_drivers.base.DeviceError` with code ``unplugged``
and closes the link; the owner re-opens it later with :meth:`open`. A
silent device on a live port is a different fault (``no_answer``), decided
by the protocol above (see :mod:`device_drivers.hallq_bus`).
"""

from __future__ import annotations

import logging
import os
import threading
import time

import serial

from device_drivers.base import DeviceError

try:
    from termios import error as TermiosError  # tcflush on a hung-up tty raises this, not OSError
except ImportError:  # not POSIX
    TermiosError = OSError
PORT_ERRORS = (serial.SerialException, OSError, TermiosError)

log = logging.getLogger("hallq.devices.serial")

PARITIES = {"none": serial.PARITY_NONE, "even": serial.PARITY_EVEN, "odd": serial.PARITY_ODD}


class SerialLink:
    """One serial port; thread-safe through :attr:`lock` (one transaction at a time on a bus)."""

    def __init__(self, url: str, baudrate: int = 9600, parity: str = "none", name: str = "") -> None:
        if parity not in PARITIES:
            raise ValueError(f"parity {parity!r}: use one of {', '.join(PARITIES)}")
        self.url = url
        self.baudrate = baudrate
        self.parity = parity
        self.name = name or url
        self.lock = threading.RLock()
        self._port: serial.SerialBase | None = None
        self._is_path = "://" not in url
        self._checked_at = 0.0

    # -- open / close -----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        """Open the port; raise DeviceError("unplugged") when it is not there or cannot be opened."""
        with self.lock:
            if self._port is not None:
                return
            if self._is_path and not os.path.exists(self.url):
                raise DeviceError("unplugged", f"serial port {self.url} does not exist",
                                  "plug the adapter in, or fix the bus's port in devices.toml "
                                  "(/dev/serial/by-id/... names survive re-plugging)")
            options = {"baudrate": self.baudrate, "parity": PARITIES[self.parity], "timeout": 0,
                       "write_timeout": 2}
            if self._is_path:
                options["exclusive"] = True  # a second gateway on the same port is a configuration error
            try:
                port = serial.serial_for_url(self.url, do_not_open=True, **options)
                port.open()
            except (*PORT_ERRORS, ValueError) as e:
                raise DeviceError("unplugged", f"cannot open serial port {self.url}: {e}",
                                  "check that the adapter is plugged in, that no other program holds the port, "
                                  "and that this user may open it (group dialout)") from None
            self._port = port
            log.info("opened serial port %s (%s, %d baud)", self.name, self.url, self.baudrate)

    def close(self) -> None:
        with self.lock:
            port, self._port = self._port, None
            if port is not None:
                try:
                    port.close()
                except PORT_ERRORS:
                    pass

    def _fail(self, what: str, e: Exception) -> DeviceError:
        self.close()
        return DeviceError("unplugged", f"serial port {self.url}: {what} failed ({e})",
                           "check the cable and the USB-serial adapter; the gateway re-opens the port by itself")

    def _require(self) -> serial.SerialBase:
        if self._port is None:
            raise DeviceError("unplugged", f"serial port {self.url} is not open", "wait for it to be re-opened")
        return self._port

    # -- I/O --------------------------------------------------------------------------

    def gone(self) -> bool:
        """True when a local port's device node has disappeared (checked at most twice a second)."""
        if not self._is_path or self._port is None:
            return False
        now = time.monotonic()
        if now - self._checked_at < 0.5:
            return False
        self._checked_at = now
        return not os.path.exists(self.url)

    def write(self, data: bytes) -> None:
        with self.lock:
            port = self._require()
            try:
                port.write(data)
                port.flush()
            except PORT_ERRORS as e:
                raise self._fail("write", e) from None

    def read(self, timeout: float) -> bytes:
        """What arrives within ``timeout`` seconds (returns early once something came); b"" if nothing."""
        with self.lock:
            port = self._require()
            try:
                port.timeout = max(timeout, 0)
                first = port.read(1)
                if not first:
                    return b""
                waiting = port.in_waiting
                return first + (port.read(waiting) if waiting else b"")
            except PORT_ERRORS as e:
                raise self._fail("read", e) from None

    def discard_input(self) -> None:
        """Drop bytes that arrived unasked (a late reply to an earlier, timed-out request)."""
        with self.lock:
            port = self._require()
            try:
                port.reset_input_buffer()
            except PORT_ERRORS as e:
                raise self._fail("flush", e) from None

    def transmit_seconds(self, nbytes: int) -> float:
        """Time on the wire for ``nbytes`` (10 bits per byte: start, 8 data, stop)."""
        return nbytes * 10 / max(self.baudrate, 1)

    def __repr__(self) -> str:
        return f"SerialLink({self.url!r}, {self.baudrate}, {'open' if self.is_open else 'closed'})"
