"""Printer simulators, so tests and demos see exactly what would print (decoded by sim_escpos).

* :class:`PrinterState` is a paper roll and a cover: it answers ``DLE EOT``
  exactly as an Epson-compatible printer does.
* :class:`PrinterSimulator` is the in-process simulated printer
  (``driver = "simulator"``): it keeps every job, can write each one to a
  directory as ``.bin`` plus decoded ``.txt`` (and a ``.png`` for each line
  printed as an image), and reports its state through
  the same status decoding as the real driver.
* :class:`PtyPrinter` is a printer at the end of a pseudo-terminal: the real
  :class:`~device_drivers.printer.EscPosPrinter` with a serial transport
  talks to it, so status timeouts and replies are tested for real.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

from device_drivers.printer import PrinterProfile, PrinterStatus, TicketPrinter
from device_drivers.sim_escpos import Printout, decode

__all__ = ["PrinterState", "PrinterSimulator", "PtyPrinter", "TcpPrinter", "Printout", "decode"]

log = logging.getLogger("hallq.devices.printer")


# -- the simulated paper roll -------------------------------------------------------------

@dataclass
class PrinterState:
    """A printer's physical state; :meth:`reply` is its answer to DLE EOT n."""

    paper: str = "ok"           # ok | near_end | out
    online: bool = True
    cover_open: bool = False
    jammed: bool = False
    silent: bool = False        # no back channel, or the printer is hung
    jobs_until_near_end: int | None = None   # a roll model for demos: counts down per job
    jobs_until_out: int | None = None

    def reply(self, n: int) -> int | None:
        if self.silent:
            return None
        out = self.paper == "out"
        offline = not self.online or out or self.cover_open or self.jammed
        if n == 1:
            return 0x12 | (0x08 if offline else 0)
        if n == 2:
            return 0x12 | (0x04 if self.cover_open else 0) | (0x20 if out else 0) | (0x40 if self.jammed else 0)
        if n == 3:
            return 0x12 | (0x08 if self.jammed else 0)
        if n == 4:
            return 0x12 | (0x0C if self.paper in ("near_end", "out") else 0) | (0x60 if out else 0)
        return None

    def used_one(self) -> None:
        """A job used paper: move the roll model along."""
        if self.jobs_until_out is not None:
            self.jobs_until_out -= 1
            if self.jobs_until_out <= 0:
                self.paper = "out"
                return
        if self.jobs_until_near_end is not None:
            self.jobs_until_near_end -= 1
            if self.jobs_until_near_end <= 0 and self.paper == "ok":
                self.paper = "near_end"


class PrinterSimulator(TicketPrinter):
    """The in-process simulated printer: keeps jobs, decodes them, answers status from its state."""

    def __init__(self, profile: PrinterProfile | None = None, name: str = "printer-sim",
                 state: PrinterState | None = None, output_dir: str | os.PathLike[str] | None = None) -> None:
        self.profile = profile or PrinterProfile()
        self.name = name
        self.state = state or PrinterState()
        self.jobs: list[bytes] = []
        self.output_dir = Path(output_dir) if output_dir else None
        self._lock = threading.Lock()
        self._printed = threading.Condition(self._lock)

    @classmethod
    def from_options(cls, encoding: str = "gb18030", paper_mm: int = 80, qr_module: int = 6,
                     number_scale: int = 3, cut: str = "partial", ident: str = "printer-sim",
                     output_dir: str | None = None, paper: str = "ok", status_timeout_ms: int = 300,
                     jobs_until_near_end: int | None = None, jobs_until_out: int | None = None) -> "PrinterSimulator":
        profile = PrinterProfile(encoding=encoding, paper_mm=paper_mm, qr_module=qr_module,
                                 number_scale=number_scale, cut=cut)
        state = PrinterState(paper=paper, jobs_until_near_end=jobs_until_near_end, jobs_until_out=jobs_until_out)
        return cls(profile, ident, state, output_dir)

    def status(self) -> PrinterStatus:
        s = self.state
        printer = s.reply(1)
        if printer is None:
            return PrinterStatus(False, detail={"reason": "simulated silent printer"})
        offline = s.reply(2) if printer & 0x08 else None
        error = s.reply(3) if printer & 0x08 else None
        return PrinterStatus.from_replies(printer, s.reply(4), offline, error)

    def _write(self, data: bytes) -> None:
        with self._printed:
            self.jobs.append(data)
            self.state.used_one()
            number = len(self.jobs)
            self._printed.notify_all()
        if self.output_dir is not None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            stem = self.output_dir / f"{self.name}-{time.strftime('%Y%m%d-%H%M%S')}-{number:04d}"
            stem.with_suffix(".bin").write_bytes(data)
            p = decode(data, self.profile.encoding)
            stem.with_suffix(".txt").write_text(p.text + "".join(f"\n[QR] {q}" for q in p.qr_codes) + "\n",
                                                encoding="utf-8")
            for k, img in enumerate(p.images, 1):  # the lines printed as images (rare characters of a name)
                img.to_image().save(f"{stem}-image{k}.png")
            log.info("simulated printer %s: job %d (%d bytes) written to %s.txt", self.name, number, len(data), stem)

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> bool:
        with self._printed:
            return self._printed.wait_for(lambda: len(self.jobs) >= count, timeout)

    @property
    def last(self) -> Printout:
        return decode(self.jobs[-1], self.profile.encoding)


class PtyPrinter:
    """A serial printer on a pseudo-terminal: answers DLE EOT from its :class:`PrinterState`, keeps the rest.

    ``path`` is the port to give to the real driver (``serial`` transport).
    """

    def __init__(self, state: PrinterState | None = None, reply_delay: float = 0.0) -> None:
        self.state = state or PrinterState()
        self.reply_delay = reply_delay
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._received = bytearray()
        self.queries: list[int] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-printer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                return
            data = pending + chunk
            pending = b""
            i = 0
            plain = bytearray()
            while i < len(data):
                if data[i] == 0x10 and i + 1 < len(data) and data[i + 1] == 0x04:
                    if i + 2 >= len(data):
                        pending = data[i:]
                        break
                    self._answer(data[i + 2])
                    i += 3
                elif data[i] == 0x10 and i + 1 == len(data):
                    pending = data[i:]
                    break
                else:
                    plain.append(data[i])
                    i += 1
            if plain:
                with self._cond:
                    self._received += plain
                    self._cond.notify_all()

    def _answer(self, n: int) -> None:
        with self._cond:
            self.queries.append(n)
            self._cond.notify_all()
        reply = self.state.reply(n)
        if reply is None:
            return
        if self.reply_delay:
            time.sleep(self.reply_delay)
        os.write(self._master, bytes([reply]))

    @property
    def received(self) -> bytes:
        with self._cond:
            return bytes(self._received)

    def wait_for_bytes(self, predicate, timeout: float = 5.0) -> bytes:
        """Wait until ``predicate(received_bytes)`` holds; return the bytes (raise TimeoutError)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(bytes(self._received)), timeout):
                raise TimeoutError(f"printer got {len(self._received)} bytes, not what was expected")
            return bytes(self._received)

    def clear(self) -> None:
        with self._cond:
            self._received.clear()
            self.queries.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


class TcpPrinter:
    """A network printer (raw TCP, like port 9100) answering DLE EOT from its state; for tests.

    One connection at a time, as a JetDirect port serves. Tests switch it off and on
    (:meth:`power_cycle`: the connection it had is closed, or reset by the rebooted printer),
    have it reset the connection when the next status question comes (``reset_on_question``: it
    rebooted while the kiosk was idle and its new network stack answers the old connection with
    RST), or cut a job off after ``reset_after`` bytes. :attr:`per_connection` has what each
    connection brought to the paper.
    """

    def __init__(self, state: PrinterState | None = None) -> None:
        import socket

        self.state = state or PrinterState()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._received = bytearray()
        self.per_connection: list[bytes] = []  # the plain (printed) bytes of each connection, closed or open
        self.reset_on_question = 0  # the next n status questions are answered by a reset, not a status byte
        self.reset_after: int | None = None  # reset a connection once it has brought this many job bytes
        self.closed = 0  # connections closed by the printer's side
        self._conn = None
        self._cycle = threading.Event()  # power_cycle(): close the connection (with _cycle_reset: reset it)
        self._cycle_reset = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="tcp-printer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import socket
        import struct

        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            with self._cond:
                self._conn = conn
                self.per_connection.append(b"")
            reset = False
            with conn:
                conn.settimeout(0.1)
                while not self._stop.is_set() and not self._cycle.is_set() and not reset:
                    try:
                        data = conn.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    plain = bytearray()
                    i = 0
                    while i < len(data):   # the client sends each DLE EOT whole, in one write
                        if data[i:i + 2] == b"\x10\x04" and i + 2 < len(data):
                            if self.reset_on_question:
                                self.reset_on_question -= 1
                                reset = True
                                break
                            reply = self.state.reply(data[i + 2])
                            if reply is not None:
                                conn.sendall(bytes([reply]))
                            i += 3
                        else:
                            plain.append(data[i])
                            i += 1
                    with self._cond:
                        if self.reset_after is not None:
                            room = max(0, self.reset_after - len(self.per_connection[-1]))
                            reset = reset or len(plain) >= room
                            plain = plain[:room]
                        self._received += plain
                        self.per_connection[-1] += bytes(plain)
                        self._cond.notify_all()
                if reset or self._cycle_reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
            with self._cond:
                self._conn = None
                self.closed += 1
                self._cycle.clear()
                self._cond.notify_all()

    def power_cycle(self, reset: bool = False, timeout: float = 5.0) -> None:
        """Switched off and on (a paper change): the printer closes its connection (FIN) or, with ``reset``,
        its rebooted network stack answers the old one with a reset (RST). Returns once it is closed."""
        with self._cond:
            if self._conn is None:
                return
            closed = self.closed
            self._cycle_reset = reset
            self._cycle.set()
            self._cond.wait_for(lambda: self.closed > closed, timeout)
            self._cycle_reset = False

    def wait_for_bytes(self, predicate, timeout: float = 5.0) -> bytes:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(bytes(self._received)), timeout):
                raise TimeoutError(f"printer got {len(self._received)} bytes, not what was expected")
            return bytes(self._received)

    @property
    def received(self) -> bytes:
        with self._cond:
            return bytes(self._received)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._server.close()
