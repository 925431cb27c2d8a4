"""The hallq serial frame (HQ-485): one frame format for LED strips, call keypads and rating pads.

No public standard exists for window devices (窗口屏, 呼叫器, 评价器); every
vendor has its own. This one is ours, documented byte by byte in
docs/devices.md, and kept behind the device interfaces so a hall's vendor
protocol can be added beside it.

Frame on the wire::

    STX | escaped( VER ADDR SEQ CMD LEN DATA[LEN] CRC_LO CRC_HI ) | ETX

* ``STX`` = 0x02 and ``ETX`` = 0x03 appear only as the first and last byte.
  Inside, each of 0x02, 0x03 and 0x10 is sent as ``DLE`` (0x10) followed by
  the byte XOR 0x20, so a window numbered 3 (address 0x03, which is ETX)
  travels as ``10 23``. A receiver can therefore resynchronise at any STX,
  whatever garbage came before.
* ``VER`` protocol version (1); ``ADDR`` device address on the bus (1-247;
  0 = broadcast, never answered); ``SEQ`` the master's transaction number
  (a retry re-uses it; a reply echoes it); ``CMD`` the command, replies
  have bit 7 set; ``LEN`` the length of DATA (at most :data:`MAX_DATA`).
* ``CRC`` CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) over
  VER..DATA before escaping, low byte first as in Modbus RTU, so the usual
  RS-485 tooling can check it.

:class:`FrameReader` turns any byte stream into valid frames and counts
(never raises on) garbage, bad checksums, truncated and oversized frames.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("hallq.devices.frames")

STX, ETX, DLE = 0x02, 0x03, 0x10
ESCAPED = frozenset((STX, ETX, DLE))
VERSION = 1
MAX_DATA = 200
HEADER = 5  # VER ADDR SEQ CMD LEN
MAX_BODY = HEADER + MAX_DATA + 2
BROADCAST = 0
MAX_ADDRESS = 247
REPLY = 0x80

# commands (master -> device); the reply to each is CMD | 0x80
HELLO = 0x01       # any device: who are you? reply: result, type, proto, boot, model
POLL = 0x02        # keypad, rating pad: anything pressed? data: ack boot, ack no.; reply: result, boot [, event]
SHOW = 0x10        # LED strip: show text. data: flags, colour, speed, flashes, text
BRIGHTNESS = 0x11  # LED strip: data: level 0-15
CLEAR = 0x12       # LED strip: blank
DISPLAY = 0x20     # keypad / pad LCD: data: line, flags, text
PROMPT = 0x30      # rating pad: light the keys, ask for a rating. data: seconds, text

COMMAND_NAMES = {HELLO: "HELLO", POLL: "POLL", SHOW: "SHOW", BRIGHTNESS: "BRIGHTNESS", CLEAR: "CLEAR",
                 DISPLAY: "DISPLAY", PROMPT: "PROMPT"}

# first data byte of every reply
OK, UNKNOWN_COMMAND, BAD_DATA, TEXT_TOO_LONG, BUSY = 0, 1, 2, 3, 4
RESULT_NAMES = {OK: "ok", UNKNOWN_COMMAND: "unknown_command", BAD_DATA: "bad_data",
                TEXT_TOO_LONG: "text_too_long", BUSY: "busy"}

# device types in the HELLO reply
TYPE_LED_STRIP, TYPE_KEYPAD, TYPE_RATING_PAD = 0x01, 0x02, 0x03
TYPE_NAMES = {TYPE_LED_STRIP: "led_strip", TYPE_KEYPAD: "keypad", TYPE_RATING_PAD: "rating_pad"}


class FrameError(ValueError):
    """A frame that cannot be accepted; ``reason`` is a short code for logs and counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}{': ' + detail if detail else ''}")
        self.reason = reason


@dataclass(frozen=True)
class Frame:
    address: int
    seq: int
    command: int
    data: bytes = b""
    version: int = VERSION

    @property
    def is_reply(self) -> bool:
        return bool(self.command & REPLY)

    @property
    def result(self) -> int | None:
        """The result code of a reply (its first data byte), None for a request."""
        return self.data[0] if self.is_reply and self.data else None

    def __str__(self) -> str:
        name = COMMAND_NAMES.get(self.command & ~REPLY, f"0x{self.command & ~REPLY:02X}")
        return f"{name}{' reply' if self.is_reply else ''} addr={self.address} seq={self.seq} data={self.data.hex(' ')}"


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS: poly 0xA001 (reflected 0x8005), init 0xFFFF. ``crc16(b"123456789") == 0x4B37``."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def escape(body: bytes) -> bytes:
    out = bytearray()
    for b in body:
        if b in ESCAPED:
            out += bytes((DLE, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(raw: bytes) -> bytes:
    out = bytearray()
    it = iter(raw)
    for b in it:
        if b == DLE:
            nxt = next(it, None)
            if nxt is None or (nxt ^ 0x20) not in ESCAPED:
                raise FrameError("bad_escape", f"DLE followed by {'nothing' if nxt is None else f'0x{nxt:02X}'}")
            out.append(nxt ^ 0x20)
        elif b in (STX, ETX):
            raise FrameError("bad_escape", f"unescaped 0x{b:02X} inside a frame")
        else:
            out.append(b)
    return bytes(out)


def encode(frame: Frame) -> bytes:
    """The bytes of ``frame`` on the wire; raises ValueError for out-of-range fields."""
    if not 0 <= frame.address <= 255 or not 0 <= frame.seq <= 255 or not 0 <= frame.command <= 255:
        raise ValueError(f"address, seq and command are single bytes: {frame!r}")
    if len(frame.data) > MAX_DATA:
        raise ValueError(f"frame data of {len(frame.data)} bytes exceeds {MAX_DATA}")
    body = bytes((frame.version, frame.address, frame.seq, frame.command, len(frame.data))) + frame.data
    body += crc16(body).to_bytes(2, "little")
    return bytes((STX,)) + escape(body) + bytes((ETX,))


def decode_body(raw: bytes) -> Frame:
    """A frame from the escaped bytes between STX and ETX; raises :class:`FrameError` saying why not."""
    body = unescape(raw)
    if len(body) < HEADER + 2:
        raise FrameError("truncated", f"{len(body)} bytes")
    length = body[4]
    if length > MAX_DATA or len(body) != HEADER + length + 2:
        raise FrameError("bad_length", f"LEN {length} but {len(body) - HEADER - 2} data bytes")
    if crc16(body[:-2]) != int.from_bytes(body[-2:], "little"):
        raise FrameError("bad_checksum")
    if body[0] != VERSION:
        raise FrameError("unknown_version", f"version {body[0]}")
    return Frame(address=body[1], seq=body[2], command=body[3], data=bytes(body[HEADER:-2]), version=body[0])


def decode(raw: bytes) -> Frame:
    """Exactly one frame, STX to ETX (for tests and tools)."""
    if len(raw) < 2 or raw[0] != STX or raw[-1] != ETX:
        raise FrameError("no_frame", "must start with STX and end with ETX")
    return decode_body(raw[1:-1])


class FrameReader:
    """Incremental parser: feed it whatever the port gave, get the valid frames back.

    Bad input is counted in :attr:`errors` (by reason) and reported to
    ``on_error``; it never raises and its memory stays bounded, whatever it
    is fed (the longest frame is :data:`MAX_BODY` bytes, escaped at most twice that).
    """

    MAX_RAW = 2 * MAX_BODY

    def __init__(self, on_error: Callable[[FrameError, bytes], None] | None = None) -> None:
        self._buf = bytearray()
        self._in_frame = False
        self._overflow = False
        self.errors: dict[str, int] = {}
        self.on_error = on_error

    def _error(self, e: FrameError, raw: bytes) -> None:
        self.errors[e.reason] = self.errors.get(e.reason, 0) + 1
        if self.on_error is not None:
            self.on_error(e, raw[:64])

    def feed(self, chunk: bytes) -> list[Frame]:
        frames: list[Frame] = []
        skipped = 0
        for b in chunk:
            if b == STX:
                if self._in_frame and (self._buf or self._overflow):
                    self._error(FrameError("truncated", "a new frame began before ETX"), bytes(self._buf))
                self._buf.clear()
                self._in_frame, self._overflow = True, False
            elif not self._in_frame:
                skipped += 1
            elif b == ETX:
                if self._overflow:
                    self._error(FrameError("too_long", f"more than {self.MAX_RAW} bytes"), b"")
                else:
                    try:
                        frames.append(decode_body(bytes(self._buf)))
                    except FrameError as e:
                        self._error(e, bytes(self._buf))
                self._buf.clear()
                self._in_frame = self._overflow = False
            elif not self._overflow:
                self._buf.append(b)
                if len(self._buf) > self.MAX_RAW:
                    self._buf.clear()
                    self._overflow = True
        if skipped:
            self._error(FrameError("garbage", f"{skipped} bytes outside a frame"), b"")
        return frames


# -- text -----------------------------------------------------------------------------

ENCODINGS = ("gb18030", "gb2312")


def clean_text(text: str) -> str:
    """Printable text only: control characters (C0, C1, DEL, line and paragraph separators) become spaces."""
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)


def encode_text(text: str, encoding: str = "gb18030", max_bytes: int = MAX_DATA) -> bytes:
    """``text`` in the device's encoding, cut at a character boundary to ``max_bytes``.

    GB18030 encodes every character; a GB2312-only firmware gets "?" for
    the characters outside GB2312 (rare ones in names and addresses).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown text encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    out = bytearray()
    for ch in clean_text(text):
        b = ch.encode(encoding, errors="replace")
        if len(out) + len(b) > max_bytes:
            break
        out += b
    return bytes(out)


def decode_text(data: bytes, encoding: str = "gb18030") -> str:
    return data.decode(encoding if encoding in ENCODINGS else "gb18030", errors="replace")
