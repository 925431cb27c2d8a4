"""Bytes to and from a ticket printer: serial, raw TCP (port 9100) and the kernel's usblp device.

Chosen by configuration (``driver = "serial" | "network" | "usb"``) and used
by :class:`device_drivers.printer.EscPosPrinter`; see
docs/printer-and-id-reader.md for each transport's options.
"""

from __future__ import annotations

import os
import select
import socket
from abc import ABC, abstractmethod

from device_drivers.base import DeviceError

class Transport(ABC):
    """Bytes to and from a printer."""

    bidirectional = True

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def read(self, timeout: float) -> bytes:
        """What arrives within ``timeout`` s (early once something came); b"" if nothing."""

    def discard_input(self) -> None:
        """Drop stale bytes (a late answer to an earlier, timed-out question)."""

    def close(self) -> None: ...


class SerialTransport(Transport):
    """A serial printer: a device path (/dev/ttyUSB0, a pty) or a pyserial URL (socket://, rfc2217://)."""

    def __init__(self, port: str, baudrate: int = 9600) -> None:
        from device_drivers.serial_port import SerialLink

        self.link = SerialLink(port, baudrate, name=f"printer {port}")

    def write(self, data: bytes) -> None:
        self.link.open()
        self.link.write(data)

    def read(self, timeout: float) -> bytes:
        self.link.open()
        return self.link.read(timeout)

    def discard_input(self) -> None:
        self.link.open()
        self.link.discard_input()

    def close(self) -> None:
        self.link.close()


class NetworkTransport(Transport):
    """A network printer on raw TCP (JetDirect, port 9100); DLE EOT is answered on the same socket."""

    def __init__(self, host: str, port: int = 9100, connect_timeout: float = 2.0) -> None:
        self.host, self.port, self.connect_timeout = host, port, connect_timeout
        self._sock: socket.socket | None = None

    def _open(self) -> socket.socket:
        if self._sock is None:
            try:
                self._sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
            except OSError as e:
                raise DeviceError("unplugged", f"cannot reach the printer at {self.host}:{self.port}: {e}",
                                  "check the printer's network cable, power and IP address") from None
        return self._sock

    def write(self, data: bytes) -> None:
        try:
            self._open().sendall(data)
        except OSError as e:
            self.close()
            raise DeviceError("unplugged", f"printer {self.host}:{self.port}: write failed ({e})",
                              "check the printer's network link") from None

    def read(self, timeout: float) -> bytes:
        sock = self._open()
        sock.settimeout(max(timeout, 0.001))
        try:
            return sock.recv(64)
        except socket.timeout:
            return b""
        except OSError as e:
            self.close()
            raise DeviceError("unplugged", f"printer {self.host}:{self.port}: read failed ({e})") from None

    def discard_input(self) -> None:
        sock = self._open()
        sock.setblocking(False)
        try:
            while sock.recv(256):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class UsbLpTransport(Transport):
    """A USB printer through the kernel's usblp driver (``/dev/usb/lp0``): writes, and reads status back
    (usblp is bidirectional for printers that support it; the ones that do not stay silent: status unknown)."""

    def __init__(self, path: str = "/dev/usb/lp0") -> None:
        self.path = path
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)
            except OSError as e:
                raise DeviceError("unplugged", f"cannot open the USB printer {self.path}: {e.strerror}",
                                  "check the USB cable and power, and that this user is in group lp") from None
        return self._fd

    def write(self, data: bytes) -> None:
        fd = self._open()
        view = memoryview(data)
        try:
            while view:
                select.select([], [fd], [], 5)
                view = view[os.write(fd, view):]
        except OSError as e:
            self.close()
            raise DeviceError("unplugged", f"USB printer {self.path}: write failed ({e.strerror})",
                              "check the USB cable") from None

    def read(self, timeout: float) -> bytes:
        fd = self._open()
        ready, _, _ = select.select([fd], [], [], max(timeout, 0))
        if not ready:
            return b""
        try:
            return os.read(fd, 64)
        except (BlockingIOError, OSError):
            return b""

    def discard_input(self) -> None:
        while self.read(0):
            pass

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
