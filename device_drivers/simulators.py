"""Simulated window devices that speak the hallq frames on a pseudo-terminal.

A :class:`SimBus` is a simulated RS-485 bus: one pty whose master end it
reads, and the simulated devices on it, each answering at its address like
the real thing (same frames, same checksums, same retry handling). A driver
opens :attr:`SimBus.path` (the pty's slave, or a symlink to it) exactly as
it would open ``/dev/ttyUSB0``. Tests and the demo read what a strip shows
(:attr:`StripSimulator.text`), press keys (:meth:`KeypadSimulator.press`),
and pull the plug (:meth:`SimBus.unplug` / :meth:`SimBus.replug`).
"""

from __future__ import annotations

import logging
import os
import random
import select
import threading
import time
import tty
from collections import deque
from collections.abc import Callable
from pathlib import Path

from device_drivers import frames as F

log = logging.getLogger("hallq.devices.sim")


class PtyPort:
    """The device end of a pseudo-terminal; a driver opens :attr:`path`."""

    def __init__(self, link: str | os.PathLike[str] | None = None) -> None:
        self.link = Path(link) if link else None
        self.master: int | None = None
        self._slave: int | None = None
        self.tty = ""
        self.plug()

    @property
    def path(self) -> str:
        return str(self.link) if self.link else self.tty

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def plug(self) -> None:
        """A fresh pty (and the symlink to it): the cable is in."""
        if self.master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        # keep a slave descriptor open: without one, the master reads EIO while the driver re-opens
        self.master, self._slave, self.tty = master, slave, os.ttyname(slave)
        if self.link:
            tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.tty)
            os.replace(tmp, self.link)

    def unplug(self) -> None:
        """Remove the symlink and close the pty: the driver's reads and writes fail, as with a pulled cable."""
        if self.link:
            self.link.unlink(missing_ok=True)
        for fd in (self.master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self._slave = None

    def read(self, timeout: float) -> bytes:
        if self.master is None:
            time.sleep(timeout)
            return b""
        try:
            ready, _, _ = select.select([self.master], [], [], timeout)
            return os.read(self.master, 4096) if ready else b""
        except BlockingIOError:
            return b""
        except OSError:  # EIO while nobody holds the slave: wait, do not spin
            time.sleep(timeout)
            return b""

    def write(self, data: bytes) -> None:
        deadline = time.monotonic() + 1.0
        while data and self.master is not None and time.monotonic() < deadline:
            try:
                data = data[os.write(self.master, data):]
            except BlockingIOError:
                select.select([], [self.master], [], 0.05)
            except OSError:
                return


class PathPort:
    """The device end as an existing tty path (e.g. one end of a ``socat`` pty pair), opened with pyserial."""

    def __init__(self, path: str) -> None:
        import serial

        self._serial = serial
        self.path = path
        self._port = None
        self.plug()

    @property
    def plugged(self) -> bool:
        return self._port is not None

    def plug(self) -> None:
        if self._port is None:
            self._port = self._serial.Serial(self.path, timeout=0)

    def unplug(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def read(self, timeout: float) -> bytes:
        if self._port is None:
            time.sleep(timeout)
            return b""
        try:
            self._port.timeout = timeout
            first = self._port.read(1)
            return first + self._port.read(self._port.in_waiting) if first else b""
        except (OSError, self._serial.SerialException):
            time.sleep(timeout)
            return b""

    def write(self, data: bytes) -> None:
        if self._port is not None:
            try:
                self._port.write(data)
            except (OSError, self._serial.SerialException):
                pass


class SimulatedDevice:
    """One device on a :class:`SimBus`: answers HELLO, repeats its reply to a retried request."""

    type_code = 0
    model = "hallq-sim"
    label = "设备"

    def __init__(self, address: int, name: str = "") -> None:
        self.address = address
        self.name = name or f"{self.__class__.__name__}@{address}"
        self.responsive = True  # False: powered but mute (a dead device on a live bus)
        self.drop_replies = 0  # tests: act on that many requests but lose the answer on the line
        self.requests = 0
        self.retries_seen = 0
        self.boot = 0
        self._cond = threading.Condition()
        self.power_cycle()

    def power_cycle(self) -> None:
        """Power lost and back: a new boot id, the screen and the key buffer empty."""
        with self._cond:
            self.boot = random.choice([b for b in range(1, 256) if b != self.boot])
            self._last: tuple[int, int, bytes] | None = None
            self._last_reply: F.Frame | None = None
            self.reset()
            self._cond.notify_all()

    def reset(self) -> None:
        """Clear the device's own state (subclasses)."""

    def handle(self, f: F.Frame) -> F.Frame | None:
        with self._cond:
            self.requests += 1
            key = (f.seq, f.command, f.data)
            if key == self._last and self._last_reply is not None:
                self.retries_seen += 1  # the master missed our answer: answer again, do not act again
                return self._last_reply
            if f.command == F.HELLO:
                result, data = F.OK, bytes((self.type_code, F.VERSION, self.boot)) + self.model.encode("ascii")
            else:
                result, data = self.command(f)
            reply = F.Frame(self.address, f.seq, f.command | F.REPLY, bytes((result,)) + data)
            self._last, self._last_reply = key, reply
            self._cond.notify_all()
            if self.drop_replies:
                self.drop_replies -= 1
                return None
        return None if f.address == F.BROADCAST else reply

    def command(self, f: F.Frame) -> tuple[int, bytes]:
        return F.UNKNOWN_COMMAND, b""

    def wait_for(self, predicate: Callable[["SimulatedDevice"], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate(self)`` holds (checked after every request); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)


class StripSimulator(SimulatedDevice):
    """An LED strip: remembers what it shows, and logs it (the demo's "window")."""

    type_code = F.TYPE_LED_STRIP
    model = "hallq-sim-strip"
    label = "窗口屏"

    def reset(self) -> None:
        self.text = ""
        self.scroll = False
        self.flashes = 0
        self.colour = 0
        self.brightness = 8
        self.shows = 0  # SHOW commands acted on
        self.history: deque[str] = deque(maxlen=100)

    def command(self, f: F.Frame) -> tuple[int, bytes]:
        d = f.data
        if f.command == F.SHOW:
            if len(d) < 4 or d[1] not in (1, 2, 3) or not 1 <= d[2] <= 8:
                return F.BAD_DATA, b""
            self.scroll, self.colour, self.flashes = bool(d[0] & 0x01), d[1], d[3] if d[0] & 0x02 else 0
            self.text = F.decode_text(d[4:])
            self.shows += 1
            self.history.append(self.text)
            log.info("%s %s: %s%s%s", self.label, self.name, self.text, "（滚动）" if self.scroll else "",
                     f"（闪烁{self.flashes}次）" if self.flashes else "")
            return F.OK, b""
        if f.command == F.BRIGHTNESS:
            if len(d) != 1 or d[0] > 15:
                return F.BAD_DATA, b""
            self.brightness = d[0]
            return F.OK, b""
        if f.command == F.CLEAR:
            self.text = ""
            return F.OK, b""
        return F.UNKNOWN_COMMAND, b""


class PolledSimulator(SimulatedDevice):
    """Keypads and pads: presses queue up until a POLL acknowledges them; a two-line display."""

    def reset(self) -> None:
        self.lines = {1: "", 2: ""}
        self.beeps = 0
        self._queue: deque[tuple[int, int, bytes]] = deque(maxlen=32)
        self._next_no = 1
        self.ignore_acks = 0  # tests: behave as if that many acknowledgements were lost

    def _press(self, key: int, args: bytes = b"") -> int:
        with self._cond:
            number = self._next_no
            self._next_no = number % 255 + 1
            self._queue.append((number, key, args[:16]))
            return number

    @property
    def pending(self) -> int:
        """Presses not yet acknowledged by the master."""
        with self._cond:
            return len(self._queue)

    def command(self, f: F.Frame) -> tuple[int, bytes]:
        d = f.data
        if f.command == F.POLL:
            if len(d) != 2:
                return F.BAD_DATA, b""
            if self._queue and d[0] == self.boot and self._queue[0][0] == d[1]:
                if self.ignore_acks:
                    self.ignore_acks -= 1
                else:
                    self._queue.popleft()
            if not self._queue:
                return F.OK, bytes((self.boot,))
            number, key, args = self._queue[0]
            return F.OK, bytes((self.boot, number, key)) + args
        if f.command == F.DISPLAY:
            if len(d) < 2 or d[0] not in (1, 2):
                return F.BAD_DATA, b""
            self.lines[d[0]] = F.decode_text(d[2:])
            self.beeps += d[1] & 0x01
            if self.lines[d[0]]:
                log.info("%s %s 第%d行: %s", self.label, self.name, d[0], self.lines[d[0]])
            return F.OK, b""
        return self.more(f)

    def more(self, f: F.Frame) -> tuple[int, bytes]:
        return F.UNKNOWN_COMMAND, b""


class KeypadSimulator(PolledSimulator):
    type_code = F.TYPE_KEYPAD
    model = "hallq-sim-keypad"
    label = "呼叫器"

    def press(self, key: str, digits: str = "") -> int:
        """Press a function key (``"N"`` or ``"call_next"``…) after typing ``digits``; returns its event no."""
        from device_drivers.keypad import KEY_BYTES

        code = KEY_BYTES.get(key, key)
        if len(code) != 1:
            raise ValueError(f"unknown key {key!r}")
        return self._press(ord(code), digits.encode("ascii"))


class RatingPadSimulator(PolledSimulator):
    type_code = F.TYPE_RATING_PAD
    model = "hallq-sim-pad"
    label = "评价器"

    def reset(self) -> None:
        super().reset()
        self.prompt_text = ""
        self.prompts = 0

    def press(self, level: int) -> int:
        """The resident presses level 1-5 (5 非常满意)."""
        if not 1 <= level <= 5:
            raise ValueError("a rating pad has keys 1 to 5")
        return self._press(ord(str(level)))

    def more(self, f: F.Frame) -> tuple[int, bytes]:
        if f.command == F.PROMPT:
            if len(f.data) < 1 or f.data[0] == 0:
                return F.BAD_DATA, b""
            self.prompt_text = F.decode_text(f.data[1:])
            self.prompts += 1
            self.lines[1] = self.prompt_text  # the prompt takes the top line until something else is shown
            log.info("%s %s: %s", self.label, self.name, self.prompt_text)
            return F.OK, b""
        return F.UNKNOWN_COMMAND, b""


class SimBus:
    """Simulated devices sharing one pty, answering by address like an RS-485 bus."""

    def __init__(self, link: str | os.PathLike[str] | None = None, name: str = "sim",
                 port: PtyPort | PathPort | None = None) -> None:
        self.name = name
        self.port = port or PtyPort(link)
        self.devices: dict[int, SimulatedDevice] = {}
        self.bad_frames: dict[str, int] = {}
        self._reader = F.FrameReader(self._bad)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"simbus-{name}", daemon=True)
        self._thread.start()

    @property
    def path(self) -> str:
        return self.port.path

    def attach(self, device: SimulatedDevice) -> SimulatedDevice:
        if device.address in self.devices:
            raise ValueError(f"address {device.address} is taken on {self.name}")
        self.devices[device.address] = device
        return device

    def unplug(self) -> None:
        """Pull the cable (and the devices' power)."""
        with self._lock:
            self.port.unplug()

    def replug(self, power_cycle: bool = True) -> None:
        """Plug back in; with ``power_cycle`` the devices come back blank, as after a power cut."""
        with self._lock:
            self._reader = F.FrameReader(self._bad)
            self.port.plug()
        if power_cycle:
            for d in self.devices.values():
                d.power_cycle()

    def write_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the line (tests: noise, garbage, half frames)."""
        with self._lock:
            self.port.write(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        with self._lock:
            self.port.unplug()

    def _bad(self, e: F.FrameError, raw: bytes) -> None:
        self.bad_frames[e.reason] = self.bad_frames.get(e.reason, 0) + 1

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                data = self.port.read(0.05)
                frames = self._reader.feed(data) if data else []
                for f in frames:
                    if f.is_reply:
                        continue
                    targets = list(self.devices.values()) if f.address == F.BROADCAST else \
                        [d for d in (self.devices.get(f.address),) if d is not None]
                    for d in targets:
                        if not d.responsive:
                            continue
                        try:
                            reply = d.handle(f)
                        except Exception:  # a simulator bug must not kill the bus
                            log.exception("%s: simulated device %s failed on %s", self.name, d.name, f)
                            continue
                        if reply is not None:
                            self.port.write(F.encode(reply))
