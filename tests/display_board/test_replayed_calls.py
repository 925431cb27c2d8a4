"""Calls re-sent after a broker outage (``"replayed": true``): their age is counted on the server's clock.

After an outage the server re-sends the calls it could not send, up to 120 s old, all at once, each marked
``replayed``. The announcer reads none that was more than ``max_age_seconds`` older than the newest call
heard, and of the backlog only the newest call of each window, in call order; recalls still say so. A live
call (no ``replayed``) is always read. The announcer's plans run on one virtual
clock (the hall's time and the monotonic one moved together), so nothing sleeps; the last test runs the
real worker and waits on an event.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from device_drivers.voice import WavDirSink
from display_board.announcer import Announcer
from display_board.settings import load_announcer
from display_board.synth import PhraseCache, Synthesizer
from hallq.clock import VirtualClock
from tests.display_board.payloads import T0, call
from tests.display_board.test_announcer import ANNOUNCER

DAY = 86400.0


class HallTime:
    """The hall's clock (a frozen :class:`VirtualClock`) and a fake monotonic clock, moved together."""

    def __init__(self, start=T0) -> None:
        self.clock = VirtualClock(start, rate=0)
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.clock.advance(seconds)


@pytest.fixture(scope="module")
def settings():
    return load_announcer(ANNOUNCER)  # the sample hall's: max_age_seconds 45, stale "merge"


def make(settings, tmp_path, hall: HallTime, **changes) -> Announcer:
    """An announcer on ``hall``'s clocks; its plans need no speech."""
    return Announcer(replace(settings, **changes), None, WavDirSink(tmp_path / "wavs"), tmp_path / "work",
                     monotonic=hall.monotonic, now=hall.clock.now)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def resent(c: dict) -> dict:
    """The call as the server re-sends it after it reconnected to the broker (queue_server/publisher.py)."""
    return {**c, "replayed": True}


def read_all(announcer: Announcer, hall: HallTime) -> list[int]:
    """Plan until nothing is left, as the worker does, moving the clock by each wait; the seqs read."""
    read = []
    while True:
        group, wait = announcer.plan(hall.monotonic())
        if group:
            read += [p.seq for p in group]
        elif wait:
            hall.advance(max(wait, 0.001))  # the worker waits at least a tick: so does this
        else:
            return read


def skip_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("not announcing")]


def test_a_backlog_re_sent_after_an_outage_reads_only_the_newest_call_of_each_window(settings, tmp_path, caplog):
    caplog.set_level(logging.INFO, "hallq.announcer")
    hall = HallTime()
    announcer = make(settings, tmp_path, hall)
    announcer.offer(call(1, "B001", 4, at=at(0)))  # live, before the outage
    assert read_all(announcer, hall) == [1]
    hall.advance(85)  # the broker was away; window 1 called A001, A002, A003, window 7 C001; it is back
    for c in (call(2, "A001", 1, at=at(10)), call(3, "A002", 1, at=at(45)), call(4, "C001", 7, at=at(55)),
              call(5, "A003", 1, at=at(65))):  # 75, 40, 30 and 20 s old
        announcer.offer(resent(c))
    group, wait = announcer.plan(hall.monotonic())
    assert group is None and wait == pytest.approx(0.3)  # the backlog is judged once it is all here
    assert read_all(announcer, hall) == [4, 5]  # C001, then A003: in the order of their `at`
    assert announcer.counters.skipped == 2 and announcer.pending == 0
    lines = skip_lines(caplog)
    assert len(lines) == 1, lines
    assert lines[0].startswith("not announcing 2 calls") and "1 over 45 s old when they arrived" in lines[0]
    assert "1 superseded" in lines[0] and "A001→1" in lines[0] and "A002→1" in lines[0]


def test_a_lone_call_is_read_however_far_this_clock_is_from_the_servers(settings, tmp_path, caplog):
    """Age by this machine's clock against the server's would silence a hall whose two clocks disagree (a PC without
    NTP a minute or two off): a call is too old only against the newest call heard, both on the server's clock."""
    caplog.set_level(logging.INFO, "hallq.announcer")
    hall = HallTime(at(90))  # this machine's clock is 90 s ahead of the server's, and stays so
    announcer = make(settings, tmp_path, hall)
    read = []
    for n in range(1, 9):  # a quiet village station: a call every quarter of an hour
        announcer.offer(call(n, f"A00{n}", 1, at=at(900 * (n - 1))))
        read += read_all(announcer, hall)
        hall.advance(900)
    assert read == list(range(1, 9)) and announcer.counters.skipped == 0
    assert skip_lines(caplog) == []


def test_in_a_backlog_a_recall_replaces_its_call_and_fresh_recalls_are_read_as_before(settings, tmp_path):
    hall = HallTime(at(60))
    announcer = make(settings, tmp_path, hall)
    for c in (call(1, "A001", 1, at=at(20)), call(2, "A001", 1, kind="recall", recalls=1, at=at(35)),
              call(3, "B002", 4, at=at(45))):  # 40, 25 and 15 s old: none too old
        announcer.offer(resent(c))
    group, wait = announcer.plan(hall.monotonic())
    assert group is None
    hall.advance(wait)
    group, _ = announcer.plan(hall.monotonic())
    assert [(p.seq, p.call["kind"]) for p in group] == [(2, "recall")]  # A001's call was never read: the recall is
    assert read_all(announcer, hall) == [3] and announcer.counters.skipped == 1
    # fresh: a call, then a recall of it while the loudspeaker is busy: both read, in order (docs/announcer.md)
    announcer.offer(call(4, "C001", 7, at=at(60.3)))
    hall.advance(10)
    announcer.offer(call(5, "C001", 7, kind="recall", recalls=1, at=at(70.3)))
    assert read_all(announcer, hall) == [4, 5] and announcer.counters.skipped == 1


def test_a_call_delivered_after_a_later_call_of_its_window_is_never_read(settings, tmp_path):
    hall = HallTime()
    announcer = make(settings, tmp_path, hall)
    announcer.offer(call(1, "B001", 4, at=at(0)))
    assert read_all(announcer, hall) == [1]
    announcer.offer(call(3, "A002", 1, at=at(2)))  # seq 2 is missing: waited for briefly, then A002 is read
    assert read_all(announcer, hall) == [3]
    announcer.offer(call(2, "A001", 1, at=at(1)))  # it comes after all: window 1 has moved on to A002
    assert read_all(announcer, hall) == [] and announcer.counters.skipped == 1


def test_a_clock_here_days_off_the_servers_is_learnt_from_the_calls(settings, tmp_path, caplog):
    """A demo server on a virtual clock two weeks back: its calls are read, and its backlogs judged."""
    caplog.set_level(logging.INFO, "hallq.announcer")
    hall = HallTime(at(14 * DAY))
    announcer = make(settings, tmp_path, hall)
    announcer.offer(call(1, "B001", 4, at=at(0)))  # live
    assert read_all(announcer, hall) == [1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "this machine's clock is 1209600 s ahead of the queue server's" in warnings[0]
    hall.advance(85)
    for c in (call(2, "A001", 1, at=at(10)), call(3, "A002", 1, at=at(60))):
        announcer.offer(resent(c))
    assert read_all(announcer, hall) == [3] and announcer.counters.skipped == 1


def test_a_clock_here_a_minute_fast_costs_at_most_the_first_call(settings, tmp_path):
    hall = HallTime(at(70))  # this machine's clock is 70 s ahead of the server's
    announcer = make(settings, tmp_path, hall)
    announcer.offer(call(1, "B001", 4, at=at(0)))  # looks 70 s old: no call has shown the difference yet
    read = read_all(announcer, hall)
    hall.advance(65)
    announcer.offer(call(2, "B002", 4, at=at(65)))  # a minute later: the two calls show it
    read += read_all(announcer, hall)
    assert read[-1] == 2 and announcer.counters.skipped <= 1
    hall.advance(120)  # an outage: calls 95 s apart (by the server's clock) are re-sent together
    for c in (call(3, "A001", 1, at=at(60)), call(4, "C001", 7, at=at(155))):
        announcer.offer(resent(c))
    assert read_all(announcer, hall) == [4]  # A001's is 95 s older than the newest call: not read


def test_a_running_announcer_speaks_only_the_newest_call_of_each_window_of_a_backlog(settings, tmp_path, caplog):
    """The real worker thread and real speech; the calls of the backlog arrive one by one, as from MQTT."""
    caplog.set_level(logging.INFO, "hallq.announcer")
    clock = VirtualClock(at(85))  # the hall's clock runs; waits are real (no more than reorder_wait_ms)
    synth = Synthesizer(PhraseCache(tmp_path / "voice-cache", 50))
    announcer = Announcer(replace(settings, reorder_wait_ms=1000), synth, WavDirSink(tmp_path / "wavs"),
                          tmp_path / "work", now=clock.now)
    done, finished = [], threading.Event()
    announcer.on_done.append(lambda ann: (done.append(ann), len(done) == 2 and finished.set()))
    announcer.start()  # the worker is waiting for calls, as in a hall
    try:
        for c in (call(1, "A001", 1, at=at(10)), call(2, "A002", 1, at=at(35)), call(3, "C001", 7, at=at(50)),
                  call(4, "A003", 1, at=at(60))):
            announcer.offer(resent(c))
        assert finished.wait(60), done
    finally:
        announcer.stop()
    assert [a.tickets for a in done] == [("C001",), ("A003",)] and not any(a.error for a in done)
    assert done[1].texts["zh"] == "请 A 零零三 号到 一 号窗口办理"
    assert announcer.pending == 0 and announcer.counters.skipped == 2
    assert len(skip_lines(caplog)) == 1
