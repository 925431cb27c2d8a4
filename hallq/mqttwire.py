"""MQTT 3.1.1 on the wire: the few packets hallq writes and reads itself, without paho.

Three places speak MQTT on a plain socket because paho's per-message cost is too high there: the hall
server's publisher (hallq/mqttlink.py: several QoS 1 messages per call, their PUBACKs read in one ``recv``),
the county platform's subscriber (county/receiver.py: reads hundreds of PUBLISH packets per ``recv`` and
acknowledges them in one ``send``) and the county benchmark's load generator (bench/bench_county.py: pipelined
QoS 1 publishing). All build and split packets here, so there is one codec to get right and to test
(tests/test_mqttwire.py). Everything else in hallq uses paho (hallq/mqtt.py).

What is here: CONNECT (clean session or not, a last will, username and password), SUBSCRIBE, PUBLISH at
QoS 0/1, PUBACK, PINGREQ, DISCONNECT; the fixed header's remaining length (a varint of one to four bytes,
OASIS MQTT 3.1.1 §2.2.3); splitting a buffer into its complete packets; reading a CONNACK and the PUBLISH
packets of a buffer. A frame that breaks the protocol (a remaining length of five bytes, a PUBLISH whose
topic runs past its end, QoS 2 where QoS 1 was asked) raises :class:`ProtocolError`: the caller drops the
connection, it never reads past a packet or guesses.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

MAX_REMAINING = 268_435_455  # 0xFF 0xFF 0xFF 0x7F: the largest remaining length four bytes hold
MAX_STRING = 65_535

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82  # the type 8 with its required flags 0010
SUBACK = 0x90
PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"
DISCONNECT = b"\xe0\x00"

CONNACK_CODES = {1: "unacceptable protocol version", 2: "client id rejected", 3: "server unavailable",
                 4: "bad username or password", 5: "not authorised"}

Message = tuple[str, bytes, bool]  # topic, payload, retained
Frame = tuple[int, int, int]  # a packet in a buffer: its first byte, where its body starts, where it ends


class ProtocolError(Exception):
    """The peer broke MQTT 3.1.1 (or sent what this client never asked for): drop the connection."""


class Will(NamedTuple):
    topic: str | bytes
    payload: bytes
    qos: int = 0
    retain: bool = False


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def string(value: str | bytes) -> bytes:
    """An MQTT string: its length (two bytes, big-endian), then its UTF-8 bytes."""
    data = _bytes(value)
    if len(data) > MAX_STRING:
        raise ValueError(f"an MQTT string of {len(data)} bytes (at most {MAX_STRING})")
    return struct.pack("!H", len(data)) + data


def remaining_length(n: int) -> bytes:
    """The fixed header's remaining length: seven bits a byte, least significant first, the top bit "more"."""
    if not 0 <= n <= MAX_REMAINING:
        raise ValueError(f"a remaining length of {n} (0 to {MAX_REMAINING})")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (128 if n else 0))
        if not n:
            return bytes(out)


def packet(first: int, body: bytes) -> bytes:
    """An MQTT packet: its first byte (type and flags), the remaining length, the body."""
    return bytes([first]) + remaining_length(len(body)) + body


def connect(client_id: str | bytes, keepalive: int, *, clean_session: bool = True, will: Will | None = None,
            username: str | bytes = "", password: str | bytes = "") -> bytes:
    """A CONNECT of protocol level 4 (3.1.1); a password is sent only with a username (§3.1.2.9)."""
    if not 0 <= keepalive <= 0xFFFF:
        raise ValueError(f"a keep-alive of {keepalive} s (0 to 65535)")
    flags = 0x02 if clean_session else 0
    payload = string(client_id)
    if will is not None:
        if will.qos not in (0, 1, 2):
            raise ValueError(f"a last will at QoS {will.qos}")
        flags |= 0x04 | will.qos << 3 | (0x20 if will.retain else 0)
        payload += string(will.topic) + string(will.payload)
    if username:
        flags |= 0x80
        payload += string(username)
        if password:
            flags |= 0x40
            payload += string(password)
    return packet(CONNECT, string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload)


def subscribe(mid: int, filters: list[str], qos: int = 1) -> bytes:
    """A SUBSCRIBE of ``filters``, all at ``qos``."""
    if not filters:
        raise ValueError("a SUBSCRIBE needs at least one filter")
    return packet(SUBSCRIBE, struct.pack("!H", mid) + b"".join(string(f) + bytes([qos]) for f in filters))


def publish(topic: str | bytes, payload: bytes, *, qos: int = 0, mid: int = 0, retain: bool = False) -> bytes:
    """A PUBLISH; at QoS 1 or 2 it carries ``mid`` (1 to 65535), at QoS 0 none."""
    if qos not in (0, 1, 2):
        raise ValueError(f"QoS {qos}")
    if qos and not 1 <= mid <= 0xFFFF:
        raise ValueError(f"a packet identifier of {mid} (1 to 65535)")
    head = string(topic) + (struct.pack("!H", mid) if qos else b"")
    return packet(PUBLISH | qos << 1 | (1 if retain else 0), head + payload)


def puback(mid: int) -> bytes:
    return b"\x40\x02" + struct.pack("!H", mid)


def parse(buf: bytes | bytearray) -> tuple[list[Frame], int]:
    """The complete packets at the start of ``buf`` as (first byte, where its body starts, where it ends), and
    how many bytes they take; an incomplete packet at the end is left for the next read."""
    out: list[Frame] = []
    i, n = 0, len(buf)
    while n - i >= 2:
        length, mult, j = 0, 1, i + 1
        while True:
            if j >= n:
                return out, i
            digit = buf[j]
            length += (digit & 0x7F) * mult
            j += 1
            if digit < 0x80:
                break
            mult *= 128
            if mult > 128 ** 3:
                raise ProtocolError("a packet length of more than four bytes")
        if j + length > n:
            break
        out.append((buf[i], j, j + length))
        i = j + length
    return out, i


def connack(buf: bytes | bytearray, frame: Frame) -> int:
    """The return code of a CONNACK (0: accepted); anything else than a CONNACK is a ProtocolError."""
    first, start, end = frame
    if first >> 4 != 2 or end - start != 2:
        raise ProtocolError(f"expected a CONNACK, got packet type {first >> 4}")
    return buf[start + 1]


def publishes(buf: bytes | bytearray, frames: list[Frame]) -> tuple[list[Message], list[bytes], list[Frame]]:
    """The PUBLISH packets among ``frames`` as (topic, payload, retained), the PUBACK each of their QoS 1 ones
    needs, and the other packets. QoS 2 is refused (a QoS 1 subscriber never gets it), as is a PUBLISH whose
    topic or packet identifier runs past its end. A topic that is not UTF-8 is read with U+FFFD in place."""
    messages: list[Message] = []
    acks: list[bytes] = []
    others: list[Frame] = []
    for first, start, end in frames:
        if first >> 4 != 3:
            others.append((first, start, end))
            continue
        qos = (first >> 1) & 3
        if end - start < 2:
            raise ProtocolError("a PUBLISH without its topic")
        at = start + 2 + ((buf[start] << 8) | buf[start + 1])
        if at > end:
            raise ProtocolError("a PUBLISH whose topic runs past its end")
        topic = buf[start + 2:at].decode("utf-8", "replace")
        if qos:
            if qos != 1:
                raise ProtocolError(f"a QoS {qos} message on a QoS 1 subscription")
            if at + 2 > end:
                raise ProtocolError("a QoS 1 PUBLISH without its packet identifier")
            acks.append(b"\x40\x02" + buf[at:at + 2])
            at += 2
        messages.append((topic, bytes(buf[at:end]), bool(first & 1)))
    return messages, acks, others
