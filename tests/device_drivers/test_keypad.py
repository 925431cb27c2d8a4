"""The call keypad: its drivers' contract, several keypads on one bus, and presses becoming window actions."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_drivers.hallq_bus import HallqLine
from device_drivers.keypad import HallqKeypad, KeyPress
from device_drivers.serial_port import SerialLink
from device_drivers.simulators import KeypadSimulator, SimBus
from hallq.client import ApiError
from tests.device_drivers.window_fixtures import desk, http_hall, socat_pair, window_device  # noqa: F401 (fixtures)

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


# -- presses become window actions over real HTTP ------------------------------------------

def test_call_next_recall_and_complete(desk, clock):
    first = desk.kiosk.issue_ticket("alpha")["ticket"]
    second = desk.kiosk.issue_ticket("alpha")["ticket"]
    assert desk.press(KeyPress("call_next")) == f"已叫 {first}"
    desk.follow()
    assert desk.press(KeyPress("recall")) == f"重呼 {first}"
    assert desk.window()["current"]["recalls"] == 1
    # 叫号 while A001 is current completes it first (call_completes_current); the server offers
    # no rating of A001 once A002 is called (the next resident is at the desk)
    assert desk.press(KeyPress("call_next")) == f"已叫 {second}"
    assert desk.offered() == [None]
    desk.follow()
    clock.advance(180)  # the frozen clock would finish both at the same instant
    assert desk.press(KeyPress("complete")) == f"办结 {second}"
    assert desk.offered() == [None, second] and desk.window()["current"] is None
    assert desk.local_prompts == 0  # the server's word was read, no local guess


def test_ask_for_a_rating_from_the_keypad(desk, clock):
    assert desk.press(KeyPress("ask_rating")) == "没有可以评价的服务。"
    desk.kiosk.issue_ticket("alpha")
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    desk.follow()
    desk.press(KeyPress("call_next"))  # A001 completed by the next call: not offered on its own...
    assert desk.offered() == [None]
    desk.follow()
    clock.advance(180)
    desk.press(KeyPress("complete"))
    assert desk.press(KeyPress("ask_rating")) == "已请评价"  # ...but the clerk may ask (for A002, the last)
    assert desk.offered()[-1] == "A002" and desk.offers[-1]["prompted"] is True
    journal = desk.db().execute("SELECT COUNT(*) FROM journal WHERE action = 'rating_prompt'").fetchone()[0]
    assert journal == 1


def test_the_pad_is_prompted_locally_when_the_server_cannot_say(desk, monkeypatch):
    original = desk.actions.client.get
    monkeypatch.setattr(desk.actions.client, "get", lambda path: (_ for _ in ()).throw(
        ApiError(404, "not_found", {"en": "no such endpoint"})) if "rating-prompt" in path else original(path))
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    desk.follow()
    desk.press(KeyPress("complete"))
    assert desk.local_prompts == 1 and desk.offers == []


def test_a_refusal_shows_the_servers_own_message(desk):
    assert desk.press(KeyPress("call_next")) == "当前没有等候的号票。"
    assert desk.press(KeyPress("recall")) == "1 号窗口当前没有号票。"


def test_a_key_acts_only_on_the_ticket_the_window_shows(desk):
    desk.kiosk.issue_ticket("alpha")
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    desk.snapshot = {"current": {"ticket": "A009"}}  # a stale view: the press names A009
    assert "不是 A009" in desk.press(KeyPress("no_show"))
    assert desk.window()["current"]["ticket"] == "A001"


def test_transfer_to_a_window_or_a_business(desk):
    desk.staff.login("102", "hallq-demo")
    desk.staff.window_action(2, "sign-in")
    desk.staff.login("101", "hallq-demo")
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    assert desk.press(KeyPress("transfer")) == "请先输入窗口号再按转移"
    assert desk.press(KeyPress("transfer", "2")) == "已转移 A001"
    conn = desk.db()
    assert conn.execute("SELECT target_window FROM tickets WHERE label = 'A001'").fetchone()[0] == 2
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    assert desk.press(KeyPress("transfer", "*2")) == "已转移 A002"  # the hall's 2nd business
    assert conn.execute("SELECT business FROM tickets WHERE label = 'A002'").fetchone()[0] == "beta"
    assert desk.press(KeyPress("transfer", "*7")) == "业务序号应为1到2"


def test_hold_and_call_back_by_number(desk):
    for _ in range(3):
        desk.kiosk.issue_ticket("alpha")
    for _ in range(2):
        desk.press(KeyPress("call_next"))
        desk.follow()
        desk.press(KeyPress("hold"))
    assert desk.window()["held"] == 2
    assert desk.press(KeyPress("call_back", "2")) == "回呼 A002"
    desk.follow()
    desk.press(KeyPress("hold"))
    assert desk.press(KeyPress("call_back")) == "回呼 A001"  # no digits: the longest held
    desk.follow()
    assert desk.press(KeyPress("call_back", "9")) == "挂起的号中没有9"
    assert desk.press(KeyPress("call_back", "2")) == "请先处理当前号票 A001。"  # the server's refusal


def test_pause_with_a_reason_and_resume(desk):
    assert desk.press(KeyPress("pause", "2")) == "暂停：午休"
    w = desk.window()
    assert (w["state"], w["pause_reason"]) == ("paused", "午休")
    assert desk.press(KeyPress("call_next")) == "1 号窗口已暂停服务，请先恢复。"
    assert desk.press(KeyPress("pause", "5")) == "暂停原因应为1到2"
    assert desk.press(KeyPress("resume")) == "已恢复服务"
    assert desk.window()["state"] == "open"


def test_call_next_is_sent_with_an_idempotency_key(desk):
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    rows = desk.db().execute("SELECT client FROM requests WHERE client LIKE '%gateway%'").fetchall()
    assert len(rows) == 1


def test_a_press_that_waited_too_long_is_dropped(desk, monkeypatch):
    import device_drivers.actions as actions

    desk.kiosk.issue_ticket("alpha")
    monkeypatch.setattr(actions, "STALE_SECONDS", -1)
    assert desk.press(KeyPress("call_next")) == "按键超时未执行，请重按"
    assert desk.window()["current"] is None


def test_nobody_signed_in_means_the_keypad_is_refused(desk):
    desk.staff.window_action(1, "sign-out")
    desk.kiosk.issue_ticket("alpha")
    assert desk.press(KeyPress("call_next")) in ("1 号窗口未开放。", "1 号窗口没有工作人员签到。")


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
        for call in (device.poll, device.identify, lambda: device.display(1, "x")):
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
