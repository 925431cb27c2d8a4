"""The device gateway (``hallq devices``): every LED strip, call keypad and rating pad of its configuration.

* **Out** (MQTT → strips): through the hall's one subscriber,
  :class:`hallq.feed.HallFeed`, it hears the retained window snapshots
  ``hallq/<site>/windows/<n>``, the queue snapshots (the waiting count on
  the keypads) and the ``calls`` events (a new call flashes on the strip;
  a QoS 1 repeat, recognised by :class:`hallq.feed.SeqTracker`, does not).
  Bad payloads are logged (rate-limited) and ignored by the feed.
* **In** (keypads, pads → HTTP): presses become window actions and ratings
  on the server's API, with the gateway's device key
  (:mod:`device_gateway.actions`).
* **Stopping** (``hallq stop``, a restart): the buses stop reading, the
  presses already read are let finish (at most :data:`STOP_GRACE` s), then
  each keypad and pad gets one last POLL acknowledging the press that was
  handled, so the next start does not act on it again. A gateway that dies
  instead leaves that press on the keypad; the press's Idempotency-Key,
  written down before it was acted on (:mod:`device_gateway.presses`), makes
  the server answer the replay instead of acting twice.
* **Buses**: one thread per serial line drives the devices on it
  (:class:`BusWorker`); a port that fails or disappears is closed, every
  device on it is reported ``unplugged`` over MQTT, and it is re-opened
  every ``reopen_interval`` until it is back.

Drivers are chosen per device by configuration (``driver = "serial"`` or
``"simulator"``) through :func:`device_drivers.base.choose` and the window
devices' factory (:mod:`device_drivers.window_devices`); a simulator
is a simulated device on a pseudo-terminal, driven through the same serial
protocol code, never a silent stand-in for a missing device.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from device_drivers.base import DeviceError, HealthReporter, choose
from device_drivers.hallq_bus import HallqLine
from device_drivers.serial_port import SerialLink
from device_drivers.simulators import SimBus
from device_drivers.window_devices import PROTOCOLS, SIMULATORS
from device_gateway.actions import WindowActions
from device_gateway.config import DeviceConfig, GatewayConfig
from device_gateway.presses import PressJournal
from device_gateway.runners import DeviceRunner, KeypadRunner, PadRunner, PolledRunner, StripRunner
from device_gateway.sim_control import SimControl
from hallq import contract
from hallq.client import HallClient
from hallq.feed import DUPLICATE, HallFeed, SeqTracker

log = logging.getLogger("hallq.devices.gateway")

LINES = {"hallq": HallqLine}
TOPICS = (contract.WINDOW, contract.QUEUE, contract.CALLS)  # what the strips and keypads show
STOP_GRACE = 5.0  # how long a stopping gateway lets the presses already read be acted on


class BusWorker(threading.Thread):
    """Drives the devices of one serial line: open, step each runner, notice unplugging, re-open."""

    def __init__(self, name: str, link: SerialLink, timing: GatewayConfig) -> None:
        super().__init__(name=f"bus-{name}", daemon=True)
        self.link = link
        self.timing = timing
        self.runners: list[DeviceRunner] = []
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._next_open = 0.0

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.join(5)

    def _down(self, error: DeviceError) -> None:
        self.link.close()
        self._next_open = time.monotonic() + self.timing.reopen_interval
        for r in self.runners:
            r.port_down(error)

    def _open(self) -> bool:
        try:
            self.link.open()
        except DeviceError as e:
            self._down(e)
            return False
        for r in self.runners:
            r.port_up()
        return True

    def run(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            now = time.monotonic()
            try:
                if not self.link.is_open:
                    if now < self._next_open or not self._open():
                        self.wake.wait(max(0.05, min(self._next_open - now, self.timing.reopen_interval)))
                        continue
                if self.link.gone():
                    self._down(DeviceError("unplugged", f"serial port {self.link.url} disappeared",
                                           "plug the adapter back in; the gateway re-opens it by itself"))
                    continue
                for r in self.runners:
                    r.run_step(now)
            except DeviceError as e:  # the port failed under a runner: the whole line is down
                self._down(e)
                continue
            except Exception:  # a bug must not stop the bus; it is logged and the loop goes on
                log.exception("bus %s: unexpected error", self.link.name)
                self.stopping.wait(1)
            self.wake.wait(self.timing.poll_interval)


class Gateway:
    """Builds every configured device, connects to MQTT, runs the buses and the window action queues."""

    def __init__(self, cfg: GatewayConfig, connection=None, client: HallClient | None = None,
                 control_path: Path | None = None, data_dir: Path | None = None) -> None:
        from hallq.mqtt import connect_from_settings

        self.cfg = cfg
        self.site = cfg.hall.site
        self.connection = connection or connect_from_settings(cfg.hall.mqtt, self.site, "gateway", cfg.id, data_dir)
        self.health = HealthReporter(self.connection, self.site)
        self.client = client or HallClient(cfg.server, token=cfg.key or None, timeout=3, retries=2)
        self.sim_buses: dict[str, SimBus] = {}
        self.simulators: dict[str, Any] = {}  # device id -> the simulated device (driver = "simulator")
        self.workers: dict[str, BusWorker] = {}
        self.lines: dict[str, Any] = {}
        self.runners: dict[str, DeviceRunner] = {}
        self.actions: dict[int, WindowActions] = {}
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.waiting: dict[str, int] = {}
        self.feed = HallFeed(self.connection, self.site, TOPICS, deliver=self._deliver)
        self.calls = SeqTracker()  # a QoS 1 repeat of a call flashes the strip once
        self.journal = PressJournal(cfg.id, data_dir)  # each press's Idempotency-Key, across restarts
        self._lock = threading.Lock()
        for dev in cfg.devices:
            self._add(dev)
        self.control = None
        if control_path is not None and self.simulators:
            self.control = SimControl(control_path, self.simulators,
                                      {d.id: d.window for d in cfg.devices if d.id in self.simulators})

    # -- building ---------------------------------------------------------------------

    def _line(self, bus_id: str, url: str, baudrate: int = 9600, parity: str = "none", protocol: str = "hallq"):
        """The protocol line of a bus (one per bus, shared by its devices) and the bus's worker."""
        if bus_id not in self.lines:
            link = SerialLink(url, baudrate, parity, name=bus_id)
            self.lines[bus_id] = choose("bus protocol", protocol, LINES, link=link,
                                        reply_timeout=self.cfg.reply_timeout, retries=self.cfg.retries)
            self.workers[bus_id] = BusWorker(bus_id, link, self.cfg)
        return self.lines[bus_id]

    def _serial(self, dev: DeviceConfig):
        bus = self.cfg.buses[dev.bus]
        line = self._line(bus.id, bus.port, bus.baudrate, bus.parity, bus.protocol)
        return choose(f"{dev.kind} protocol", bus.protocol, PROTOCOLS[dev.kind], line=line, address=dev.address,
                      encoding=dev.options["encoding"])

    def _simulated(self, dev: DeviceConfig):
        sim_bus = self.sim_buses.get(dev.bus)
        if sim_bus is None:
            sim_bus = self.sim_buses[dev.bus] = SimBus(name=dev.bus)
        self.simulators[dev.id] = sim_bus.attach(SIMULATORS[dev.kind](dev.address, dev.id))
        line = self._line(dev.bus, sim_bus.path)
        return PROTOCOLS[dev.kind]["hallq"](line=line, address=dev.address, encoding=dev.options["encoding"])

    def _add(self, dev: DeviceConfig) -> None:
        device = choose(dev.kind, dev.driver, {"serial": self._serial, "simulator": self._simulated}, dev=dev)
        report = self.health.report
        if dev.kind == "led_strip":
            runner: DeviceRunner = StripRunner(dev, device, report, self.cfg)
        else:
            actions = self._actions(dev.window)
            cls = KeypadRunner if dev.kind == "keypad" else PadRunner
            runner = cls(dev, device, report, self.cfg, actions.submit, journal=self.journal)
            if dev.kind == "keypad":
                actions.keypad_options = dev.options
            else:
                actions.pad_options = dev.options
        runner.detail["port"] = self.workers[dev.bus].link.url
        self.runners[dev.id] = runner
        self.workers[dev.bus].runners.append(runner)

    def _actions(self, window: int) -> WindowActions:
        if window not in self.actions:
            self.actions[window] = WindowActions(
                window, self.client, _WindowPanel(self, window), snapshot=lambda: self.snapshots.get(window),
                business_codes=list(self.cfg.hall.businesses), rating_poll=self.cfg.rating_poll)
        return self.actions[window]

    def of_window(self, window: int, kind: str | None = None) -> list[DeviceRunner]:
        return [r for r in self.runners.values() if r.cfg.window == window and (kind is None or r.cfg.kind == kind)]

    def _message(self, window: int, kind: str, text: str) -> None:
        for r in self.of_window(window, kind):
            r.show_message(text)
        self._wake(window)

    def _prompt(self, window: int, offer: dict[str, Any] | None = None) -> None:
        for r in self.of_window(window, "rating_pad"):
            if offer is None:
                r.request_prompt()
            else:
                r.offer(offer)
        self._wake(window)

    def _wake(self, window: int) -> None:
        for r in self.of_window(window):
            self.workers[r.cfg.bus].wake.set()

    # -- running ----------------------------------------------------------------------

    def start(self) -> None:
        self.feed.start()
        self.connection.start()
        for a in self.actions.values():
            a.start()
        for w in self.workers.values():
            w.start()
        if self.control is not None:
            try:
                self.control.start()
            except OSError as e:  # the demo's key presses are a convenience: the gateway runs without them
                log.warning("cannot offer `hallq devices press` on %s: %s", self.control.path, e)
                self.control = None
        log.info("gateway %s: %d devices on %d buses; server %s", self.cfg.id, len(self.runners),
                 len(self.workers), self.cfg.server)

    def stop(self) -> None:
        """Stop reading devices, let the presses already read finish, acknowledge them, then close everything."""
        if self.control is not None:
            self.control.stop()
        for w in self.workers.values():
            w.stop()  # no more POLLs: nothing new is read (nor acknowledged) from here on
        deadline = time.monotonic() + STOP_GRACE
        for a in self.actions.values():
            a.finish()
        for a in self.actions.values():
            if not a.stop(max(0.0, deadline - time.monotonic())):
                log.warning("window %d: presses still being acted on after %.0f s; not acknowledged", a.window,
                            STOP_GRACE)
        for r in self.runners.values():
            if isinstance(r, PolledRunner):  # the press it handled is not handed to the next start
                r.acknowledge(self.actions[r.cfg.window].handled)
        for w in self.workers.values():
            w.link.close()
        for b in self.sim_buses.values():
            b.close()
        self.connection.stop()
        self.client.close()

    # -- MQTT -------------------------------------------------------------------------

    def _deliver(self, topic: contract.Topic, params: dict[str, str], data: dict[str, Any]) -> None:
        """A decoded, valid message from the feed (in the MQTT network thread)."""
        if topic is contract.WINDOW:
            self._on_window(params, data)
        elif topic is contract.CALLS:
            self._on_call(data)
        elif topic is contract.QUEUE:
            self._on_queue(params, data)

    def _waiting_for(self, window: dict[str, Any]) -> int | None:
        serves = window.get("serves") or []
        known = [self.waiting[b] for b in serves if b in self.waiting]
        return sum(known) if known else None

    def _on_window(self, params: dict[str, str], data: dict[str, Any]) -> None:
        number = data["number"]
        if str(number) != params.get("number"):
            self.feed.bad(contract.WINDOW.topic(self.site, number=params.get("number")),
                          f"payload is for window {number}")
            return
        runners = self.of_window(number)
        if not runners:
            return
        self.snapshots[number] = data
        waiting = self._waiting_for(data)
        for r in runners:
            r.on_window(data, waiting)
        self._wake(number)

    def _on_queue(self, params: dict[str, str], data: dict[str, Any]) -> None:
        self.waiting[data["business"]] = data["waiting"]
        for number, snap in list(self.snapshots.items()):
            if data["business"] in (snap.get("serves") or []):
                for r in self.of_window(number, "keypad"):
                    r.on_window(snap, self._waiting_for(snap))
                self._wake(number)

    def _on_call(self, data: dict[str, Any]) -> None:
        with self._lock:
            verdict, _ = self.calls.classify(data)  # a new database may reuse a seq: that is a restart, shown
        if verdict == DUPLICATE:
            return  # QoS 1 may deliver a call twice: flash it once
        for r in self.of_window(data["window"], "led_strip"):
            r.on_call(data)
        self._wake(data["window"])


class _WindowPanel:
    """One window's devices as its :class:`WindowActions` sees them."""

    def __init__(self, gateway: Gateway, window: int) -> None:
        self.gateway = gateway
        self.window = window

    def keypad_message(self, text: str) -> None:
        self.gateway._message(self.window, "keypad", text)

    def pad_message(self, text: str) -> None:
        self.gateway._message(self.window, "rating_pad", text)

    def offer_rating(self, prompt: dict[str, Any]) -> None:
        self.gateway._prompt(self.window, prompt)

    def prompt_pad(self) -> None:
        self.gateway._prompt(self.window)
