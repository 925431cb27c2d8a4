"""What a display board knows: the hall's state as far as this board shows it. Kivy-free.

The model is fed only by the contract topics (``board``, ``calls``,
``queues``, ``windows``, ``notices``, ``status``): the retained snapshots give
the full state the moment a board is switched on, and call events bring
each new call within milliseconds. Everything it holds is bounded, so a
board that runs for months holds as much after a million calls as after ten:
the recent calls are a short list, queues and windows are keyed by the
hall's own (bounded) numbers, notices are capped.

Rules (docs/display-board.md):

* a call event newer than anything seen becomes the newest call and flashes;
  a QoS 1 repeat (same ``seq``) changes nothing; a gap is counted and the next
  board snapshot fills it (snapshots are merged, never trusted to be newer);
* a ticket number appears once in the recent calls: a recall moves it to the
  top, marked as a recall; a transferred ticket keeps its number and changes
  its business, so entries are keyed by the number alone (unique in a day: its
  letters are the prefix of the business it was issued for);
* a call that reaches the board only through a snapshot (its event was lost,
  e.g. while the broker restarted) flashes like an event when it is newer than
  anything seen and fresh;
* a new business day, a restarted call numbering, a restarted server, or a
  snapshot whose calls reuse a ``seq`` the board shows for another ticket (a
  restored database) make the board snapshot authoritative (replace instead
  of merge).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hallq import contract
from hallq.feed import DUPLICATE, LATE, RESTART, SeqTracker
from hallq.privacy import scrub_ids, strip_controls
from display_board.settings import BoardSettings

log = logging.getLogger("hallq.board")

MAX_QUEUES = 26  # the contract's limit of businesses per hall
MAX_NOTICES = 20
MAX_NOTICE_CHARS = 200  # one notice is one line of the ticker; a texture wider than the GPU allows would fail
# a call first heard in a snapshot (its event lost) still flashes when the snapshot was built this soon after it
SNAPSHOT_FLASH_SECONDS = 60


@dataclass(frozen=True)
class Call:
    """One call as the board shows it."""

    seq: int
    kind: str  # call, recall, call_back
    ticket: str
    business: str
    business_name: dict[str, str]
    window: int
    window_name: dict[str, str]
    area: str
    at: str
    recalls: int = 0

    @classmethod
    def of(cls, p: dict[str, Any]) -> "Call":
        return cls(seq=p["seq"], kind=p["kind"], ticket=p["ticket"], business=p["business"],
                   business_name=dict(p.get("business_name") or {}), window=p["window"],
                   window_name=dict(p.get("window_name") or {}), area=p.get("area", ""), at=p["at"],
                   recalls=p.get("recalls", 0))

    @property
    def day(self) -> str:
        return self.at[:10]


@dataclass
class Stats:
    calls: int = 0
    shown: int = 0
    duplicates: int = 0
    gaps: int = 0
    snapshots: int = 0
    restarts: int = 0


@dataclass
class BoardModel:
    """The board's state, changed only through :meth:`apply` and :meth:`set_link`."""

    settings: BoardSettings
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = lambda: datetime.now().astimezone()
    hall_name: dict[str, str] = field(default_factory=dict)
    business_day: str | None = None
    serving: bool | None = None
    issuing: bool | None = None
    recent: list[Call] = field(default_factory=list)  # newest first, only calls this board shows
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    windows: dict[int, dict[str, Any]] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)
    broker_connected: bool = False
    server_state: str | None = None  # online / offline / stopped, from the server's retained status
    have_snapshot: bool = False
    last_update: str | None = None  # the server time of the last snapshot
    flash_until: float = 0.0
    version: int = 0  # +1 on every visible change
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        self.tracker = SeqTracker()
        self.hall_name = self.hall_name or dict(self.settings.hall.name)
        self._resync = False

    # -- input ---------------------------------------------------------------------

    def apply(self, topic: contract.Topic, params: dict[str, str], payload: dict[str, Any]) -> bool:
        """Apply one decoded contract message; True when what the board shows changed."""
        handler = {
            "calls": self._on_call, "board": self._on_board, "queue": self._on_queue,
            "window": self._on_window, "notices": self._on_notices, "status": self._on_status,
        }.get(topic.name)
        if handler is None:
            return False
        changed = handler(params, payload)
        if changed:
            self.version += 1
        return changed

    def set_link(self, connected: bool) -> bool:
        """The broker connection went up or down."""
        if connected == self.broker_connected:
            return False
        self.broker_connected = connected
        self.version += 1
        return True

    # -- state for the presenter -------------------------------------------------------------

    @property
    def newest(self) -> Call | None:
        return self.recent[0] if self.recent else None

    def flashing(self) -> bool:
        return self.monotonic() < self.flash_until

    @property
    def link_ok(self) -> bool:
        return self.broker_connected and self.server_state not in ("offline", "stopped")

    # -- handlers ------------------------------------------------------------------------------

    def _on_call(self, params: dict[str, str], p: dict[str, Any]) -> bool:
        self.stats.calls += 1
        verdict, missing = self.tracker.classify(p)
        if verdict == DUPLICATE:
            self.stats.duplicates += 1
            return False
        if missing:
            self.stats.gaps += 1
            log.info("missed %d call(s) before seq %d; the next board snapshot fills them in", missing, p["seq"])
        call = Call.of(p)
        if verdict == RESTART:
            self.stats.restarts += 1
            self.recent.clear()
            self._resync = True
        if self.business_day and call.day > self.business_day:
            self.recent.clear()  # the first call of a new day: yesterday's calls go
            self.business_day = call.day
        if not self.settings.shows_window(call.window, call.area):
            return False
        self.stats.shown += 1
        became_newest = self._add(call)
        if became_newest and verdict != LATE:
            self.flash_until = self.monotonic() + self.settings.flash_seconds
        return True

    def _add(self, call: Call) -> bool:
        """Put ``call`` in the recent list (one entry per ticket number); True if it is now the newest.

        Keyed by the number alone: a transfer keeps the number and changes the business (B003 called at window 4
        for 工程建设项目, then at window 2 for 商事登记 is one resident, shown once, at the newest window)."""
        same_seq = next((i for i, c in enumerate(self.recent) if c.seq == call.seq and c.ticket != call.ticket), None)
        if same_seq is not None:
            del self.recent[same_seq]  # one seq is one call: the last word on it wins (the rows are keyed by seq)
        for i, c in enumerate(self.recent):
            if c.ticket == call.ticket:
                if c.seq >= call.seq:
                    return False  # we already show a newer call of this ticket
                del self.recent[i]
                break
        pos = 0
        while pos < len(self.recent) and self.recent[pos].seq > call.seq:
            pos += 1
        if pos >= self.settings.recent_calls:
            return False
        self.recent.insert(pos, call)
        del self.recent[self.settings.recent_calls:]
        return pos == 0

    def _on_board(self, params: dict[str, str], p: dict[str, Any]) -> bool:
        self.stats.snapshots += 1
        calls = [Call.of(c) for c in p["recent_calls"]]
        day = p["business_day"]
        last_seq = p.get("last_seq", calls[0].seq if calls else 0)
        newest = self.newest
        shown = {c.seq: c.ticket for c in self.recent}
        reused = next((c for c in calls if shown.get(c.seq, c.ticket) != c.ticket), None)
        replace = (self._resync or day != self.business_day or not self.have_snapshot and not self.recent
                   or reused is not None
                   or (newest is not None and last_seq < newest.seq and _not_before(p["updated_at"], newest.at)))
        if replace:
            if reused is not None and day == self.business_day:
                # a restored database numbers its calls again (the board may have missed the server going offline)
                log.warning("the server's call seq %d is %s, not %s as shown: its calls were renumbered; showing "
                            "the server's state", reused.seq, reused.ticket, shown[reused.seq])
            elif self.have_snapshot and last_seq < self.tracker.last and day == self.business_day:
                log.warning("the server's calls restarted at seq %d (had %d): showing the server's state",
                            last_seq, self.tracker.last)
            self.recent.clear()
            self.tracker.reset(last_seq)
            self._resync = False
        heard = 0 if replace else self.tracker.last  # the newest seq this board has seen, as an event or in a snapshot
        lost: Call | None = None  # the newest call whose event never came
        for raw, c in sorted(zip(p["recent_calls"], calls), key=lambda rc: rc[1].seq):
            self.tracker.remember(raw)
            if self.settings.shows_window(c.window, c.area) and self._add(c) and heard and c.seq > heard:
                # fresh news by the snapshot's time and by this board's clock: a retained snapshot keeps the time
                # of the hall's last change, so one read after a quiet half hour would flash its call as new
                lost = c if (_within(p["updated_at"], c.at, SNAPSHOT_FLASH_SECONDS)
                             and _within(self.wall().isoformat(), c.at, SNAPSHOT_FLASH_SECONDS)) else None
        if lost is not None and lost is self.newest:
            log.info("call %s (seq %d) reached the board only through a snapshot: its event was lost; shown as new",
                     lost.ticket, lost.seq)
            self.stats.shown += 1
            self.flash_until = self.monotonic() + self.settings.flash_seconds
        self.business_day = day
        self.hall_name = dict(p.get("hall_name") or self.hall_name)
        self.serving = p.get("serving", self.serving)
        self.issuing = p.get("issuing", self.issuing)
        self.queues = {q["business"]: dict(q) for q in p["queues"][:MAX_QUEUES]}
        self.windows = {w["number"]: dict(w) for w in p["windows"]}
        self.have_snapshot = True
        self.last_update = p["updated_at"]
        return True

    def _on_queue(self, params: dict[str, str], p: dict[str, Any]) -> bool:
        code = p["business"]
        if code not in self.queues and len(self.queues) >= MAX_QUEUES:
            return False
        keep = ("business", "name", "prefix", "waiting", "est_wait_minutes", "est_wait_range", "windows_serving",
                "last_called")
        q = {k: p[k] for k in keep if k in p}
        if self.queues.get(code) == q:
            return False
        self.queues[code] = q
        return True

    def _on_window(self, params: dict[str, str], p: dict[str, Any]) -> bool:
        current = p.get("current")
        w = {"number": p["number"], "name": p.get("name", {}), "area": p.get("area", ""), "state": p["state"],
             "current": current.get("ticket") if isinstance(current, dict) else None}
        if self.windows.get(p["number"]) == w:
            return False
        self.windows[p["number"]] = w
        return True

    def _on_notices(self, params: dict[str, str], p: dict[str, Any]) -> bool:
        notices = [_shown_notice(n) for n in p["notices"][:MAX_NOTICES]]
        if notices == self.notices:
            return False
        self.notices = notices
        return True

    def _on_status(self, params: dict[str, str], p: dict[str, Any]) -> bool:
        if params.get("kind") != "server":
            return False  # kiosks, gateways, other boards: not this board's business
        state = p["state"]
        if state == self.server_state:
            return False
        if state == "online" and self.server_state in ("offline", "stopped"):
            self._resync = True  # a restarted server's first snapshot is the truth (it may have a new database)
        self.server_state = state
        return True


def _not_before(snapshot_time: str, call_time: str) -> bool:
    """Whether a snapshot was built well after a call (so it must contain it).

    The margin covers a call whose transaction was still open while the
    snapshot was read: that snapshot rightly lacks it, the next one has it.
    """
    try:
        return (datetime.fromisoformat(snapshot_time) - datetime.fromisoformat(call_time)).total_seconds() >= 5
    except ValueError:
        return False


def _within(snapshot_time: str, call_time: str, seconds: float) -> bool:
    """Whether a snapshot was built at most ``seconds`` after a call (the call is still fresh news)."""
    try:
        return (datetime.fromisoformat(snapshot_time) - datetime.fromisoformat(call_time)).total_seconds() <= seconds
    except (TypeError, ValueError):
        return False


def _shown_notice(notice: dict[str, Any]) -> dict[str, Any]:
    """A notice as the board may show it, cleaned once as it arrives: one line, any ID or mobile number masked. The
    server stores notices so (queue_server/domain/notices.py); one stored before it did, or sent by anyone else who
    can publish on the topic, must not put a full ID number on the hall's screen either."""
    n = dict(notice)
    text = n.get("text")
    if isinstance(text, dict):
        n["text"] = {lang: scrub_ids(strip_controls(t)) if isinstance(t, str) else t for lang, t in text.items()}
    return n
