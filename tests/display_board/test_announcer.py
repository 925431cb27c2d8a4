"""The announcer: real espeak-ng speech, one announcement at a time, in call order, never stale."""

from __future__ import annotations

import json
import subprocess
import threading
import wave
from dataclasses import replace

import pytest

from device_drivers.voice import WavDirSink
from display_board.announcer import Announcer
from display_board.audio import chime, read_wav
from hallq.feed import HallFeed
from display_board.settings import load_announcer
from display_board.synth import PhraseCache, SynthesisError, Synthesizer
from hallq import contract
from tests.conftest import CITY
from tests.display_board.payloads import call

ANNOUNCER = CITY.parent / "announcer.toml"


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def settings():
    return load_announcer(ANNOUNCER)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return Synthesizer(PhraseCache(tmp_path_factory.mktemp("voice-cache"), 500))


def make(settings, synth, tmp_path, monotonic=None, pace=0.0, **changes) -> tuple[Announcer, WavDirSink]:
    sink = WavDirSink(tmp_path / "wavs", pace=pace)
    kw = {"monotonic": monotonic} if monotonic else {}
    return Announcer(replace(settings, **changes), synth, sink, tmp_path / "work", **kw), sink


def run_until_idle(announcer: Announcer, expected: int, timeout: float = 60) -> list:
    done, finished = [], threading.Event()

    def record(ann):
        done.append(ann)
        if len(done) >= expected:
            finished.set()

    announcer.on_done.append(record)
    announcer.start()
    assert finished.wait(timeout), f"only {len(done)} of {expected} announcements in {timeout} s"
    announcer.stop()
    return done


def test_a_burst_of_50_calls_gives_50_announcements_in_order_never_overlapping(settings, synth, tmp_path):
    announcer, sink = make(settings, synth, tmp_path, pace=0.002)  # "playing" takes 0.2 % of the audio's time
    calls = [call(seq, f"A{seq:03d}" if seq % 10 else f"A{seq - 1:03d}", 1 + seq % 20,
                  kind="recall" if seq % 10 == 0 else "call") for seq in range(1, 51)]
    for c in calls:
        assert announcer.offer(c)
    done = run_until_idle(announcer, 50)

    assert [a.seqs for a in done] == [(seq,) for seq in range(1, 51)] and not any(a.error for a in done)
    timeline = [json.loads(line) for line in sink.timeline.read_text().splitlines()]
    assert [t["label"] for t in timeline] == [a.label for a in done]
    for before, after in zip(timeline, timeline[1:]):
        assert before["finished"] <= after["started"]  # one at a time

    chime_frames = chime(22050).frames
    for ann, entry in zip(done, timeline):
        path = sink.directory / entry["file"]
        soxi = float(subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True).stdout)
        with wave.open(str(path)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
            assert w.getnframes() / w.getframerate() == pytest.approx(soxi, abs=0.01) == pytest.approx(ann.seconds)
        # chime, twice in Mandarin, once in English: 8 to 25 seconds, starting with the chime
        assert 8 < soxi < 25, (entry, soxi)
        assert read_wav(path).frames[:len(chime_frames)] == chime_frames
    recalls = [a for a in done if a.kind == "recall"]
    assert len(recalls) == 5
    assert recalls[0].texts == {"zh": "请 A 零零九 号再次到 十一 号窗口办理",
                                "en": "Number A009, once again, please go to window 11."}
    assert done[0].texts["zh"] == "请 A 零零一 号到 二 号窗口办理"


def test_speech_is_real_and_the_cache_makes_a_repeat_fast(settings, synth, tmp_path):
    announcer, sink = make(settings, synth, tmp_path, chime=False)
    c = call(1, "B123", 17)
    first = announcer.render([_pending(c)])
    again = announcer.render([_pending(c)])
    assert not first.cached and again.cached and again.seconds == first.seconds
    pcm = read_wav(first.wav)
    loud = sum(1 for i in range(0, len(pcm.frames), 2) if abs(int.from_bytes(pcm.frames[i:i + 2], "little",
                                                                              signed=True)) > 2000)
    assert loud > 10_000  # speech, not silence
    # real audio tools agree on what was made
    stat = subprocess.run(["sox", str(first.wav), "-n", "stat"], capture_output=True, text=True).stderr
    assert float(stat.split("RMS     amplitude:")[1].split()[0]) > 0.02


def _pending(c):
    from display_board.announcer import Pending

    return Pending(c["seq"], 0.0, c)


def test_repeats_of_a_call_are_dropped_and_other_areas_ignored(settings, synth, tmp_path):
    announcer, _ = make(settings, synth, tmp_path, areas=("一楼B区",))
    c = call(1, "C001", 7, area="一楼B区")
    assert announcer.offer(c) and not announcer.offer(dict(c))
    assert not announcer.offer(call(2, "A001", 1, area="一楼A区"))
    assert announcer.pending == 1 and announcer.counters.duplicates == 1 and announcer.counters.ignored == 1


def test_a_missing_seq_is_waited_for_briefly_then_skipped(settings, synth, tmp_path):
    clock = FakeTime()
    announcer, _ = make(settings, synth, tmp_path, monotonic=clock)
    announcer.offer(call(1, "A001", 1))
    assert [p.seq for p in announcer.plan(clock())[0]] == [1]
    announcer.offer(call(3, "A003", 3))
    group, wait = announcer.plan(clock())
    assert group is None and wait == pytest.approx(0.3)
    announcer.offer(call(2, "A002", 2))  # the late one arrives in time: order kept
    assert [p.seq for p in announcer.plan(clock())[0]] == [2]
    assert [p.seq for p in announcer.plan(clock())[0]] == [3]
    announcer.offer(call(5, "A005", 5))
    clock.t += 0.31
    assert [p.seq for p in announcer.plan(clock())[0]] == [5]  # seq 4 never came


def test_behind_the_waiting_calls_are_read_shortened_and_only_a_call_read_further_on_is_dropped(settings, synth,
                                                                                                 tmp_path):
    clock = FakeTime()
    announcer, _ = make(settings, synth, tmp_path, monotonic=clock, max_age_seconds=45, merge_max=3)
    announcer.offer(call(1, "A001", 1))
    announcer.offer(call(2, "B001", 4))
    announcer.offer(call(3, "A002", 1))  # window 1 moved on: A001 never heard the call, so it is still read
    announcer.offer(call(4, "C001", 7))
    announcer.offer(call(5, "C001", 7, kind="recall"))  # C001 is said here: its first call is not read twice
    announcer.offer(call(6, "E001", 19))
    clock.t += 60  # the loudspeaker was busy (or the announcer was starting): all waited too long
    announcer.offer(call(7, "A003", 2))  # fresh, but behind the others: merged with them
    group, _ = announcer.plan(clock())
    assert [p.seq for p in group] == [1, 2, 3] and all(p.short for p in group)  # merged, in order
    assert announcer.counters.skipped == 1
    group, _ = announcer.plan(clock())
    assert [p.seq for p in group] == [5, 6, 7]
    assert announcer.plan(clock()) == (None, None)
    merged = announcer.render([_pending(call(2, "B001", 4)), _pending(call(3, "A002", 1))], short=True)
    assert merged.kind == "merged" and merged.texts == {"zh": "请 B 零零一 号到 四 号窗口，A 零零二 号到 一 号窗口 办理"}
    full = announcer.render([_pending(call(3, "A002", 1))])
    assert set(full.texts) == {"zh", "en"} and full.seconds > merged.seconds / 2


def test_stale_calls_can_be_skipped_instead(settings, synth, tmp_path):
    clock = FakeTime()
    announcer, _ = make(settings, synth, tmp_path, monotonic=clock, stale="skip")
    announcer.offer(call(1, "A001", 1))
    announcer.offer(call(2, "B001", 4))
    clock.t += 46
    announcer.offer(call(3, "C001", 7))
    assert [p.seq for p in announcer.plan(clock())[0]] == [3] and announcer.counters.skipped == 2


def test_garbage_reaches_no_announcement(settings, synth, tmp_path):
    announcer, _ = make(settings, synth, tmp_path)
    feed = HallFeed(None, "liupanshui", (contract.CALLS,), deliver=lambda t, p, payload: announcer.offer(payload))
    for raw in (b"", b"{", b"[1,2]", b'{"version": 2}', b'{"version": 1, "seq": 1}', b"\xff" * 300_000,
                json.dumps({**call(1, "A001", 1), "window": "three"}).encode()):
        feed.handle("hallq/liupanshui/calls", raw)
    feed.handle("hallq/liupanshui/calls", json.dumps(call(2, "A002", 2)).encode())
    assert announcer.pending == 1 and feed.bad.rejected == 7


def test_an_unknown_voice_is_refused_with_near_names(synth):
    with pytest.raises(SynthesisError) as e:
        synth.resolve("cmn-latn-pinyn")
    assert "cmn-latn-pinyin" in str(e.value)
    assert synth.resolve("CMN-LATN-PINYIN").endswith("cmn-latn-pinyin")


def test_the_phrase_cache_is_bounded(tmp_path):
    cache = PhraseCache(tmp_path / "c", max_files=20)
    for i in range(45):
        cache.path(f"k{i}").write_bytes(b"x")
        cache.added()
    assert len(list((tmp_path / "c").glob("*.wav"))) <= 20
    assert cache.get("k44") is not None  # the newest are kept


class SilentOnce(Synthesizer):
    """pyttsx3's espeak driver now and then hands back an empty WAV: this one does it ``times`` times."""

    def __init__(self, cache, times: int) -> None:
        super().__init__(cache)
        self.times = times

    def _pyttsx3(self, text, voice_id, rate, volume, tmp):
        if self.times > 0:
            self.times -= 1
            from display_board.audio import Pcm, write_wav

            write_wav(tmp, Pcm(22050, 1, b""))
            return
        super()._pyttsx3(text, voice_id, rate, volume, tmp)


@pytest.mark.parametrize("times", [1, 3])
def test_silence_from_pyttsx3_is_retried_then_espeak_ng_speaks(tmp_path, times):
    synth = SilentOnce(PhraseCache(tmp_path / "cache", 50), times)
    pcm, cached = synth.phrase("请 A 零零一 号到 三 号窗口办理", "cmn-latn-pinyin")
    assert not cached and pcm.seconds > 2 and synth.times == 0
