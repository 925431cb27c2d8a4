"""The voice announcer (语音叫号): one announcement at a time, in call order, never stale.

Calls arrive from MQTT (:meth:`Announcer.offer`, any thread) and wait in a
list ordered by ``seq``; one worker thread takes them in that order, builds
the announcement's audio (chime, the sentence in each language, repeated) and
plays it through the voice output, which returns only when it has finished.
So announcements never overlap and never change order.

Rules (docs/announcer.md):

* a QoS 1 repeat of a call (same ``seq``) is dropped; a call to a window this
  announcer does not cover is ignored;
* when ``seq`` n+1 is missing but n+2 is here, the worker waits up to
  ``reorder_wait_ms`` for it (a late delivery), then goes on;
* whether a call arrived late is told from its own ``at`` against the hall's
  clock here, less the difference between this machine's clock and the
  server's as the calls show it (:class:`ClockGap`); that only decides
  whether to wait for the rest of a backlog: a call is never dropped because
  the two clocks disagree;
* a call that arrives late (re-sent by the server after a broker outage) is
  not read when it is more than ``max_age_seconds`` older than the newest
  call heard (both on the server's clock), nor when a later call went to its
  window or called its ticket again: of a backlog only the newest call of
  each window is read. A call older than one its window has already had is
  never read;
* a call that has grown older than ``max_age_seconds`` while waiting is
  *stale*: if its window has called someone else since, or its ticket was
  called again, it is dropped (the board shows it); the others are read out
  together in one merged sentence (``stale = "merge"``, up to ``merge_max``
  per sentence) or dropped (``stale = "skip"``). Nothing is read out minutes
  late one by one.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from device_drivers.base import DeviceError
from device_drivers.voice import Played, VoiceOutput
from display_board.audio import Pcm, chime, join, silence, write_wav
from display_board.settings import AnnouncerSettings
from display_board.speech import call_text, merged_text
from display_board.synth import SynthesisError, Synthesizer
from hallq.clock import Clock
from hallq.feed import DUPLICATE, RESTART, SeqTracker

log = logging.getLogger("hallq.announcer")

MAX_PENDING = 1000  # a hall never has this many unannounced calls; a flood must not exhaust memory
LATE_SECONDS = 5.0  # a call this much older than its `at` when it arrives was held up: a backlog re-sent late
REPLAY_HORIZON = 150.0  # the server re-sends calls at most 120 s old (replay_max_age): an older one means the clocks differ
CLOCK_MEMORY = 600.0  # the calls of the last 10 minutes tell how far this clock is from the server's ...
CLOCK_SPAN = 60.0  # ... once they came at least a minute apart: one burst (a re-sent backlog) proves nothing
CLOCK_WARN_EVERY = 600.0  # seconds between warnings about a changed clock difference


@dataclass(order=True)
class Pending:
    seq: int
    received: float = field(compare=False)  # when it arrived (monotonic)
    call: dict[str, Any] = field(compare=False, repr=False)
    late: float = field(default=0.0, compare=False)  # how old it already was when it arrived (by its `at`)
    at: datetime | None = field(default=None, compare=False)  # its own time, on the server's clock

    def age(self, now: float) -> float:
        """How long it has waited here: a clock that disagrees with the server's must never make a call stale."""
        return now - self.received


class ClockGap:
    """How far this machine's hall clock is ahead of the server's, which stamps each call's ``at``.

    A call arrives ``lag`` seconds after its ``at`` by this clock: its delay on the way plus the
    difference of the clocks. The clocks are taken to agree (NTP keeps both right) until the calls
    show otherwise: once the calls of the last ``CLOCK_MEMORY`` seconds came at least ``CLOCK_SPAN``
    apart, the smallest of their lags is the difference (the freshest delivery had next to no delay).
    A call from the future, or older than the server ever re-sends one (``REPLAY_HORIZON``), proves
    the difference wrong at once: its own lag is the new difference (a demo on a virtual clock, a
    machine off by minutes or days). So an age is never overestimated for long, and a wrong clock
    here cannot silence the hall.
    """

    def __init__(self) -> None:
        self.ahead = 0.0  # seconds this clock is ahead of the server's
        self._lags: deque[tuple[float, float]] = deque(maxlen=MAX_PENDING)  # (arrival, monotonic; lag)
        self._warned: tuple[float, float] | None = None  # (when, difference) of the last warning

    def age(self, lag: float, arrived: float) -> float:
        """How old a call was when it arrived at ``arrived`` (monotonic), ``lag`` s after its ``at``."""
        lags = self._lags
        lags.append((arrived, lag))
        while arrived - lags[0][0] > CLOCK_MEMORY:
            lags.popleft()
        if arrived - lags[0][0] >= CLOCK_SPAN:
            self._set(min(x for _, x in lags), arrived)
        age = lag - self.ahead
        if age < 0 or age > REPLAY_HORIZON:
            self._set(lag, arrived)
            if age > 0:  # the clocks changed: what was learnt before no longer holds
                lags.clear()
                lags.append((arrived, lag))
            age = 0.0
        return age

    def _set(self, ahead: float, now: float) -> None:
        self.ahead = ahead
        if abs(ahead) < LATE_SECONDS:
            return
        if self._warned is None or (abs(ahead - self._warned[1]) >= LATE_SECONDS
                                    and now - self._warned[0] >= CLOCK_WARN_EVERY):
            self._warned = (now, ahead)
            log.warning("this machine's clock is %.0f s %s the queue server's (as the calls' times show): the age "
                        "of a call is measured with that difference; keep both clocks synchronised (NTP)",
                        abs(ahead), "ahead of" if ahead > 0 else "behind")


@dataclass
class Announcement:
    """One announcement: the calls it reads, its words, its audio, when it was ready and played."""

    seqs: tuple[int, ...]
    tickets: tuple[str, ...]
    kind: str  # call, recall, call_back, merged
    texts: dict[str, str]
    received: float  # when the first of its calls arrived (monotonic)
    ready: float = 0.0  # when its audio was written (monotonic)
    seconds: float = 0.0
    cached: bool = False  # every phrase came from the cache
    wav: Path | None = None
    played: Played | None = None
    error: str = ""

    @property
    def label(self) -> str:
        first = f"{self.seqs[0]:08d}-{self.tickets[0]}"
        return first if len(self.seqs) == 1 else f"{first}-merged{len(self.seqs)}"


@dataclass
class Counters:
    offered: int = 0
    duplicates: int = 0
    ignored: int = 0
    announced: int = 0
    merged: int = 0
    skipped: int = 0
    failed: int = 0


# why calls are not read (docs/announcer.md), after their number in the log
TOO_OLD = ("over {max_age:.0f} s old when they arrived (re-sent after a broker outage, or this machine's clock is "
           "ahead of the server's)")
SUPERSEDED = "superseded (their window has called someone else since, or their ticket was called again)"
OUTRUN = "older than a call their window has already had"
WAITED = 'waited over {max_age:.0f} s (stale = "skip")'


class Announcer:
    def __init__(self, settings: AnnouncerSettings, synth: Synthesizer, output: VoiceOutput, work_dir: Path,
                 monotonic: Callable[[], float] = time.monotonic, now: Callable[[], datetime] | None = None) -> None:
        """``now``: the hall's clock (a :class:`hallq.clock.Clock`'s ``now``), against which each call's ``at``
        tells its age; ``monotonic`` measures waits. Tests give both from one virtual clock."""
        self.settings = settings
        self.synth = synth
        self.output = output
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        self.monotonic = monotonic
        self.now = now or Clock().now
        self.clock_gap = ClockGap()
        self.tracker = SeqTracker()
        self.counters = Counters()
        self.last_seq = 0  # seq of the last call taken for announcing
        self._window_seq: dict[int, int] = {}  # window → seq of its last call taken (read or dropped)
        self._latest_at: datetime | None = None  # the newest call's own time heard so far (the server's clock)
        self.on_ready: list[Callable[[Announcement], None]] = []
        self.on_done: list[Callable[[Announcement], None]] = []
        self.on_problem: list[Callable[[str, str], None]] = []  # (code, message), e.g. for device health
        self.on_skipped: list[Callable[[list[Pending]], None]] = []
        self._pending: list[Pending] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.busy = False

    # -- input -------------------------------------------------------------------------

    def offer(self, call: dict[str, Any]) -> bool:
        """A decoded ``calls`` payload; True when it was queued for announcing. Thread-safe."""
        with self._cond:
            self.counters.offered += 1
            verdict, _ = self.tracker.classify(call)
            if verdict == DUPLICATE:
                self.counters.duplicates += 1
                return False
            if verdict == RESTART:
                self.last_seq = 0
                self._window_seq.clear()
                self._latest_at = None
            if not self.settings.hears_window(call["window"], call.get("area", "")):
                self.counters.ignored += 1
                return False
            received = self.monotonic()
            at = self._at(call)
            late = 0.0 if at is None else self.clock_gap.age((self.now() - at).total_seconds(), received)
            if at is not None and (self._latest_at is None or at > self._latest_at):
                self._latest_at = at
            bisect.insort(self._pending, Pending(call["seq"], received, call, late, at))
            if len(self._pending) > MAX_PENDING:
                dropped = self._pending.pop(0)
                self.counters.skipped += 1
                log.warning("more than %d calls waiting to be announced: dropped %s (seq %d)",
                            MAX_PENDING, dropped.call["ticket"], dropped.seq)
            self._cond.notify_all()
            return True

    @staticmethod
    def _at(call: dict[str, Any]) -> datetime | None:
        """The call's ``at`` (the server's clock); None when it is no usable time."""
        try:
            at = datetime.fromisoformat(call["at"])
            return at if at.tzinfo is not None else None
        except (KeyError, TypeError, ValueError, OverflowError):
            return None

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def idle(self) -> bool:
        with self._cond:
            return not self._pending and not self.busy

    # -- choosing what to say next -------------------------------------------------------------

    def plan(self, now: float) -> tuple[list[Pending] | None, float | None]:
        """What to announce now (``(group, None)``) or how long to wait (``(None, seconds)``). Lock held."""
        s = self.settings
        settle = s.reorder_wait_ms / 1000
        while self._pending:
            late = [p.received for p in self._pending if p.late > LATE_SECONDS]
            if late and min(late) + settle > now:
                return None, min(late) + settle - now  # a backlog is arriving: judge it once it is all here
            unwanted = [(p, why) for p in self._pending if (why := self._unwanted(p))]
            if unwanted:
                self._take([p for p, _ in unwanted])
                self._skip(unwanted, now)
                continue
            first = self._pending[0]
            waited = now - first.received
            if self.last_seq and first.seq > self.last_seq + 1 and waited < settle:
                return None, settle - waited  # seq last+1 may still come
            stale = [p for p in self._pending if p.age(now) > s.max_age_seconds]
            if not stale:
                self._take([first])
                return [first], None
            superseded = [p for p in stale if self._superseded(p)]
            rest = [p for p in stale if p not in superseded]
            dropped = [(p, SUPERSEDED) for p in superseded]
            if s.stale == "skip":
                dropped += [(p, WAITED) for p in rest]
            if dropped:
                self._take([p for p, _ in dropped])
                self._skip(dropped, now)
            if s.stale == "merge" and rest:
                group = rest[:s.merge_max]
                self._take(group)
                return group, None
        return None, None

    def _unwanted(self, p: Pending) -> str:
        """Why ``p`` is not to be read whatever happens next, or "" (see the module's rules)."""
        if p.seq < self._window_seq.get(p.call["window"], 0):
            return OUTRUN
        # too old: by the server's own clock, against the newest call heard (never this machine's clock against the
        # server's: a lone call is never silenced because the two disagree)
        if p.late > LATE_SECONDS and p.at is not None and self._latest_at is not None \
                and (self._latest_at - p.at).total_seconds() > self.settings.max_age_seconds:
            return TOO_OLD
        if p.late > LATE_SECONDS and self._superseded(p):
            return SUPERSEDED
        return ""

    def _superseded(self, p: Pending) -> bool:
        """A later pending call went to the same window, or called the same ticket again."""
        c = p.call
        return any(q.seq > p.seq and (q.call["window"] == c["window"]
                                      or (q.call["ticket"], q.call["business"]) == (c["ticket"], c["business"]))
                   for q in self._pending)

    def _take(self, group: list[Pending]) -> None:
        for p in group:
            self._pending.remove(p)
            window = p.call["window"]
            self._window_seq[window] = max(self._window_seq.get(window, 0), p.seq)
        self.last_seq = max(self.last_seq, *(p.seq for p in group))

    def _skip(self, dropped: list[tuple[Pending, str]], now: float) -> None:
        """Count ``dropped`` ((call, why) pairs) as skipped and say so in one line."""
        self.counters.skipped += len(dropped)
        whys: dict[str, int] = {}
        for _, why in dropped:
            whys[why] = whys.get(why, 0) + 1
        reasons = "; ".join(f"{n} {why.format(max_age=self.settings.max_age_seconds)}" for why, n in whys.items())
        calls = ", ".join(f"{p.call['ticket']}→{p.call['window']} (seq {p.seq}, {p.age(now):.0f} s old)"
                          for p, _ in dropped[:10])
        more = f" and {len(dropped) - 10} more" if len(dropped) > 10 else ""
        log.info("not announcing %d call%s (the board shows them): %s — %s%s", len(dropped),
                 "" if len(dropped) == 1 else "s", reasons, calls, more)
        for hook in self.on_skipped:
            hook([p for p, _ in dropped])

    # -- speaking -----------------------------------------------------------------------------

    def render(self, group: list[Pending]) -> Announcement:
        """Build the audio of ``group`` (one call, or stale calls merged) into one WAV."""
        s = self.settings
        calls = [p.call for p in group]
        kind = calls[0].get("kind", "call") if len(calls) == 1 else "merged"
        ann = Announcement(seqs=tuple(p.seq for p in group), tickets=tuple(c["ticket"] for c in calls), kind=kind,
                           texts={}, received=min(p.received for p in group))
        pieces: list[Pcm] = []
        cached_all = True
        for lang in s.languages:
            text = call_text(calls[0], lang) if len(calls) == 1 else merged_text(calls, lang)
            ann.texts[lang.lang] = text
            try:
                pcm, cached = self.synth.phrase(text, lang.voice, lang.rate, lang.volume)
            except SynthesisError as e:
                self._problem("synthesis_failed", str(e))
                continue
            cached_all = cached_all and cached
            gap = silence(s.pause_ms, pcm.rate, pcm.channels)
            for _ in range(lang.repeat):
                pieces += [pcm, gap]
        if not pieces:
            ann.error = "no language could be synthesised"
            return ann
        if s.chime:
            pieces = [chime(pieces[0].rate), silence(250, pieces[0].rate)] + pieces
        audio = join(pieces[:-1])  # no silence after the last phrase
        ann.wav = self.work_dir / "announcement.wav"
        write_wav(ann.wav, audio)
        ann.seconds = audio.seconds
        ann.cached = cached_all
        ann.ready = self.monotonic()
        return ann

    def announce(self, group: list[Pending]) -> Announcement:
        ann = self.render(group)
        for hook in self.on_ready:
            hook(ann)
        if ann.wav is not None:
            try:
                ann.played = self.output.play(ann.wav, ann.label)
            except DeviceError as e:
                ann.error = str(e)
                self._problem(e.code, str(e))
            except OSError as e:
                ann.error = str(e)
                self._problem("play_failed", f"{e}")
        if ann.error:
            self.counters.failed += 1
        else:
            self.counters.announced += 1
            if ann.kind == "merged":
                self.counters.merged += 1
            log.info("announced %s: %s", " ".join(ann.tickets), next(iter(ann.texts.values()), ""))
        for hook in self.on_done:
            hook(ann)
        return ann

    def _problem(self, code: str, message: str) -> None:
        log.error("announcer: %s", message)
        for hook in self.on_problem:
            hook(code, message)

    # -- the worker -----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                group, wait = self.plan(self.monotonic())
                if group is None:
                    self._cond.wait(wait)
                    continue
                self.busy = True
            try:
                self.announce(group)
            except Exception:  # one bad announcement must not silence the hall
                log.exception("announcing seq %s failed", [p.seq for p in group])
                self.counters.failed += 1
            finally:
                with self._cond:
                    self.busy = False
                    self._cond.notify_all()
