"""The demo's autopilot (``hallq kiosk --autopilot SECONDS``): with nobody at a demo kiosk, it drives itself.

A demo on a machine without a screen has nobody to tap its kiosk: the
screenshots and the printed tickets the README points to would never come.
With the autopilot, every SECONDS on the home screen the kiosk goes through
the next of four real flows, as a resident would:

* take a number (a ticket is printed),
* read a service guide and print its notice (一次性告知),
* book an appointment,
* submit an application with a simple form (a receipt is printed),

then returns home. Every step is a touch on the widget drawn on the screen
(kiosk.ui.touch: a covered or scrolled-away button cannot be reached), and
identities come from fictitious ID cards put on the simulated card reader
(a different resident each time, so the hall's one-per-person rules are
not hit). The app writes each screen's screenshot as usual. A flow that
gets stuck or refused logs a warning with the cause (what it waited for,
or the sentence on the screen), goes home, and the next flow follows.

It is only ever switched on explicitly (``hallq start --demo`` does so for
its kiosk when there is no display), and only with the simulated reader.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator
from typing import Any

from kivy.clock import Clock

from device_drivers.sim_id_reader import IdReaderSimulator, demo_card
from kiosk.presenters.base import Field
from kiosk.ui.touch import at_rest, scroll_into_sight, tap, with_key

log = logging.getLogger("hallq.kiosk.autopilot")

FLOWS = ("take_number", "guide", "book", "apply")
DWELL = 0.8            # seconds each new screen stays before the next touch (its screenshot is taken at 0.2 s)
SETTLE = 0.3           # after a touch that redraws the same screen
TIMEOUT = 30.0         # the longest wait for one screen or answer before the flow is given up
NAMES = (("周桂芬", "2"), ("王建国", "1"), ("李秀英", "2"), ("张德明", "1"), ("杨光荣", "1"), ("陈玉兰", "2"))


class Stuck(Exception):
    """A flow cannot go on; the message is the cause, for the warning."""


class Wait:
    """What a flow waits for; a ``soft`` wait that times out resumes the flow with False instead of failing it."""

    def __init__(self, what: str, ready: Callable[[], bool], timeout: float = TIMEOUT, soft: bool = False) -> None:
        self.what = what
        self.ready = ready
        self.soft = soft
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout


Steps = Generator[Wait, bool, Any]


class Autopilot:
    """Drives a running :class:`kiosk.ui.app.KioskApp` (main thread, from Kivy's clock)."""

    def __init__(self, app, interval: float, dwell: float = DWELL, rng: random.Random | None = None) -> None:
        reader = app.session.devices.reader
        if not isinstance(reader, IdReaderSimulator):
            raise ValueError("the autopilot needs the simulated ID card reader (hallq kiosk --simulate): "
                             "it is for demos only")
        self.app = app
        self.reader = reader
        self.interval = interval
        self.dwell = dwell
        self.rng = rng or random.Random()    # fictitious residents, not secrets
        self.count = 0
        self.drawn_before = 0     # views drawn before the last touch (or card): what follows it is drawn after
        self.done: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self._steps: Steps | None = None
        self._flow = ""
        self._wait: Wait | None = None
        self._next_at: float | None = None

    def start(self, *_: Any) -> None:
        log.info("autopilot: the kiosk takes a number, reads a guide, books and applies by itself, one flow every "
                 "%.0f s on the home screen (demo)", self.interval)
        Clock.schedule_interval(self._tick, 0.1)

    # -- the loop ------------------------------------------------------------------------------------

    def _tick(self, dt: float) -> None:
        app = self.app
        if self._steps is None:
            if app.shown[0] != "home" or not app._events.empty():
                self._next_at = None
                return
            now = time.monotonic()
            if self._next_at is None:
                self._next_at = now + self.interval
            if now < self._next_at:
                return
            self._flow = FLOWS[self.count % len(FLOWS)]
            self.count += 1
            self._steps = getattr(self, f"_{self._flow}")()
            self._wait = None
        elif self._wait is not None:
            try:
                ready = self._wait.ready()
            except Stuck as e:
                self._give_up(str(e))
                return
            if not ready:
                if time.monotonic() > self._wait.deadline:
                    if self._wait.soft:
                        self._advance(False)
                    else:
                        self._give_up(f"waited {self._wait.timeout:.0f} s for {self._wait.what}")
                return
            self._advance(True)
            return
        self._advance(None)

    def _advance(self, value: bool | None) -> None:
        assert self._steps is not None
        try:
            self._wait = self._steps.send(value)    # type: ignore[arg-type]
        except StopIteration:
            self.done[self._flow] = self.done.get(self._flow, 0) + 1
            self._end()
        except Stuck as e:
            self._give_up(str(e))
        except Exception as e:   # a bug here must not stop the demo: say it and go on with the next flow
            log.warning("autopilot: %s failed on %s: %s", self._flow, self.app.shown, e, exc_info=True)
            self.failed[self._flow] = self.failed.get(self._flow, 0) + 1
            self._end()

    def _give_up(self, cause: str) -> None:
        log.warning("autopilot: %s given up on screen %s-%s: %s; going home, the next flow follows", self._flow,
                    *self.app.shown, cause)
        self.failed[self._flow] = self.failed.get(self._flow, 0) + 1
        self._end()

    def _end(self) -> None:
        self._steps = None
        self._wait = None
        self._next_at = None
        self.reader.remove()
        if self.app.shown[0] != "home":
            home = next(with_key(self.app.sm.current_screen, "home"), None)
            if home is not None:
                tap(home)
            else:
                self.app.go_home()

    # -- what a resident does ---------------------------------------------------------------------------

    def _stable(self, since: float) -> bool:
        return self.app._events.empty() and time.monotonic() - self.app.shown_at >= since

    def _error_on_screen(self, flow: str) -> None:
        """The flow's screen shows an error sentence and nothing else is coming: that is why it is stuck."""
        screen = self.app.sm.current_screen
        notice = getattr(screen, "ids", {}).get("notice")
        if self.app.shown[0] == flow and notice is not None and notice.level == "error" and self._stable(self.dwell):
            raise Stuck(f"the screen says {notice.text!r}")

    def on(self, flow: str, *steps: str, timeout: float = TIMEOUT, soft: bool = False) -> Steps:
        """Wait for one of ``steps`` of ``flow`` to be drawn and stay a moment (a screenshot is taken)."""
        def ready() -> bool:
            if self.app.shown[0] == flow and self.app.shown[1] in steps:
                return self._stable(self.dwell)
            self._error_on_screen(flow)
            return False
        return (yield Wait(f"the screen {flow}-{'/'.join(steps)}", ready, timeout, soft))

    def tap_until(self, key: str, what: str, probe: Callable[[], Any]) -> Steps:
        """Tap until ``probe()`` says it was taken (an event sent, a key typed): a tap that went unanswered (as
        a finger's sometimes does) is tapped again, never one that was taken."""
        for _ in range(3):
            before = probe()
            yield from self.touch(key, what)
            if (yield Wait(f"the tap on {what} taken", lambda before=before: probe() != before, 3, soft=True)):
                return
            log.info("autopilot: the tap on %s went unanswered on %s-%s; tapping again", what, *self.app.shown)
        raise Stuck(f"three taps on {what} went unanswered")

    def press(self, key: str, what: str) -> Steps:
        """Tap a button that sends an event to the presenter."""
        yield from self.tap_until(key, what, lambda: self.app.sent)

    def tap_to(self, key: str, what: str, flow: str, *steps: str) -> Steps:
        """Tap, and wait for the screen it leads to."""
        yield from self.press(key, what)
        yield from self.on(flow, *steps)

    def until(self, what: str, condition: Callable[[], bool]) -> Steps:
        """Wait for ``condition`` once the screen was drawn again after the last touch."""
        flow, renders = self.app.shown[0], self.drawn_before   # drawn again since the touch, not since now

        def ready() -> bool:
            if self.app.renders > renders and condition():
                return self._stable(SETTLE)
            if self.app.renders > renders:
                self._error_on_screen(flow)
            return False
        yield Wait(what, ready)

    def frame(self) -> Steps:
        yield Wait("a frame", lambda: True)

    def touch(self, key: str, what: str = "") -> Steps:
        """Tap the widget with this key on the screen shown (scrolled into sight first, as a finger would)."""
        for _ in range(5):
            widget = next(with_key(self.app.sm.current_screen, key), None)
            if widget is None:
                raise Stuck(f"nothing to tap for {what or key!r}")
            if not at_rest(widget):      # a finger on a moving list only stops it
                yield Wait(f"the list under {what or key!r} at rest", lambda widget=widget: at_rest(widget), 5)
                continue
            if not scroll_into_sight(widget):
                log.debug("autopilot: tap %s at %s on %s-%s", key, widget.to_window(*widget.center), *self.app.shown)
                self.drawn_before = self.app.renders
                tap(widget)
                return
            yield from self.frame()
            yield from self.frame()
        raise Stuck(f"{what or key!r} cannot be scrolled into sight")

    def keys(self, root_key: str, digits: str) -> Steps:
        """Type on the keypad that is open, then its OK."""
        from kiosk.ui.widgets import Keypad

        def pad() -> str:
            return next((w.value for w in self.app.sm.current_screen.walk(restrict=True) if isinstance(w, Keypad)), "")
        yield Wait("the keypad", lambda: next(with_key(self.app.sm.current_screen, "pad:ok"), None) is not None)
        for d in digits:
            yield from self.tap_until(d, f"the key {d}", pad)
        yield from self.press("pad:ok", f"OK under {root_key}")

    def options(self) -> list[str]:
        """The keys of the enabled tiles on the screen shown (businesses, items, days, slots), in order."""
        from kiosk.ui.widgets import Tile

        body = self.app.sm.current_screen.ids.get("body")
        if body is None:
            return []
        return [w.key for w in body.walk(restrict=True) if isinstance(w, Tile) and not w.disabled]

    def card(self) -> None:
        """A resident puts an ID card on the reader: a fictitious one, another each time."""
        name, sex = self.rng.choice(NAMES)
        birth = f"{self.rng.randint(1950, 1999)}{self.rng.randint(1, 12):02d}{self.rng.randint(1, 28):02d}"
        self.drawn_before = self.app.renders
        self.reader.place(demo_card(birth=birth, name=name, sex=sex, seq=self.rng.randint(1, 998)))

    def phone(self) -> str:
        return "139" + "".join(str(self.rng.randint(0, 9)) for _ in range(8))

    def person(self, form: Callable[[], Any]) -> Steps:
        """Fill the name, ID number (by the card) and phone of a booking's or an application's form."""
        self.card()
        yield from self.until("the ID card read", lambda: bool(form().values.get("id_number")))
        phone = self.phone()
        yield from self.tap_until("phone", "the phone field",
                                  lambda: next(with_key(self.app.sm.current_screen, "pad:ok"), None) is not None)
        yield from self.keys("phone", phone)
        yield from self.until("the phone number taken", lambda: form().values.get("phone") == phone)

    def done_and_home(self) -> Steps:
        yield from self.tap_to("done", "done", "home", "menu")

    def type_text(self, key: str, text: str, digits: bool) -> Steps:
        """A text field: tap it, type on the on-screen keyboard (English letters, or the 123 page), 确定."""
        def keyboard():
            body = self.app.sm.current_screen.ids.body
            step = body.children[0] if body.children else None
            kb = getattr(step, "keyboard", None)
            return kb if kb is not None and getattr(step, "keyboard_field", None) is not None \
                and step.keyboard_field.key == key else None
        yield from self.tap_until(key, f"the field {key}", lambda: keyboard() is not None)
        composer = keyboard().composer

        def typed() -> tuple:
            return composer.text, composer.pinyin, composer.mode, composer.symbols
        if digits and not composer.symbols:
            yield from self.tap_until("symbols", "123", typed)
        elif not digits and composer.mode == "zh":
            yield from self.tap_until("mode", "English letters", typed)    # no pinyin candidates to pick
        for ch in text:
            yield from self.tap_until("space" if ch == " " else ch, f"the key {ch}", typed)
            yield from self.frame()      # the keyboard is laid out again between two taps
        yield from self.press("ok", "确定")

    def simple_form(self, item: dict[str, Any]) -> bool:
        """A form the autopilot can fill: choices, plain text, digits (no dates, numbers or phones in it)."""
        return all(f.get("type") in ("select", "text", "textarea") for f in item["guide"]["form"] if f.get("required"))

    # -- the flows -------------------------------------------------------------------------------------------

    def pick(self, keys: list[str]) -> str:
        """Another option each round (the businesses, items, days in turn)."""
        return keys[self.count // len(FLOWS) % len(keys)]

    def _take_number(self) -> Steps:
        flow = self.app.flows["take_number"]
        yield from self.tap_to("take_number", "the take-a-number tile", "take_number", "business", "item",
                               "identity", "result")
        if self.app.shown[1] == "business":
            keys = self.options()
            if not keys:
                raise Stuck("no business issues numbers now")
            yield from self.tap_to(self.pick(keys), "a business", "take_number", "item", "identity", "result")
        if self.app.shown[1] == "item":
            items = [k for k in self.options() if k != "__none__"] or ["__none__"]
            yield from self.tap_to(items[0], "an item", "take_number", "identity", "result")
        if self.app.shown[1] == "identity":
            if "card" not in self.app.listening:
                raise Stuck("the identity step does not read cards (is the reader faulty?)")
            self.card()
            yield from self.on("take_number", "result")
        ticket = flow.ticket or {}
        log.info("autopilot: took number %s (%s)", ticket.get("ticket"),
                 "printed" if flow.print_problem is None else f"not printed: {flow.print_problem}")
        yield from self.done_and_home()

    def _guide(self) -> Steps:
        flow = self.app.flows["guide"]
        yield from self.tap_to("guide", "the guides tile", "guide", "business")
        keys = [k for k in self.options() if k != "__packages__"]    # the 一件事 entry leads to packages, not items
        if not keys:
            raise Stuck("no business has guides")
        yield from self.tap_to(self.pick(keys), "a business", "guide", "item")
        items = self.options()
        if not items:
            raise Stuck("the business has no items")
        yield from self.tap_to(items[0], "an item", "guide", "guide")
        yield from self.press("print_notice", "print the notice")
        yield from self.until("the notice printed", lambda: flow.notice is not None and flow.notice.level == "ok")
        log.info("autopilot: read the guide of %s and printed its notice", (flow.item or {}).get("code"))
        yield from self.tap_to("home", "home", "home", "menu")

    def _book(self) -> Steps:
        flow = self.app.flows["book"]
        yield from self.tap_to("appointment", "the appointments tile", "appointment", "menu")
        yield from self.tap_to("book", "book", "book", "item")
        items = self.options()
        if not items:
            raise Stuck("no item can be booked")
        yield from self.tap_to(self.pick(items), "an item", "book", "day")
        days = self.options()
        if not days:
            raise Stuck("no day with free places")
        yield from self.tap_to(days[0], "a day", "book", "slot")
        slots = self.options()
        if not slots:
            raise Stuck("no slot with free places")
        yield from self.tap_to(slots[0], "a slot", "book", "person")
        yield from self.person(lambda: flow.person)
        yield from self.tap_to("next", "next", "book", "confirm")
        yield from self.press("confirm", "confirm")
        yield from self.on("book", "result")
        b = flow.booking or {}
        log.info("autopilot: booked %s on %s at %s (code %s)", b.get("item"), b.get("date"), b.get("start"),
                 b.get("code"))
        yield from self.done_and_home()

    def _apply(self) -> Steps:
        flow = self.app.flows["apply"]
        yield from self.tap_to("apply", "the applications tile", "apply", "item")
        simple = [i["code"] for i in flow._items() if self.simple_form(i)]
        choice = [k for k in self.options() if k in simple]
        if not choice:
            raise Stuck("no item with a form of choices and plain text is offered")
        yield from self.tap_to(self.pick(choice), "an item", "apply", "form", "materials")
        if self.app.shown[1] == "form":
            for spec in flow.fields.specs:
                key = spec["key"]
                if not spec.get("required"):
                    continue
                if spec.get("type") == "select" and spec.get("options"):
                    value = str(spec["options"][0]["value"])
                    yield from self.press(value, key)
                else:
                    digits = Field(key, key, pattern=spec.get("pattern", "")).digits_only   # opens on 123
                    value = "6217" + "".join(str(self.rng.randint(0, 9)) for _ in range(12)) if digits \
                        else "zhongshan renmin lu"
                    yield from self.type_text(key, value, digits)
                yield from self.until(f"{key} filled", lambda key=key, value=value: flow.fields.values.get(key) == value)
            yield from self.tap_to("next", "next", "apply", "materials")
        for m in (flow.form or {}).get("materials", []):
            if m.get("required", True):
                yield from self.press(str(m["index"]), "a material")
                yield from self.until("the material ticked", lambda i=m["index"]: i in flow.provided)
        yield from self.tap_to("next", "next", "apply", "applicant")
        yield from self.person(lambda: flow.applicant)
        yield from self.tap_to("next", "next", "apply", "confirm")
        yield from self.press("submit", "submit")
        yield from self.on("apply", "result")
        log.info("autopilot: applied for %s (tracking number %s)", (flow.item or {}).get("code"),
                 (flow.application or {}).get("tracking_no"))
        yield from self.done_and_home()
