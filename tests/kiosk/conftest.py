"""Kiosk fixtures: a real queue server of the sample city hall, and a kiosk session on simulated devices."""

from __future__ import annotations

import pytest

from device_drivers.sim_id_reader import IdReaderSimulator
from device_drivers.sim_printer import PrinterSimulator
from device_drivers.sim_scanner import ScannerSimulator
from hallq.testing import ROOT
from kiosk.api import KioskApi
from kiosk.config import DeviceChoice, KioskConfig
from kiosk.devices import KioskDevices
from kiosk.session import KioskSession
from kiosk.voice import RecordingVoice

CITY = ROOT / "config" / "city-hall" / "hall.toml"
VILLAGE = ROOT / "config" / "village-station" / "hall.toml"


@pytest.fixture
def city(server_proc):
    """A real `hallq serve` of the sample city hall, Monday 2026-11-23 09:30 (virtual clock)."""
    return server_proc(config=CITY)


@pytest.fixture
def village(server_proc):
    """A real `hallq serve` of the sample village station (one business, elderly residents)."""
    return server_proc(config=VILLAGE)


def make_session(url: str, key: str = "demo-kiosk-1", clock=None, **cfg) -> KioskSession:
    values = dict(path=ROOT / "config" / "city-hall" / "kiosk.toml", id="kiosk-1", server_url=url, device_key=key,
                  retry_seconds=1, printer=DeviceChoice("simulator"), id_reader=DeviceChoice("simulator"),
                  scanner=DeviceChoice("simulator"), voice=DeviceChoice("simulator"))
    values.update(cfg)
    config = KioskConfig(**values)
    devices = KioskDevices("kiosk-1", PrinterSimulator(name="kiosk-1-printer"), IdReaderSimulator(),
                           ScannerSimulator(), RecordingVoice())
    api = KioskApi.connect(url, key, timeout=3)
    kw = {"clock": clock} if clock else {}
    return KioskSession(config, api, devices, **kw)


@pytest.fixture
def session(city):
    s = make_session(city.url)
    yield s
    s.devices.close()
