"""Calls that used to go unspoken, or be spoken twice: a stepped server clock, a transfer, a restart, a reconnect.

The planner runs on one virtual clock (the hall's time and the monotonic one, moved together: nothing sleeps).

* A server clock stepped back by NTP made every live call look minutes old: 7 calls over 35 s were not read.
  Only calls the server marks re-sent (``replayed``) are judged by age now.
* A transfer keeps the ticket's number and changes its business: the announcer knows a resident by the number.
* A call spoken before the announcer restarted, re-sent by a restarted server, is not spoken again (the last
  spoken seq is kept in its work directory); a new numbering (a new database) still is.
* After a (re)connect the board snapshot's recent calls fill in a call the server re-sent while the announcer
  was away from the broker.
* A flood on the calls topic is logged in a line a minute, not a line a call.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from device_drivers.voice import WavDirSink
from display_board.announcer import MAX_PENDING, SPOKEN_FILE, Announcer
from display_board.settings import load_announcer
from display_board.synth import PhraseCache, Synthesizer
from tests.display_board.payloads import T0, board, call
from tests.display_board.test_announcer import ANNOUNCER
from tests.display_board.test_replayed_calls import HallTime, at, read_all, resent


@pytest.fixture(scope="module")
def settings():
    return load_announcer(ANNOUNCER)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return Synthesizer(PhraseCache(tmp_path_factory.mktemp("voice-cache"), 500))


def make(settings, synth, work, hall: HallTime) -> Announcer:
    return Announcer(settings, synth, WavDirSink(work.parent / "wavs"), work, monotonic=hall.monotonic,
                     now=hall.clock.now)


def speak_all(announcer: Announcer, hall: HallTime) -> list[int]:
    """As the worker does: plan, speak, and let the clock run for the length of what was said."""
    said = []
    while True:
        group, wait = announcer.plan(hall.monotonic())
        if group:
            ann = announcer.announce(group)
            assert not ann.error
            said += list(ann.seqs)
            hall.advance(ann.seconds)
        elif wait:
            hall.advance(max(wait, 0.001))
        else:
            return said


def test_a_server_clock_stepped_back_silences_no_live_call(settings, tmp_path, caplog):
    """The review's case: the server's clock ran 100 s fast for a while, then NTP stepped it back."""
    caplog.set_level(logging.INFO, "hallq.announcer")
    hall = HallTime()
    announcer = make(settings, None, tmp_path / "work", hall)
    read = []
    for seq in range(1, 11):  # a call every 20 s, stamped 100 s ahead of the hall's clock
        announcer.offer(call(seq, f"A{seq:03d}", 1 + seq % 5, at=hall.clock.now() + timedelta(seconds=100)))
        read += read_all(announcer, hall)
        hall.advance(20)
    for seq in range(11, 25):  # stepped back: the calls now look 100 s older than the newest heard
        announcer.offer(call(seq, f"B{seq:03d}", 1 + seq % 5, at=hall.clock.now()))
        read += read_all(announcer, hall)
        hall.advance(5)
    assert read == list(range(1, 25)) and announcer.counters.skipped == 0
    assert not [r for r in caplog.records if r.getMessage().startswith("not announcing")]


def test_a_re_sent_call_is_still_judged_by_its_age(settings, tmp_path):
    hall = HallTime(at(200))
    announcer = make(settings, None, tmp_path / "work", hall)
    for c in (call(1, "A001", 1, at=at(100)), call(2, "B001", 4, at=at(190))):  # re-sent together, 90 s apart
        announcer.offer(resent(c))
    assert read_all(announcer, hall) == [2] and announcer.counters.skipped == 1


def test_a_transferred_ticket_is_the_same_resident(settings, tmp_path):
    """B003 called at window 4 (construction), transferred to commerce and called at window 2: one resident."""
    hall = HallTime(at(60))
    announcer = make(settings, None, tmp_path / "work", hall)
    backlog = (call(2, "B003", 4, business="construction", at=at(20)), call(3, "A002", 1, at=at(30)),
               call(4, "B003", 2, business="commerce", at=at(40)))
    for c in backlog:  # re-sent after an outage: of the same number, only its newest call is read
        announcer.offer(resent(c))
    assert read_all(announcer, hall) == [3, 4] and announcer.counters.skipped == 1

    hall = HallTime(at(60))
    announcer = make(settings, None, tmp_path / "work2", hall)
    for c in backlog:  # live, while the loudspeaker was busy: behind, B003 is said once, at its new window
        announcer.offer(c)
    hall.advance(60)
    group, _ = announcer.plan(hall.monotonic())
    assert [(p.call["ticket"], p.call["window"]) for p in group] == [("A002", 1), ("B003", 2)]
    assert announcer.counters.skipped == 1


def test_a_call_spoken_before_a_restart_is_not_spoken_again(settings, synth, tmp_path):
    hall = HallTime()
    work = tmp_path / "work"
    first = make(settings, synth, work, hall)
    for n in (1, 2, 3):
        first.offer(call(n, f"A00{n}", n, at=hall.clock.now()))
    assert speak_all(first, hall) == [1, 2, 3]
    assert json.loads((work / SPOKEN_FILE).read_text())["seq"] == 3
    first.stop()

    hall.advance(5)  # the announcer and the server restart together; the server re-sends what it had not saved
    again = make(settings, synth, work, hall)
    assert not again.offer(resent(call(2, "A002", 2, at=T0)))
    assert not again.offer(resent(call(3, "A003", 3, at=T0)))
    assert again.offer(call(4, "A004", 4, at=hall.clock.now()))
    assert speak_all(again, hall) == [4] and again.counters.duplicates == 2

    # a new database numbers from 1 again, with later times: those are new calls, read
    renewed = make(settings, synth, work, hall)
    hall.advance(60)
    assert renewed.offer(call(1, "A001", 1, at=hall.clock.now())) and speak_all(renewed, hall) == [1]


def test_a_damaged_spoken_file_is_ignored_with_a_warning(settings, tmp_path, caplog):
    work = tmp_path / "work"
    work.mkdir()
    (work / SPOKEN_FILE).write_text("{not json")
    announcer = make(settings, None, work, HallTime())
    assert announcer.offer(call(1, "A001", 1))
    assert any("ignoring" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_after_a_reconnect_the_board_snapshot_fills_in_a_missed_call_and_nothing_is_read_twice(settings, tmp_path):
    hall = HallTime(at(30))
    announcer = make(settings, None, tmp_path / "work", hall)
    announcer.offer(call(1, "A001", 1, at=at(0)))
    assert read_all(announcer, hall) == [1]
    # the broker restarted: the server re-sent seq 2 and 3 before this announcer was back, then went on
    hall.advance(20)
    snapshot = board([call(1, "A001", 1, at=at(0)), call(2, "A002", 2, at=at(35)), call(3, "C001", 7, at=at(45))])
    assert announcer.recover(snapshot) == 2
    assert read_all(announcer, hall) == [2, 3] and announcer.counters.recovered == 2
    assert not announcer.offer(resent(call(3, "C001", 7, at=at(45))))  # the server's re-send, arriving late after all
    assert announcer.recover(snapshot) == 0  # the next reconnect's snapshot: nothing new
    announcer.offer(call(4, "A003", 1, at=hall.clock.now()))
    assert read_all(announcer, hall) == [4]


def test_a_snapshot_long_retained_brings_back_no_old_call(settings, tmp_path):
    """An announcer starting long after the last calls: the retained snapshot's calls are history."""
    hall = HallTime(at(600))
    announcer = make(settings, None, tmp_path / "work", hall)
    assert announcer.recover(board([call(1, "A001", 1, at=at(0)), call(2, "A002", 2, at=at(400))])) == 0
    assert announcer.pending == 0


def test_an_announcer_whose_clock_is_behind_recovers_no_old_call_before_a_live_one_measured_it(settings, tmp_path,
                                                                                                 caplog):
    """Started on a machine whose clock is 10 minutes behind the server's: the snapshot's calls, made 9 to 10
    minutes before, look fresh by this clock. The snapshot was built ahead of this clock, which gives it away: nothing
    is recovered (with a warning) until a live call has measured the difference."""
    hall = HallTime(at(0))  # this machine's clock; the server's is at(600)
    announcer = make(settings, None, tmp_path / "work", hall)
    old = board([call(1, "A001", 1, at=at(30)), call(2, "A002", 2, at=at(60))], updated=at(600))
    with caplog.at_level(logging.WARNING, logger="hallq.announcer"):
        assert announcer.recover(old) == 0
    assert announcer.pending == 0 and "not recovering calls" in caplog.text
    # once a live call has measured the clocks, a snapshot's fresh call is recovered as usual
    announcer.offer(call(3, "A003", 1, at=at(601)))
    assert read_all(announcer, hall) == [3]
    fresh = board([call(3, "A003", 1, at=at(601)), call(4, "A004", 1, at=at(605))], updated=at(606))
    assert announcer.recover(fresh) == 1


def test_a_flood_is_logged_in_a_line_a_minute_not_a_line_a_call(settings, tmp_path, caplog):
    caplog.set_level(logging.INFO, "hallq.announcer")
    hall = HallTime()
    announcer = make(settings, None, tmp_path / "work", hall)
    for n in range(1, 10_001):
        announcer.offer(call(n, f"A{n % 10000:04d}", 1 + n % 30, at=T0 + timedelta(seconds=n / 100)))
        if n == 5000:
            hall.advance(61)
    lines = [r.getMessage() for r in caplog.records if "calls waiting to be announced" in r.getMessage()]
    assert announcer.pending == MAX_PENDING and announcer.counters.skipped == 9000
    assert len(lines) == 2, lines[:3]
    assert "4000 since the last such line" in lines[1]
