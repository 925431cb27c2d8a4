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
* a call that has waited longer than ``max_age_seconds`` is *stale*: if its
  window has called someone else since, or its ticket was called again, it
  is dropped (the board shows it); the others are read out together in one
  merged sentence (``stale = "merge"``, up to ``merge_max`` per sentence) or
  dropped (``stale = "skip"``). Nothing is read out minutes late one by one.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device_drivers.base import DeviceError
from device_drivers.voice import Played, VoiceOutput
from display_board.audio import Pcm, chime, join, silence, write_wav
from display_board.settings import AnnouncerSettings
from display_board.speech import call_text, merged_text
from display_board.synth import SynthesisError, Synthesizer
from hallq.feed import DUPLICATE, RESTART, SeqTracker

log = logging.getLogger("hallq.announcer")

MAX_PENDING = 1000  # a hall never has this many unannounced calls; a flood must not exhaust memory


@dataclass(order=True)
class Pending:
    seq: int
    received: float = field(compare=False)
    call: dict[str, Any] = field(compare=False, repr=False)


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


class Announcer:
    def __init__(self, settings: AnnouncerSettings, synth: Synthesizer, output: VoiceOutput, work_dir: Path,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.synth = synth
        self.output = output
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        self.monotonic = monotonic
        self.tracker = SeqTracker()
        self.counters = Counters()
        self.last_seq = 0  # seq of the last call taken for announcing
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
            if not self.settings.hears_window(call["window"], call.get("area", "")):
                self.counters.ignored += 1
                return False
            bisect.insort(self._pending, Pending(call["seq"], self.monotonic(), call))
            if len(self._pending) > MAX_PENDING:
                dropped = self._pending.pop(0)
                self.counters.skipped += 1
                log.warning("more than %d calls waiting to be announced: dropped %s (seq %d)",
                            MAX_PENDING, dropped.call["ticket"], dropped.seq)
            self._cond.notify_all()
            return True

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
        while self._pending:
            first = self._pending[0]
            age = now - first.received
            if self.last_seq and first.seq > self.last_seq + 1 and age < s.reorder_wait_ms / 1000:
                return None, s.reorder_wait_ms / 1000 - age  # seq last+1 may still come
            stale = [p for p in self._pending if now - p.received > s.max_age_seconds]
            if not stale:
                self._take([first])
                return [first], None
            superseded = [p for p in stale if self._superseded(p)]
            rest = [p for p in stale if p not in superseded]
            dropped = superseded + (rest if s.stale == "skip" else [])
            if dropped:
                self._take(dropped)
                self._skip(dropped, now)
            if s.stale == "merge" and rest:
                group = rest[:s.merge_max]
                self._take(group)
                return group, None
        return None, None

    def _superseded(self, p: Pending) -> bool:
        """A later pending call went to the same window, or called the same ticket again."""
        c = p.call
        return any(q.seq > p.seq and (q.call["window"] == c["window"]
                                      or (q.call["ticket"], q.call["business"]) == (c["ticket"], c["business"]))
                   for q in self._pending)

    def _take(self, group: list[Pending]) -> None:
        for p in group:
            self._pending.remove(p)
        self.last_seq = max(self.last_seq, *(p.seq for p in group))

    def _skip(self, dropped: list[Pending], now: float) -> None:
        self.counters.skipped += len(dropped)
        log.info("not announcing %s: waited over %.0f s (shown on the board)",
                 ", ".join(f"{p.call['ticket']}→{p.call['window']} (seq {p.seq}, {now - p.received:.0f} s)"
                           for p in dropped[:10]), self.settings.max_age_seconds)
        for hook in self.on_skipped:
            hook(dropped)

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
