"""Fixtures for the window devices: real serial lines (pty, socat pairs) and simulators.

(Imported by test_led_strip, test_keypad and test_rating_pad rather than kept in a
conftest.py, which this directory shares with the kiosk devices' tests. The
gateway's fixtures are in tests/device_gateway/conftest.py.)

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
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                # socat blocked in a write to a tty nobody reads any more (the device end
                # already closed) may not get to its SIGTERM handler: pull the plug.
                self.proc.kill()
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
