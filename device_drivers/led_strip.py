"""The LED strip above a window (窗口屏): what it shows, and the driver that makes it show it.

:func:`render_window` turns a window's retained MQTT snapshot into a
:class:`StripScreen` (pure, so it is tested without hardware):

* a called ticket: ``请A001到3号窗口`` (flashing when the call arrives);
* a ticket being served: ``A001 正在办理``;
* a paused window: ``暂停服务``; a closed one: ``暂停服务`` (dimmed if configured);
* an open window waiting for its next call: ``工号1001 为您服务``.

Every text is a template in devices.toml. :class:`LedStrip` is the
interface the gateway drives; :class:`HallqLedStrip` speaks the hallq
serial protocol. A hall whose strips speak a vendor protocol adds a class
implementing :class:`LedStrip` and registers it in :data:`PROTOCOLS`.
"""

from __future__ import annotations

import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any

from device_drivers import frames as F
from device_drivers.base import DeviceError, device_text
from device_drivers.hallq_bus import DeviceInfo, HallqLine

COLOURS = {"red": 1, "green": 2, "amber": 3}
SCROLL, FLASH = 0x01, 0x02


@dataclass(frozen=True)
class StripScreen:
    """One thing a strip shows. ``flashes``: blink that many times, then stay; ``speed``: scroll speed 1-8."""

    text: str
    scroll: bool = False
    flashes: int = 0
    colour: str = "red"
    speed: int = 4

    def steady(self) -> "StripScreen":
        """The same screen once its flashing is over."""
        return replace(self, flashes=0)


@dataclass(frozen=True)
class StripTemplates:
    """The texts of a strip; fields: {ticket} {window} {job_no} {reason} {business}."""

    # the defaults are devices.po's (devices.strip.<field>); devices.toml may set each
    called: str = field(default_factory=lambda: device_text("devices.strip.called"))
    serving: str = field(default_factory=lambda: device_text("devices.strip.serving"))
    idle: str = field(default_factory=lambda: device_text("devices.strip.idle"))
    paused: str = field(default_factory=lambda: device_text("devices.strip.paused"))
    closed: str = field(default_factory=lambda: device_text("devices.strip.closed"))
    colours: dict[str, str] = field(default_factory=lambda: {
        "called": "red", "serving": "green", "idle": "green", "paused": "amber", "closed": "amber"})

    FIELDS = ("called", "serving", "idle", "paused", "closed")

    def problems(self) -> list[tuple[str, str]]:
        """(key, what is wrong) for every template that would not render."""
        out = []
        sample = {"ticket": "A001", "window": 3, "job_no": "1001", "reason": "午休", "business": "commerce"}
        for name in self.FIELDS:
            try:
                getattr(self, name).format(**sample)
            except (KeyError, IndexError, ValueError) as e:
                out.append((name, f"template {getattr(self, name)!r} does not render ({e.__class__.__name__}: {e}); "
                                  f"use only {{ticket}} {{window}} {{job_no}} {{reason}} {{business}}"))
        for state, colour in self.colours.items():
            if colour not in COLOURS:
                out.append((f"colours.{state}", f"unknown colour {colour!r}; use one of {', '.join(COLOURS)}"))
        return out


def display_width(text: str) -> float:
    """Width in full-width characters: a Chinese character is 1, an ASCII letter or digit 1/2."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 0.5 for ch in text)


def fit(text: str, columns: int, colour: str, flashes: int = 0) -> StripScreen:
    """A screen for ``text`` that scrolls when it is wider than the strip's ``columns``."""
    return StripScreen(text=text, scroll=display_width(text) > columns, flashes=flashes, colour=colour)


def render_window(window: dict[str, Any], templates: StripTemplates, columns: int) -> StripScreen:
    """What the strip of a window shows for its snapshot (hallq.contract.WINDOW payload)."""
    number = window.get("number")
    staff = window.get("staff") or {}
    current = window.get("current")
    values = {"window": number, "job_no": staff.get("job_no", ""), "reason": window.get("pause_reason") or "",
              "ticket": "", "business": ""}
    state = window.get("state")
    if current and state != "closed":
        values.update(ticket=current.get("ticket", ""), business=current.get("business", ""))
        which = "serving" if current.get("state") == "serving" else "called"
    elif state == "paused":
        which = "paused"
    elif state == "open" and staff:
        which = "idle"
    else:
        which = "closed"
    text = getattr(templates, which).format(**values)
    return fit(text, columns, templates.colours.get(which, "red"))


def render_call(call: dict[str, Any], templates: StripTemplates, columns: int, flashes: int) -> StripScreen:
    """The flashing screen for a call event (hallq.contract.CALLS payload)."""
    text = templates.called.format(ticket=call.get("ticket", ""), window=call.get("window", ""), job_no="",
                                   reason="", business=call.get("business", ""))
    return fit(text, columns, templates.colours.get("called", "red"), flashes)


class LedStrip(ABC):
    """A window's LED strip, as the gateway drives it (all calls may raise DeviceError)."""

    kind = "led_strip"

    @abstractmethod
    def identify(self) -> DeviceInfo:
        """Ask the strip who it is (a health probe; ``boot`` changes after a power cut)."""

    @abstractmethod
    def show(self, screen: StripScreen) -> None:
        """Show ``screen`` until told otherwise."""

    @abstractmethod
    def set_brightness(self, level: int) -> None:
        """0 (off) to 15 (brightest)."""

    @abstractmethod
    def clear(self) -> None:
        """Blank the strip."""

    def close(self) -> None:
        """Release what this driver holds (the serial line belongs to its bus)."""


class HallqLedStrip(LedStrip):
    """An LED strip speaking the hallq protocol at ``address`` on a serial line."""

    def __init__(self, line: HallqLine, address: int, encoding: str = "gb18030") -> None:
        if encoding not in F.ENCODINGS:
            raise DeviceError("bad_config", f"unknown strip encoding {encoding!r}", f"use one of {F.ENCODINGS}")
        self.line = line
        self.address = address
        self.encoding = encoding

    def identify(self) -> DeviceInfo:
        info = self.line.hello(self.address)
        if info.type != "led_strip":
            raise DeviceError("wrong_device", f"address {self.address} is a {info.type}, not an LED strip",
                              "two devices share an address on this bus, or devices.toml has the wrong address")
        return info

    def show(self, screen: StripScreen) -> None:
        flags = (SCROLL if screen.scroll else 0) | (FLASH if screen.flashes else 0)
        head = bytes((flags, COLOURS.get(screen.colour, 1), min(max(screen.speed, 1), 8), min(screen.flashes, 9)))
        self.line.transact(self.address, F.SHOW, head + F.encode_text(screen.text, self.encoding, F.MAX_DATA - 4))

    def set_brightness(self, level: int) -> None:
        self.line.transact(self.address, F.BRIGHTNESS, bytes((min(max(int(level), 0), 15),)))

    def clear(self) -> None:
        self.line.transact(self.address, F.CLEAR)


# the strip protocols a serial bus can speak; a vendor's goes here, next to ours
PROTOCOLS: dict[str, type[LedStrip]] = {"hallq": HallqLedStrip}
