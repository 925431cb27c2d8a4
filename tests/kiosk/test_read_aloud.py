"""读给我听 (issue 17 item 4): every screen with an instruction is read aloud offline at a touch, with the hall's voice.

Checked: what each screen reads (its own catalogue texts, numbers as a Mandarin listener says them), the voice
per language (Cantonese for Hong Kong's Traditional Chinese), real espeak-ng audio of a real screen, a real
player cut short on a real (null) PulseAudio sink, and the button on the drawn screens: present, large enough,
a touch reads, a second touch stops, leaving the screen stops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import wave

import pytest

from hallq import i18n
from hallq.reading import spoken_zh
from hallq.testing import ROOT
from kiosk.reading import sentences
from kiosk.texts import tr
from kiosk.voice import RecordingVoice, SpokenPrompts, voice_for


def test_numbers_are_written_out_as_a_mandarin_listener_hears_them():
    assert spoken_zh("您的号码 A001，前面还有 3 人") == "您的号码 A 零零一 ，前面还有 3 人"
    assert spoken_zh("承诺 2026-12-07 前办结") == "承诺 2026年12月7日 前办结"
    assert spoken_zh("09:00–11:30 可预约") == "9点整–11点30分 可预约"
    assert spoken_zh("SQ-20261123-0001") == "SQ-20261123-0001"          # a tracking number is not a ticket
    assert spoken_zh("B12 号") == "B12 号"                                # nor a short code


def test_a_screen_reads_its_own_instruction_and_choices(session):
    from kiosk.presenters.take_number import TakeNumber

    flow = TakeNumber(session)
    flow.start()
    view = flow.view()
    said = sentences(view, "zh-Hans")
    assert said[:2] == [view.title, view.prompt]                        # the presenter's texts, not a copy
    intro = said.index(tr("read.choices", "zh-Hans"))
    assert said[intro + 1:intro + 1 + len(view.options)] == [f"{o.label}，{o.detail}" if o.detail else o.label
                                                             for o in view.options if o.enabled]


def test_a_ticket_is_read_digit_by_digit_and_typed_values_never(take_number):
    flow = take_number("construction")
    view = flow.view()
    number = view.result["number"]
    assert number[0].isalpha()
    said = " ".join(sentences(view, "zh-Hans"))
    assert f"{number[0]} 零零一" in said and number not in said
    assert f"{number}" in " ".join(sentences(view, "en"))
    flow.start()
    flow.handle("choose", "social")
    flow.handle("choose", "__none__")
    flow.handle("action", "type_id")
    flow.handle("submit", "52020119850615123")                          # one digit short: an error, value kept
    view = flow.view()
    said = sentences(view, "zh-Hans")
    assert view.entry.get("value") and not any(view.entry["value"] in s for s in said)
    assert any(view.entry.get("error", "—") in s for s in said)


def test_the_voice_follows_the_language_and_the_halls_traditional_chinese():
    before = i18n.traditional()
    try:
        i18n.use_traditional("hk")
        assert voice_for("zh-Hant") == "yue"                            # espeak-ng has Cantonese
        i18n.use_traditional("tw")
        assert voice_for("zh-Hant") == "cmn-latn-pinyin"
    finally:
        i18n.use_traditional(before)
    assert voice_for("zh-Hans") == "cmn-latn-pinyin" and voice_for("en") == "en"


def test_stop_ends_a_reading_at_once_and_says_so_once():
    voice = RecordingVoice(hold=30)
    done = []
    voice.read(["第一句", "第二句", "第三句"], done=lambda: done.append(1))
    assert voice.playing.wait(5) and voice.reading                      # the first sentence is being played
    started = time.monotonic()
    voice.stop()
    assert voice.wait_idle(5) and time.monotonic() - started < 2
    assert not voice.reading and done == [1]
    assert [t for _, t in voice.spoken] == ["第一句"]                     # the rest was dropped, not said
    voice.close()


def test_real_espeak_reads_a_real_screen_into_audio(session, tmp_path):
    """The simulator output is real speech: espeak-ng's Mandarin, a WAV per sentence of the screen."""
    from kiosk.presenters.take_number import TakeNumber

    flow = TakeNumber(session)
    flow.start()
    said = sentences(flow.view(), "zh-Hans")
    voice = SpokenPrompts("wav-dir", save_dir=str(tmp_path))
    done = []
    voice.read(said, "zh-Hans", slow=True, done=lambda: done.append(1))
    assert voice.wait_idle(60) and done == [1]
    wavs = sorted(tmp_path.glob("kiosk-prompt-*.wav"))
    assert len(wavs) == len(said)
    for path in wavs:
        assert path.read_bytes()[:4] == b"RIFF"
        with wave.open(str(path)) as w:
            assert w.getnframes() / w.getframerate() > 0.3
    voice.close()


def test_a_second_touch_cuts_the_loudspeaker_short(pulse, monkeypatch):
    """On a real sound server the sentence being played stops too, not only the ones queued after it."""
    for k, v in pulse.items():
        monkeypatch.setenv(k, v)
    voice = SpokenPrompts("device")
    assert voice.output is not None and voice.problems == []
    voice.read(["请携带身份证和营业执照原件，到二楼B区等候叫号，" * 6], "zh-Hans", slow=True)
    deadline = time.monotonic() + 10
    while voice.output._proc is None and time.monotonic() < deadline:      # paplay has started playing
        voice.wait_idle(0.02)
    assert voice.output._proc is not None
    started = time.monotonic()
    voice.stop()
    assert voice.wait_idle(5)
    assert time.monotonic() - started < 2                                 # the sentence lasts about 30 s
    assert voice.problems == [] and not voice.reading
    voice.close()


def _env():
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("layout, mode, lang", [("portrait", "normal", "zh-Hans"), ("landscape", "elderly", "en")])
def test_every_screen_with_an_instruction_reads_it_at_a_touch(city, tmp_path, layout, mode, lang):
    out = tmp_path / "read.json"
    run = subprocess.run([sys.executable, str(ROOT / "tests" / "kiosk" / "drive_read_aloud.py"), city.url, str(out),
                          layout, mode, lang], env=_env(), capture_output=True, text=True, timeout=200, cwd=ROOT)
    assert out.exists(), run.stderr[-3000:]
    report = json.loads(out.read_text("utf-8"))
    assert len(report["screens"]) == 20
    big = 60 if mode == "normal" else 80
    for name, s in report["screens"].items():
        assert s["prompt"] or s["kind"] in ("result", "info"), f"{name}: a screen without an instruction"
        b = s["button"]
        assert b and not b["disabled"] and b["opacity"] == 1 and b["in_window"], f"{name}: no 读给我听 ({b})"
        assert b["width_dp"] >= 60 and b["height_dp"] >= big, f"{name}: 读给我听 is {b}"
        assert b["text"] == tr("read.aloud", lang)
        # the touch: the voice driver was asked for the screen's own sentences, in the resident's language
        assert s["reading"], name
        assert s["asked"] and s["asked"] == s["expected"][:len(s["asked"])], name
        assert s["asked"][0] == s["title"] and s["asked_lang"] == [lang], name
        assert s["label_while_reading"] == tr("read.stop", lang)
        # the second touch: stopped, at once (the simulated player would have held each sentence 30 s)
        assert not s["reading_after_second_touch"] and s["stopped_after_s"] < 2, name
        assert s["label_after"] == tr("read.aloud", lang)
    prompts = [s for s in report["screens"].values() if s["prompt"]]
    assert all(any(s["prompt"] in a or a in s["prompt"] for a in s["expected"]) for s in prompts)
    left = report["left"]
    assert left["reading_before"] and not left["reading_after"] and left["stopped_after_s"] < 2 and left["idle"]
    auto = report["auto"]     # kiosk.auto_read: elderly mode reads a new step by itself
    assert auto["reading"] and auto["asked"] == auto["expected"][:len(auto["asked"])] and auto["asked"]
