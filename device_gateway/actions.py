"""Key presses and ratings become the window's actions on the queue server's HTTP API.

One :class:`WindowActions` per window runs that window's presses in the
order they were made, on its own thread, so a slow server never stalls the
serial buses. It uses the gateway's device key (a device bound to the window
acts for whoever is signed in there; the server refuses when nobody is).

* ``call-next`` and ratings carry an ``Idempotency-Key`` made once per press,
  so HallClient's retries after a network hiccup never call twice or rate
  twice; from a keypad or pad it is the press's own key
  (:mod:`device_gateway.presses`), the same when a restarted gateway reads the
  press again, so the server answers that replay instead of acting again.
  The other actions are sent once (a blind retry of a recall could recall
  twice; the server takes no key for them) and name the ticket the window
  shows (``{"ticket": …}``), so a press meant for A001 never acts on A002.
* A press still waiting after :data:`STALE_SECONDS` (server unreachable) is
  dropped with a message: three 叫号 presses must not fire together a minute later.
  A replay counts from its first reading.
* :meth:`WindowActions.stop` lets the presses already queued finish, within a
  bound; :meth:`WindowActions.handled` says which were, so the gateway
  acknowledges to the keypad only what was handled.
* Results and errors (the server's own message, in Chinese) go to the
  keypad's LCD or the pad's display, and to the log with the error code.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from device_drivers.base import DEVICE_LANG, device_text
from device_drivers.keypad import KeyPress
from device_drivers.rating_pad import LEVEL_NAMES, RatingPress
from device_gateway.presses import PressKey
from hallq.client import ApiError, HallClient

log = logging.getLogger("hallq.devices.actions")

STALE_SECONDS = 10.0
SIMPLE = {"recall": "recall", "start": "start", "complete": "complete", "no_show": "no-show", "hold": "hold"}


class KeypadInputError(Exception):
    """A press the keypad cannot turn into an action (e.g. transfer without a target)."""


class WindowDevices(Protocol):
    """What a window's actions tell its devices (the gateway implements it)."""

    def keypad_message(self, text: str) -> None:
        """Show a result or an error on the keypad's LCD."""

    def pad_message(self, text: str) -> None:
        """Show a thank-you or an error on the rating pad."""

    def offer_rating(self, prompt: dict[str, Any]) -> None:
        """The server's answer to GET /windows/{n}/rating-prompt: what the pad may ask to rate now."""

    def prompt_pad(self) -> None:
        """Prompt the pad without the server's word (when rating-prompt cannot be read)."""


class WindowActions:
    """The action queue of one window: presses in, API calls out, messages back to the devices.

    With a rating pad at the window it also asks the server, every
    ``rating_poll`` seconds and right after a service ends, what the pad may
    ask the resident to rate (GET /windows/{n}/rating-prompt), so a rating
    requested from the clerk's web console lights the pad too.
    """

    def __init__(self, window: int, client: HallClient, devices: WindowDevices,
                 snapshot: Callable[[], dict[str, Any] | None], business_codes: list[str],
                 keypad_options: dict[str, Any] | None = None, pad_options: dict[str, Any] | None = None,
                 rating_poll: float = 3.0) -> None:
        self.window = window
        self.client = client
        self.devices = devices
        self.snapshot = snapshot
        self.business_codes = business_codes
        self.keypad_options = keypad_options or {}
        self.pad_options = pad_options  # None: no rating pad at this window
        self.rating_poll = rating_poll
        self.done = 0  # presses handled (acted on, refused or dropped as stale), in the order submitted
        self.submitted = 0  # presses queued; the n-th is handled once done >= n
        self._queue: queue.Queue[tuple[float, Any, str | None] | None] = queue.Queue(maxsize=64)
        self._submit_lock = threading.Lock()  # a keypad and a pad on two buses may submit at once
        self._thread = threading.Thread(target=self._run, name=f"window-{window}-actions", daemon=True)
        self._done_cond = threading.Condition()

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        """Take no more presses: the thread ends once those already queued are handled."""
        try:
            self._queue.put_nowait(None)
        except queue.Full:  # 64 presses waiting: they go stale and are dropped; the thread is a daemon
            pass

    def stop(self, timeout: float = 5.0) -> bool:
        """Let the presses already queued finish, waiting at most ``timeout`` s; True when all were handled."""
        self.finish()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def submit(self, press: KeyPress | RatingPress, key: PressKey | None = None) -> int | None:
        """Queue a press (``key``: its Idempotency-Key, :mod:`device_gateway.presses`); returns its number
        for :meth:`handled`, or None when the queue was full and the press was dropped."""
        at = time.monotonic() - (key.age() if key is not None else 0.0)  # a replay is as old as its first reading
        with self._submit_lock:
            try:
                self._queue.put_nowait((at, press, key.key if key is not None else None))
            except queue.Full:
                log.warning("window %d: %d presses already waiting; dropped %s", self.window, self._queue.qsize(),
                            press)
                return None
            self.submitted += 1
            return self.submitted

    def handled(self, number: int) -> bool:
        """Whether the press :meth:`submit` numbered ``number`` has been handled (acted on, refused or dropped)."""
        with self._done_cond:
            return self.done >= number

    def wait_done(self, count: int, timeout: float = 10.0) -> bool:
        with self._done_cond:
            return self._done_cond.wait_for(lambda: self.done >= count, timeout)

    def _next(self) -> tuple[float, Any, str | None] | None | bool:
        """The next press (None: stop); False when it is time to ask about ratings."""
        polling = self.pad_options is not None and self.rating_poll > 0
        try:
            return self._queue.get(timeout=self.rating_poll if polling else None)
        except queue.Empty:
            return False

    def _run(self) -> None:
        while (item := self._next()) is not None:
            if item is False:
                self.refresh_rating()
                continue
            at, press, key = item
            try:
                if time.monotonic() - at > STALE_SECONDS:
                    log.warning("window %d: %s waited %.0f s (server unreachable?); dropped", self.window, press,
                                time.monotonic() - at)
                    self._tell(press, device_text("devices.keypad.stale"))
                else:
                    self._tell(press, self.perform(press, key))
            except KeypadInputError as e:
                self._tell(press, str(e))
            except ApiError as e:
                log.warning("window %d: %s refused: %s %s (%s)", self.window, press, e.status, e.code,
                            e.messages.get("en", ""))
                self._tell(press, e.message(DEVICE_LANG))
            except Exception:  # a bug here must not stop the window's later presses
                log.exception("window %d: %s failed", self.window, press)
                self._tell(press, device_text("devices.keypad.failed"))
            with self._done_cond:
                self.done += 1
                self._done_cond.notify_all()

    def _tell(self, press: Any, text: str) -> None:
        if isinstance(press, RatingPress):
            self.devices.pad_message(text)
        else:
            self.devices.keypad_message(text)

    # -- the actions ------------------------------------------------------------------

    def perform(self, press: KeyPress | RatingPress, key: str | None = None) -> str:
        """Do what ``press`` asks; return the message for the device's display (raises ApiError).

        ``key``: the press's Idempotency-Key (call-next and ratings; a new one when None)."""
        n = self.window
        key = key or uuid.uuid4().hex
        if isinstance(press, RatingPress):
            r = self.client.request("POST", f"/windows/{n}/rating", {"level": press.level}, idempotency_key=key)
            log.info("window %d: rated %s %d (%s)", n, r.get("ticket", ""), press.level, LEVEL_NAMES[press.level])
            return (self.pad_options or {}).get("thanks_text") or device_text("devices.pad.thanks")
        snap = self.snapshot() or {}
        current = (snap.get("current") or {}).get("ticket")
        action = press.action
        if action == "call_next":
            complete = bool(self.keypad_options.get("call_completes_current", True))
            r = self.client.request("POST", f"/windows/{n}/call-next", {"complete_current": complete},
                                    idempotency_key=key)
            if complete and current:
                self._after_complete()  # the server decides: it offers no rating once the next is called
            return device_text("devices.keypad.called", ticket=_label(r))
        if action in SIMPLE:
            r = self.client.window_action(n, SIMPLE[action], {"ticket": current} if current else {})
            if action == "complete":
                self._after_complete()
            return device_text(f"devices.keypad.done.{action}", ticket=_label(r)).strip()
        if action == "transfer":
            r = self.client.window_action(n, "transfer", {**self._transfer_target(press.digits),
                                                         **({"ticket": current} if current else {})})
            return device_text("devices.keypad.transferred", ticket=_label(r)).strip()
        if action == "call_back":
            ticket = self._held_ticket(press.digits)
            self.client.window_action(n, "call-back", {"ticket": ticket})
            return device_text("devices.keypad.called_back", ticket=ticket)
        if action == "pause":
            reasons = self.keypad_options.get("pause_reasons") or ["临时离开"]
            choice = int(press.digits) if press.digits.isascii() and press.digits.isdigit() else 1
            if not 1 <= choice <= len(reasons):
                raise KeypadInputError(device_text("devices.keypad.pause_choice", count=len(reasons)))
            self.client.window_action(n, "pause", {"reason": reasons[choice - 1]})
            return device_text("devices.keypad.paused", reason=reasons[choice - 1])
        if action == "resume":
            self.client.window_action(n, "resume", {})
            return device_text("devices.keypad.resumed")
        if action == "ask_rating":
            self.client.post(f"/windows/{n}/rating-prompt", {})  # journalled: who asked, when
            if not self.refresh_rating():
                self.devices.prompt_pad()
            return device_text("devices.keypad.rating_asked")
        raise KeypadInputError(device_text("devices.keypad.unknown_key"))

    def _after_complete(self) -> None:
        if self.pad_options is None:
            return
        if not self.refresh_rating() and self.pad_options.get("prompt_after_complete", True):
            self.devices.prompt_pad()

    def refresh_rating(self) -> bool:
        """Ask the server what the pad may offer to rate now and pass it on; False if it could not be read."""
        try:
            prompt = self.client.get(f"/windows/{self.window}/rating-prompt")
        except ApiError as e:
            log.debug("window %d: rating prompt not available (%s %s)", self.window, e.status, e.code)
            return False
        if isinstance(prompt, dict):
            self.devices.offer_rating(prompt)
        return True

    def _transfer_target(self, digits: str) -> dict[str, Any]:
        if digits.startswith("*") and digits[1:].isascii() and digits[1:].isdigit():
            k = int(digits[1:])
            if not 1 <= k <= len(self.business_codes):
                raise KeypadInputError(device_text("devices.keypad.business_choice", count=len(self.business_codes)))
            return {"to_business": self.business_codes[k - 1]}
        if digits.isascii() and digits.isdigit() and 1 <= int(digits) <= 999:
            return {"to_window": int(digits)}
        raise KeypadInputError(device_text("devices.keypad.transfer_needs_window"))

    def _held_ticket(self, digits: str) -> str:
        held = [t["ticket"] for t in self.client.get(f"/windows/{self.window}/queue").get("held", [])]
        if not held:
            raise KeypadInputError(device_text("devices.keypad.no_held"))
        if not digits:
            return held[0]  # the longest held
        if not (digits.isascii() and digits.isdigit()):
            raise KeypadInputError(device_text("devices.keypad.held_digits"))
        matches = [t for t in held if t.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ").lstrip("0") == digits.lstrip("0")]
        if len(matches) != 1:
            raise KeypadInputError(device_text("devices.keypad.held_several" if matches else "devices.keypad.held_none",
                                               digits=digits))
        return matches[0]


def _label(result: Any) -> str:
    """The ticket number in an action's answer ("" if the answer has none)."""
    ticket = result.get("ticket") if isinstance(result, dict) else None
    return str(ticket.get("ticket", "")) if isinstance(ticket, dict) else ""
