"""The 2nd-generation ID card reader: frames (round trips and fuzzing), the card's text, and one
contract suite run against the in-process simulator and the real serial driver on a pty."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_drivers.base import DeviceError
from device_drivers.factory import build_reader
from device_drivers.id_reader import (FIND, PREAMBLE, READ, SELECT, BadFrame, CardDataError, Frame, FrameParser,
                                      IdCard, SerialIdReader, checksum, encode_command, encode_response)
from device_drivers.sim_id_reader import IdReaderSimulator, PtyIdReader, ReaderState, demo_card
from hallq.privacy import id_check_char


def test_commands_are_the_documented_bytes():
    # the three commands of every read, as published with the SAM protocol (GA 467)
    assert encode_command(*FIND) == bytes.fromhex("AAAAAA9669 0003 2001 22")
    assert encode_command(*SELECT) == bytes.fromhex("AAAAAA9669 0003 2002 21")
    assert encode_command(*READ) == bytes.fromhex("AAAAAA9669 0003 3001 32")
    assert encode_response(0x9F, bytes(4)) == bytes.fromhex("AAAAAA9669 0008 00009F 00000000 97")


def test_read_answer_has_the_documented_header():
    state = ReaderState(card=demo_card())
    from device_drivers.sim_id_reader import answer

    reply = answer(state, Frame(bytes(READ)))
    assert reply[:14] == bytes.fromhex("AAAAAA9669 0508 000090 0100 0400")
    assert len(reply) == 1295


# -- frames ---------------------------------------------------------------------------------

payloads = st.binary(min_size=2, max_size=1400)


@given(payloads, st.binary(max_size=40), st.lists(st.integers(1, 64), min_size=1, max_size=30))
def test_frames_round_trip_in_any_chunking_after_any_noise(payload, noise, cuts):
    noise = noise.replace(b"\xaa", b"")          # noise that cannot start a preamble
    wire = noise + encode_response(0x90, payload)
    parser = FrameParser()
    frames, i, k = [], 0, 0
    while i < len(wire):
        step = cuts[k % len(cuts)]
        frames += parser.feed(wire[i:i + step])
        i += step
        k += 1
    assert frames == [Frame(bytes([0, 0, 0x90]) + payload)]
    assert parser.garbage == len(noise)


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300))
def test_command_frames_round_trip(cmd, para, data):
    (frame,) = FrameParser().feed(encode_command(cmd, para, data))
    assert frame.command == (cmd, para) and frame.command_data == data


@given(st.binary(min_size=3, max_size=300), st.integers(0, 8 * 300 - 1))
def test_a_flipped_bit_is_caught(payload, bit):
    wire = bytearray(encode_response(0x90, payload))
    body_bits = (len(wire) - 5 - 2) * 8      # flip inside payload or checksum, not preamble/length
    pos = 7 * 8 + bit % body_bits
    wire[pos // 8] ^= 1 << (pos % 8)
    frames = FrameParser().feed(bytes(wire))
    assert frames and isinstance(frames[0], BadFrame) and frames[0].problem == "bad_checksum"


@settings(max_examples=500)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_parser_fuzz_never_raises_and_only_yields_valid_frames(chunks):
    parser = FrameParser()
    for chunk in chunks:
        for frame in parser.feed(chunk):
            if isinstance(frame, Frame):
                assert len(frame.payload) >= 2
            else:
                assert frame.problem in ("bad_checksum", "bad_length")


def test_absurd_length_resynchronises():
    parser = FrameParser()
    frames = parser.feed(PREAMBLE + b"\xff\xff" + encode_response(0x90, b"ok"))
    assert isinstance(frames[0], BadFrame) and frames[0].problem == "bad_length"
    assert frames[-1] == Frame(b"\x00\x00\x90ok")


def test_checksum_is_xor_after_the_preamble():
    wire = encode_command(0x30, 0x01)
    assert wire[-1] == checksum(wire[5:-1]) == 0x00 ^ 0x03 ^ 0x30 ^ 0x01


# -- the card's text ---------------------------------------------------------------------------

cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@st.composite
def cards(draw):
    birth = f"{draw(st.integers(1920, 2020))}{draw(st.integers(1, 12)):02d}{draw(st.integers(1, 28)):02d}"
    first17 = f"{draw(st.sampled_from(['520201', '110105', '440305']))}{birth}{draw(st.integers(0, 999)):03d}"
    return IdCard(name=draw(st.text(cjk, min_size=1, max_size=15)), sex_code=draw(st.sampled_from("12")),
                  ethnicity_code=f"{draw(st.integers(1, 56)):02d}", birth=birth,
                  address=draw(st.text(cjk, min_size=1, max_size=35)), id_number=first17 + id_check_char(first17),
                  authority=draw(st.text(cjk, min_size=1, max_size=15)), valid_from="20200101",
                  valid_to=draw(st.sampled_from(["20400101", "长期"])))


@given(cards())
def test_card_text_round_trips(card):
    text = card.to_text()
    assert len(text) == 256
    assert IdCard.from_text(text) == card


def test_card_fields_decode():
    card = demo_card()
    assert (card.sex, card.ethnicity) == ("女", "布依")
    assert not card.expired(__import__("datetime").date(2090, 1, 1))   # 长期: never expires
    assert "周*芬" in repr(card) and card.id_number not in repr(card) and "周桂芬" not in str(card)


def test_garbled_card_text_is_refused():
    text = bytearray(demo_card().to_text())
    text[122:124] = "9".encode("utf-16-le")        # a digit of the ID number: the check fails
    with pytest.raises(CardDataError) as e:
        IdCard.from_text(bytes(text))
    assert e.value.code == "card_data"
    with pytest.raises(CardDataError):
        IdCard.from_text(b"\xff" * 10)


# -- one contract for every reader ----------------------------------------------------------------

@pytest.fixture(params=["simulator", "serial-pty"])
def reader(request):
    state = ReaderState()
    if request.param == "simulator":
        yield IdReaderSimulator(state), state
        return
    device = PtyIdReader(state)
    r = SerialIdReader(device.path)
    yield r, state
    r.close()
    device.close()


def test_contract_no_card_is_none(reader):
    r, state = reader
    assert r.read_card() is None


def test_contract_reads_the_card(reader):
    r, state = reader
    state.card = demo_card()
    card = r.read_card()
    assert card == demo_card()
    assert r.status().present and r.status().sam_ok


def test_contract_card_taken_away_between_find_and_select_is_none(reader):
    r, state = reader
    state.card, state.mode = demo_card(), "select_fails"
    assert r.read_card() is None


@pytest.mark.parametrize("mode, code", [("bad_checksum", "bad_checksum"), ("sam_fault", "sam_60"),
                                        ("read_fails", "sam_41")])
def test_contract_reader_faults_are_device_errors(reader, mode, code):
    r, state = reader
    state.card, state.mode = demo_card(), mode
    with pytest.raises(DeviceError) as e:
        r.read_card()
    assert e.value.code == code and e.value.fix


def test_contract_silent_reader_times_out_quickly(reader):
    r, state = reader
    state.mode = "timeout"
    t0 = time.monotonic()
    with pytest.raises(DeviceError) as e:
        r.read_card()
    assert e.value.code == "timeout" and time.monotonic() - t0 < 2.5
    assert r.status().problems == ["unplugged"]


def test_contract_noise_on_the_line_is_skipped(reader):
    r, state = reader
    state.card, state.noise = demo_card(), b"\x00\x13\xaa\x96garbage"
    assert r.read_card() == demo_card()


def test_pty_reader_answers_a_bad_command_checksum_with_10():
    device = PtyIdReader(ReaderState(card=demo_card()))
    try:
        r = SerialIdReader(device.path)
        bad = bytearray(encode_command(*FIND))
        bad[-1] ^= 0xFF
        frames = r._exchange(bytes(bad), 1.0)
        assert frames[0].sw3 == 0x10
        r.close()
    finally:
        device.close()


def test_unplugged_reader(tmp_path):
    r = build_reader("serial", port=str(tmp_path / "ttyUSB7"))
    assert r.status().problems == ["unplugged"]
    with pytest.raises(DeviceError) as e:
        r.read_card()
    assert e.value.code == "unplugged"


def test_simulator_demo_card_is_read_once():
    sim = build_reader("simulator", card="demo")
    assert sim.read_card() == demo_card() and sim.read_card() is None
    with pytest.raises(ValueError):
        build_reader("simulator", mode="on-fire")


# -- a card left on the reader ----------------------------------------------------------------

def test_contract_a_card_left_on_the_reader_is_reported_once(reader):
    r, state = reader
    state.card = demo_card()  # the reader keeps answering "card found": the resident left the card there
    assert r.read_card() == demo_card()
    assert [r.read_card() for _ in range(5)] == [None] * 5
    assert state.reads == 6  # still read each time (to tell another card), never reported again


def test_contract_a_card_taken_away_and_put_back_is_a_new_placing(reader):
    r, state = reader
    state.card = demo_card()
    assert r.read_card() == demo_card() and r.read_card() is None
    state.card = None
    assert r.read_card() is None  # the reader says "no card"
    state.card = demo_card()
    assert r.read_card() == demo_card() and r.read_card() is None


def test_contract_a_card_is_news_again_once_forgotten_or_after_a_long_pause_in_asking(reader):
    """The kiosk asks the reader only while a screen wants a card: a resident who lifts the card on the result
    screen and puts it back for the next flow left no "no card" answer behind. The kiosk then says ``forget()``
    (another flow opened); as a safety net the reader forgets by itself after ``forget_after`` (60 s) unasked."""
    r, state = reader
    state.card = demo_card()
    assert r.read_card() == demo_card() and r.read_card() is None  # asked twice in a row: reported once
    r.forget()
    assert r.read_card() == demo_card() and r.read_card() is None
    r._asked_at -= r.forget_after + 1  # nothing asked for a long while (no sleep: the clock it reads moved)
    assert r.read_card() == demo_card() and r.read_card() is None


def test_contract_another_card_swapped_between_two_polls_is_reported(reader):
    r, state = reader
    state.card = demo_card()
    assert r.read_card() == demo_card()
    other = demo_card(birth="19900101", name="李四", sex="1", seq=7)
    state.card = other  # swapped faster than the kiosk polls: the reader never said "no card"
    assert r.read_card() == other and r.read_card() is None


def test_a_reader_remembers_no_id_number():
    sim = IdReaderSimulator(ReaderState(card=demo_card()))
    assert sim.read_card() == demo_card()
    number = demo_card().id_number
    assert all(number not in repr(v) and number.encode() not in (v if isinstance(v, bytes) else b"")
               for v in vars(sim).values() if v is not sim.state)
