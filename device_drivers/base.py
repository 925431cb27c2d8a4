"""What every device driver shares: explicit choice, clear errors, health over MQTT.

Each device kind (ticket printer, ID card reader, QR scanner, call keypad,
rating pad, LED window strip, voice) has a small interface, a real driver
and a simulator, and one contract test suite run against both. Which one
runs is chosen by configuration (``driver = "serial"`` / ``"simulator"``…)
through :func:`choose`; nothing ever falls back to a simulator silently: a
missing device is an error that is reported on screen and over MQTT
(:class:`HealthReporter`), not hidden.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from hallq import contract
from hallq.clock import iso, utc_now
from hallq.i18n import text

log = logging.getLogger("hallq.devices")

T = TypeVar("T")

# The window devices (LED strips, the keypads' and rating pads' LCDs) show Simplified Chinese only: their
# fonts are GB2312/GB18030. Their texts are devices.po messages (hallq/locale/<lang>/devices.po) read in
# this language; en/devices.po is written too, for a device language setting to come.
DEVICE_LANG = "zh-Hans"


def device_text(key: str, /, **fields: Any) -> str:
    """The message ``key`` (``devices.*``) as a window device shows it."""
    return text(key, DEVICE_LANG, **fields)


class DeviceError(Exception):
    """A device problem with a code for machines and a cause and fix for people.

    ``code``: short and stable (``paper_out``, ``unplugged``, ``timeout``,
    ``bad_checksum``) — it is what health reports carry.
    """

    def __init__(self, code: str, message: str, fix: str = "") -> None:
        super().__init__(f"{message}{' — ' + fix if fix else ''}")
        self.code = code
        self.message = message
        self.fix = fix


def choose(kind: str, name: str, drivers: dict[str, Callable[..., T]], **options: Any) -> T:
    """Build the driver ``name`` of a device ``kind`` from its options.

    >>> choose("printer", "simulator", {"serial": SerialPrinter, "simulator": PrinterSimulator})

    An unknown name is a configuration error that lists the known ones.
    """
    factory = drivers.get(name)
    if factory is None:
        raise DeviceError("bad_config", f"unknown {kind} driver {name!r}",
                          f"use one of: {', '.join(sorted(drivers))}")
    return factory(**options)


class HealthReporter:
    """Publishes the health of this process's devices (retained), and again after every reconnect.

    ``connection`` is a :class:`hallq.mqtt.Connection`; devices call
    :meth:`report` whenever their state changes.
    """

    def __init__(self, connection, site: str) -> None:
        self.connection = connection
        self.site = site
        self._last: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        connection.on_connect(self._republish)

    def report(self, device: str, kind: str, ok: bool, problems: list[str] | None = None,
               detail: dict[str, Any] | None = None) -> None:
        payload = {"device": device, "kind": kind, "ok": ok, "problems": list(problems or []),
                   "detail": detail or {}, "at": iso(utc_now())}
        with self._lock:
            previous = self._last.get(device)
            self._last[device] = payload
        if previous is None or {k: v for k, v in previous.items() if k != "at"} != \
                {k: v for k, v in payload.items() if k != "at"}:
            level = logging.INFO if ok else logging.WARNING
            log.log(level, "device %s (%s): %s", device, kind, "ok" if ok else ", ".join(problems or ["problem"]))
        self._send(payload)

    def _send(self, payload: dict[str, Any]) -> None:
        # under the publisher's own id: the broker's ACL lets each process write only its own devices' health
        topic = contract.DEVICE_HEALTH.topic(self.site, owner=self.connection.ident, device=payload["device"])
        self.connection.publish(topic, contract.encode(contract.DEVICE_HEALTH, payload),
                                qos=contract.DEVICE_HEALTH.qos, retain=True)

    def _republish(self) -> None:
        with self._lock:
            payloads = list(self._last.values())
        for p in payloads:
            self._send(p)
