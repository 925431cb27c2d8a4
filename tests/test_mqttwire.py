"""The MQTT 3.1.1 codec of the county's receiver and its benchmark (hallq/mqttwire.py): what it writes is what the
standard says, what it reads it reads whole, and a broken frame is refused with ProtocolError, never misread."""

from __future__ import annotations

import struct

import pytest

from hallq import mqttwire as w
from hallq.mqttwire import ProtocolError


@pytest.mark.parametrize("n, encoded", [
    (0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (16_383, b"\xff\x7f"),
    (16_384, b"\x80\x80\x01"), (2_097_151, b"\xff\xff\x7f"), (2_097_152, b"\x80\x80\x80\x01"),
    (268_435_455, b"\xff\xff\xff\x7f"),
])
def test_remaining_length_is_the_standards_varint(n, encoded):
    # the examples of MQTT 3.1.1 §2.2.3, table 2.4: each boundary of one to four bytes
    assert w.remaining_length(n) == encoded
    frame = bytes([0x30]) + encoded
    # parse reads the length back: the frame is incomplete until all n body bytes are there
    assert w.parse(frame) == (([], 0) if n else ([(0x30, len(frame), len(frame))], len(frame)))
    body = bytes(n) if n <= 2_097_152 else b""
    if body:
        assert w.parse(frame + body) == ([(0x30, len(frame), len(frame) + n)], len(frame) + n)


@pytest.mark.parametrize("n", [-1, 268_435_456])
def test_a_remaining_length_out_of_range_is_refused(n):
    with pytest.raises(ValueError):
        w.remaining_length(n)


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16_383, 16_384, 70_000])
def test_a_packet_round_trips_whatever_its_size(size):
    body = bytes(range(256)) * (size // 256) + bytes(size % 256)
    data = w.packet(0x30, body)
    frames, used = w.parse(data)
    assert used == len(data) and len(frames) == 1
    first, start, end = frames[0]
    assert first == 0x30 and data[start:end] == body


def test_parse_takes_whole_packets_only_and_leaves_the_rest():
    a, b = w.packet(0x40, b"\x00\x01"), w.packet(0x30, b"x" * 300)
    data = a + b
    for cut in range(len(data) + 1):
        frames, used = w.parse(data[:cut])
        whole = [f for f, size in ((a, len(a)), (b, len(a) + len(b))) if size <= cut]
        assert used == sum(len(f) for f in whole)
        assert [data[s:e] for _, s, e in frames] == [b"\x00\x01", b"x" * 300][:len(whole)]


def test_a_remaining_length_of_five_bytes_is_refused():
    with pytest.raises(ProtocolError, match="more than four bytes"):
        w.parse(b"\x30\xff\xff\xff\xff\x01")
    # four bytes with "more" on the last: refused as soon as it is seen, not waited for
    with pytest.raises(ProtocolError):
        w.parse(b"\x30\x80\x80\x80\x80")
    assert w.parse(b"\x30\x80\x80\x80") == ([], 0)  # three so far: still waiting for the fourth


def test_publish_round_trips_at_qos_0_and_1_with_retain():
    data = (w.publish("hallq/s1/journal", b'{"seq":1}', qos=1, mid=7)
            + w.publish("hallq/s1/status", b"on", qos=1, mid=65535, retain=True)
            + w.publish(b"t/\xe5\x8e\xbf", b"", qos=0))
    frames, used = w.parse(data)
    assert used == len(data)
    messages, acks, others = w.publishes(data, frames)
    assert messages == [("hallq/s1/journal", b'{"seq":1}', False), ("hallq/s1/status", b"on", True), ("t/县", b"", False)]
    assert acks == [w.puback(7), w.puback(65535)] == [b"\x40\x02\x00\x07", b"\x40\x02\xff\xff"]
    assert others == []


def test_publishes_passes_other_packets_through():
    data = w.packet(w.SUBACK, b"\x00\x01\x01\x80") + w.PINGRESP + w.publish("a", b"b", qos=1, mid=1)
    frames, _ = w.parse(data)
    messages, acks, others = w.publishes(data, frames)
    assert messages == [("a", b"b", False)] and acks == [b"\x40\x02\x00\x01"]
    assert [(f, bytes(data[s:e])) for f, s, e in others] == [(0x90, b"\x00\x01\x01\x80"), (0xD0, b"")]


@pytest.mark.parametrize("frame, why", [
    (w.packet(0x32, b""), "without its topic"),
    (w.packet(0x30, b"\x00"), "without its topic"),
    (w.packet(0x30, b"\x00\x09abc"), "runs past its end"),
    (w.packet(0x32, b"\x00\x01a\x00"), "packet identifier"),
    (w.packet(0x34, b"\x00\x01a\x00\x01x"), "QoS 2"),
    (w.packet(0x36, b"\x00\x01a\x00\x01x"), "QoS 3"),
])
def test_a_malformed_publish_is_refused_cleanly(frame, why):
    frames, used = w.parse(frame)
    assert used == len(frame)
    with pytest.raises(ProtocolError, match=why):
        w.publishes(frame, frames)


def test_a_topic_that_is_not_utf8_is_read_with_replacement_characters():
    data = w.publish(b"a\xff", b"p")
    messages, _, _ = w.publishes(data, w.parse(data)[0])
    assert messages == [("a\ufffd", b"p", False)]


def test_connect_as_the_county_receiver_sends_it():
    will = w.Will("hallq/county/status", b'{"state":"offline"}', qos=1, retain=True)
    data = w.connect("platform-1", 30, clean_session=False, will=will, username="platform", password="pw")
    (first, start, end), = w.parse(data)[0]
    assert first == 0x10
    body = data[start:end]
    assert body[:7] == b"\x00\x04MQTT\x04"
    assert body[7] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04  # user, password, will retain, will QoS 1, will; not clean
    assert struct.unpack("!H", body[8:10]) == (30,)
    assert body[10:] == (w.string("platform-1") + w.string("hallq/county/status") + w.string(b'{"state":"offline"}')
                         + w.string("platform") + w.string("pw"))


def test_connect_as_the_benchmark_sends_it_and_no_password_without_a_user():
    data = w.connect("bench-1", 60, username="bench", password="secret")
    assert data[9] == 0xC2  # user, password, clean session
    anonymous = w.connect("c", 60, password="ignored")
    assert anonymous[9] == 0x02 and b"ignored" not in anonymous


def test_subscribe_and_the_fixed_packets():
    assert w.subscribe(1, ["hallq/+/journal", "a/#"]) == (b"\x82" + w.remaining_length(2 + 17 + 1 + 5 + 1)
                                                          + b"\x00\x01" + w.string("hallq/+/journal") + b"\x01"
                                                          + w.string("a/#") + b"\x01")
    assert (w.PINGREQ, w.PINGRESP, w.DISCONNECT) == (b"\xc0\x00", b"\xd0\x00", b"\xe0\x00")


def test_connack_gives_its_code_and_refuses_anything_else():
    ok, refused = b"\x20\x02\x00\x00", b"\x20\x02\x00\x05"
    assert w.connack(ok, w.parse(ok)[0][0]) == 0
    assert w.connack(refused, w.parse(refused)[0][0]) == 5
    for other in (w.PINGRESP, b"\x20\x03\x00\x00\x00"):
        with pytest.raises(ProtocolError, match="expected a CONNACK"):
            w.connack(other, w.parse(other)[0][0])


@pytest.mark.parametrize("call", [
    lambda: w.publish("t", b"", qos=1, mid=0),
    lambda: w.publish("t", b"", qos=1, mid=65536),
    lambda: w.publish("t", b"", qos=3),
    lambda: w.string(b"x" * 65536),
    lambda: w.subscribe(1, []),
    lambda: w.connect("c", 65536),
])
def test_what_the_standard_cannot_carry_is_not_written(call):
    with pytest.raises(ValueError):
        call()
