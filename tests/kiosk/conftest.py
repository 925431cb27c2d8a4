"""Kiosk fixtures: a real queue server of the sample city hall, and a kiosk session on simulated devices."""

from __future__ import annotations

import pytest

from device_drivers.sim_id_reader import IdReaderSimulator, demo_card
from device_drivers.sim_printer import PrinterSimulator
from device_drivers.sim_scanner import ScannerSimulator
from hallq.client import HallClient
from hallq.testing import ROOT
from kiosk.api import KioskApi
from kiosk.config import DeviceChoice, KioskConfig
from kiosk.devices import KioskDevices
from kiosk.presenters.application import SubmitApplication
from kiosk.presenters.take_number import NO_ITEM, TakeNumber
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


@pytest.fixture
def take_number(session):
    """``take_number(business)``: a number taken at the kiosk for a business with no item named; the finished
    flow (``.ticket`` the server's answer, ``.view()`` the result screen)."""
    def take(business: str = "construction") -> TakeNumber:
        flow = TakeNumber(session)
        flow.start()
        flow.handle("choose", business)
        flow.handle("choose", NO_ITEM)
        return flow
    return take


@pytest.fixture
def window4(city) -> HallClient:
    """The city hall's clerk 1004 signed in at window 4 (construction)."""
    clerk = HallClient(city.url)
    clerk.login("1004", "hallq-demo")
    clerk.window_action(4, "sign-in")
    return clerk


def serve_next(clerk: HallClient, window: int = 4) -> None:
    """The window calls the next number, serves it and completes it (so it can be rated)."""
    clerk.call_next(window)
    clerk.window_action(window, "start")
    clerk.window_action(window, "complete")


@pytest.fixture
def back_office(city) -> HallClient:
    """The city hall's back-office clerk 1007, who reviews the 一件事 packages."""
    staff = HallClient(city.url)
    staff.login("1007", "hallq-demo")
    return staff


@pytest.fixture
def file_newborn(session):
    """``file_newborn(values, not_brought=None)``: the 新生儿出生一件事 filed at the kiosk with the demo ID card and
    a phone; every material brought but ``not_brought`` (a material's name). Returns the tracking number."""
    def file(values: dict[str, str], not_brought: str | None = None) -> str:
        flow = SubmitApplication(session)
        flow.start()
        flow.handle("choose", "pkg:newborn")
        flow.handle("action", "start")
        for key, value in values.items():
            flow.handle("field", (key, value))
        flow.handle("action", "next")
        if not_brought is None:
            flow.handle("action", "all")
        else:
            skip = next(m["index"] for m in flow.form["materials"] if m["name"] == not_brought)
            for m in flow.form["materials"]:
                if m["index"] != skip:
                    flow.handle("toggle", str(m["index"]))
        flow.handle("action", "next")
        flow.handle("card", demo_card())
        flow.handle("field", ("phone", "13912345678"))
        flow.handle("action", "next")
        flow.handle("action", "submit")
        return flow.view().result["number"]
    return file
