"""What the gateway does with each device: keep it showing the right thing, read its keys, watch its health.

A runner owns one device driver. Its bus's thread calls :meth:`DeviceRunner.run_step`
over and over; MQTT callbacks only change what the runner *wants*
(the strip's screen, the keypad's lines), and the bus thread brings the
device there. So a slow or dead device never blocks MQTT, and a device
that comes back (port re-opened, power restored: a new ``boot`` id) is
brought up to date at once.

Health: a device is healthy after any successful exchange; it is reported
``unplugged`` at once when its port fails, and ``no_answer`` (or
``wrong_device``, ``refused``) when it has not answered for
``offline_after`` seconds. Reports go through
:class:`device_drivers.base.HealthReporter` (retained on
``hallq/<site>/devices/<gateway id>/<id>/health``), only when the state changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from device_drivers.base import DeviceError, device_text
from device_drivers.led_strip import StripScreen, render_call, render_window
from device_gateway.config import DeviceConfig, strip_templates
from device_gateway.presses import PressJournal, PressKey

log = logging.getLogger("hallq.devices.gateway")

FLASH_SECONDS = 0.6  # one blink of a strip (the hallq strips blink at about 1.7 Hz)
Report = Callable[[str, str, bool, list[str], dict[str, Any]], None]


class DeviceRunner:
    """Health and probing for one device; subclasses add what the device does."""

    def __init__(self, cfg: DeviceConfig, device, report: Report, timing) -> None:
        self.cfg = cfg
        self.device = device
        self._report = report
        self.timing = timing  # poll/probe/offline/reopen intervals (a GatewayConfig)
        self.lock = threading.Lock()
        self.ok: bool | None = None
        self.problems: list[str] = []
        self.last_ok = time.monotonic()
        self.next_probe = 0.0
        self.retry_at = 0.0
        self.boot: int | None = None
        self.model = ""
        self.detail: dict[str, Any] = {"window": cfg.window, "driver": cfg.driver, "address": cfg.address,
                                       "bus": cfg.bus}

    # -- the bus thread's entry points ----------------------------------------------------

    def run_step(self, now: float) -> None:
        """Probe when due, then do this device's work; DeviceError ``unplugged`` goes up to the bus."""
        if now < self.retry_at:
            return
        try:
            if now >= self.next_probe:
                info = self.device.identify()
                self.model = info.model
                self.seen_boot(info.boot)
                self.next_probe = now + self.timing.probe_interval
            self.step(now)
            self.seen_boot(getattr(self.device, "boot", None))
        except DeviceError as e:
            if e.code == "unplugged":
                raise
            # a mute device is tried again later, not on every pass: it would slow the whole bus
            self.retry_at = now + self.timing.reopen_interval
            self.next_probe = 0.0
            if e.code != "no_answer" or now - self.last_ok >= self.timing.offline_after:
                self.set_health(False, [e.code], str(e))
            return
        self.last_ok = now
        self.set_health(True, [])

    def port_down(self, error: DeviceError) -> None:
        """The bus's port failed or disappeared: report at once, and resync when it is back."""
        self.boot = None
        self.resync()
        self.set_health(False, ["unplugged"], str(error))

    def port_up(self) -> None:
        self.next_probe = 0.0
        self.retry_at = 0.0

    def seen_boot(self, boot: int | None) -> None:
        if boot is None:
            return
        if self.boot is not None and boot != self.boot:
            log.info("%s restarted (boot id %d -> %d); sending it its state again", self.cfg.id, self.boot, boot)
        if boot != self.boot:
            self.resync()
        self.boot = boot

    def set_health(self, ok: bool, problems: list[str], reason: str = "") -> None:
        if ok == self.ok and problems == self.problems:
            return
        self.ok, self.problems = ok, problems
        detail = {**self.detail, "model": self.model}
        if reason:
            detail["reason"] = reason[:300]
        self._report(self.cfg.id, self.cfg.kind, ok, problems, detail)

    # -- subclasses -----------------------------------------------------------------------

    def step(self, now: float) -> None:
        """One pass of this device's work (may raise DeviceError)."""

    def resync(self) -> None:
        """Forget what the device was shown: it lost it (power cut) or may have (port re-opened)."""

    def on_window(self, window: dict[str, Any], waiting: int | None) -> None:
        """A new snapshot of this device's window (and the number waiting for it)."""


class StripRunner(DeviceRunner):
    """Keeps an LED strip showing its window's state; flashes each new call."""

    def __init__(self, cfg: DeviceConfig, device, report: Report, timing) -> None:
        super().__init__(cfg, device, report, timing)
        o = cfg.options
        self.templates = strip_templates(o)
        self.columns = o["columns"]
        self.flashes = o["flashes"]
        self.speed = o["speed"]
        self.wanted: StripScreen | None = None
        self.flash: StripScreen | None = None
        self.shown: StripScreen | None = None
        self.brightness = o["brightness"]
        self.brightness_shown: int | None = None
        self.hold_until = 0.0

    def on_window(self, window: dict[str, Any], waiting: int | None) -> None:
        screen = render_window(window, self.templates, self.columns)
        dim = self.cfg.options.get("closed_brightness")
        with self.lock:
            self.wanted = StripScreen(screen.text, screen.scroll, 0, screen.colour, self.speed)
            self.brightness = dim if dim is not None and window.get("state") == "closed" else self.cfg.options["brightness"]

    def on_call(self, call: dict[str, Any]) -> None:
        screen = render_call(call, self.templates, self.columns, self.flashes)
        with self.lock:
            self.flash = StripScreen(screen.text, screen.scroll, screen.flashes, screen.colour, self.speed)

    def resync(self) -> None:
        with self.lock:
            self.shown = None
            self.brightness_shown = None

    def step(self, now: float) -> None:
        with self.lock:
            flash, self.flash = self.flash, None
            wanted, brightness = self.wanted, self.brightness
        if brightness != self.brightness_shown:
            self.device.set_brightness(brightness)
            self.brightness_shown = brightness
        if flash is not None and flash.flashes:
            self.shown = None
            self.device.show(flash)
            self.shown = flash.steady()
            self.detail["text"] = flash.text
            self.hold_until = now + FLASH_SECONDS * flash.flashes + 0.2
        if now < self.hold_until:
            # let the call blink; the snapshot is still the truth afterwards (the call's own snapshot
            # usually comes just after the event, or not at all when the publisher found it unchanged)
            return
        if wanted is not None and wanted != self.shown:
            self.shown = None
            self.device.show(wanted)
            self.shown = wanted
            self.detail["text"] = wanted.text


class PolledRunner(DeviceRunner):
    """Keypads and pads: polled for presses; a two-line display kept up to date."""

    def __init__(self, cfg: DeviceConfig, device, report: Report, timing,
                 submit: Callable[[Any, PressKey | None], int | None], journal: PressJournal | None = None) -> None:
        super().__init__(cfg, device, report, timing)
        self.submit = submit  # WindowActions.submit: returns the press's number in the window's queue
        self.journal = journal  # the presses' Idempotency-Keys, kept across restarts
        self.taken: int | None = None  # the queue number of the last press read (None: none, or dropped)
        self.has_display = cfg.options.get("display", True)
        self.lines_shown: dict[int, str | None] = {1: None, 2: None}
        self.message = ""
        self.message_until = 0.0
        self.status = ["", ""]

    def show_message(self, text: str, seconds: float | None = None) -> None:
        """A message on line 2 (line 1 of a pad) for a few seconds: a result or an error."""
        with self.lock:
            self.message = text
            self.message_until = time.monotonic() + (seconds or self.timing.message_seconds)

    def wanted_lines(self, now: float) -> dict[int, str]:
        with self.lock:
            message = self.message if now < self.message_until else ""
            return {1: self.status[0], 2: message or self.status[1]}

    def acknowledge(self, handled: Callable[[int], bool]) -> bool:
        """The gateway stops (its bus loop has ended): acknowledge the last press read if it was handled.

        One last POLL carries the acknowledgement (:meth:`PolledDevice.acknowledge`); a press its reply
        brings is left on the device, unacknowledged, for the next start. A press read but not handled
        (the actions' time ran out) is not acknowledged either: the next start reads it again, with the
        same key. Returns False when the acknowledgement was held back or could not be sent.
        """
        if self.taken is not None and not handled(self.taken):
            log.warning("%s: the last press was not handled before the gateway stopped; left on the device",
                        self.cfg.id)
            return False
        try:
            self.device.acknowledge()
        except DeviceError as e:
            log.warning("%s: could not acknowledge the last press before stopping (%s): the next start reads it "
                        "again", self.cfg.id, e)
            return False
        return True

    def resync(self) -> None:
        self.lines_shown = {1: None, 2: None}

    def step(self, now: float) -> None:
        press = self.device.poll()
        if press is not None:
            log.info("%s (window %d): %s", self.cfg.id, self.cfg.window, press)
            key = None
            if self.journal is not None:  # written down before it is acted on: a replay gets the same key
                key = self.journal.key(self.cfg.id, self.cfg.bus, self.cfg.address, getattr(press, "boot", 0),
                                       getattr(press, "number", 0))
            self.taken = self.submit(press, key)
        if self.has_display:
            for line, text in self.wanted_lines(now).items():
                if text != self.lines_shown[line]:
                    self.lines_shown[line] = None
                    self.device.display(line, text)
                    self.lines_shown[line] = text


class KeypadRunner(PolledRunner):
    """Reads a call keypad; its LCD shows the window's state, the queue and the last result."""

    def on_window(self, window: dict[str, Any], waiting: int | None) -> None:
        state, current, staff = window.get("state"), window.get("current"), window.get("staff")
        if current:
            first = device_text("devices.keypad.screen.serving" if current.get("state") == "serving"
                                else "devices.keypad.screen.called", ticket=current.get("ticket", ""))
        elif state == "paused":
            first = device_text("devices.keypad.screen.paused")
        elif state == "open" and staff:
            first = device_text("devices.keypad.screen.idle", job_no=staff.get("job_no", ""))
        else:
            first = device_text("devices.keypad.screen.signed_out")
        second = device_text("devices.keypad.screen.waiting", count=waiting) if waiting is not None else ""
        if window.get("held"):
            second += " " + device_text("devices.keypad.screen.held", count=window["held"])
        with self.lock:
            self.status = [first, second.strip()]


class PadRunner(PolledRunner):
    """Reads a rating pad; prompts the resident when asked; thanks or explains on its display."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.prompt_wanted = False
        self.offered: tuple[str, str | None] | None = None  # (ticket, prompted_at) last prompted for

    def request_prompt(self) -> None:
        with self.lock:
            self.prompt_wanted = True

    def offer(self, prompt: dict[str, Any]) -> None:
        """The server says what may be rated now (GET /windows/{n}/rating-prompt): prompt once per offer."""
        ticket = (prompt.get("ticket") or {}).get("ticket") if isinstance(prompt.get("ticket"), dict) else None
        if not ticket:
            self.offered = None
            return
        key = (ticket, prompt.get("prompted_at"))
        if key == self.offered:
            return
        if prompt.get("prompted") or self.cfg.options.get("prompt_after_complete", True):
            self.offered = key  # the clerk asked, or a service just ended and prompting then is configured
            self.request_prompt()

    def wanted_lines(self, now: float) -> dict[int, str]:
        with self.lock:
            return {1: self.message if now < self.message_until else "", 2: ""}

    def step(self, now: float) -> None:
        with self.lock:
            prompt, self.prompt_wanted = self.prompt_wanted, False
        if prompt:
            o = self.cfg.options
            self.device.prompt(o["prompt_seconds"], o["prompt_text"])
        super().step(now)
