"""The device gateway: its configuration, MQTT in, devices out, health, and the whole hall end to end."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from device_drivers.simulators import KeypadSimulator, RatingPadSimulator, SimBus, StripSimulator
from device_gateway.config import load_gateway
from hallq import contract
from hallq.demo import DEMO_PASSWORD
from hallq.hallconfig import ConfigError
from hallq.testing import ROOT, TINY, MqttCollector

CITY = ROOT / "config" / "city-hall"


def write(tmp_path: Path, body: str, name: str = "devices.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'[gateway]\nid = "gateway-1"\nhall = "{TINY}"\nkey = "demo-gateway-1"\n'
                    'poll_interval_ms = 20\nprobe_interval_ms = 300\noffline_after_ms = 600\n'
                    f'reopen_interval_ms = 200\nreply_timeout_ms = 40\nretries = 1\nrating_poll_ms = 300\n{body}',
                    encoding="utf-8")
    return path


# -- configuration -----------------------------------------------------------------------

def test_the_sample_hall_configuration_loads():
    cfg = load_gateway(CITY / "devices.toml")
    assert len(cfg.of_kind("led_strip")) == 20 and len(cfg.of_kind("keypad")) == 4
    strip = cfg.of_kind("led_strip")[2]
    assert (strip.id, strip.window, strip.address, strip.driver) == ("strip-3", 3, 3, "simulator")


@pytest.mark.parametrize("body,problem", [
    ('[[devices]]\nkind = "led_strip"\ndriver = "usb"\nwindow = 1\n', "driver: must be one of: serial, simulator"),
    ('[[devices]]\nkind = "led_strip"\ndriver = "serial"\nwindow = 1\n', "a serial device needs bus"),
    ('[[devices]]\nkind = "led_strip"\ndriver = "simulator"\nwindow = 9\n', "window 9 is not in hall.toml"),
    ('[[devices]]\nkind = "keypad"\ndriver = "simulator"\nwindow = 2\n', "window 2 is not bound to this gateway"),
    ('[[devices]]\nkind = "led_strip"\ndriver = "simulator"\nwindow = 1\ncalled = "请{ticket}到{counter}号"\n',
     "does not render"),
    ('[[devices]]\nkind = "led_strip"\ndriver = "simulator"\nwindows = [1, 2]\naddress = 5\n', "per window"),
    ('[[devices]]\nkind = "led_strip"\ndriver = "simulator"\nwindow = 1\npause_reasons = ["x"]\n',
     "pause_reasons: not an option of a led_strip"),
    ('[[buses]]\nid = "a"\nport = "/dev/ttyUSB0"\n[[devices]]\nkind = "led_strip"\ndriver = "serial"\nbus = "a"\n'
     'windows = [1, 2]\n[[devices]]\nkind = "keypad"\ndriver = "serial"\nbus = "a"\nwindow = 1\n',
     "address 1 on bus a is already used by strip-1"),
])
def test_configuration_mistakes_are_named(tmp_path, body, problem):
    with pytest.raises(ConfigError) as e:
        load_gateway(write(tmp_path, body))
    assert problem in str(e.value) and "devices.toml" in str(e.value)


def test_a_keypad_without_a_known_key_is_refused_at_load(tmp_path):
    path = write(tmp_path, '[[devices]]\nkind = "keypad"\ndriver = "simulator"\nwindow = 1\n')
    path.write_text(path.read_text().replace("demo-gateway-1", "not-a-device-key"))
    with pytest.raises(ConfigError, match="not a device key"):
        load_gateway(path)


def test_hallq_start_runs_the_gateway_for_the_demo_hall(tmp_path):
    from device_gateway.cli import hall_parts

    args = Namespace(config=str(CITY / "hall.toml"), host="0.0.0.0", port=8123, data_dir=None, virtual_clock=None)
    [(name, argv, needs_server)] = hall_parts(args)
    assert name == "devices" and needs_server
    assert argv[argv.index("--server") + 1] == "http://127.0.0.1:8123"
    assert hall_parts(Namespace(config=str(TINY), host="127.0.0.1", port=1, data_dir=None, virtual_clock=None)) == []
    out = subprocess.run([sys.executable, "-m", "launcher", "devices", *argv[1:], "--check"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and "strip-20" in out.stdout and "keypad-4" in out.stdout


# -- the gateway in-process, with the test playing the server on a real broker --------------

class Publisher:
    """The test playing the queue server: publishes on the real broker."""

    def __init__(self, url: str) -> None:
        from hallq.mqtt import BrokerAddress

        addr = BrokerAddress.parse(url)
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.connect(addr.host, addr.port)
        self.client.loop_start()

    def __call__(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()  # wakes the network loop, so loop_stop does not wait for its timeout
        self.client.loop_stop()


@pytest.fixture
def publish(mosquitto):
    p = Publisher(mosquitto.url)
    yield p
    p.close()


def window_payload(**kw) -> bytes:
    body = {"number": 1, "state": "open", "staff": {"job_no": "101", "name": "张*三"}, "current": None,
            "serves": ["alpha"], "held": 0, "updated_at": "2026-11-23T09:30:00+08:00", **kw}
    return contract.encode(contract.WINDOW, body)


@pytest.fixture
def gateway(tmp_path, mosquitto, monkeypatch, publish):
    from device_gateway.gateway import Gateway

    monkeypatch.setenv("HALLQ_MQTT_URL", mosquitto.url)
    cfg = load_gateway(write(tmp_path, '[[devices]]\nkind = "led_strip"\ndriver = "simulator"\nwindow = 1\n'
                                       '[[devices]]\nkind = "keypad"\ndriver = "simulator"\nwindow = 1\n'),
                       server="http://127.0.0.1:1")
    gw = Gateway(cfg, control_path=tmp_path / "data" / "devices-sim.sock")
    (tmp_path / "data").mkdir()
    gw.start()
    # "connected" comes before the broker has our subscriptions: a retained snapshot, once shown,
    # proves they are in place (as a real window's retained snapshot would be)
    publish(contract.WINDOW.topic("tiny", number=1), window_payload(), retain=True)
    assert gw.simulators["strip-1"].wait_for(lambda s: s.text == "工号101 为您服务", 10)
    yield gw
    gw.stop()


def test_strip_follows_snapshots_and_flashes_calls_once(gateway, publish):
    strip = gateway.simulators["strip-1"]
    topic = contract.WINDOW.topic("tiny", number=1)
    call = {"seq": 7, "kind": "call", "ticket": "A001", "business": "alpha", "window": 1,
            "at": "2026-11-23T09:31:00+08:00"}
    publish(contract.CALLS.topic("tiny"), contract.encode(contract.CALLS, call))
    publish(contract.CALLS.topic("tiny"), contract.encode(contract.CALLS, call))  # QoS 1 repeat
    publish(topic, window_payload(current={"ticket": "A001", "state": "called"}), retain=True)
    assert strip.wait_for(lambda s: s.text == "请A001到1号窗口" and s.flashes == 3)
    publish(topic, window_payload(state="paused", pause_reason="午休"), retain=True)
    assert strip.wait_for(lambda s: s.text == "暂停服务")
    assert list(strip.history).count("请A001到1号窗口") == 1  # flashed once; its own snapshot sent nothing more


@pytest.mark.parametrize("payload", [
    b"\xff\xfe garbage", b'{"version": 1, "number": 1, "state": "op', b"[1, 2, 3]",
    json.dumps({"version": 1, "number": "one", "state": 5, "current": [], "updated_at": 3}).encode(),
    json.dumps({"version": 99, "number": 1, "state": "open", "current": None,
                "updated_at": "2026-11-23T09:30:00+08:00"}).encode(),
    b'{"version": 1, "pad": "' + b"x" * 300_000 + b'"}',
    b"[" * 100_000,
])
def test_bad_payloads_are_ignored_and_the_gateway_goes_on(gateway, publish, payload, caplog):
    strip = gateway.simulators["strip-1"]
    topic = contract.WINDOW.topic("tiny", number=1)
    publish(topic, payload)
    publish(contract.CALLS.topic("tiny"), payload)
    publish(topic, window_payload(state="paused"))
    assert strip.wait_for(lambda s: s.text == "暂停服务")
    assert "ignored a message" in caplog.text  # the hall feed's bad-input log (hallq.feed)
    assert all(w.is_alive() for w in gateway.workers.values())


def test_keypad_shows_the_window_and_its_queue(gateway, publish):
    keypad = gateway.simulators["keypad-1"]
    publish(contract.QUEUE.topic("tiny", business="alpha"), contract.encode(contract.QUEUE, {
        "business": "alpha", "waiting": 4, "est_wait_minutes": 12, "updated_at": "2026-11-23T09:30:00+08:00"}))
    publish(contract.WINDOW.topic("tiny", number=1),
            window_payload(current={"ticket": "A002", "state": "serving"}, held=1))
    assert keypad.wait_for(lambda k: k.lines == {1: "办理 A002", 2: "等候4人 挂起1"})


def test_server_unreachable_is_said_on_the_keypad(gateway):
    keypad = gateway.simulators["keypad-1"]
    keypad.press("call_next")
    assert keypad.wait_for(lambda k: "无法连接服务器" in k.lines[2], timeout=15)


def test_a_mute_device_is_reported_after_offline_after(gateway, mosquitto):
    health = MqttCollector(mosquitto.url, "hallq/tiny/devices/+/+/health")
    try:
        health.wait_for(lambda t, p: t.endswith("/strip-1/health") and p["ok"])
        gateway.simulators["strip-1"].responsive = False
        started = time.monotonic()
        _, p = health.wait_for(lambda t, p: t.endswith("/strip-1/health") and not p["ok"])
        assert p["problems"] == ["no_answer"] and p["kind"] == "led_strip" and p["detail"]["window"] == 1
        assert time.monotonic() - started >= 0.5  # not on the first missed answer: after offline_after
        health.clear()
        gateway.simulators["strip-1"].responsive = True
        health.wait_for(lambda t, p: t.endswith("/strip-1/health") and p["ok"])
    finally:
        close(health)


def test_demo_keys_are_pressed_from_the_command_line(gateway, tmp_path):
    from device_gateway.sim_control import send

    run = [sys.executable, "-m", "launcher", "devices", "--config", str(tmp_path / "devices.toml"),
           "--data-dir", str(tmp_path / "data")]
    out = subprocess.run([*run, "press", "1", "暂停", "2"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "pressed 暂停" in out.stdout, out.stderr
    keypad = gateway.simulators["keypad-1"]
    assert keypad.wait_for(lambda k: "无法连接服务器" in k.lines[2], timeout=15)  # acted on: the server is away
    sock = tmp_path / "data" / "devices-sim.sock"
    assert "strip-1      工号101 为您服务" in send(sock, "show")
    assert send(sock, "press 1 fly").startswith("error: unknown key")
    assert send(sock, "press 7 叫号") == "error: window 7 has no simulated keypad"
    assert send(sock, "rate 1 5") == "error: window 1 has no simulated rating pad"


# -- the whole hall: server, Mosquitto, `hallq devices`, devices on ptys ----------------------

def test_end_to_end_keypad_strip_pad_and_unplugging(tmp_path, mosquitto, server_proc):
    server = server_proc(mqtt_url=mosquitto.url)
    strips = SimBus(tmp_path / "ttyStrips", name="strips")
    desk = SimBus(tmp_path / "ttyDesk", name="desk")  # keypad and pad share one RS-485 line
    strip = strips.attach(StripSimulator(1, "strip-1"))
    keypad = desk.attach(KeypadSimulator(1, "keypad-1"))
    pad = desk.attach(RatingPadSimulator(101, "pad-1"))
    config = write(tmp_path, f"""
[[buses]]
id = "strips"
port = "{strips.path}"
[[buses]]
id = "desk"
port = "{desk.path}"
baudrate = 19200
[[devices]]
kind = "led_strip"
driver = "serial"
bus = "strips"
window = 1
[[devices]]
kind = "keypad"
driver = "serial"
bus = "desk"
window = 1
[[devices]]
kind = "rating_pad"
driver = "serial"
bus = "desk"
window = 1
address = 101
""")
    health = MqttCollector(mosquitto.url, "hallq/tiny/devices/+/+/health")
    log = open(tmp_path / "gateway.log", "wb")
    gateway = subprocess.Popen([sys.executable, "-m", "launcher", "devices", "--config", str(config),
                                "--server", server.url, "--data-dir", str(tmp_path / "gateway-data")],
                               env={**os.environ, "HALLQ_MQTT_URL": mosquitto.url},
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        staff = server.client()
        staff.login("101", DEMO_PASSWORD)
        staff.window_action(1, "sign-in")
        assert strip.wait_for(lambda s: s.text == "工号101 为您服务", 15), _tail(tmp_path)
        kiosk = server.client("demo-kiosk-1")
        ticket = kiosk.issue_ticket("alpha")["ticket"]

        keypad.press("call_next")  # 叫号 on the keypad: the strip shows the call
        assert strip.wait_for(lambda s: s.text == f"请{ticket}到1号窗口" and s.flashes == 3, 10), _tail(tmp_path)
        assert keypad.wait_for(lambda k: k.lines[2] == f"已叫 {ticket}", 5)

        keypad.press("complete")  # 办结: the pad asks the resident, who presses 非常满意
        assert pad.wait_for(lambda p: p.prompts == 1, 5)
        pad.press(5)
        assert pad.wait_for(lambda p: p.lines[1] == "谢谢您的评价", 5), _tail(tmp_path)
        db = sqlite3.connect(f"file:{server.data_dir / 'hallq.sqlite3'}?mode=ro", uri=True)
        assert db.execute("SELECT level FROM ratings").fetchall() == [(5,)]
        assert strip.wait_for(lambda s: s.text == "工号101 为您服务", 5), (list(strip.history), _tail(tmp_path))

        second = kiosk.issue_ticket("alpha")["ticket"]
        keypad.press("call_next")
        assert strip.wait_for(lambda s: s.text == f"请{second}到1号窗口", 10)
        staff.window_action(1, "complete")  # on the clerk's web console this time, not the keypad
        assert pad.wait_for(lambda p: p.prompts == 2, 5)  # the gateway asked the server, and lit the pad

        health.wait_for(lambda t, p: t.endswith("/strip-1/health") and p["ok"])
        strips.unplug()  # the strip's cable is pulled
        _, down = health.wait_for(lambda t, p: t.endswith("/strip-1/health") and not p["ok"], 10)
        assert down["problems"] == ["unplugged"]
        health.clear()
        strips.replug()  # plugged back in: it powers up blank, the gateway re-opens and fills it again
        health.wait_for(lambda t, p: t.endswith("/strip-1/health") and p["ok"], 10)
        assert strip.wait_for(lambda s: s.text == "工号101 为您服务", 5), _tail(tmp_path)
        assert keypad.pending == 0 and pad.pending == 0
    finally:
        gateway.terminate()
        assert gateway.wait(10) == 0
        close(health)
        strips.close()
        desk.close()


def close(collector: MqttCollector) -> None:
    collector.client.disconnect()  # first, so that the network loop stops at once
    collector.close()


def _tail(tmp_path: Path) -> str:
    return (tmp_path / "gateway.log").read_text(errors="replace")[-3000:]
