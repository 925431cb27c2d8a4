"""Bytes to and from a ticket printer: serial, raw TCP (port 9100) and the kernel's usblp device.

Chosen by configuration (``driver = "serial" | "network" | "usb"``) and used
by :class:`device_drivers.printer.EscPosPrinter`; see
docs/printer-and-id-reader.md for each transport's options.
"""

from __future__ import annotations

import logging
import os
import select
import socket
from abc import ABC, abstractmethod

from device_drivers.base import DeviceError

log = logging.getLogger("hallq.devices.printer")

DLE_EOT = b"\x10\x04"  # a real-time status question (device_drivers.printer)


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
    """A network printer on raw TCP (JetDirect, port 9100); DLE EOT is answered on the same socket.

    One connection is kept between jobs. A printer switched off and on (a paper
    change, a power saver) has closed that connection (an end of file waiting
    to be read) or, rebooted, answers it with a reset. Either means *closed*,
    never "no reply": the transport reconnects, once, before reporting a problem.

    * Before each use (the status check's :meth:`discard_input`, every
      :meth:`write`) a connection the printer has closed is replaced by a new one.
    * A status question (``DLE EOT n``) whose connection closes under it (end of
      file or reset instead of the answer) is asked again, once, on a new connection.
    * A job is sent again, once, on a new connection only when its write failed
      before the kernel took a single byte of it: then no byte of it can have
      reached the printer. Once any byte was taken the job is never sent again
      (a printer may have printed part of it): the write is reported as failed.
      So a ticket is never printed twice; one half-printed while the printer
      dies is reported, not completed.
    """

    def __init__(self, host: str, port: int = 9100, connect_timeout: float = 2.0,
                 write_timeout: float = 10.0) -> None:
        self.host, self.port, self.connect_timeout = host, port, connect_timeout
        self.write_timeout = write_timeout  # a long raster job on a slow printer takes seconds
        self._sock: socket.socket | None = None
        self._question = b""  # a status question sent on this connection and not answered yet
        self.reconnects = 0  # connections replaced because the printer had closed them (tests, logs)

    @property
    def _where(self) -> str:
        return f"printer {self.host}:{self.port}"

    def _open(self) -> socket.socket:
        if self._sock is None:
            try:
                self._sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
            except OSError as e:
                raise DeviceError("unplugged", f"cannot reach the printer at {self.host}:{self.port}: {e}",
                                  "check the printer's network cable, power and IP address") from None
        return self._sock

    def _reconnect(self, why: str) -> None:
        log.info("%s %s (switched off and on?): connecting again", self._where, why)
        self.close()
        self.reconnects += 1

    def _live(self) -> socket.socket:
        """The connection, replaced first when the printer has closed it (end of file or reset pending)."""
        sock = self._sock
        if sock is not None and _closed_by_peer(sock):
            self._reconnect("closed the connection")
        return self._open()

    def write(self, data: bytes) -> None:
        question = len(data) == 3 and data[:2] == DLE_EOT
        for attempt in (1, 2):
            sock = self._live()
            sock.settimeout(self.write_timeout)
            view, sent = memoryview(data), 0
            try:
                while sent < len(view):
                    sent += sock.send(view[sent:])
            except OSError as e:
                if sent == 0 and attempt == 1 and isinstance(e, (BrokenPipeError, ConnectionResetError)):
                    self._reconnect(f"refused the write ({e.__class__.__name__}) before taking a byte")
                    continue  # nothing of it left this machine: sending it on a new connection prints it once
                self.close()
                part = f" after {sent} of {len(data)} bytes: part of it may have printed" if sent else ""
                raise DeviceError("unplugged", f"{self._where}: write failed ({e}){part}",
                                  "check the printer's network link and power") from None
            self._question = bytes(data) if question else b""
            return

    def read(self, timeout: float) -> bytes:
        for attempt in (1, 2):
            sock = self._open()
            sock.settimeout(max(timeout, 0.001))
            try:
                chunk = sock.recv(64)
            except socket.timeout:
                return b""
            except OSError as e:  # reset: the printer's new network stack does not know this connection
                chunk, why = b"", f"reset the connection ({e.__class__.__name__})"
            else:
                why = "closed the connection"
            if chunk:
                self._question = b""
                return chunk
            question, self._question = self._question, b""
            self._reconnect(why)
            if attempt == 1 and question:
                self.write(question)  # the status check asked again, on a new connection
                continue
            break
        raise DeviceError("unplugged", f"{self._where} closed the connection instead of answering",
                          "check the printer's power and network link; another host may be holding the printer")

    def discard_input(self) -> None:
        sock = self._live()
        sock.setblocking(False)
        try:
            while sock.recv(256):
                pass
        except BlockingIOError:
            return
        except OSError:
            pass
        self.close()  # the stale bytes ended in an end of file or a reset: the next write connects again

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._question = b""


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the other end has closed ``sock``: an end of file or a reset is waiting to be read."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:  # ECONNRESET, ETIMEDOUT, a socket closed here: unusable
        return True


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
