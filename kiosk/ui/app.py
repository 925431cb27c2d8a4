"""The kiosk's Kivy application: screens, one worker thread for presenters, device polling, idle timeout.

Threads and why:

* the **main thread** draws (Kivy); it never waits on the network or a device;
* one **worker** runs every presenter event in order (a tap, a card, a scan,
  a retry) and the network calls they make, then hands the new View to the
  main thread (``kivy.clock.mainthread``). One worker means presenters need
  no locks and events are never reordered;
* a **device poller** reads the ID card reader and the scanner, but only
  while the screen shown asks for them (``View.listens``): no card is read
  on a screen that did not ask for one;
* a **health** thread checks the printer and reader every
  ``health_interval_seconds`` and reports over MQTT.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock, mainthread
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, DictProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView
from kivy.uix.screenmanager import NoTransition, ScreenManager

from device_drivers.scanner import KeyboardScanner
from kiosk.polling import DevicePoller
from kiosk.presenters.base import Flow, View
from kiosk.reading import sentences
from kiosk.session import KioskSession
from kiosk.texts import tr
from kiosk.ui.screens import FlowScreen, HomeScreen
from kiosk.ui.theme import colour_names, theme_for
from kiosk.ui.widgets import KButton, KLabel

log = logging.getLogger("hallq.kiosk")
KV = Path(__file__).parent / "kv"
KV_FILES = ["widgets.kv", "home.kv", "flow.kv", "steps/choose.kv", "steps/identity.kv", "steps/entry.kv",
            "steps/form.kv", "steps/info.kv", "steps/result.kv"]


def make_flows(session: KioskSession) -> dict[str, Flow]:
    """Every screen's presenter, by screen name."""
    from kiosk.presenters.after_service import Rate, Requeue
    from kiosk.presenters.application import SubmitApplication
    from kiosk.presenters.appointments import AppointmentMenu, BookAppointment
    from kiosk.presenters.checkin import CancelBooking, CheckIn
    from kiosk.presenters.guide import Guide
    from kiosk.presenters.help import Help
    from kiosk.presenters.home import Home
    from kiosk.presenters.progress import Progress
    from kiosk.presenters.take_number import TakeNumber

    classes = (Home, TakeNumber, Guide, AppointmentMenu, BookAppointment, CheckIn, CancelBooking, SubmitApplication,
               Progress, Requeue, Rate, Help)
    return {cls.name: cls(session) for cls in classes}


def theme_dict(elderly: bool, layout: str = "portrait") -> dict[str, Any]:
    t = theme_for(elderly)
    d: dict[str, Any] = {name: list(t.rgba(name)) for name in colour_names()}
    d.update({k: getattr(t, k) for k in ("small_sp", "body_sp", "action_sp", "title_sp", "number_sp", "target_dp",
                                         "gap_dp", "border_dp", "name")})
    d["header_scale"] = 1.2 if layout == "portrait" else 0.85   # landscape: every pixel of height counts
    return d


class KioskApp(App):
    th = DictProperty(theme_dict(False))
    read_text = StringProperty("")        # the words on 读给我听: 读给我听, or 停止朗读 while it reads
    reading = BooleanProperty(False)      # a screen is being read aloud

    def __init__(self, session: KioskSession, headless: bool = False, screenshot_dir: str | None = None,
                 background: bool = True, data_dir: Path | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session
        self.data_dir = data_dir  # where its MQTT secret is, beside the hall's (hallq/mqtt_auth.py)
        self.cfg = session.cfg
        self.layout = session.cfg.layout
        self.headless = headless
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir else None
        self.background = background          # tests drive flows themselves, without threads
        self.th = theme_dict(session.elderly, self.layout)
        self.flows = make_flows(session)
        self.current = "home"
        self.shown: tuple[str, str] = ("", "")
        self.renders = 0                      # views drawn, and when the last was (the autopilot waits on them)
        self.shown_at = 0.0
        self.sent = 0                         # events sent to the presenters (a tap that reached a button sends one)
        self.listening: tuple[str, ...] = ()
        self._events: queue.Queue = queue.Queue()
        self._halt = threading.Event()
        self._retry_event = None
        self._busy_event = None
        self._warning: ModalView | None = None
        self._busy: ModalView | None = None
        self._refreshed = 0.0
        self.mqtt = None
        self._last_step: tuple[str, str] | None = None
        self._view: View | None = None        # the view on screen: what 读给我听 reads
        self._last_error = ""
        self.started_at = time.perf_counter()
        self.first_frame_at: float | None = None

    # -- building ------------------------------------------------------------------------------

    def build(self):
        self.title = "hallq kiosk"
        for name in KV_FILES:
            Builder.load_file(str(KV / name))
        sm = ScreenManager(transition=NoTransition())
        # the task screens are built when first shown (:meth:`screen`): a station's kiosk that only gives numbers
        # never holds the others' widgets and label textures (~17 MB at 1080p: docs/kiosk.md, "The kiosk's memory")
        sm.add_widget(HomeScreen(name="home", flow_name="home"))
        self.sm = sm
        return sm

    def screen(self, name: str):
        """The screen of flow ``name``, built the first time it is asked for."""
        if not self.sm.has_screen(name):
            self.sm.add_widget(FlowScreen(name=name, flow_name=name))
        return self.sm.get_screen(name)

    def on_start(self) -> None:
        Window.clearcolor = self.th["bg"]
        Window.bind(on_touch_down=self._touched, on_textinput=self._typed, on_key_down=self._key)
        if self.background:
            threading.Thread(target=self._work, name="kiosk-worker", daemon=True).start()
            threading.Thread(target=self._poll_devices, name="kiosk-devices", daemon=True).start()
            threading.Thread(target=self._watch_health, name="kiosk-health", daemon=True).start()
            Clock.schedule_interval(self._tick, 1.0)
            self.open("home")

    def on_stop(self) -> None:
        self._halt.set()
        self._events.put(None)
        if self.mqtt is not None:
            self.mqtt.stop()

    # -- events and the worker ---------------------------------------------------------------------

    AUTOMATIC = ("retry", "refresh", "__wipe__", "card_error")

    def send(self, flow: str, event: str, arg: Any = None) -> None:
        """Queue a presenter event (from any thread).

        Automatic events (a retry, the home screen's refresh, the idle wipe)
        neither count as the resident's activity nor show "please wait".
        """
        self.sent += 1
        resident = event not in self.AUTOMATIC
        if resident:
            self.session.touch()
        self._events.put((flow, event, arg))
        if resident and self._busy_event is None:
            self._busy_event = Clock.schedule_once(lambda dt: self._show_busy(), 0.3)

    def open(self, name: str, **kw: Any) -> None:
        self.send(name, "__open__", kw)

    def go_home(self) -> None:
        self.send(self.current, "__home__")

    def _work(self) -> None:
        todo: tuple[str, View | None] | None = None   # the screen to draw once no event is waiting
        while not self._halt.is_set():
            job = self._events.get()
            if job is None:
                return
            flow_name, event, arg = job
            try:
                name, view = self.process(flow_name, event, arg)
            except Exception:
                log.exception("presenter %s failed on %s", flow_name, event)
                name, view = "home", None
                self.current = "home"
            if name is not None:
                todo = (name, view)
            # drawn even when the last event changed nothing (a home refresh arriving just after a tap opened
            # another screen): the screen a tap opened is never skipped
            if todo is not None and self._events.empty():
                self._show(*todo)
                todo = None

    def process(self, flow_name: str, event: str, arg: Any) -> tuple[str | None, View | None]:
        """Apply one event in the worker; returns the screen and view to show (None: nothing changed)."""
        if event == "__open__":
            self.current = flow_name
            self.flows[flow_name].start(**(arg or {}))
            return flow_name, self.flows[flow_name].view()
        if event in ("__home__", "__wipe__"):
            if event == "__wipe__" and self.flows[self.current].retrying:
                return None, None      # a press the server may have done is being retried: the visit goes on
            # the visit is over (首页, 完成, or nobody there): the next resident finds the kiosk's language and mode;
            # 首页 keeps the key of a press left unanswered (kiosk.api.PressKey.leave), the idle wipe forgets it
            self.session.wipe(forget=event == "__wipe__")
            return self._home()
        if flow_name != self.current:
            return None, None          # a late event for a screen the resident already left
        flow = self.flows[flow_name]
        if event == "refresh":         # asked by the timer, not a touch: the idle timeout runs on
            flow.refresh()
            return flow_name, flow.view()
        stay = flow.handle(event, arg)
        nav = flow.take_navigation()
        done = event == "action" and arg == "done"
        if not stay or done:
            nav = ("home", {})
        if nav is not None:
            target, kw = nav
            if target == "home" and done and flow.finished:
                return self.process(flow_name, "__home__", None)      # 完成 on a result: the visit is over
            flow.reset()
            # 返回 from a first step, help's 完成: the same resident goes on, in the language and mode chosen
            return self._home() if target == "home" else self.process(target, "__open__", kw)
        return flow_name, flow.view()

    def _home(self) -> tuple[str, View]:
        self.current = "home"
        self.flows["home"].start()
        return "home", self.flows["home"].view()

    @mainthread
    def _show(self, name: str, view: View | None) -> None:
        self.show(name, view)

    def show(self, name: str, view: View | None) -> None:
        """Draw ``view`` on screen ``name`` (main thread)."""
        if self._busy_event is not None:
            self._busy_event.cancel()
            self._busy_event = None
        if self._busy is not None:
            self._busy.dismiss()
            self._busy = None
        if view is None:
            view = self.flows[name].view()
        if self.th["name"] != ("elderly" if self.session.elderly else "normal"):
            self.th = theme_dict(self.session.elderly, self.layout)
            Window.clearcolor = self.th["bg"]
        screen = self.screen(name)
        self.sm.current = name
        screen.render(view)
        self.shown = (name, view.step)
        self.renders += 1
        self.shown_at = time.monotonic()
        self.listening = tuple(view.listens)
        self._view = view
        if (name, view.step) != self._last_step and self.reading:
            self.stop_reading()              # the resident left the screen being read: the next one is not that one
        screen.ids.header.readable = self.can_read(view)
        self._label_read()
        self._speak_view(name, view)
        if self._retry_event is not None:
            self._retry_event.cancel()
            self._retry_event = None
        if view.retry_in and self.background:
            self._retry_event = Clock.schedule_once(lambda dt: self.send(name, "retry"), view.retry_in)
        if self.first_frame_at is None:
            Clock.schedule_once(self._first_frame, 0)
        if self.screenshot_dir is not None:
            Clock.schedule_once(lambda dt: self.screenshot(f"{name}-{view.step}"), 0.2)

    def _speak_view(self, name: str, view: View) -> None:
        """Spoken prompts: in elderly mode each new step says what to do; every new error is said aloud."""
        key = (name, view.step)
        if self.session.elderly and key != self._last_step and self.cfg.auto_read and self.can_read(view):
            self.start_reading(view)         # kiosk.auto_read: 读给我听 by itself on each new step
        elif self.session.elderly and key != self._last_step and view.kind != "result" and name != "home":
            self.session.say(view.prompt or view.title)
        self._last_step = key
        error = (view.notice.text if view.notice and view.notice.level == "error" else "") or view.entry.get("error", "")
        if error and error != self._last_error:
            self.session.say(error)
        self._last_error = error

    # -- 读给我听: the screen read aloud ----------------------------------------------------------

    def can_read(self, view: View) -> bool:
        """A screen with an instruction, on a kiosk with a voice (driver "none": nothing to read with)."""
        from kiosk.voice import NoVoice

        return bool(view.prompt or view.kind in ("result", "info")) and \
            not isinstance(self.session.devices.voice, NoVoice)

    def toggle_read(self) -> None:
        """读给我听 touched: read the screen aloud, or stop if it is being read (main thread)."""
        self.session.touch()
        if self.reading:
            self.stop_reading()
        elif self._view is not None:
            self.session.devices.voice.stop()     # a prompt being said gives way: the screen is read from the top
            self.start_reading(self._view)

    def start_reading(self, view: View) -> None:
        voice = self.session.devices.voice
        if voice.reading:
            voice.stop()
        self.reading = True
        self._label_read()
        voice.read(sentences(view, self.session.lang), self.session.lang, slow=self.session.elderly,
                   done=self._read_done)

    def stop_reading(self) -> None:
        self.session.devices.voice.stop()
        self.reading = False
        self._label_read()

    @mainthread
    def _read_done(self) -> None:
        if not self.session.devices.voice.reading:
            self.reading = False
            self._label_read()

    def _label_read(self) -> None:
        self.read_text = tr("read.stop" if self.reading else "read.aloud", self.session.lang)

    def _first_frame(self, dt) -> None:
        self.first_frame_at = time.perf_counter()
        log.info("kiosk ready: home screen drawn %.2f s after start", self.first_frame_at - self.started_at)

    def screenshot(self, stem: str) -> Path | None:
        if self.screenshot_dir is None:
            return None
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        path = self.screenshot_dir / f"{stem}.png"
        tmp = path.with_name(f".{stem}.tmp.png")
        self.root.export_to_png(str(tmp))
        os.replace(tmp, path)          # whole files only: a viewer never reads half a PNG
        # Kivy draws the export into an Fbo of the whole window (a texture and a stencil buffer, ~10 MB at 1080p,
        # in RAM on llvmpipe) whose instructions and canvas refer to each other: only Python's cyclic collector
        # frees it, and an idle kiosk allocates too little to run it. A headless kiosk shoots every 10 s (each
        # refresh of the home screen) and held one more each time (docs/performance.md, the village station):
        # collected here, the young generations only (what the export just made), a millisecond or two.
        gc.collect(1)
        return path

    # -- the resident's presence -------------------------------------------------------------------

    def _touched(self, *_):
        self.session.touch()
        if self._warning is not None:
            self._warning.dismiss()
            self._warning = None
        return False

    def _tick(self, dt) -> None:
        flow = self.flows[self.current]
        every = flow.refresh_seconds()      # home: the hall's state; help: is someone coming?
        if every is not None and time.monotonic() - self._refreshed > every:
            self._refreshed = time.monotonic()
            self.send(self.current, "refresh")
        if flow.retrying:
            # a press the server may have done is being retried ("您不用再按"): the idle timer is held, so the
            # number it may have issued is not wiped away; the screen says it is still trying
            self.session.touch()
            self._dismiss_warning()
            return
        if self.current == "home":
            # the last resident chose another language or mode and left: the next one finds the kiosk's own
            held = any(f.press.held for f in self.flows.values())
            if (held or not self.session.at_defaults()) and self.session.idle_state() == "expired":
                log.info("idle on the home screen: back to the kiosk's language and mode")
                self.send("home", "__wipe__")
            return
        # a result the printer did not print (the screen is its only record) gets the time of any other screen,
        # and the "need more time?" question, rather than the result's short timeout
        brief = flow.finished and not flow.unprinted
        limit = self.cfg.result_timeout_seconds if brief else self.cfg.idle_timeout_seconds
        if flow.finished and flow.unprinted:
            limit = max(limit, self.cfg.result_timeout_seconds)
        state = self.session.idle_state(limit)
        if state == "expired":
            self._dismiss_warning()
            log.info("idle for %d s on %s: wiping the visit and going home", limit, self.current)
            self.send(self.current, "__wipe__")
        elif state == "warning" and not brief:
            self._show_warning(int(limit - self.session.idle_seconds()))

    def _dismiss_warning(self) -> None:
        if self._warning is not None:
            self._warning.dismiss()
            self._warning = None

    def _show_warning(self, seconds: int) -> None:
        lang = self.session.lang
        if self._warning is None:
            w = ModalView(size_hint=(0.85, None), height=dp(self.th["target_dp"]) * 4, auto_dismiss=False)
            box = BoxLayout(orientation="vertical", padding=dp(28), spacing=dp(20))
            w.label = KLabel(font_size=sp(self.th["action_sp"]), halign="center")
            box.add_widget(w.label)
            ok = KButton(text=tr("idle_continue", lang), role="primary")
            ok.bind(on_release=lambda *_: self._touched())
            box.add_widget(ok)
            w.add_widget(box)
            w.open()
            self._warning = w
        self._warning.label.text = tr("idle_warning", lang, seconds=max(seconds, 0))

    def _show_busy(self) -> None:
        self._busy_event = None
        if self._busy is None:
            m = ModalView(size_hint=(0.7, None), height=dp(self.th["target_dp"]) * 2, auto_dismiss=False)
            m.add_widget(KLabel(text=tr("busy", self.session.lang), halign="center",
                                font_size=sp(self.th["action_sp"])))
            m.open()
            self._busy = m

    # -- devices ---------------------------------------------------------------------------------------

    def _typed(self, window, text: str):
        scanner = self.session.devices.scanner
        if isinstance(scanner, KeyboardScanner) and not self._text_focused():
            for ch in text:
                scanner.key(ch)

    def _key(self, window, key, scancode, codepoint, modifiers):
        scanner = self.session.devices.scanner
        if key in (13, 271) and isinstance(scanner, KeyboardScanner) and not self._text_focused():
            scanner.enter()

    def _text_focused(self) -> bool:
        from kivy.uix.textinput import TextInput

        return any(isinstance(w, TextInput) and w.focus for w in self.root.walk())

    def _poll_devices(self) -> None:
        poller = DevicePoller(self.session.devices, self.send)
        while not self._halt.wait(0.25):
            poller.poll(self.listening, self.current, card_heard=self._stop_cards)

    def _stop_cards(self) -> None:
        self.listening = ()          # one card, one event: until the next screen asks again

    def _watch_health(self) -> None:
        devices = self.session.devices
        while not self._halt.is_set():
            try:
                devices.check_health()
                if self.mqtt is None:
                    self._connect_mqtt()
            except Exception:
                log.exception("device health check failed")
            self._halt.wait(self.cfg.health_interval_seconds)

    def _connect_mqtt(self) -> None:
        """Report device health to staff over MQTT (the broker the server names, unless configured)."""
        from device_drivers.base import HealthReporter
        from hallq.mqtt import BrokerAddress, Connection

        entry = self.session.cache.get("hall")
        url = self.cfg.mqtt_url or (entry[0].get("mqtt_url") if entry else "")
        site = self.cfg.mqtt_site or (entry[0].get("site") if entry else "")
        if not url or not site:
            return
        from hallq.mqtt_auth import client_credentials

        # its own identity (kiosk.<id>): the secret beside the hall's data, or the service's credential
        user, password = client_credentials("kiosk", self.cfg.id, self.data_dir)
        from hallq.mqtt import hall_ca

        conn = Connection(BrokerAddress.parse(url, user, password), site, "kiosk", self.cfg.id,
                          tls_ca=hall_ca(self.data_dir))
        conn.start()
        self.session.devices.attach(HealthReporter(conn, site))
        self.mqtt = conn
        log.info("reporting device health to %s as hallq/%s/devices/%s/…", BrokerAddress.parse(url), site, self.cfg.id)
