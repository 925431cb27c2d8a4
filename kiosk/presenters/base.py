"""What every screen's presenter shares: the view it describes, events, errors, automatic retries.

A presenter holds one screen's state and talks to the server and devices;
it imports no Kivy, so it is tested directly. The Kivy layer renders
:class:`View` and sends events back (:meth:`Flow.handle`) from a worker
thread, then re-renders on the main thread.

Events: ``choose`` (an option's key), ``action`` (a button's key),
``submit`` (typed text, or a dict of form values), ``toggle`` (a checklist
entry), ``card`` (an IdCard read), ``scan`` (scanned text), ``back``,
``retry`` (the automatic retry when the server was unreachable).

When the server cannot be reached, a presenter keeps what it was doing in
``_pending`` and says so; the UI calls ``retry`` every ``retry_seconds``,
and the same press key goes out again, so nothing is done twice. While a
press is being retried the idle timer is held (the UI asks :attr:`Flow.retrying`):
the number the server may already have issued is not wiped away.

Once the server has done what was asked (a number issued, a slot booked),
nothing after it may lose the result: building and printing the slip, the
place to wait, the spoken words go through :meth:`Flow.after_commit`, and
whatever fails there is logged and becomes a print problem; the result
screen is always shown.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from hallq.client import ApiError, Unreachable
from kiosk.api import PressKey
from kiosk.devices import PrintOutcome
from kiosk.session import KioskSession
from kiosk.texts import texts

if TYPE_CHECKING:  # forms.py builds on this module's Field and Option
    from kiosk.presenters.forms import FormState

log = logging.getLogger("hallq.kiosk")
T = TypeVar("T")

# the printer problems the catalogue names (kiosk.printer.*); any other code a driver reports (no_answer,
# timeout...) is shown to the resident as the generic printer_error
PRINTER_PROBLEMS = ("paper_out", "cover_open", "jammed", "offline", "unplugged", "printer_error", "none")


@dataclass
class Option:
    key: str
    label: str
    detail: str = ""
    badge: str = ""
    enabled: bool = True
    selected: bool = False
    primary: bool = False
    pinned: bool = False        # always in sight, below a list that scrolls ("不确定具体事项")


@dataclass
class Field:
    key: str
    label: str
    kind: str = "text"          # text | number | date | phone | id_number | select | textarea | name
    value: str = ""
    error: str = ""
    required: bool = False
    options: list[Option] = field(default_factory=list)
    hint: str = ""
    max_len: int | None = None
    pattern: str = ""           # the form's own regular expression, if any (hall.toml ``pattern``)
    from_card: bool = False     # read from the ID card: ``value`` is its mask (the full value never reaches a screen)

    @property
    def digits_only(self) -> bool:
        """A text field whose pattern allows nothing but digits (a bank account): the keyboard opens on 123."""
        return bool(self.pattern) and re.fullmatch(r"(?:\[0-9\]|\\d|\{\d+(?:,\d*)?\}|[+*?])+", self.pattern) is not None


@dataclass
class Section:
    title: str
    lines: list[str]


@dataclass
class Notice:
    level: str                  # info | ok | warn | error
    text: str
    prefix: str = ""            # a word, so colour is never the only signal

    @property
    def full(self) -> str:
        return f"{self.prefix}{self.text}"


@dataclass
class View:
    flow: str
    step: str
    kind: str                   # menu | choose | identity | entry | form | checklist | info | result
    title: str
    prompt: str = ""
    options: list[Option] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    actions: list[Option] = field(default_factory=list)
    notice: Notice | None = None
    step_no: int = 0
    step_count: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    entry: dict[str, Any] = field(default_factory=dict)
    retry_in: float | None = None
    listens: tuple[str, ...] = ()        # "card", "scan": the UI polls those devices while shown
    demo: list[Option] = field(default_factory=list)
    multi: bool = False                  # choose several options (checklists, rating reasons)
    back: bool = True                    # a "back" button makes sense here


class Done(Exception):
    """Raised by a step handler to stop processing an event (the notice says why)."""


def readable(e: ApiError) -> ApiError:
    """``e`` with words for the resident: an answer that is not the hall's own error shape (a proxy's HTML page,
    another server's JSON) carries no sentence of ours, only a technical one in English: it gets the catalogue's
    (kiosk.server_odd_answer) in every language."""
    if e.code in ("bad_response", "answer_too_large") or not e.messages.get("zh-Hans"):
        log.warning("the server's answer was not ours: %s %s %s", e.status, e.code, e.messages.get("en", "")[:200])
        e.messages = texts("server_odd_answer")
    return e


class Flow:
    """One screen's presenter. Subclasses define ``name``, ``reset`` and ``view``, and event handlers."""

    name = "flow"

    def __init__(self, session: KioskSession) -> None:
        self.s = session
        self.press = PressKey()
        self.notice: Notice | None = None
        self._pending: Callable[[], None] | None = None
        self._retried = False          # the pending operation failed more than once: "still trying" is said
        self.finished = False          # the flow reached its end: the UI may return home after a while
        self.unprinted = False         # its result (a number, a code) was not printed: the screen is its only record
        self.navigate: tuple[str, dict[str, Any]] | None = None   # another screen asked for (the UI goes there)
        self.reset()
        session.on_wipe.append(self.reset)
        session.on_forget.append(self.press.forget)

    # -- lifecycle ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything of the last resident (idle timeout, home, done). A press left while it was being
        retried keeps its key for the identical request (:meth:`kiosk.api.PressKey.leave`)."""
        self._leave_press()
        self.notice = None
        self.finished = False
        self.unprinted = False
        self.navigate = None
        self.step = self.first_step()

    def _leave_press(self) -> None:
        if self.retrying:
            self.press.leave()
        else:
            self.press.done()
        self._pending = None
        self._retried = False

    @property
    def retrying(self) -> bool:
        """A confirm press is being retried automatically: its answer (a number?) is not known yet."""
        return self._pending is not None and self.press.pending

    def first_step(self) -> str:
        return "start"

    def start(self, **kw: Any) -> None:
        """Enter the flow from the home screen (or another flow, with a preselection)."""
        self.reset()

    def view(self) -> View:  # pragma: no cover - every flow overrides it
        raise NotImplementedError

    # -- events --------------------------------------------------------------------------------

    def handle(self, event: str, arg: Any = None) -> bool:
        """Apply one event; returns False when the flow wants to go home (back on the first step)."""
        if event not in ("retry", "card_error"):     # automatic events are not a resident at the screen
            self.s.touch()
        if event == "retry":
            said = self.notice
            if self._pending is not None and self._attempt(self._pending) and self.notice is said:
                self.notice = None       # it went through: "cannot reach the server" is no longer true
            return True
        if event == "back":
            self.notice = None
            self._leave_press()
            return self.go_back()
        handler = getattr(self, f"on_{event}", None)
        if handler is None:
            log.warning("%s: no handler for event %s", self.name, event)
            return True
        if event not in ("card", "scan"):
            self.notice = None
        try:
            handler(arg)
        except Done:
            pass
        return True

    def go_back(self) -> bool:
        """Step back; False at the first step (the UI goes home)."""
        return False

    def refresh_seconds(self) -> float | None:
        """How often the UI should call :meth:`refresh` while this flow is shown (None: never)."""
        return None

    def refresh(self) -> None:
        """Ask the server again for what this screen shows; not a resident's touch (the idle timer runs on)."""

    # -- helpers -------------------------------------------------------------------------------

    def t(self, key: str, **fmt: Any) -> str:
        return self.s.t(key, **fmt)

    def tell(self, level: str, text: str) -> None:
        prefix = self.t({"error": "error_prefix", "warn": "warn_prefix", "ok": "ok_prefix"}.get(level, "info_prefix"))
        self.notice = Notice(level, text, prefix)

    def fail(self, text: str) -> None:
        """Show an error sentence and stop handling the event (input stays as it was)."""
        self.tell("error", text)
        raise Done

    def _attempt(self, operation: Callable[[], None]) -> bool:
        """Run a server operation; remember it for the automatic retry when the server is unreachable."""
        try:
            operation()
        except Unreachable as e:
            log.warning("%s: server unreachable (%s %s); will retry with the same request key", self.name,
                        e.status or "", e.detail.get("cause", "") or e.code)
            self._retried = self._pending is not None
            self._pending = operation
            # the second time on, "still trying": the resident sees it has not given up (and need not press again)
            self.tell("error", self.t("retrying_still" if self._retried else "retrying",
                                      seconds=self.s.cfg.retry_seconds))
            return False
        except ApiError as e:
            self._pending, self._retried = None, False
            self.press.done()
            self.on_api_error(readable(e))
            return False
        except Done:
            self._pending, self._retried = None, False
            return False
        except Exception:
            if not self.finished:
                raise
            # the server did it (the result is set) and something after it failed: the result stays on screen
            log.exception("%s: failed after the server's answer; its result is shown anyway", self.name)
        self._pending, self._retried = None, False
        return True

    def after_commit(self, what: str, step: Callable[[], T], fallback: T) -> T:
        """One step after the server did what was asked (the slip built and printed, where to wait, the words
        said): whatever fails in it is logged and ``fallback`` used, so the result is always shown."""
        try:
            return step()
        except Exception:
            log.exception("%s: %s failed after the server's answer; the result is shown anyway", self.name, what)
            return fallback

    def print_result(self, build: Callable[[], bytes]) -> PrintOutcome:
        """Print the slip of a result (ticket, booking slip, receipt); never raises. ``unprinted`` says whether
        the screen is now its only record."""
        outcome = self.s.devices.print_document(build)
        self.unprinted = not outcome.printed
        return outcome

    def on_api_error(self, e: ApiError) -> None:
        """Default: the server's own sentence, in the resident's language."""
        self.tell("error", e.message(self.s.lang))

    def printer_problem(self, code: str | None) -> str:
        """A printer problem in the resident's words ("" for none): the catalogue's name for the codes it names,
        the generic printer fault for any other code a driver may report."""
        if not code:
            return ""
        return self.t(f"printer.{code}" if code in PRINTER_PROBLEMS else "printer.printer_error")

    def print_notice(self, build: Callable[[], bytes]) -> None:
        """Print a notice slip (一次性告知单) and say how it went: printed, or the printer's problem."""
        outcome = self.s.devices.print_document(build)
        if outcome.printed:
            self.tell("ok", self.t("guide.notice_printed"))
        else:
            self.tell("warn", self.printer_problem(outcome.problem))

    def base_view(self, step: str, kind: str, title_key: str, **kw: Any) -> View:
        v = View(flow=self.name, step=step, kind=kind, title=self.t(title_key), notice=self.notice, **kw)
        if self._pending is not None:
            v.retry_in = float(self.s.cfg.retry_seconds)
        return v

    def can(self, *listens: str) -> tuple[str, ...]:
        """Which of "card" / "scan" this kiosk can do (no reader or no scanner: that way is not offered)."""
        d = self.s.devices
        have = {"card": d.reader is not None, "scan": d.scanner is not None}
        return tuple(x for x in listens if have.get(x))

    def prompt_for(self, base: str, listens: tuple[str, ...]) -> str:
        """The instruction naming only the ways this kiosk has: base, base_card, or base_code."""
        if "scan" in listens:
            return self.t(base)
        return self.t(f"{base}_card" if "card" in listens else f"{base}_code")

    def step_of(self, steps: list[str]) -> tuple[int, int]:
        return (steps.index(self.step) + 1, len(steps)) if self.step in steps else (0, len(steps))

    def go(self, flow: str, **kw: Any) -> None:
        """Ask the UI to open another screen (``home`` included), with a preselection."""
        self.navigate = (flow, kw)

    def take_navigation(self) -> tuple[str, dict[str, Any]] | None:
        nav, self.navigate = self.navigate, None
        return nav


class ItemFlow(Flow):
    """A flow that starts at the hall's list of items (办事项): booking, applying. From a guide it is entered
    with the item already chosen; while the server cannot be reached the list is said to be retried."""

    def first_step(self) -> str:
        return "item"

    def start(self, item: str | None = None, **_: Any) -> None:
        self.reset()
        self._attempt(self._load)
        if item:
            self.on_choose(item)

    def on_choose(self, key: str) -> None:  # pragma: no cover - every item flow overrides it
        raise NotImplementedError

    def _load(self) -> None:
        self.s.hall()
        self.s.items()

    def person_view(self, step: str, title_key: str, prompt_key: str, person: FormState, **kw: Any) -> View:
        """The resident's own details (name, ID number, phone...: ``person``, a FormState), from the ID card where
        the kiosk has a reader (a demo card on a simulated one), or typed."""
        v = self.base_view(step, "form", title_key, prompt=self.t(prompt_key), listens=self.can("card"), **kw)
        v.fields = person.fields(self.s.lang)
        v.result = {"hint": self.t("appt.person_hint") if v.listens else ""}
        v.actions = [Option("next", self.t("next"), primary=True)]
        if self.s.devices.simulated.get("id_reader"):
            v.demo = [Option("demo_card", self.t("demo_card"))]
        return v
