"""The device poller's rounds (no Kivy: tested directly): the ID card reader and the scanner, read only while the
screen shown asks for them (``View.listens``).

Each device's last error is its own: the reader's "unplugged" is told to the screen (``card_error``, which offers
typing the number instead) once when it starts, and a scanner failing at the same time neither hides it nor makes
it told again and again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from device_drivers.base import DeviceError
from device_drivers.scanner import QueueScanner

log = logging.getLogger("hallq.kiosk")


class DevicePoller:
    def __init__(self, devices, send: Callable[[str, str, Any], None]) -> None:
        self.devices = devices
        self.send = send
        self.reader_error: str | None = None
        self.scanner_error: str | None = None
        self.flow: str | None = None  # the flow of the last round

    def poll(self, listens: tuple[str, ...], flow: str, card_heard: Callable[[], None] = lambda: None) -> None:
        """One round for screen ``flow``: a card read is sent as ``card`` (``card_heard()`` first: one card, one
        event, until the next screen asks again), a scan as ``scan``, the reader's new error as ``card_error``."""
        reader, scanner = self.devices.reader, self.devices.scanner
        if flow != self.flow:
            # another flow opened: a card lying on the reader is news to it (lifted on the last result screen and
            # put back, the reader was not asked meanwhile); within a flow a card is reported once per placing, so a
            # refusal shown on the same screen never reads it again and again
            self.flow = flow
            if reader is not None:
                reader.forget()
        if "card" in listens and reader is not None:
            card = None
            try:
                card = reader.read_card()
                self.reader_error = None
            except DeviceError as e:
                if e.code != self.reader_error:
                    self.reader_error = e.code
                    log.warning("ID card reader: %s", e)
                    self.send(flow, "card_error", e.code)
            if card is not None:
                card_heard()
                self.send(flow, "card", card)
        if scanner is None:
            return
        try:
            text = scanner.read(0.2)
            self.scanner_error = None
        except DeviceError as e:
            if e.code != self.scanner_error:
                self.scanner_error = e.code
                log.warning("scanner: %s", e)
            return
        if text and "scan" in listens:
            self.send(flow, "scan", text)
        elif isinstance(scanner, QueueScanner) and "scan" not in listens:
            scanner.clear()
