"""Fixtures for the window devices: real serial lines (pty, socat pairs), simulators, a real HTTP server.

(Imported by test_led_strip, test_keypad, test_rating_pad and test_gateway rather than kept in a
conftest.py, which this directory shares with the kiosk devices' tests.)

``window_device(kind, variant)`` builds the device the contract suites run
against, as (driver, the simulated device at the other end, its bus):

* ``"serial"``: the serial driver (``driver = "serial"``) on one end of a
  socat pty pair, a simulated device on the other end, as with a USB-RS485
  adapter and a real device (``bus.pair`` is the :class:`SocatPair`);
* ``"simulator"``: ``driver = "simulator"``, the simulator as configured in
  devices.toml.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from device_drivers.simulators import PathPort, SimBus
from device_drivers.window_devices import SIMULATORS, close_device, open_device


def _wait_paths(paths: list[Path], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        if time.monotonic() > deadline:
            raise TimeoutError(f"socat did not create {paths}")
        time.sleep(0.01)


class SocatPair:
    """Two linked ttys made by socat (a null-modem cable between two USB-serial adapters)."""

    def __init__(self, directory: Path) -> None:
        self.a, self.b = directory / "tty-gateway", directory / "tty-device"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["socat", f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_paths([self.a, self.b])

    def stop(self) -> None:
        """Both adapters pulled out: the ttys and their links disappear."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


@pytest.fixture
def socat_pair(tmp_path):
    if not shutil.which("socat"):
        pytest.fail("socat is not installed (apt-get install socat)")
    pair = SocatPair(tmp_path)
    pair.start()
    yield pair
    pair.stop()


@pytest.fixture
def window_device(request, tmp_path):
    """A factory ``window_device(kind, variant, address=…)`` -> (driver, simulated device, sim bus)."""
    made = []

    def make(kind: str, variant: str, address: int = 3):
        if variant == "simulator":
            driver = open_device(kind, "simulator", address=address, reply_timeout=0.05)
            made.append((driver, None, None))
            return driver, driver.simulator, driver.sim_bus
        pair = request.getfixturevalue("socat_pair")
        bus = SimBus(name="socat", port=PathPort(str(pair.b)))
        bus.pair = pair
        sim = bus.attach(SIMULATORS[kind](address, f"{kind}@{address}"))
        driver = open_device(kind, "serial", port=str(pair.a), address=address, reply_timeout=0.05)
        made.append((driver, bus, None))
        return driver, sim, bus

    yield make
    for driver, bus, _ in made:
        close_device(driver)
        if bus is not None:
            bus.close()


@pytest.fixture
def http_hall(tmp_path, clock):
    """The tiny hall's real Flask app behind a real HTTP server in a thread (no MQTT): (url, app)."""
    from werkzeug.serving import make_server

    from queue_server.app import create_app
    from hallq.testing import TINY

    app = create_app(TINY, data_dir=tmp_path / "data", clock=clock, mqtt=False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    app.extensions["hallq"].close()


class Desk:
    """Window actions of the tiny hall over real HTTP, with staff 101 signed in at window 1.

    It plays the window's devices too: it records what the keypad and the pad
    are told and what the server offers to rate.
    """

    def __init__(self, url: str, app) -> None:
        from device_drivers.actions import WindowActions
        from hallq.client import HallClient
        from hallq.demo import DEMO_PASSWORD

        self.url, self.app = url, app
        self.staff = HallClient(url)
        self.staff.login("101", DEMO_PASSWORD)
        self.staff.window_action(1, "sign-in")
        self.kiosk = HallClient(url, token="demo-kiosk-1")
        self.snapshot: dict = {}
        self.keypad_messages: list[str] = []
        self.pad_messages: list[str] = []
        self.offers: list[dict] = []
        self.local_prompts = 0
        self.actions = WindowActions(
            1, HallClient(url, token="demo-gateway-1", timeout=3, retries=1), self,
            snapshot=lambda: self.snapshot, business_codes=["alpha", "beta"],
            keypad_options={"call_completes_current": True, "pause_reasons": ["临时离开", "午休"]},
            pad_options={"prompt_after_complete": True, "thanks_text": "谢谢您的评价"}, rating_poll=0)
        self.actions.start()

    # the window's devices
    def keypad_message(self, text: str) -> None:
        self.keypad_messages.append(text)

    def pad_message(self, text: str) -> None:
        self.pad_messages.append(text)

    def offer_rating(self, prompt: dict) -> None:
        self.offers.append(prompt)

    def prompt_pad(self) -> None:
        self.local_prompts += 1

    def offered(self) -> list:
        """The tickets offered for rating, in order (None: nothing to rate)."""
        return [(o["ticket"] or {}).get("ticket") for o in self.offers]

    def press(self, press) -> str:
        """Submit a press, wait until it is handled, return what the device was told."""
        before = self.actions.done
        self.actions.submit(press)
        assert self.actions.wait_done(before + 1), "the press was not handled in time"
        from device_drivers.rating_pad import RatingPress

        return (self.pad_messages if isinstance(press, RatingPress) else self.keypad_messages)[-1]

    def window(self, number: int = 1) -> dict:
        return self.staff.get(f"/windows/{number}/queue")["window"]

    def follow(self) -> None:
        """Give the actions the window snapshot, as MQTT would."""
        self.snapshot = self.window()

    def db(self):
        return self.app.extensions["hallq"].db.connection()


@pytest.fixture
def desk(http_hall):
    d = Desk(*http_hall)
    yield d
    d.actions.stop()
