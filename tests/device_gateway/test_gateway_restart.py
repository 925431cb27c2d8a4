"""A gateway stopped or killed right after acting on a key press: the press is acted on once, never again.

A keypad keeps a press until a later POLL acknowledges it. A stopping gateway
acknowledges what it handled with one last POLL; a killed one cannot, and the
press's Idempotency-Key (kept in the data directory) makes the server answer
the replay instead of calling the next resident.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from device_drivers.keypad import KeyPress
from device_drivers.simulators import KeypadSimulator, SimBus
from device_gateway.config import load_gateway
from device_gateway.presses import MAX_KEY, PressJournal, PressKey, press_key
from hallq.client import HallClient
from hallq.demo import DEMO_PASSWORD
from hallq.testing import TINY


def devices_toml(tmp_path: Path, port: str) -> Path:
    path = tmp_path / "devices.toml"
    path.write_text(f'[gateway]\nid = "gateway-1"\nhall = "{TINY}"\nkey = "demo-gateway-1"\n'
                    'poll_interval_ms = 20\nprobe_interval_ms = 300\noffline_after_ms = 600\n'
                    'reopen_interval_ms = 200\nreply_timeout_ms = 40\nretries = 1\nrating_poll_ms = 0\n'
                    f'[[buses]]\nid = "desk"\nport = "{port}"\n'
                    '[[devices]]\nkind = "keypad"\ndriver = "serial"\nbus = "desk"\nwindow = 1\n', encoding="utf-8")
    return path


class Hall:
    """The tiny hall's real server (http_hall), staff 101 signed in at window 1, three tickets waiting."""

    def __init__(self, url: str, app) -> None:
        self.url, self.app = url, app
        self.staff = HallClient(url)
        self.staff.login("101", DEMO_PASSWORD)
        self.staff.window_action(1, "sign-in")
        kiosk = HallClient(url, token="demo-kiosk-1")
        self.tickets = [kiosk.issue_ticket("alpha")["ticket"] for _ in range(3)]

    def states(self) -> list[str]:
        """The states of A001, A002, A003."""
        conn = self.app.extensions["hallq"].db.connection()
        return [r[0] for r in conn.execute("SELECT state FROM tickets ORDER BY id")]

    def current(self) -> str | None:
        return (self.staff.get("/windows/1/queue")["window"].get("current") or {}).get("ticket")


@pytest.fixture
def hall(http_hall):
    return Hall(*http_hall)


@pytest.fixture
def line(tmp_path):
    """The window's RS-485 line (a pty) with its keypad at address 1."""
    bus = SimBus(tmp_path / "ttyDesk", name="desk")
    keypad = bus.attach(KeypadSimulator(1, "keypad-1"))
    yield bus, keypad
    bus.close()


@pytest.fixture
def make_gateway(tmp_path, mosquitto, monkeypatch, line, hall):
    from device_gateway.gateway import Gateway

    monkeypatch.setenv("HALLQ_MQTT_URL", mosquitto.url)
    cfg = devices_toml(tmp_path, line[0].path)
    started: list[Gateway] = []

    def make() -> Gateway:
        gw = Gateway(load_gateway(cfg, server=hall.url), data_dir=tmp_path / "gw-data")
        gw.start()
        started.append(gw)
        return gw

    yield make
    for gw in started:
        if any(w.is_alive() for w in gw.workers.values()):
            gw.stop()


def stop_comes_while_acting(gw) -> None:
    """Have ``gw.stop()`` come while the next press is being acted on: the press is read (the test waits for
    that in ``gw.stop``) and its action waits until the bus loop has ended, so no later POLL acknowledges it
    before the gateway stops."""
    runner, actions, worker = gw.runners["keypad-1"], gw.actions[1], gw.workers["desk"]
    read, loop_ended = threading.Event(), threading.Event()
    submit, perform, stop_worker, stop = runner.submit, actions.perform, worker.stop, gw.stop

    def submit_and_tell(*args):
        taken = submit(*args)
        read.set()
        return taken

    def perform_after_the_loop(*args):
        assert loop_ended.wait(10)
        return perform(*args)

    def stop_worker_and_tell():
        stop_worker()
        loop_ended.set()

    def stop_once_read():
        assert read.wait(10), "the press was not read"
        stop()

    runner.submit, actions.perform, worker.stop, gw.stop = (submit_and_tell, perform_after_the_loop,
                                                            stop_worker_and_tell, stop_once_read)


def polled(keypad: KeypadSimulator, times: int = 5) -> bool:
    """Wait until the keypad has been polled ``times`` more times: the gateway has had every chance to act."""
    before = keypad.requests
    return keypad.wait_for(lambda k: k.requests >= before + times, 10)


def test_a_stopped_gateway_acknowledges_the_press_it_handled(hall, line, make_gateway):
    _, keypad = line
    a1, a2, _ = hall.tickets
    gw = make_gateway()
    stop_comes_while_acting(gw)
    keypad.press("call_next")
    gw.stop()  # `hallq stop`, an upgrade, a systemd restart: just after the clerk's 叫号 was read
    assert gw.actions[1].done == 1 and hall.current() == a1  # the press was let finish...
    assert keypad.pending == 0  # ...and the last POLL acknowledged it

    gw2 = make_gateway()  # restarted, and nobody presses anything
    assert polled(keypad)
    assert gw2.actions[1].done == 0 and hall.current() == a1
    keypad.press("call_next")  # the clerk's next 叫号 finishes A001 and calls A002, as it should
    assert gw2.actions[1].wait_done(1)
    assert hall.states() == ["done", "called", "waiting"] and hall.current() == a2


def test_a_press_made_while_the_gateway_stops_waits_for_the_next_start(hall, line, make_gateway):
    _, keypad = line
    a1, a2, _ = hall.tickets
    gw = make_gateway()
    keypad.press("call_next")
    assert gw.actions[1].wait_done(1)
    for w in gw.workers.values():
        w.stop()  # the gateway is stopping: its bus loop has ended...
    keypad.press("call_next")  # ...when the clerk presses again: the last POLL's reply brings it
    gw.stop()
    assert gw.actions[1].done == 1 and keypad.pending == 1  # not acted on, not acknowledged: kept by the keypad
    assert hall.current() == a1

    gw2 = make_gateway()  # the next start acts on it, once
    assert gw2.actions[1].wait_done(1)
    assert polled(keypad) and keypad.pending == 0
    assert hall.states() == ["done", "called", "waiting"] and hall.current() == a2


def test_a_press_not_handled_in_time_is_left_on_the_keypad(tmp_path, line, mosquitto, monkeypatch):
    """The server does not answer: the stop waits at most its grace, and does not acknowledge that press."""
    from device_gateway import gateway as gateway_module

    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    monkeypatch.setenv("HALLQ_MQTT_URL", mosquitto.url)
    monkeypatch.setattr(gateway_module, "STOP_GRACE", 0.3)
    _, keypad = line
    gw = gateway_module.Gateway(load_gateway(devices_toml(tmp_path, line[0].path),
                                             server=f"http://127.0.0.1:{silent.getsockname()[1]}"))
    try:
        gw.start()
        keypad.press("call_next")
        silent.settimeout(10)
        conn, _ = silent.accept()  # the action is on its way to the server
        started = time.monotonic()
        gw.stop()
        assert time.monotonic() - started < 3
        assert gw.actions[1].done == 0 and keypad.pending == 1
        conn.close()
    finally:
        silent.close()


def test_a_gateway_killed_before_its_acknowledgement_is_answered_not_obeyed_again(tmp_path, hall, line, mosquitto):
    """kill -9 between acting on 叫号 and acknowledging it: the restarted gateway reads the press again, sends
    it with the same Idempotency-Key, and the server answers with its first answer; nothing more is called."""
    _, keypad = line
    a1 = hall.tickets[0]
    config = devices_toml(tmp_path, line[0].path)
    data = tmp_path / "gw-data"
    log_path = tmp_path / "gateway.log"

    def start() -> subprocess.Popen:
        with open(log_path, "ab") as log:
            return subprocess.Popen([sys.executable, "-m", "launcher", "devices", "--config", str(config),
                                     "--server", hall.url, "--data-dir", str(data)],
                                    env={**os.environ, "HALLQ_MQTT_URL": mosquitto.url},
                                    stdout=log, stderr=subprocess.STDOUT)

    keypad.ignore_acks = 1_000_000  # the acknowledgement never arrives: the gateway dies before it
    first = start()
    try:
        keypad.press("call_next")
        assert keypad.wait_for(lambda k: k.lines[2] == f"已叫 {a1}", 15), log_path.read_text(errors="replace")
    finally:
        first.kill()  # kill -9: no last POLL
        first.wait(10)
    assert keypad.pending == 1 and hall.current() == a1
    journal = json.loads((data / "gateway-gateway-1-presses.json").read_text(encoding="utf-8"))
    key = journal["devices"]["keypad-1"]["key"]
    assert key.startswith("hq-press:gateway-1:desk:1:")

    keypad.ignore_acks = 0
    keypad.lines[2] = ""
    second = start()
    try:
        # read again, answered with the server's first answer (已叫 A001 again), then acknowledged
        assert keypad.wait_for(lambda k: k.pending == 0 and k.lines[2] == f"已叫 {a1}", 15), \
            log_path.read_text(errors="replace")
    finally:
        second.terminate()
        assert second.wait(10) == 0
    assert "read again after a restart" in log_path.read_text(errors="replace")
    assert hall.states() == ["called", "waiting", "waiting"] and hall.current() == a1
    conn = hall.app.extensions["hallq"].db.connection()
    assert conn.execute("SELECT count(*) FROM requests WHERE key = ?", (key,)).fetchone()[0] == 1


# -- the keys themselves ----------------------------------------------------------------------

def test_a_press_keeps_its_key_across_restarts_and_a_wrapped_number_gets_a_new_one(tmp_path):
    journal = PressJournal("gateway-1", tmp_path)
    first = journal.key("keypad-1", "desk", 1, boot=7, number=9)
    assert not first.replay and first.key.startswith("hq-press:gateway-1:desk:1:7.9:")
    again = PressJournal("gateway-1", tmp_path).key("keypad-1", "desk", 1, boot=7, number=9)  # after a restart
    assert again.replay and again.key == first.key and again.read_at == first.read_at

    keys = {first.key}
    for n in [*range(10, 256), *range(1, 10)]:  # 255 presses later the number is 9 again: a new press
        k = journal.key("keypad-1", "desk", 1, boot=7, number=n)
        assert not k.replay
        keys.add(k.key)
    assert len(keys) == 256
    assert journal.key("keypad-1", "desk", 1, boot=8, number=9).replay is False  # power-cycled: a new boot id
    assert journal.key("pad-1", "desk", 101, boot=8, number=9).replay is False  # another device
    assert journal.key("keypad-1", "desk", 1, boot=5, number=0).key != journal.key("keypad-1", "desk", 1, 5, 0).key


def test_keys_fit_the_servers_limit_and_a_broken_journal_is_replaced(tmp_path):
    long_id = "g" * 40
    key = press_key(long_id, "b" * 40, 247, 255, 255, "ffffffff")
    assert len(key) <= MAX_KEY and key.isascii() and key.endswith(":247:255.255:ffffffff")
    (tmp_path / "gateway-gateway-1-presses.json").write_text("{not json", encoding="utf-8")
    journal = PressJournal("gateway-1", tmp_path)
    assert not journal.key("keypad-1", "desk", 1, 3, 4).replay
    assert PressJournal("gateway-1", tmp_path).key("keypad-1", "desk", 1, 3, 4).replay


def test_an_old_replay_is_dropped_and_a_fresh_one_is_sent_with_its_key(desk):
    d = desk  # conftest's: the window's action queue on the real server
    first = d.kiosk.issue_ticket("alpha")["ticket"]
    d.kiosk.issue_ticket("alpha")
    old = PressKey("hq-press:gateway-1:desk:1:7.9:0a0b0c0d", time.time() - 60, replay=True)
    d.actions.submit(KeyPress("call_next", number=9, boot=7), old)
    assert d.actions.wait_done(1)
    assert d.keypad_messages[-1] == "按键超时未执行，请重按" and d.window().get("current") is None

    fresh = PressKey("hq-press:gateway-1:desk:1:7.10:01020304", time.time())
    d.actions.submit(KeyPress("call_next", number=10, boot=7), fresh)
    assert d.actions.wait_done(2) and d.keypad_messages[-1] == f"已叫 {first}"
    d.actions.submit(KeyPress("call_next", number=10, boot=7), PressKey(fresh.key, fresh.read_at, replay=True))
    assert d.actions.wait_done(3) and d.keypad_messages[-1] == f"已叫 {first}"  # answered, not called again
    assert d.window()["current"]["ticket"] == first
