"""The voice announcer (语音叫号): one announcement at a time, in call order, and no call left unspoken.

Calls arrive from MQTT (:meth:`Announcer.offer`, any thread) and wait in a list ordered by ``seq``; one worker
thread takes them in that order, builds the announcement's audio and plays it through the voice output, which
returns only when it has finished: announcements never overlap and never change order. The rules, in
docs/announcer.md: a repeat (same ``seq``, or spoken before a restart: ``SPOKEN_FILE``) is dropped; a live call
is always read; only a *backlog* (calls the server marks ``replayed``, or recovered from the board snapshot after
a reconnect: :meth:`Announcer.recover`) is judged by age and by later calls of its window; when the loudspeaker
falls behind, the calls waiting are read *shortened* (merged, the first language once, no chime between), never
dropped. A call's ticket number identifies its resident: a transfer keeps the number and changes the business.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from device_drivers.base import DeviceError
from device_drivers.voice import Played, VoiceOutput
from display_board.audio import Pcm, chime, join, silence, write_wav
from display_board.clockgap import LATE_SECONDS, REPLAY_HORIZON, ClockGap
from display_board.settings import AnnouncerSettings
from display_board.speech import call_text, merged_text
from display_board.synth import SynthesisError, Synthesizer
from hallq.clock import Clock, iso
from hallq.feed import DUPLICATE, RESTART, SeqTracker

log = logging.getLogger("hallq.announcer")

MAX_PENDING = 1000  # a hall never has this many unannounced calls; a flood must not exhaust memory
OVERFLOW_LOG_EVERY = 60.0  # a flood past MAX_PENDING is reported at most once a minute, with a count
RECOVER_HORIZON = 120.0  # the board's recent calls are recovered up to this old here, as the server re-sends them
QUIET_BEFORE_CHIME = 3.0  # a shortened announcement chimes only after this much silence: never between a backlog's
SPOKEN_FILE = "last-spoken.json"  # in the work directory: the seq and time of the last call spoken


@dataclass(order=True)
class Pending:
    seq: int
    received: float = field(compare=False)  # when it arrived (monotonic)
    call: dict[str, Any] = field(compare=False, repr=False)
    late: float = field(default=0.0, compare=False)  # how old it already was when it arrived (by its `at`)
    at: datetime | None = field(default=None, compare=False)  # its own time, on the server's clock
    replayed: bool = field(default=False, compare=False)  # part of a backlog: re-sent, or recovered from the board
    short: bool = field(default=False, compare=False)  # taken while behind: read shortened

    def age(self, now: float) -> float:
        """How long it has waited here: a clock that disagrees with the server's must never make a call stale."""
        return now - self.received


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
    short: bool = False  # read shortened (behind): the first language once, no chime between
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
    shortened: int = 0  # announcements read shortened because the loudspeaker was behind
    recovered: int = 0  # calls first heard in the board snapshot after a (re)connect
    skipped: int = 0
    failed: int = 0


# why calls are not read (docs/announcer.md), after their number in the log
TOO_OLD = ("over {max_age:.0f} s old when they arrived (re-sent after a broker outage, and older than the newest "
           "call heard by more than that, on the server's clock)")
SUPERSEDED = ("superseded in a re-sent backlog (their window has called someone else since, or their ticket was "
              "called again)")
REPLACED = "read further on (their ticket is called again: a recall, a transfer)"
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
        self._floor = self._load_spoken()  # (seq, at) spoken last before this announcer started
        self._spoken_unsaved = False  # the last spoken call could not be kept (said once)
        self._quiet_since = float("-inf")  # when the loudspeaker last fell silent (monotonic)
        self._overflowed = 0  # calls dropped past MAX_PENDING since the last line saying so
        self._overflow_logged: float | None = None
        self.on_ready: list[Callable[[Announcement], None]] = []
        self.on_done: list[Callable[[Announcement], None]] = []
        self.on_problem: list[Callable[[str, str], None]] = []  # (code, message), e.g. for device health
        self.on_skipped: list[Callable[[list[Pending]], None]] = []
        self._pending: list[Pending] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.busy = False

    def offer(self, call: dict[str, Any]) -> bool:
        """A decoded ``calls`` payload; True when it was queued for announcing. Thread-safe."""
        with self._cond:
            self.counters.offered += 1
            at = self._at(call)
            if self._spoken_before(call["seq"], at):
                self.counters.duplicates += 1
                return False
            verdict, _ = self.tracker.classify(call)
            if verdict == DUPLICATE:
                self.counters.duplicates += 1
                return False
            if verdict == RESTART:
                self.last_seq = 0
                self._window_seq.clear()
                self._latest_at = None
                self._floor = None
            if not self.settings.hears_window(call["window"], call.get("area", "")):
                self.counters.ignored += 1
                return False
            received = self.monotonic()
            replayed = call.get("replayed") is True
            lag = None if at is None else (self.now() - at).total_seconds()
            late = 0.0 if lag is None else (self.clock_gap.estimate(lag) if replayed
                                            else self.clock_gap.age(lag, received))
            if at is not None and (self._latest_at is None or at > self._latest_at):
                self._latest_at = at
            bisect.insort(self._pending, Pending(call["seq"], received, call, late, at, replayed))
            if len(self._pending) > MAX_PENDING:
                self._overflow(received)
            self._cond.notify_all()
            return True

    def recover(self, board: dict[str, Any]) -> int:
        """After a (re)connect: the board snapshot's recent calls newer than the last heard and at most
        ``RECOVER_HORIZON`` old, offered as a backlog (the server re-sends a call held during a broker restart
        whether this announcer is back or not; the snapshot lists it). Returns how many were taken."""
        with self._cond:
            last, now = self.tracker.last, self.now()
        # the snapshot's time is the server's (its now is no earlier): a call is at least that old, whatever this clock says
        built = self._at({"at": board.get("updated_at")})
        if built is not None and not self.clock_gap.measured and (built - now).total_seconds() > LATE_SECONDS:
            log.warning("not recovering calls from the board snapshot: it was built %.0f s ahead of this machine's "
                        "clock, which is behind the server's by that much or more and no live call has measured it "
                        "yet; keep both clocks synchronised (NTP)", (built - now).total_seconds())
            return 0
        fresh = []
        for c in sorted(board.get("recent_calls") or [], key=lambda c: c["seq"]):
            at = self._at(c)
            if c["seq"] <= last or at is None:
                continue
            age = self.clock_gap.estimate((now - at).total_seconds())
            if built is not None:
                age = max(age, (built - at).total_seconds())
            if age <= RECOVER_HORIZON:
                fresh.append(c)
        taken = [c for c in fresh if self.offer({**c, "replayed": True})]
        if taken:
            with self._cond:
                self.counters.recovered += len(taken)
            log.info("heard %d call%s first in the board snapshot, after (re)connecting to the broker: %s",
                     len(taken), "" if len(taken) == 1 else "s",
                     ", ".join(f"{c['ticket']}→{c['window']} (seq {c['seq']})" for c in taken[:10]))
        return len(taken)

    @staticmethod
    def _at(call: dict[str, Any]) -> datetime | None:
        """The call's ``at`` (the server's clock); None when it is no usable time."""
        try:
            at = datetime.fromisoformat(call["at"])
            return at if at.tzinfo is not None else None
        except (KeyError, TypeError, ValueError, OverflowError):
            return None

    def _overflow(self, now: float) -> None:
        dropped = self._pending.pop(0)
        self.counters.skipped += 1
        self._overflowed += 1
        if self._overflow_logged is None or now - self._overflow_logged >= OVERFLOW_LOG_EVERY:
            log.warning("more than %d calls waiting to be announced (a flood on the calls topic?): dropped the oldest, "
                        "%d since the last such line, the latest %s (seq %d); at most one such line a minute",
                        MAX_PENDING, self._overflowed, dropped.call["ticket"], dropped.seq)
            self._overflowed = 0
            self._overflow_logged = now

    def _spoken_before(self, seq: int, at: datetime | None) -> bool:
        """Spoken before this announcer started (re-sent by a restarted server): at or below the last spoken seq,
        at most ``REPLAY_HORIZON`` older. A lower number with a later (or far older) time is a new numbering."""
        floor = self._floor
        if floor is None:
            return False
        if seq > floor[0]:
            self._floor = None  # past it: this run's own memory of seqs takes over
            return False
        return at is not None and 0 <= (floor[1] - at).total_seconds() <= REPLAY_HORIZON

    def _load_spoken(self) -> tuple[int, datetime] | None:
        path = self.work_dir / SPOKEN_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            at = datetime.fromisoformat(data["at"]) if data["at"] else None
            return (int(data["seq"]), at) if at is not None and at.tzinfo is not None else None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("ignoring %s (%s): a call re-sent by a restarted server may be spoken again", path, e)
            return None

    def _save_spoken(self, group: list[Pending]) -> None:
        """Keep the last spoken call's seq and time, atomically (a few bytes after each announcement)."""
        last, path = max(group), self.work_dir / SPOKEN_FILE
        tmp = path.with_name(f".{SPOKEN_FILE}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(json.dumps({"seq": last.seq, "at": iso(last.at) if last.at else None}))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as e:
            if not self._spoken_unsaved:  # once: not a line per announcement
                log.warning("cannot keep the last spoken call in %s (%s): after a restart, a call re-sent by a "
                            "restarted server may be spoken again", path, e)
            self._spoken_unsaved = True

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def idle(self) -> bool:
        with self._cond:
            return not self._pending and not self.busy

    def plan(self, now: float) -> tuple[list[Pending] | None, float | None]:
        """What to announce now (``(group, None)``) or how long to wait (``(None, seconds)``). Lock held."""
        s = self.settings
        settle = s.reorder_wait_ms / 1000
        while self._pending:
            backlog = [p.received for p in self._pending if p.replayed]
            if backlog and min(backlog) + settle > now:
                return None, min(backlog) + settle - now  # a backlog is arriving: judge it once it is all here
            later = self._later()
            unwanted = [(p, why) for p in self._pending if (why := self._unwanted(p, later))]
            if unwanted:
                self._take([p for p, _ in unwanted])
                self._skip(unwanted, now)
                continue
            first = self._pending[0]
            waited = now - first.received
            if self.last_seq and first.seq > self.last_seq + 1 and waited < settle:
                return None, settle - waited  # seq last+1 may still come
            if now - min(p.received for p in self._pending) <= s.max_age_seconds:
                self._take([first])
                return [first], None
            # behind: a call has waited too long. Nothing is dropped that is not read further on; all is shortened
            dropped = []
            for p in self._pending:
                if later[("t", p.call["ticket"])] > p.seq:
                    dropped.append((p, REPLACED))
                elif s.stale == "skip" and p.age(now) > s.max_age_seconds:
                    dropped.append((p, WAITED))
            if dropped:
                self._take([p for p, _ in dropped])
                self._skip(dropped, now)
                continue
            group = self._pending[:s.merge_max]
            for p in group:
                p.short = True
            self._take(group)
            return group, None
        return None, None

    def _later(self) -> dict[tuple[str, Any], int]:
        """The newest pending seq of each window ``("w", n)`` and of each ticket number ``("t", "A001")``."""
        later: dict[tuple[str, Any], int] = {}
        for p in self._pending:
            for key in (("w", p.call["window"]), ("t", p.call["ticket"])):
                if later.get(key, 0) < p.seq:
                    later[key] = p.seq
        return later

    def _unwanted(self, p: Pending, later: dict[tuple[str, Any], int]) -> str:
        """Why ``p`` is not to be read whatever happens next, or "" (see the module's rules)."""
        if p.seq < self._window_seq.get(p.call["window"], 0):
            return OUTRUN
        if not p.replayed:
            return ""  # a live call is read, late or not. Too old: on the server's clock, against the newest call heard
        if p.at is not None and self._latest_at is not None \
                and (self._latest_at - p.at).total_seconds() > self.settings.max_age_seconds:
            return TOO_OLD
        if later[("w", p.call["window"])] > p.seq or later[("t", p.call["ticket"])] > p.seq:
            return SUPERSEDED
        return ""

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

    def render(self, group: list[Pending], short: bool | None = None) -> Announcement:
        """Build the audio of ``group`` (one call, or calls merged) into one WAV. ``short`` (by default: the group
        was taken while behind): the first language once, and the chime only after a silence."""
        s = self.settings
        short = any(p.short for p in group) if short is None else short
        calls = [p.call for p in group]
        kind = calls[0].get("kind", "call") if len(calls) == 1 else "merged"
        ann = Announcement(seqs=tuple(p.seq for p in group), tickets=tuple(c["ticket"] for c in calls), kind=kind,
                           texts={}, received=min(p.received for p in group), short=short)
        pieces: list[Pcm] = []
        cached_all = True
        for lang in s.languages[:1] if short else s.languages:
            text = call_text(calls[0], lang) if len(calls) == 1 else merged_text(calls, lang)
            ann.texts[lang.lang] = text
            try:
                pcm, cached = self.synth.phrase(text, lang.voice, lang.rate, lang.volume)
            except SynthesisError as e:
                self._problem("synthesis_failed", str(e))
                continue
            cached_all = cached_all and cached
            gap = silence(s.pause_ms, pcm.rate, pcm.channels)
            for _ in range(1 if short else lang.repeat):
                pieces += [pcm, gap]
        if not pieces:
            ann.error = "no language could be synthesised"
            return ann
        if s.chime and (not short or self.monotonic() - self._quiet_since >= QUIET_BEFORE_CHIME):
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
            # silent from the end of this audio on (a wav-dir output returns before its time)
            self._quiet_since = max(self.monotonic(), ann.ready + ann.seconds)
        self.counters.failed += bool(ann.error)
        if not ann.error:
            self.counters.announced += 1
            self.counters.merged += ann.kind == "merged"
            self.counters.shortened += ann.short
            self._save_spoken(group)
            log.info("announced %s%s: %s", " ".join(ann.tickets), " (shortened: behind)" if ann.short else "",
                     next(iter(ann.texts.values()), ""))
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
