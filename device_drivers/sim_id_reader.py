"""ID card reader simulators that answer like a real SAM reader, byte for byte.

* :class:`ReaderState` holds the card on the reader (or none) and a fault
  mode: ``normal``, ``bad_checksum`` (every answer's checksum is wrong),
  ``timeout`` (the reader says nothing), ``sam_fault`` (SW3 60 to
  everything), ``select_fails`` (SW3 81), ``read_fails`` (SW3 41).
  :func:`answer` is its reply to one command frame, as bytes on the wire.
* :class:`IdReaderSimulator` (``driver = "simulator"``) runs the real
  protocol code against those bytes in-process; a demo or a test puts a card
  on it with :meth:`~IdReaderSimulator.place`.
* :class:`PtyIdReader` is the same reader at the end of a pseudo-terminal,
  for the real :class:`~device_drivers.id_reader.SerialIdReader`.

:func:`demo_card` is a fictitious resident (valid check digit, no real person).
"""

from __future__ import annotations

import os
import select
import threading
import tty
from dataclasses import dataclass, field

from device_drivers.id_reader import (FIND, NO_CARD, OK, PHOTO_SIZE, READ, RESET, SAM_ID, SAM_STATUS, SELECT,
                                      SELECT_FAILED, TEXT_SIZE, BadFrame, Frame, FrameParser, IdCard,
                                      ProtocolReader, encode_response)
from hallq.privacy import id_check_char


def demo_card(birth: str = "19480312", name: str = "周桂芬", sex: str = "2", seq: int = 42) -> IdCard:
    """A fictitious villager of Zhoujia (钟山区, area 520201) with a valid ID number."""
    first17 = f"520201{birth}{seq:03d}"[:17]
    if sex == "2" and int(first17[16]) % 2:       # the 17th digit is odd for men, even for women
        first17 = first17[:16] + str((int(first17[16]) + 1) % 10)
    elif sex == "1" and int(first17[16]) % 2 == 0:
        first17 = first17[:16] + str(int(first17[16]) + 1)
    return IdCard(name=name, sex_code=sex, ethnicity_code="09", birth=birth,
                  address="贵州省六盘水市钟山区大河镇周家村三组12号", id_number=first17 + id_check_char(first17),
                  authority="六盘水市公安局钟山分局", valid_from="20160301", valid_to="长期")


@dataclass
class ReaderState:
    card: IdCard | None = None
    mode: str = "normal"      # normal | bad_checksum | timeout | sam_fault | select_fails | read_fails
    photo: bytes = field(default=b"\x00" * PHOTO_SIZE)
    remove_after_read: bool = False
    reads: int = 0
    noise: bytes = b""        # sent before every answer (line noise the parser must skip)

    MODES = ("normal", "bad_checksum", "timeout", "sam_fault", "select_fails", "read_fails")


def answer(state: ReaderState, frame: Frame | BadFrame) -> bytes | None:
    """The reader's reply to one frame, or None when it stays silent."""
    if state.mode == "timeout":
        return None
    if isinstance(frame, BadFrame):
        reply = encode_response(0x10 if frame.problem == "bad_checksum" else 0x11)
    elif len(frame.payload) < 2:
        reply = encode_response(0x11)
    elif state.mode == "sam_fault":
        reply = encode_response(0x60)
    else:
        reply = _answer_command(state, frame.command)
    if state.mode == "bad_checksum":
        reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
    return state.noise + reply


def _answer_command(state: ReaderState, command: tuple[int, int]) -> bytes:
    if command in (SAM_STATUS, RESET):
        return encode_response(OK)
    if command == SAM_ID:
        return encode_response(OK, bytes(16))
    if command == FIND:
        return encode_response(0x9F, bytes(4)) if state.card else encode_response(NO_CARD)
    if command == SELECT:
        if not state.card or state.mode == "select_fails":
            return encode_response(SELECT_FAILED)
        return encode_response(OK, bytes(8))
    if command == READ:
        if not state.card:
            return encode_response(0x41)
        if state.mode == "read_fails":
            return encode_response(0x41)
        text = state.card.to_text()
        state.reads += 1
        if state.remove_after_read:
            state.card = None
        return encode_response(OK, TEXT_SIZE.to_bytes(2, "big") + PHOTO_SIZE.to_bytes(2, "big") + text
                               + state.photo[:PHOTO_SIZE].ljust(PHOTO_SIZE, b"\x00"))
    return encode_response(0x21)


class IdReaderSimulator(ProtocolReader):
    """The simulated reader: the real protocol code, talking to :func:`answer` without a port."""

    def __init__(self, state: ReaderState | None = None, name: str = "id-reader-sim") -> None:
        self.state = state or ReaderState()
        self.name = name
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, ident: str = "id-reader-sim", card: str = "none", mode: str = "normal",
                     **_ignored) -> "IdReaderSimulator":
        """``card = "demo"`` starts with :func:`demo_card` on the reader (it is taken away once read)."""
        if mode not in ReaderState.MODES:
            raise ValueError(f"simulated reader mode {mode!r}: use one of {', '.join(ReaderState.MODES)}")
        state = ReaderState(card=demo_card() if card == "demo" else None, mode=mode,
                            remove_after_read=card == "demo")
        return cls(state, ident)

    def place(self, card: IdCard, remove_after_read: bool = True) -> None:
        """Put a card on the reader (it is taken away after one read unless told otherwise)."""
        with self._lock:
            self.state.card = card
            self.state.remove_after_read = remove_after_read

    def remove(self) -> None:
        with self._lock:
            self.state.card = None

    def _exchange(self, frame: bytes, timeout: float) -> list[Frame | BadFrame]:
        with self._lock:
            parser = FrameParser()
            replies = []
            for f in parser.feed(frame):
                reply = answer(self.state, f)
                if reply is not None:
                    replies.extend(FrameParser().feed(reply))
            return replies


class PtyIdReader:
    """A reader at the end of a pseudo-terminal; ``path`` goes to ``SerialIdReader``."""

    def __init__(self, state: ReaderState | None = None) -> None:
        self.state = state or ReaderState()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self.commands: list[tuple[int, int] | str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-id-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        parser = FrameParser()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 4096)
            except OSError:
                return
            for frame in parser.feed(chunk):
                self.commands.append(frame.command if isinstance(frame, Frame) and len(frame.payload) >= 2
                                     else getattr(frame, "problem", "short"))
                reply = answer(self.state, frame)
                if reply is not None:
                    os.write(self._master, reply)

    def inject(self, data: bytes) -> None:
        """Send raw bytes to the host as if the reader had (noise, half frames)."""
        os.write(self._master, data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
