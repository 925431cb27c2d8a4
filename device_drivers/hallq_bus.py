"""The master side of the hallq serial protocol (HQ-485) on one serial line.

RS-485 is half duplex and multi-drop: several keypads, pads and strips
share two wires, and two talkers at once garble each other. So the gateway
is the only master: it sends a request to one address and that device (and
only it) answers within the reply timeout. Keypads and rating pads never
speak unasked: the gateway polls them (``POLL``), and the answer carries
the oldest key press the device still holds.

Exactly-once key presses over a lossy line:

* every request has a transaction number ``SEQ``; a retry of a request
  that got no answer re-uses it, and a device that already handled that
  ``SEQ`` answers again without acting again (a strip does not restart its
  flashing; a pad does not drop a press);
* a device keeps each press, numbered (``event_no``, 1-255), until a later
  ``POLL`` acknowledges that number *and* its ``boot`` id (which changes at
  power-on, so a restarted device never takes an old acknowledgement for
  its new press no. 1); the gateway remembers the (boot, number) it
  accepted last from each device and drops a press it has already seen;
* a gateway that stops sends one last POLL with the acknowledgement of the
  press it handled (:meth:`PolledDevice.acknowledge`), so the device does not
  hand that press to the next gateway.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

from device_drivers import frames as F
from device_drivers.base import DeviceError
from device_drivers.serial_port import SerialLink

log = logging.getLogger("hallq.devices.bus")


@dataclass(frozen=True)
class DeviceInfo:
    """What a device says about itself in its HELLO reply."""

    type: str  # led_strip, keypad, rating_pad
    protocol: int
    boot: int  # changes at every power-on: the gateway re-sends what it should show
    model: str


@dataclass(frozen=True)
class RawEvent:
    """A key press as the device reports it: ``key`` is one byte (ASCII), ``args`` typed before it."""

    boot: int
    number: int
    key: str
    args: str


class HallqLine:
    """Numbered request/reply transactions with retries on one :class:`SerialLink`."""

    def __init__(self, link: SerialLink, reply_timeout: float = 0.15, retries: int = 2) -> None:
        self.link = link
        self.reply_timeout = reply_timeout
        self.retries = retries
        # one counter per address, so two requests in a row to a device never share a number;
        # a random start, so a restarted gateway's first request is not taken for a retry
        self._seq: dict[int, int] = {}
        self.frame_errors: dict[str, int] = {}

    def _next_seq(self, address: int) -> int:
        seq = self._seq.get(address) or random.randint(1, 255)
        self._seq[address] = seq % 255 + 1  # 1..255
        return seq

    def _on_frame_error(self, e: F.FrameError, raw: bytes) -> None:
        self.frame_errors[e.reason] = self.frame_errors.get(e.reason, 0) + 1
        log.debug("%s: ignored a bad frame (%s): %s", self.link.name, e, raw.hex(" "))

    def transact(self, address: int, command: int, data: bytes = b"") -> F.Frame:
        """Send a request and return the device's reply; raise DeviceError ``no_answer`` / ``refused`` / ``unplugged``."""
        if not 1 <= address <= F.MAX_ADDRESS:
            raise ValueError(f"address {address} is outside 1-{F.MAX_ADDRESS}")
        with self.link.lock:
            seq = self._next_seq(address)
            request = F.encode(F.Frame(address, seq, command, data))
            # the device's turnaround plus our request and a typical reply on the wire; a long
            # reply that has begun to arrive gets the time it needs (see _await)
            timeout = self.reply_timeout + self.link.transmit_seconds(len(request) + 48)
            for attempt in range(1 + self.retries):
                self.link.discard_input()
                self.link.write(request)
                reply = self._await(address, seq, command | F.REPLY, timeout)
                if reply is not None:
                    break
                log.debug("%s: no answer from address %d to %s (attempt %d)", self.link.name, address,
                          F.COMMAND_NAMES.get(command, hex(command)), attempt + 1)
            else:
                raise DeviceError("no_answer", f"no answer from address {address} on {self.link.name}",
                                  "check the device's power, its address setting, the A/B wires and the baud rate")
        if reply.result not in (F.OK, None):
            name = F.RESULT_NAMES.get(reply.result, str(reply.result))
            raise DeviceError("refused", f"address {address} refused {F.COMMAND_NAMES.get(command, hex(command))}: "
                              f"{name}", "check that the device type and firmware match devices.toml")
        return reply

    def _await(self, address: int, seq: int, command: int, timeout: float) -> F.Frame | None:
        reader = F.FrameReader(self._on_frame_error)
        deadline = time.monotonic() + timeout
        extended = False
        while (left := deadline - time.monotonic()) > 0:
            chunk = self.link.read(left)
            if chunk and not extended:
                extended = True
                deadline += self.link.transmit_seconds(2 * F.MAX_BODY + 2)
            for f in reader.feed(chunk):
                if f.address == address and f.seq == seq and f.command == command:
                    return f
                log.debug("%s: ignored an unexpected frame %s", self.link.name, f)
        return None

    def broadcast(self, command: int, data: bytes = b"") -> None:
        """A request to every device on the line (address 0); nobody answers."""
        with self.link.lock:
            self.link.write(F.encode(F.Frame(F.BROADCAST, self._next_seq(F.BROADCAST), command, data)))

    # -- requests every device kind understands ------------------------------------------

    def hello(self, address: int) -> DeviceInfo:
        d = self.transact(address, F.HELLO).data
        if len(d) < 4:
            raise DeviceError("refused", f"address {address} sent a HELLO reply of {len(d)} bytes",
                              "the device does not speak the hallq protocol; check devices.toml")
        return DeviceInfo(type=F.TYPE_NAMES.get(d[1], f"unknown-{d[1]}"), protocol=d[2], boot=d[3],
                          model=d[4:36].decode("ascii", "replace"))


class PolledDevice:
    """What keypads and rating pads share: POLL with acknowledgement, duplicate presses dropped."""

    expected_type = ""

    def __init__(self, line: HallqLine, address: int, encoding: str = "gb18030") -> None:
        self.line = line
        self.address = address
        self.encoding = encoding
        self.boot: int | None = None  # boot id seen in the last reply
        self._ack = (0, 0)  # (boot, event no.) acknowledged with the next POLL; a restarted device ignores it
        self._last: tuple[int, int] | None = None  # (boot, event no.) of the last press accepted
        self.duplicates = 0

    def identify(self) -> DeviceInfo:
        info = self.line.hello(self.address)
        if info.type != self.expected_type:
            raise DeviceError("wrong_device", f"address {self.address} is a {info.type}, not a {self.expected_type}",
                              "two devices share an address on this bus, or devices.toml has the wrong address")
        return info

    def poll_raw(self) -> RawEvent | None:
        """Ask for the oldest unacknowledged press; None when there is none or it was a duplicate."""
        d = self.line.transact(self.address, F.POLL, bytes(self._ack)).data
        if len(d) < 2:
            raise DeviceError("refused", f"address {self.address} sent a POLL reply of {len(d)} bytes",
                              "the device does not speak the hallq protocol")
        self.boot = d[1]
        if len(d) < 4:
            return None
        event = RawEvent(boot=d[1], number=d[2], key=chr(d[3]), args=d[4:20].decode("ascii", "replace"))
        self._ack = (event.boot, event.number)  # acknowledged with the next POLL, even a duplicate
        key = (event.boot, event.number)
        if key == self._last:
            self.duplicates += 1
            log.info("%s address %d: press no. %d repeated; ignored (acted on once)", self.line.link.name,
                     self.address, event.number)
            return None
        self._last = key
        return event

    def acknowledge(self) -> None:
        """One last POLL carrying the acknowledgement of the press :meth:`poll_raw` returned last.

        For a gateway that stops after handling that press: without it the device would keep the
        press and hand it to the next gateway. A press this POLL's reply carries is *not* taken (nor
        acknowledged later): the device keeps it for whoever polls next. Nothing is sent when no press
        was ever returned.
        """
        if self._ack != (0, 0):
            self.line.transact(self.address, F.POLL, bytes(self._ack))

    def display(self, line: int, text: str, beep: bool = False) -> None:
        """Show ``text`` on LCD line ``line`` (1 or 2)."""
        data = bytes((line, 0x01 if beep else 0)) + F.encode_text(text, self.encoding, F.MAX_DATA - 2)
        self.line.transact(self.address, F.DISPLAY, data)

    def close(self) -> None:
        """The line belongs to its bus: nothing to release per device."""
