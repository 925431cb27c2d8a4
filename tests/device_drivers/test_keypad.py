"""The call keypad: its drivers' contract and several keypads on one bus.

(Presses becoming window actions: tests/device_gateway/test_actions.py.)
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_drivers.hallq_bus import HallqLine
from device_drivers.keypad import HallqKeypad, KeyPress
from device_drivers.serial_port import SerialLink
from device_drivers.simulators import KeypadSimulator, SimBus
from tests.device_drivers.window_fixtures import socat_pair, window_device  # noqa: F401 (fixtures)

VARIANTS = ["serial", "simulator"]


# -- the contract, for the serial driver and the simulator --------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_presses_arrive_once_in_order(window_device, variant):
    keypad, sim, _ = window_device("keypad", variant)
    assert keypad.identify().type == "keypad"
    assert keypad.poll() is None
    sim.press("call_next")
    sim.press("transfer", "12")
    sim.press("P", "2")
    got = [keypad.poll() for _ in range(4)]
    assert [(p.action, p.digits) if p else None for p in got] == [
        ("call_next", ""), ("transfer", "12"), ("pause", "2"), None]
    keypad.poll()
    assert sim.pending == 0  # the last press was acknowledged by the next poll


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_display(window_device, variant):
    keypad, sim, _ = window_device("keypad", variant)
    keypad.display(1, "已叫 A001")
    keypad.display(2, "当前没有等候的号票。", beep=True)
    assert sim.lines == {1: "已叫 A001", 2: "当前没有等候的号票。"} and sim.beeps == 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_a_press_sent_again_is_not_acted_on_twice(window_device, variant):
    keypad, sim, _ = window_device("keypad", variant)
    sim.press("call_next")
    sim.ignore_acks = 1  # the acknowledgement is lost: the keypad sends the same press again
    assert keypad.poll() == KeyPress("call_next", "", 1)
    assert keypad.poll() is None
    assert keypad.duplicates == 1
    assert keypad.poll() is None and sim.pending == 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_a_lost_answer_loses_no_press(window_device, variant):
    keypad, sim, _ = window_device("keypad", variant)
    sim.press("recall")
    sim.drop_replies = 1  # the keypad's answer (carrying the press) is lost; the poll is retried
    assert keypad.poll() == KeyPress("recall", "", 1)
    assert sim.retries_seen == 1 and keypad.poll() is None


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_unknown_keys_are_ignored(window_device, variant):
    keypad, sim, _ = window_device("keypad", variant)
    sim._press(ord("Z"))
    sim._press(ord("T"), b"1#")
    sim.press("N")
    assert keypad.poll() is None and keypad.poll() is None
    assert keypad.poll().action == "call_next"
    assert keypad.unknown_keys == 2


def test_a_restarted_keypad_counts_from_one_again_and_is_still_heard(window_device):
    keypad, sim, _ = window_device("keypad", "simulator")
    sim.press("N")
    assert keypad.poll().number == 1
    keypad.poll()
    sim.power_cycle()  # new boot id: press no. 1 again is a new press
    sim.press("R")
    assert keypad.poll() == KeyPress("recall", "", 1)


def test_several_keypads_share_one_bus_even_at_awkward_addresses():
    bus = SimBus(name="rs485")
    try:
        sims = {a: bus.attach(KeypadSimulator(a, f"keypad@{a}")) for a in (2, 3, 16, 247)}  # STX, ETX, DLE
        link = SerialLink(bus.path)
        link.open()
        line = HallqLine(link, reply_timeout=0.05)
        keypads = {a: HallqKeypad(line, a) for a in sims}
        for a, sim in sims.items():
            sim.press("transfer", str(a))
        for a, keypad in keypads.items():
            assert keypad.poll() == KeyPress("transfer", str(a), 1)
        assert bus.bad_frames == {} and line.frame_errors == {}
        link.close()
    finally:
        bus.close()


# -- a device that answers nonsense never crashes the driver -------------------------------

class HostileKeypad(KeypadSimulator):
    """Answers every request with whatever it is told to (valid frames, arbitrary contents)."""

    answer = b""

    def handle(self, f):
        from device_drivers import frames as F

        return F.Frame(self.address, f.seq, f.command | F.REPLY, self.answer)


@given(st.binary(max_size=40))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_driver_survives_any_answer(hostile_line, answer):
    from device_drivers.base import DeviceError
    from device_drivers.rating_pad import HallqRatingPad, RatingPress

    line, sim = hostile_line
    sim.answer = answer
    for device in (HallqKeypad(line, 9), HallqRatingPad(line, 9)):
        for call in (device.poll, device.identify, lambda: device.display(1, "x")):  # noqa: B023 (called in this iteration)
            try:
                result = call()
            except DeviceError as e:
                assert e.code in ("refused", "wrong_device")
            else:
                assert result is None or isinstance(result, (KeyPress, RatingPress)) or hasattr(result, "model")


@pytest.fixture
def hostile_line():
    bus = SimBus(name="hostile")
    sim = bus.attach(HostileKeypad(9))
    link = SerialLink(bus.path)
    link.open()
    yield HallqLine(link, reply_timeout=0.05, retries=0), sim
    link.close()
    bus.close()
