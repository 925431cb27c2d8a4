"""The kiosk's devices by configuration: ``driver = "serial"``, ``"simulator"``… → the class that runs.

This is the one module that knows both sides of a device kind: the real
drivers (:mod:`device_drivers.printer`, :mod:`~device_drivers.id_reader`,
:mod:`~device_drivers.scanner`) and their simulators
(:mod:`~device_drivers.sim_printer`, :mod:`~device_drivers.sim_id_reader`,
:mod:`~device_drivers.sim_scanner`). A driver module never imports its
simulator, and a simulator imports only its device's interface and
protocol, so no import runs both ways. The window devices (LED strips,
keypads, rating pads) have their own factory,
:mod:`device_drivers.window_devices`; voice outputs are chosen in
:mod:`device_drivers.voice`.

A simulator is chosen by configuration only, never as a silent stand-in for
a missing device; an unknown driver name is a :class:`DeviceError` that
lists the known ones (:func:`device_drivers.base.choose`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from device_drivers.base import DeviceError, choose
from device_drivers.id_reader import IdCardReader, SerialIdReader
from device_drivers.printer import EscPosPrinter, PrinterProfile, TicketPrinter
from device_drivers.printer_transports import NetworkTransport, SerialTransport, UsbLpTransport
from device_drivers.scanner import KeyboardScanner, Scanner, SerialScanner
from device_drivers.sim_id_reader import IdReaderSimulator
from device_drivers.sim_printer import PrinterSimulator
from device_drivers.sim_scanner import ScannerSimulator


def _escpos(transport_factory):
    def build(encoding: str = "gb18030", paper_mm: int = 80, qr_module: int = 6, number_scale: int = 3,
              cut: str = "partial", status_timeout_ms: int = 300, ident: str = "printer", **transport) -> EscPosPrinter:
        profile = PrinterProfile(encoding=encoding, paper_mm=paper_mm, qr_module=qr_module,
                                 number_scale=number_scale, cut=cut)
        return EscPosPrinter(transport_factory(**transport), profile, name=ident,
                             status_timeout=status_timeout_ms / 1000)
    return build


def _scanner_simulator(ident: str = "scanner-sim", **_ignored) -> Scanner:
    return ScannerSimulator(ident)


PRINTERS: dict[str, Callable[..., TicketPrinter]] = {
    "serial": _escpos(lambda port, baudrate=9600: SerialTransport(port, baudrate)),
    "network": _escpos(lambda host, port=9100: NetworkTransport(host, port)),
    "usb": _escpos(lambda path="/dev/usb/lp0": UsbLpTransport(path)),
    "simulator": PrinterSimulator.from_options,
}
READERS: dict[str, Callable[..., IdCardReader]] = {
    "serial": lambda port, baudrate=115200, ident="id-reader": SerialIdReader(port, baudrate, ident),
    "simulator": IdReaderSimulator.from_options,
}
SCANNERS: dict[str, Callable[..., Scanner]] = {
    "serial": lambda port, baudrate=9600, ident="scanner": SerialScanner(port, baudrate, ident),
    "keyboard": lambda ident="scanner", max_gap_ms=50, min_length=4: KeyboardScanner(ident, max_gap_ms / 1000,
                                                                                      min_length),
    "simulator": _scanner_simulator,
}


def _build(kind: str, label: str, drivers: dict[str, Callable[..., Any]], driver: str, options: dict[str, Any],
           fix: str) -> Any:
    try:
        return choose(kind, driver, drivers, **options)
    except TypeError as e:  # an option the driver does not take, or a required one missing
        raise DeviceError("bad_config", f"{label} driver {driver!r}: {e}", fix) from None


def build_printer(driver: str, **options: Any) -> TicketPrinter:
    """The printer named by configuration, e.g. ``build_printer("serial", port="/dev/ttyUSB0")``."""
    return _build("printer", "printer", PRINTERS, driver, options,
                  "see docs/printer-and-id-reader.md for the options of each driver")


def build_reader(driver: str, **options: Any) -> IdCardReader:
    """The reader named by configuration, e.g. ``build_reader("serial", port="/dev/ttyUSB1")``."""
    return _build("id_reader", "ID reader", READERS, driver, options,
                  "see docs/printer-and-id-reader.md for the options")


def build_scanner(driver: str, **options: Any) -> Scanner:
    """The scanner named by configuration, e.g. ``build_scanner("serial", port="/dev/ttyACM0")``."""
    return _build("scanner", "scanner", SCANNERS, driver, options,
                  "see docs/printer-and-id-reader.md for the options")
