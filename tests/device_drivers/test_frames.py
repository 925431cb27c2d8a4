"""The hallq serial frame: encoding, escaping, checksums, and a parser that survives anything."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_drivers import frames as F

DOCS = Path(__file__).resolve().parents[2] / "docs" / "devices.md"

frames = st.builds(F.Frame, address=st.integers(0, 255), seq=st.integers(0, 255), command=st.integers(0, 255),
                   data=st.binary(max_size=F.MAX_DATA))

# the byte-level examples of docs/devices.md, checked against the code
EXAMPLES = [
    (F.Frame(3, 1, F.HELLO), "02 01 10 23 01 01 00 49 d4 03"),
    (F.Frame(3, 7, F.SHOW, bytes([2, 1, 4, 3]) + "请A001到3号窗口".encode("gb18030")),
     "02 01 10 23 07 10 30 13 10 22 01 04 10 23 c7 eb 41 30 30 31 b5 bd 33 ba c5 b4 b0 bf da 47 e8 03"),
    (F.Frame(1, 2, F.POLL, bytes([0x2C, 4])), "02 01 01 10 22 10 22 10 22 2c 04 ce aa 03"),
    (F.Frame(1, 2, F.POLL | F.REPLY, bytes([0, 0x2C, 5, ord("T")]) + b"12"),
     "02 01 01 10 22 82 06 00 2c 05 54 31 32 e1 9b 03"),
]


def test_crc_is_crc16_modbus():
    assert F.crc16(b"123456789") == 0x4B37  # the catalogue check value of CRC-16/MODBUS


@pytest.mark.parametrize("frame,wire", EXAMPLES)
def test_documented_examples_match_the_code(frame, wire):
    assert F.encode(frame).hex(" ") == wire
    assert F.decode(bytes.fromhex(wire)) == frame
    assert wire in DOCS.read_text(encoding="utf-8"), "docs/devices.md must show this example byte for byte"


def test_window_three_is_escaped_not_sent_as_etx():
    wire = F.encode(F.Frame(3, 3, F.HELLO))
    assert wire.count(F.ETX) == 1 and wire.endswith(bytes([F.ETX]))
    assert b"\x10\x23" in wire


@given(frames)
def test_round_trip(frame):
    wire = F.encode(frame)
    assert F.decode(wire) == frame
    # framing bytes only at the ends: a receiver can resynchronise at any STX
    assert wire[0] == F.STX and wire[-1] == F.ETX
    assert F.STX not in wire[1:-1] and F.ETX not in wire[1:-1]


@given(st.lists(st.tuples(st.binary(max_size=40), frames), max_size=6), st.binary(max_size=40),
       st.integers(1, 64))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_reader_finds_every_frame_among_garbage_whatever_the_chunking(parts, tail, chunk):
    stream = b"".join(garbage + F.encode(f) for garbage, f in parts) + tail
    reader = F.FrameReader()
    got = []
    for i in range(0, len(stream), chunk):
        got.extend(reader.feed(stream[i:i + chunk]))
    wanted = [f for _, f in parts]
    it = iter(got)  # every real frame comes out, in order (garbage could only add frames, never hide one)
    assert all(any(g == w for g in it) for w in wanted)


@given(frames, st.data())
def test_a_corrupted_byte_is_never_accepted(frame, data):
    wire = bytearray(F.encode(frame))
    i = data.draw(st.integers(1, len(wire) - 2))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != wire[i] and b not in F.ESCAPED))
    if wire[i] == F.DLE:
        return  # changing an escape prefix changes the framing itself; covered by bad_escape below
    wire[i] = new
    reader = F.FrameReader()
    assert reader.feed(bytes(wire)) == []
    assert sum(reader.errors.values()) == 1


@given(st.binary(max_size=3000))
def test_reader_never_raises_and_stays_bounded(noise):
    reader = F.FrameReader()
    reader.feed(noise)
    assert len(reader._buf) <= F.FrameReader.MAX_RAW
    # and it still reads a good frame afterwards
    assert reader.feed(F.encode(F.Frame(5, 6, F.HELLO))) == [F.Frame(5, 6, F.HELLO)]


@pytest.mark.parametrize("raw,reason", [
    (b"\x02\x01\x05\x01\x01\x00\x00\x00\x00\x00\x03", "bad_length"),     # LEN 0 but 2 extra bytes
    (b"\x02\x01\x05\x01\x03", "truncated"),                               # no room for a checksum
    (b"\x02\x01\x10\x41\x01\x01\x00\x00\x00\x03", "bad_escape"),           # DLE + a byte that is not escaped
    (F.encode(F.Frame(1, 1, F.HELLO))[:-3] + b"\x00\x00\x03", "bad_checksum"),
    (F.encode(F.Frame(1, 1, F.HELLO, version=2)), "unknown_version"),
])
def test_each_kind_of_bad_frame_is_named(raw, reason):
    reader = F.FrameReader()
    assert reader.feed(raw) == []
    assert reader.errors == {reason: 1}


def test_a_frame_cut_short_by_the_next_one_is_counted_and_the_next_one_read():
    good = F.encode(F.Frame(2, 9, F.POLL, b"\x00"))
    reader = F.FrameReader()
    assert reader.feed(good[:6] + good) == [F.Frame(2, 9, F.POLL, b"\x00")]
    assert reader.errors == {"truncated": 1}


def test_a_huge_frame_is_dropped_without_growing_memory():
    reader = F.FrameReader()
    assert reader.feed(b"\x02" + b"\x41" * 1_000_000 + b"\x03") == []
    assert reader.errors == {"too_long": 1}
    assert len(reader._buf) == 0
    assert reader.feed(F.encode(F.Frame(1, 1, F.HELLO))) == [F.Frame(1, 1, F.HELLO)]


def test_encode_refuses_out_of_range_fields():
    with pytest.raises(ValueError):
        F.encode(F.Frame(256, 1, 1))
    with pytest.raises(ValueError):
        F.encode(F.Frame(1, 1, 1, b"x" * (F.MAX_DATA + 1)))


# -- text -----------------------------------------------------------------------------

def test_gb18030_and_gb2312_text():
    assert F.encode_text("请A001到3号窗口") == "请A001到3号窗口".encode("gb2312")  # GB2312 ⊂ GB18030
    assert F.decode_text(F.encode_text("䶮𠀀")) == "䶮𠀀"  # outside GB2312: GB18030 has them
    assert F.encode_text("王䶮", "gb2312") == "王?".encode("gb2312")
    assert F.encode_text("暂停\r\n服务\x03") == "暂停  服务 ".encode("gb18030")
    with pytest.raises(ValueError, match="gb18030"):
        F.encode_text("x", "big5")


@given(st.text(max_size=150), st.integers(0, 200))
def test_text_is_cut_at_a_character_boundary(text, limit):
    data = F.encode_text(text, "gb18030", limit)
    assert len(data) <= limit
    decoded = data.decode("gb18030")  # never half a character
    assert F.clean_text(text).startswith(decoded)
    assert not re.search(r"[\x00-\x1f\x7f]", decoded)
