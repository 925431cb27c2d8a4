"""One identity's credentials must not flood the hall with device health reports (queue_server/health_listener.py).

A review (one kiosk's MQTT credentials) published 3000 retained reports under 3000 invented device names in
0.08 s: the publisher's thread stored each in its own transaction, so a call reached the boards 0.3-0.9 s late,
and the database kept 3000 rows, 3000 journal entries (bridged to the county) and 3000 log lines, all in every
console's 设备提醒 bar. A printer flipped between ok and paper_out a thousand times a second wrote a journal
entry and a log line per flip. Now: a cap on each publisher's device names, a device's changes journalled at most
once a minute (its row always current), and at most a few reports stored per publisher step.
"""

from __future__ import annotations

import json
import sqlite3
import logging
import threading
import time
from datetime import timedelta

import paho.mqtt.client as paho
import pytest

from hallq import contract
from hallq.mqtt import BrokerAddress
from hallq.mqttlink import WireConnection
from hallq.testing import ROOT, MqttCollector, wait_until
from queue_server.domain import attention
from queue_server.health_listener import NAMES_PER_OWNER, PER_STEP, health_handler
from queue_server.publisher import Publisher
from tests.conftest import CITY

SITE = "tiny"


def _report(device: str, ok: bool, problems: list[str], kind: str = "printer") -> bytes:
    return contract.encode(contract.DEVICE_HEALTH, {"device": device, "kind": kind, "ok": ok, "problems": problems,
                                                    "detail": {}, "at": "2026-11-23T09:30:00+08:00"})


def _topic(owner: str, device: str, site: str = SITE) -> str:
    return contract.DEVICE_HEALTH.topic(site, owner=owner, device=device)


def _rows(state, owner: str | None = None) -> list[dict]:
    with state.db.read() as conn:
        return [d for d in attention.device_health(conn) if owner is None or d["owner"] == owner]


def _journal(state) -> list[dict]:
    return [json.loads(r["data"]) for r in state.db.connection().execute(
        "SELECT data FROM journal WHERE action = 'device_health' ORDER BY seq")]


def _said(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hallq.health" and r.levelno == level]


# -- the cap on device names ---------------------------------------------------------------------------------

def test_a_kiosk_inventing_device_names_keeps_its_cap_and_one_warning_a_minute(state, caplog):
    caplog.set_level(logging.INFO, "hallq.health")
    handle = health_handler(state.service, SITE)[1]
    now = [0.0]
    handle.clock = lambda: now[0]  # the warnings' clock
    handle(_topic("kiosk-1", "kiosk-1-printer"), _report("kiosk-1-printer", True, []), True)
    handle(_topic("gateway-1", "strip-1"), _report("strip-1", False, ["unplugged"], "led_strip"), True)
    for i in range(3000):
        handle(_topic("kiosk-1", f"fake-{i}"), _report(f"fake-{i}", False, ["paper_out"]), True)

    kept = _rows(state, "kiosk-1")
    assert len(kept) == NAMES_PER_OWNER == 16
    assert len(_journal(state)) == 1 + NAMES_PER_OWNER - 1  # the strip's fault and the 15 fakes that fit
    warnings = _said(caplog, logging.WARNING)
    assert len(warnings) == 1, warnings
    assert "fake-15" in warnings[0] and "kiosk-1" in warnings[0] and "empty retained message" in warnings[0]
    assert len(caplog.records) < 40  # not a line per report

    # its real devices still report; another publisher is untouched
    handle(_topic("kiosk-1", "kiosk-1-printer"), _report("kiosk-1-printer", False, ["paper_out"]), True)
    assert {d["device"]: d["problems"] for d in _rows(state, "kiosk-1")}["kiosk-1-printer"] == ["paper_out"]
    handle(_topic("gateway-1", "strip-2"), _report("strip-2", False, ["unplugged"], "led_strip"), True)
    assert [d["device"] for d in _rows(state, "gateway-1")] == ["strip-1", "strip-2"]

    # a minute later: one more warning, with the count dropped meanwhile
    now[0] = 61.0
    handle(_topic("kiosk-1", "fake-late"), _report("fake-late", False, ["paper_out"]), True)
    warnings = _said(caplog, logging.WARNING)
    assert len(warnings) == 2 and "(2985 reports of new names dropped" in warnings[1]
    # forgetting a fake frees its place for a real device
    handle(_topic("kiosk-1", "fake-0"), b"", True)
    handle(_topic("kiosk-1", "kiosk-1-scanner"), _report("kiosk-1-scanner", False, ["unplugged"], "scanner"), True)
    assert "kiosk-1-scanner" in {d["device"] for d in _rows(state, "kiosk-1")}
    assert len(_rows(state, "kiosk-1")) == NAMES_PER_OWNER


def test_the_sample_halls_devices_fit_under_the_cap(tmp_path, clock):
    from device_gateway.config import load_gateway
    from queue_server.app import create_app

    app = create_app(CITY, data_dir=tmp_path / "city", clock=clock, mqtt=False, housekeeping=False)
    state = app.extensions["hallq"]
    try:
        site = state.hall.config.site
        handle = health_handler(state.service, site)[1]
        gateway = load_gateway(ROOT / "config" / "city-hall" / "devices.toml")
        assert len(gateway.devices) == 28  # 20 strips, 4 keypads, 4 rating pads
        for d in gateway.devices:
            handle(_topic(gateway.id, d.id, site), _report(d.id, False, ["no_answer"], d.kind), True)
        for key, kind in (("printer", "printer"), ("id-reader", "id_reader"), ("scanner", "scanner"),
                          ("audio", "audio")):
            handle(_topic("kiosk-1", f"kiosk-1-{key}", site), _report(f"kiosk-1-{key}", False, ["offline"], kind), True)
        assert len(_rows(state, gateway.id)) == 28 and len(_rows(state, "kiosk-1")) == 4
    finally:
        state.close()


# -- flapping ------------------------------------------------------------------------------------------------

def test_a_flapping_printer_is_journalled_once_a_minute_and_shown_as_it_is(api, state, clock, caplog):
    caplog.set_level(logging.INFO, "hallq.health")
    handle = health_handler(state.service, SITE)[1]
    printer = _topic("kiosk-1", "kiosk-1-printer")
    handle(printer, _report("kiosk-1-printer", True, []), True)  # a first report that is ok: quiet
    for i in range(1, 2002):  # ~1000 messages a second for two seconds: odd paper_out, even ok
        handle(printer, _report("kiosk-1-printer", i % 2 == 0, [] if i % 2 == 0 else ["paper_out"]), False)

    assert [(j["ok"], j["problems"]) for j in _journal(state)] == [(False, ["paper_out"])]
    assert len(_said(caplog, logging.INFO)) == 1
    # the console shows the latest state, not the journalled one
    assert [(d["device"], d["problems"]) for d in api.ok("get", "/attention", as_="101")["device_problems"]] == [
        ("kiosk-1-printer", ["paper_out"])]
    handle(printer, _report("kiosk-1-printer", True, []), False)
    assert api.ok("get", "/attention", as_="101")["device_problems"] == []
    assert len(_journal(state)) == 1

    # a minute on, the next publisher step journals where it stands, with how many changes were not journalled
    clock.set(clock.now() + timedelta(seconds=61))
    assert handle.drain() is False
    last = _journal(state)[-1]
    assert (last["ok"], last["problems"], last["changes_not_journaled"]) == (True, [], 2001)
    assert "and 2001 changes since" in _said(caplog, logging.INFO)[-1]
    # the next change within the minute is held; the first one after it says how many were held before it
    handle(printer, _report("kiosk-1-printer", False, ["paper_out"]), False)
    handle(printer, _report("kiosk-1-printer", False, ["paper_near_end"]), False)
    assert len(_journal(state)) == 2
    clock.set(clock.now() + timedelta(seconds=61))
    handle(printer, _report("kiosk-1-printer", True, []), False)
    last = _journal(state)[-1]
    assert (len(_journal(state)), last["ok"], last["changes_not_journaled"]) == (3, True, 2)
    assert handle.drain() is False and len(_journal(state)) == 3  # nothing left to say
    assert len(_said(caplog, logging.INFO)) == 3


# -- a bounded amount of work per publisher step ---------------------------------------------------------------

def test_a_step_stores_a_few_reports_and_only_the_latest_of_each_device(state):
    handle = health_handler(state.service, SITE)[1]
    for owner in range(100):
        for n in range(10):
            handle.offer(_topic(f"gw-{owner}", f"strip-{n}"), _report(f"strip-{n}", False, ["unplugged"], "led_strip"))
    for i in range(500):  # one printer reported 500 times: one pending report, the last one
        handle.offer(_topic("kiosk-1", "kiosk-1-printer"), _report("kiosk-1-printer", i % 2 == 0,
                                                                  [] if i % 2 == 0 else ["paper_out"]))
    assert handle.pending == 1001
    assert _rows(state) == []  # the read stores nothing

    assert handle.drain() is True
    assert len(_rows(state)) == PER_STEP
    while handle.drain():
        pass
    assert len(_rows(state)) == 1001
    assert {d["device"]: d["problems"] for d in _rows(state, "kiosk-1")} == {"kiosk-1-printer": ["paper_out"]}


@pytest.fixture
def leading(state, mosquitto):
    """The server's publisher, subscribed to device health as the app subscribes it, on a real Mosquitto."""
    conn = WireConnection(BrokerAddress.parse(mosquitto.url), SITE, "server", "queue")
    p = Publisher(state.db, state.hall, lambda: conn, state.data_dir,
                  subscriptions=[health_handler(state.service, SITE)])
    p.start()
    assert conn.wait_connected(10), "the publisher did not connect"
    yield p
    p.stop()


def test_a_flood_of_reports_does_not_hold_up_a_call(api, state, mosquitto, leading):
    calls = MqttCollector(mosquitto.url, contract.CALLS.topic(SITE))
    flood = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="flood")
    connected = threading.Event()
    flood.on_connect = lambda *a: connected.set()
    flood.connect("127.0.0.1", BrokerAddress.parse(mosquitto.url).port)
    flood.loop_start()
    try:
        assert connected.wait(10)
        for _ in range(5):
            api.issue("alpha")
        api.open_window(1, "101")

        def call() -> float:
            n = len(calls.of(contract.CALLS.topic(SITE)))
            started = time.perf_counter()
            api.act(1, "call-next", "101", {"complete_current": True})
            calls.wait_for(lambda t, p: len(calls.of(t)) > n, 10)
            return calls.messages[-1][3] - started

        assert call() < 1.0  # the first call (and the subscription) settled

        # the reviewer's flood: one kiosk's 1500 invented names, and 1500 reports of 150 publishers' 10 devices
        for i in range(3000):
            owner, device = ("kiosk-1", f"fake-{i}") if i % 2 else (f"gw-{i // 20}", f"strip-{i % 20}")
            flood.publish(_topic(owner, device), _report(device, False, ["unplugged"], "led_strip"), qos=0, retain=True)
        wait_until(lambda: _rows(state), 10, "the flood reaching the server")
        latencies = [call() for _ in range(3)]
        during = len(_rows(state))
        assert max(latencies) < 0.25, f"calls took {[round(t * 1000) for t in latencies]} ms to reach the boards"

        wait_until(lambda: len(_rows(state)) == 1500 + NAMES_PER_OWNER, 30, "the flood stored")
        assert during < 1500 + NAMES_PER_OWNER, "the calls were made after the flood, not during it"
        assert call() < 0.25
    finally:
        flood.loop_stop()
        flood.disconnect()
        calls.close()


def test_reports_a_failed_transaction_could_not_keep_are_kept_for_a_later_step(state, monkeypatch):
    """The database busy or full for a moment: the reports taken for that step are tried again a second later, not
    lost (a retained fault would otherwise not be shown until its device sent it again)."""
    from queue_server.health_listener import HealthListener

    now = [100.0]
    listener = HealthListener(state.service, SITE, clock=lambda: now[0])
    listener.offer(_topic("kiosk-1", "printer"), _report("printer", False, ["paper_out"], "printer"))
    real = state.service.transaction

    def failing(*a, **k):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(state.service, "transaction", failing)
    assert listener.drain() is True and listener.pending == 1
    monkeypatch.setattr(state.service, "transaction", real)
    assert listener.drain() is True and _rows(state) == []  # within the second: not tried again yet
    now[0] += 1.5
    listener.drain()
    assert [(r["owner"], r["device"]) for r in _rows(state)] == [("kiosk-1", "printer")] and listener.pending == 0
