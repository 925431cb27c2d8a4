"""Staff are told: device health of the kiosk over real MQTT, and the kiosk's part in `hallq start`."""

from __future__ import annotations

import argparse
import dataclasses
import json

from device_drivers.base import HealthReporter
from device_drivers.factory import build_reader
from hallq import contract
from hallq.mqtt import BrokerAddress, Connection
from hallq.testing import MqttCollector
from kiosk.cli import hall_parts
from kiosk.presenters.take_number import NO_ITEM, TakeNumber


def test_paper_out_reaches_staff_over_mqtt_and_recovers(mosquitto, session):
    conn = Connection(BrokerAddress.parse(mosquitto.url), "liupanshui", "kiosk", "kiosk-1")
    conn.start()
    assert conn.wait_connected(10)
    collector = MqttCollector(mosquitto.url, "hallq/liupanshui/devices/+/+/health")
    try:
        session.devices.attach(HealthReporter(conn, "liupanshui"))
        session.devices.printer.state.paper = "out"
        flow = TakeNumber(session)
        flow.start()
        flow.handle("choose", "construction")
        flow.handle("choose", NO_ITEM)
        assert flow.view().result["number"] == "B001"          # the resident has the number all the same
        topic, payload = collector.wait_for(lambda t, p: t.endswith("/kiosk-1-printer/health") and not p["ok"])
        assert contract.decode(contract.DEVICE_HEALTH, json.dumps(payload).encode())["problems"] == ["paper_out"]
        assert payload["kind"] == "printer" and "roll" in payload["detail"]["fix"]
        session.devices.printer.state.paper = "near_end"
        session.devices.check_health()
        _, payload = collector.wait_for(lambda t, p: t.endswith("/kiosk-1-printer/health") and p["ok"])
        assert payload["problems"] == ["paper_near_end"]           # works, but staff should bring a roll
    finally:
        collector.close()
        conn.stop()


def test_unplugged_reader_is_reported(mosquitto, session, tmp_path):
    conn = Connection(BrokerAddress.parse(mosquitto.url), "liupanshui", "kiosk", "kiosk-1")
    conn.start()
    assert conn.wait_connected(10)
    collector = MqttCollector(mosquitto.url, "hallq/liupanshui/devices/+/+/health")
    try:
        session.devices.reader = build_reader("serial", port=str(tmp_path / "ttyUSB1"))
        session.devices.attach(HealthReporter(conn, "liupanshui"))
        session.devices.check_health()
        _, payload = collector.wait_for(lambda t, p: t.endswith("/kiosk-1-id-reader/health"))
        assert payload == {**payload, "ok": False, "problems": ["unplugged"], "kind": "id_reader"}
    finally:
        collector.close()
        conn.stop()


def test_hallq_start_runs_the_halls_kiosk_on_simulated_devices_in_a_demo_only(tmp_path, monkeypatch):
    monkeypatch.delenv("HALLQ_DEMO", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")              # a screen: no autopilot
    args = argparse.Namespace(config=None, host="0.0.0.0", port=8080, data_dir=str(tmp_path), virtual_clock=None,
                              demo=True)
    (name, argv, needs_server), = hall_parts(args)
    assert name == "kiosk" and needs_server
    assert argv[:2] == ["kiosk", "--config"] and argv[2].endswith("config/city-hall/kiosk.toml")
    # screenshots and simulated prints go to the hall's data directory, beside the board's screenshot
    assert argv[3:] == ["--server", "http://127.0.0.1:8080", "--simulate", "--data-dir", str(tmp_path)]
    # not a demo: kiosk.toml as written (docs/kiosk.md: a simulator is chosen by configuration, never silently)
    (_, argv, _), = hall_parts(argparse.Namespace(**{**vars(args), "demo": False}))
    assert argv[3:] == ["--server", "http://127.0.0.1:8080", "--data-dir", str(tmp_path)]
    village = argparse.Namespace(config="config/village-station/hall.toml", host="127.0.0.1", port=9000,
                                 data_dir=str(tmp_path / "village"))
    assert hall_parts(village)[0][1][2].endswith("village-station/kiosk.toml")


def test_simulated_printer_writes_into_the_kiosks_data_dir(tmp_path):
    from kiosk.cli import _own_dir, _simulated
    from kiosk.config import DeviceChoice, load_kiosk

    cfg = load_kiosk("config/city-hall/kiosk.toml")
    own = _own_dir(cfg, str(tmp_path))
    assert own == tmp_path
    sim = _simulated(dataclasses.replace(cfg, printer=DeviceChoice("serial", {"port": "/dev/ttyUSB0"})), own, True)
    assert (sim.printer.driver, sim.id_reader.driver, sim.scanner.driver) == ("simulator",) * 3
    assert sim.printer.options["output_dir"] == str(tmp_path / "kiosk-1-printed")
    as_configured = _simulated(dataclasses.replace(cfg, id_reader=DeviceChoice("serial", {"port": "/dev/ttyS1"})),
                               own, False)
    assert as_configured.id_reader.driver == "serial"  # never a silent fallback to a simulator
    assert as_configured.printer.options["output_dir"] == str(tmp_path / "kiosk-1-printed")
