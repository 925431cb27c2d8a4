"""Open one window device by configuration: ``driver = "serial"`` or ``"simulator"``.

The gateway builds its devices itself (several share one bus); this is for
anything that drives a single device: tools, tests, a window PC with its
strip on a local port::

    strip = open_led_strip("serial", port="/dev/ttyUSB0", address=3)
    strip.show(StripScreen("请A001到3号窗口", flashes=3))

    strip = open_led_strip("simulator", address=3)   # a simulated strip on a pty
    strip.simulator.text                              # what it shows

A serial device's port is opened here (DeviceError ``unplugged`` if it is
not there); a simulator comes with its own :class:`~device_drivers.simulators.SimBus`
(``.sim_bus``) and device (``.simulator``). Close it with :func:`close_device`.
"""

from __future__ import annotations

from typing import Any

from device_drivers import keypad as K
from device_drivers import led_strip as L
from device_drivers import rating_pad as R
from device_drivers.base import choose
from device_drivers.hallq_bus import HallqLine
from device_drivers.serial_port import SerialLink
from device_drivers.simulators import KeypadSimulator, RatingPadSimulator, SimBus, StripSimulator

PROTOCOLS = {"led_strip": L.PROTOCOLS, "keypad": K.PROTOCOLS, "rating_pad": R.PROTOCOLS}
SIMULATORS = {"led_strip": StripSimulator, "keypad": KeypadSimulator, "rating_pad": RatingPadSimulator}


def _serial(kind: str, port: str, address: int = 1, baudrate: int = 9600, protocol: str = "hallq",
            encoding: str = "gb18030", reply_timeout: float = 0.15, retries: int = 2) -> Any:
    link = SerialLink(port, baudrate)
    link.open()
    line = HallqLine(link, reply_timeout=reply_timeout, retries=retries)
    return choose(f"{kind} protocol", protocol, PROTOCOLS[kind], line=line, address=address, encoding=encoding)


def _simulated(kind: str, address: int = 1, encoding: str = "gb18030", link: str | None = None,
               reply_timeout: float = 0.15, retries: int = 2) -> Any:
    bus = SimBus(link, name=f"sim-{kind}")
    simulator = bus.attach(SIMULATORS[kind](address, f"{kind}@{address}"))
    serial_link = SerialLink(bus.path)
    serial_link.open()
    device = PROTOCOLS[kind]["hallq"](line=HallqLine(serial_link, reply_timeout=reply_timeout, retries=retries),
                                      address=address, encoding=encoding)
    device.simulator = simulator
    device.sim_bus = bus
    return device


def open_device(kind: str, driver: str, **options: Any) -> Any:
    """A :class:`~device_drivers.led_strip.LedStrip`, :class:`~device_drivers.keypad.CallKeypad` or
    :class:`~device_drivers.rating_pad.RatingPad` by ``driver`` name (an unknown name is a DeviceError)."""
    return choose(kind, driver, {"serial": lambda **o: _serial(kind, **o),
                                 "simulator": lambda **o: _simulated(kind, **o)}, **options)


def open_led_strip(driver: str, **options: Any) -> L.LedStrip:
    return open_device("led_strip", driver, **options)


def open_keypad(driver: str, **options: Any) -> K.CallKeypad:
    return open_device("keypad", driver, **options)


def open_rating_pad(driver: str, **options: Any) -> R.RatingPad:
    return open_device("rating_pad", driver, **options)


def close_device(device: Any) -> None:
    """Close the device's port (and its simulated bus, if it has one)."""
    device.line.link.close()
    if getattr(device, "sim_bus", None) is not None:
        device.sim_bus.close()
