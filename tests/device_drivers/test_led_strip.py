"""The LED window strip: what it shows for each window state, and the contract its drivers keep."""

from __future__ import annotations

import time

import pytest

from device_drivers import frames as F
from device_drivers.base import DeviceError
from device_drivers.led_strip import StripScreen, StripTemplates, display_width, render_call, render_window
from device_drivers.window_devices import open_led_strip
from tests.device_drivers.window_fixtures import socat_pair, window_device  # noqa: F401 (fixtures)

T = StripTemplates()


def window(state="open", current=None, job_no="1001", reason=None, number=3):
    return {"version": 1, "number": number, "state": state, "pause_reason": reason,
            "staff": {"job_no": job_no, "name": "王*明"} if job_no else None, "current": current,
            "updated_at": "2026-11-23T09:30:00+08:00"}


# -- what a strip shows ------------------------------------------------------------------

@pytest.mark.parametrize("snapshot,text,colour", [
    (window(current={"ticket": "A001", "state": "called"}), "请A001到3号窗口", "red"),
    (window(current={"ticket": "A001", "state": "serving"}), "A001 正在办理", "green"),
    (window(state="paused", reason="午休"), "暂停服务", "amber"),
    (window(), "工号1001 为您服务", "green"),
    (window(state="closed", job_no=None), "暂停服务", "amber"),
    (window(state="open", job_no=None), "暂停服务", "amber"),  # open but nobody signed in
])
def test_render_window(snapshot, text, colour):
    screen = render_window(snapshot, T, columns=10)
    assert (screen.text, screen.colour, screen.flashes) == (text, colour, 0)


def test_long_texts_scroll_short_ones_do_not():
    assert display_width("请A001到3号窗口") == 7.5
    assert not render_window(window(current={"ticket": "A001", "state": "called"}), T, columns=8).scroll
    assert render_window(window(), T, columns=8).scroll  # 工号1001 为您服务 is 8.5 wide


def test_custom_templates_and_a_call_flash():
    t = StripTemplates(called="{ticket} 请到{window}号", paused="暂停服务 {reason}")
    assert render_window(window(state="paused", reason="午休"), t, 10).text == "暂停服务 午休"
    screen = render_call({"ticket": "B012", "window": 12, "kind": "recall"}, t, 8, flashes=3)
    assert (screen.text, screen.flashes) == ("B012 请到12号", 3)
    assert screen.steady() == StripScreen("B012 请到12号", colour="red")


def test_bad_templates_are_reported():
    bad = StripTemplates(called="请{ticket}到{counter}号", colours={"called": "blue"})
    problems = dict(bad.problems())
    assert "counter" in problems["called"] and "blue" in problems["colours.called"]


# -- the contract, for the serial driver and the simulator --------------------------------

VARIANTS = ["serial", "simulator"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_identify_and_show(window_device, variant):
    strip, sim, _ = window_device("led_strip", variant, address=3)  # address 3 = ETX: escaped on the wire
    info = strip.identify()
    assert info.type == "led_strip" and info.boot == sim.boot
    strip.show(StripScreen("请A001到3号窗口", flashes=3))
    assert (sim.text, sim.flashes, sim.scroll, sim.colour) == ("请A001到3号窗口", 3, False, 1)
    strip.show(StripScreen("工号1001 为您服务", scroll=True, colour="green"))
    assert (sim.text, sim.flashes, sim.scroll, sim.colour) == ("工号1001 为您服务", 0, True, 2)


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_brightness_and_clear(window_device, variant):
    strip, sim, _ = window_device("led_strip", variant)
    strip.set_brightness(3)
    assert sim.brightness == 3
    strip.set_brightness(99)
    assert sim.brightness == 15
    strip.show(StripScreen("暂停服务"))
    strip.clear()
    assert sim.text == ""


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_a_retried_request_is_acted_on_once(window_device, variant):
    strip, sim, _ = window_device("led_strip", variant)
    sim.drop_replies = 1  # the strip acts, but its answer is lost on the line
    strip.show(StripScreen("请A002到3号窗口", flashes=3))
    assert sim.text == "请A002到3号窗口"
    assert sim.shows == 1 and sim.retries_seen == 1  # the retry did not restart the flashing


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_a_mute_strip_is_no_answer(window_device, variant):
    strip, sim, _ = window_device("led_strip", variant)
    sim.responsive = False
    started = time.monotonic()
    with pytest.raises(DeviceError) as e:
        strip.identify()
    assert e.value.code == "no_answer"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_a_pulled_cable_is_unplugged(window_device, variant):
    strip, sim, bus = window_device("led_strip", variant)
    strip.identify()
    if variant == "serial":
        bus.pair.stop()  # the USB-serial adapter is pulled out: its tty disappears
    else:
        bus.unplug()
    with pytest.raises(DeviceError) as e:
        strip.show(StripScreen("x"))
    assert e.value.code == "unplugged"
    assert not strip.line.link.is_open
    with pytest.raises(DeviceError) as e:
        strip.line.link.open()
    assert e.value.code == "unplugged" and "does not exist" in e.value.message


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_noise_on_the_line_is_survived(window_device, variant):
    strip, sim, bus = window_device("led_strip", variant)
    bus.write_raw(b"\x00\xff\x02garbage\x03\x02\x01" + b"\x41" * 600)  # garbage, a bad frame, a runaway one
    strip.show(StripScreen("请A003到3号窗口"))
    assert sim.text == "请A003到3号窗口"


def test_a_wrong_device_at_the_address_is_reported(window_device):
    from device_drivers.led_strip import HallqLedStrip

    keypad, sim, bus = window_device("keypad", "simulator", address=7)
    strip = HallqLedStrip(keypad.line, 7)
    with pytest.raises(DeviceError) as e:
        strip.identify()
    assert e.value.code == "wrong_device"


def test_unknown_driver_names_the_known_ones():
    with pytest.raises(DeviceError) as e:
        open_led_strip("vendor-x", address=1)
    assert e.value.code == "bad_config" and "serial" in e.value.fix and "simulator" in e.value.fix


def test_gb2312_strip_gets_question_marks_for_rare_characters(window_device):
    strip, sim, _ = window_device("led_strip", "simulator")
    strip.encoding = "gb2312"
    strip.show(StripScreen("请王䶮到3号窗口"))
    assert sim.text == "请王?到3号窗口"


def test_frames_on_the_wire_are_what_the_docs_say(window_device):
    strip, sim, bus = window_device("led_strip", "simulator", address=3)
    seen = []
    original = bus.port.write
    bus.port.write = lambda data: (seen.append(data), original(data))[1]
    strip.identify()
    reply = F.decode(seen[-1])
    assert reply.command == F.HELLO | F.REPLY and reply.data[:2] == bytes([F.OK, F.TYPE_LED_STRIP])
