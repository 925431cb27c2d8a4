"""The 2nd-generation resident ID card reader (二代身份证阅读器), serial SAM protocol (GA 467).

Every reader sold in China carries the Ministry of Public Security's SAM
module and speaks its frame protocol over UART (or a USB-serial bridge):

    command:  AA AA AA 96 69 | LEN_HI LEN_LO | CMD PARA [DATA…] | CHK
    response: AA AA AA 96 69 | LEN_HI LEN_LO | SW1 SW2 SW3 [DATA…] | CHK

``LEN`` counts the bytes after itself (CMD…CHK or SW1…CHK); ``CHK`` is the
XOR of every byte after the 5-byte preamble (length bytes included) up to
the checksum. A read is three commands: find the card (``20 01``; SW3 ``9F``
= found, ``80`` = no card), select it (``20 02``; ``90`` = OK, ``81`` =
failed) and read the text and photo (``30 01``; ``90`` + text length (2,
big-endian) + photo length (2) + 256 bytes of text + 1024 bytes of
compressed photo). The text is UTF-16LE, fixed fields padded with spaces:
name 30 bytes, sex 2 (1 male, 2 female), ethnicity 4 (GB 3304 code), birth
date 16 (YYYYMMDD), address 70, ID number 36, issuing authority 30, valid
from 16, valid to 16 (a date, or 长期 for cards without expiry), 36 reserved.

The status codes (SW3) are listed in :data:`SW3` and in
docs/printer-and-id-reader.md. Reading a card is done only when a screen
asks for it; the card's data stays in memory for the one transaction, and
:class:`IdCard` never shows the full number or name in logs or reprs.
The simulators are in :mod:`device_drivers.sim_id_reader`; :func:`device_drivers.factory.build_reader`
chooses by configuration.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from typing import Any

from device_drivers.base import DeviceError
from hallq.privacy import InvalidIdNumber, IdNumber, mask_id_number, mask_name

log = logging.getLogger("hallq.devices.id_reader")

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
MAX_LENGTH = 4096        # text + photo + fingerprints is at most 2,321; anything longer is noise

RESET = (0x10, 0xFF)
SAM_STATUS = (0x11, 0xFF)
SAM_ID = (0x12, 0xFF)
FIND = (0x20, 0x01)
SELECT = (0x20, 0x02)
READ = (0x30, 0x01)

OK, FOUND = 0x90, 0x9F
NO_CARD, SELECT_FAILED = 0x80, 0x81
SW3 = {
    0x90: "operation succeeded (操作成功)",
    0x9F: "card found (寻找证/卡成功)",
    0x10: "checksum error in the command received (接收业务终端数据的校验和错)",
    0x11: "length error in the command received (接收业务终端数据的长度错)",
    0x21: "command error (接收业务终端的命令错误)",
    0x23: "unauthorised command (越权操作)",
    0x24: "unrecognised error (无法识别的错误)",
    0x31: "the card failed to authenticate the reader (证/卡认证机具失败)",
    0x32: "the reader failed to authenticate the card (机具认证证/卡失败)",
    0x33: "information verification error (信息验证错误)",
    0x40: "not an ID card (无法识别的卡类型)",
    0x41: "reading the card failed (读证/卡操作失败)",
    0x47: "getting a random number failed (取随机数失败)",
    0x60: "SAM self-check failed, no command accepted (SAM自检失败)",
    0x66: "SAM not authorised (SAM未经授权)",
    0x80: "no card found (寻找证/卡失败)",
    0x81: "selecting the card failed (选取证/卡失败)",
    0x91: "the card has no such content (证/卡中此项无内容)",
}

# field widths in bytes of UTF-16LE text, in card order
TEXT_FIELDS = (("name", 30), ("sex", 2), ("ethnicity", 4), ("birth", 16), ("address", 70),
               ("id_number", 36), ("authority", 30), ("valid_from", 16), ("valid_to", 16))
TEXT_SIZE = 256
PHOTO_SIZE = 1024

ETHNICITIES = ("汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白",
               "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西",
               "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌",
               "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔",
               "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺")  # GB 3304 codes 01-56


# -- frames -----------------------------------------------------------------------------

def checksum(body: bytes) -> int:
    """XOR of every byte after the preamble, length included (the protocol's CHK_SUM)."""
    c = 0
    for b in body:
        c ^= b
    return c


def _frame(payload: bytes) -> bytes:
    length = len(payload) + 1
    if length > 0xFFFF:
        raise ValueError("frame too long")
    body = length.to_bytes(2, "big") + payload
    return PREAMBLE + body + bytes([checksum(body)])


def encode_command(cmd: int, para: int, data: bytes = b"") -> bytes:
    """A command frame, e.g. ``encode_command(*FIND)`` = ``AA AA AA 96 69 00 03 20 01 22``."""
    return _frame(bytes([cmd, para]) + data)


def encode_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """A reader's response frame (used by the simulators and the tests)."""
    return _frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True)
class Frame:
    """A frame with a valid checksum; ``payload`` is everything between the length and the checksum."""

    payload: bytes

    @property
    def command(self) -> tuple[int, int]:
        return self.payload[0], self.payload[1]

    @property
    def sw3(self) -> int:
        return self.payload[2]

    @property
    def data(self) -> bytes:
        """Data of a response (after SW1 SW2 SW3)."""
        return self.payload[3:]

    @property
    def command_data(self) -> bytes:
        return self.payload[2:]


@dataclass(frozen=True)
class BadFrame:
    """A frame that arrived whole but is unusable: ``problem`` is bad_checksum or bad_length."""

    problem: str
    raw: bytes


class FrameParser:
    """Turns any byte stream into frames; never raises. Garbage before a preamble is skipped and counted."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0

    def feed(self, data: bytes) -> list[Frame | BadFrame]:
        self._buf += data
        out: list[Frame | BadFrame] = []
        while True:
            start = self._buf.find(PREAMBLE)
            if start < 0:
                keep = 0   # keep a partial preamble at the end (AA, AA AA, ...)
                for k in range(min(len(PREAMBLE) - 1, len(self._buf)), 0, -1):
                    if self._buf.endswith(PREAMBLE[:k]):
                        keep = k
                        break
                self.garbage += len(self._buf) - keep
                del self._buf[:len(self._buf) - keep]
                return out
            if start:
                self.garbage += start
                del self._buf[:start]
            if len(self._buf) < 7:
                return out
            length = int.from_bytes(self._buf[5:7], "big")
            if length < 3 or length > MAX_LENGTH:
                out.append(BadFrame("bad_length", bytes(self._buf[:7])))
                del self._buf[:len(PREAMBLE)]   # resynchronise on the next preamble
                continue
            end = 7 + length
            if len(self._buf) < end:
                return out
            raw = bytes(self._buf[:end])
            del self._buf[:end]
            body, chk = raw[5:-1], raw[-1]
            if checksum(body) != chk:
                out.append(BadFrame("bad_checksum", raw))
            else:
                out.append(Frame(body[2:]))

    def reset(self) -> None:
        self._buf.clear()


# -- the card -----------------------------------------------------------------------------

class CardDataError(DeviceError):
    def __init__(self, what: str) -> None:
        super().__init__("card_data", f"the ID card's text is not readable: {what}",
                         "ask the resident to place the card again, flat on the reader")


@dataclass(frozen=True)
class IdCard:
    """The text of a resident ID card. ``repr`` and ``str`` show masks only."""

    name: str
    sex_code: str
    ethnicity_code: str
    birth: str            # YYYYMMDD
    address: str
    id_number: str
    authority: str
    valid_from: str       # YYYYMMDD
    valid_to: str         # YYYYMMDD or 长期

    @property
    def sex(self) -> str:
        return {"1": "男", "2": "女"}.get(self.sex_code, "未知")

    @property
    def ethnicity(self) -> str:
        try:
            return ETHNICITIES[int(self.ethnicity_code) - 1]
        except (ValueError, IndexError):
            return {"97": "其他", "98": "外国血统中国籍人士"}.get(self.ethnicity_code, "")

    def expired(self, today: date) -> bool:
        if self.valid_to.startswith("长期"):
            return False
        try:
            return date(int(self.valid_to[:4]), int(self.valid_to[4:6]), int(self.valid_to[6:8])) < today
        except ValueError:
            return False

    def to_text(self) -> bytes:
        """The 256 bytes the card holds (used by the simulators)."""
        out = b""
        for key, size in TEXT_FIELDS:
            value = getattr(self, {"sex": "sex_code", "ethnicity": "ethnicity_code"}.get(key, key))
            raw = value.encode("utf-16-le")
            if len(raw) > size:
                raise ValueError(f"{key} is longer than {size // 2} characters")
            out += raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)
        return out + b"\x00" * (TEXT_SIZE - len(out))

    @classmethod
    def from_text(cls, text: bytes) -> "IdCard":
        """Parse the 256-byte text block; raise :class:`CardDataError` when it is not a card's text."""
        if len(text) < sum(size for _, size in TEXT_FIELDS):
            raise CardDataError(f"{len(text)} bytes of text, expected {TEXT_SIZE}")
        values: dict[str, str] = {}
        offset = 0
        for key, size in TEXT_FIELDS:
            try:
                values[key] = text[offset:offset + size].decode("utf-16-le").strip(" \x00")
            except UnicodeDecodeError:
                raise CardDataError(f"field {key} is not UTF-16LE") from None
            offset += size
        try:
            IdNumber.parse(values["id_number"])
        except InvalidIdNumber as e:
            raise CardDataError(f"the ID number on the card fails the check ({e.reason})") from None
        if not values["name"]:
            raise CardDataError("the name is empty")
        return cls(values["name"], values["sex"], values["ethnicity"], values["birth"], values["address"],
                   values["id_number"], values["authority"], values["valid_from"], values["valid_to"])

    def __repr__(self) -> str:
        return f"IdCard({mask_name(self.name)}, {mask_id_number(self.id_number)})"

    __str__ = __repr__


# -- readers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReaderStatus:
    present: bool
    sam_ok: bool = False
    detail: dict[str, Any] | None = None

    @property
    def problems(self) -> list[str]:
        if not self.present:
            return ["unplugged"]
        return [] if self.sam_ok else ["sam_fault"]


class IdCardReader(ABC):
    """An ID card reader: one attempt to read the card on it, and the reader's health."""

    name: str = "id-reader"

    @abstractmethod
    def read_card(self) -> IdCard | None:
        """Find, select and read; None when no card is there. DeviceError for reader faults.

        A card is reported once per placing: left on the reader, it is None until it has been
        taken away (or another card put there), or until :meth:`forget`."""

    def forget(self) -> None:
        """Forget the card reported last: the next read reports a card lying there as newly placed (the kiosk
        calls it when the resident opens another flow: a card lifted and put back while nothing asked the reader
        left no "no card" behind)."""

    @abstractmethod
    def status(self) -> ReaderStatus:
        """Whether the reader answers and its SAM is fine."""

    def close(self) -> None:
        """Release the port (idempotent)."""


class ProtocolReader(IdCardReader):
    """The SAM protocol over any request/response channel; subclasses provide :meth:`_exchange`.

    **One placing, one report.** A resident may leave the card on the reader, and a
    reader keeps answering "card found" (9F) for it. So :meth:`read_card` reports a
    card once, and then ``None`` while that same card stays on the reader; it
    reports it again only after the reader has answered "no card" (80: taken away,
    so putting it back is a new placing), and reports a *different* card at once
    (one card swapped for another between two polls). The card reported last is
    remembered only as a keyed digest of its ID number (a key made per reader
    object), never the number itself.
    """

    retries = 1
    _reported: bytes | None = None  # digest of the card reported last and not seen taken away since
    _digest_key: bytes = b""
    # the reader is asked only while a screen wants a card (kiosk/polling.py): a card lifted while nobody asked
    # leaves no "no card" answer behind. The kiosk forgets the card when another flow opens (:meth:`forget`); as a
    # safety net, after this long without being asked too (far longer than any answer of the server takes, so a
    # slow refusal never makes a card left lying there read again and again)
    forget_after = 60.0
    _asked_at = 0.0

    @abstractmethod
    def _exchange(self, frame: bytes, timeout: float) -> list[Frame | BadFrame]:
        """Send one command frame; return the frames that came back within ``timeout`` (maybe none)."""

    def transact(self, command: tuple[int, int], timeout: float = 1.0) -> Frame:
        """One command and its response, retried once on a garbled answer."""
        raw = encode_command(*command)
        problem = "timeout"
        for _ in range(1 + self.retries):
            frames = self._exchange(raw, timeout)
            good = [f for f in frames if isinstance(f, Frame) and len(f.payload) >= 3]
            if good:
                return good[0]
            if frames:
                problem = frames[0].problem if isinstance(frames[0], BadFrame) else "bad_length"
            else:
                problem = "timeout"
        if problem == "timeout":
            raise DeviceError("timeout", f"the ID card reader did not answer command {command[0]:02X} "
                              f"{command[1]:02X} within {timeout} s",
                              "check the reader's cable, power and port (and its baud rate, 115200 by default)")
        raise DeviceError(problem, f"the ID card reader's answer was garbled ({problem})",
                          "check the cable and the baud rate; replace the cable if it keeps happening")

    def read_card(self) -> IdCard | None:
        """The card on the reader if it is newly placed (see the class); None when there is none, or when it is the
        card already reported, still lying there."""
        now = time.monotonic()
        if now - self._asked_at > self.forget_after:
            self._reported = None  # not asked for a while: the card may have been lifted and put back meanwhile
        self._asked_at = now
        found = self.transact(FIND, 0.5)
        if found.sw3 == NO_CARD:
            self._reported = None  # taken away: the next card found is a new placing, even the same card
            return None
        if found.sw3 != FOUND:
            raise self._fault(found.sw3)
        selected = self.transact(SELECT, 0.5)
        if selected.sw3 == SELECT_FAILED:
            return None   # the card was taken away between find and select: as if none
        if selected.sw3 != OK:
            raise self._fault(selected.sw3)
        read = self.transact(READ, 2.0)
        if read.sw3 != OK:
            raise self._fault(read.sw3)
        data = read.data
        if len(data) < 4:
            raise CardDataError("the read answer has no lengths")
        text_len = int.from_bytes(data[0:2], "big")
        text = data[4:4 + text_len]
        if text_len < TEXT_SIZE or len(text) < text_len:
            raise CardDataError(f"text length {text_len}, {len(text)} bytes received")
        card = IdCard.from_text(text[:TEXT_SIZE])
        mark = self._mark(card)
        if mark == self._reported:
            return None  # left on the reader since it was reported: not a new placing
        self._reported = mark
        return card

    def forget(self) -> None:
        self._reported = None

    def _mark(self, card: IdCard) -> bytes:
        """A keyed digest of the card's ID number: tells "the same card" without keeping the number."""
        if not self._digest_key:
            self._digest_key = secrets.token_bytes(16)
        return hashlib.blake2b(card.id_number.encode("ascii", "replace"), key=self._digest_key, digest_size=16).digest()

    def status(self) -> ReaderStatus:
        try:
            answer = self.transact(SAM_STATUS, 0.5)
        except DeviceError as e:
            return ReaderStatus(False, detail={"problem": e.code})
        return ReaderStatus(True, answer.sw3 == OK, {"sw3": f"{answer.sw3:02X}"})

    @staticmethod
    def _fault(sw3: int) -> DeviceError:
        meaning = SW3.get(sw3, "unknown status")
        fix = "ask the resident to place the card again" if sw3 in (0x31, 0x32, 0x33, 0x40, 0x41, 0x47) else \
            "restart the reader; if it persists, the reader's SAM module needs service"
        return DeviceError(f"sam_{sw3:02x}", f"ID card reader: {meaning} (SW3={sw3:02X})", fix)


class SerialIdReader(ProtocolReader):
    """A real reader on a serial port (path or pyserial URL), 115200 8N1 by default."""

    def __init__(self, port: str, baudrate: int = 115200, name: str = "id-reader") -> None:
        from device_drivers.serial_port import SerialLink

        self.link = SerialLink(port, baudrate, name=f"ID card reader {port}")
        self.name = name
        self._lock = threading.Lock()

    def _exchange(self, frame: bytes, timeout: float) -> list[Frame | BadFrame]:
        with self._lock:
            self.link.open()
            self.link.discard_input()
            self.link.write(frame)
            parser = FrameParser()
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                frames = parser.feed(self.link.read(left))
                if frames:
                    return frames

    def close(self) -> None:
        self.link.close()
