"""Spoken prompts: real espeak-ng speech, in order, through device_drivers.voice's WAV simulator."""

from __future__ import annotations

import json
import wave

from kiosk.voice import NoVoice, SpokenPrompts, build_voice, synthesize


def test_mandarin_prompt_is_real_audio():
    wav = synthesize("您的号码是 A001，前面还有 3 人", "zh-Hans")
    assert wav[:4] == b"RIFF" and len(wav) > 20_000


def test_prompts_play_in_order_and_never_overlap(tmp_path):
    voice = build_voice("simulator", save_dir=str(tmp_path))
    for n in range(3):
        voice.say(f"第 {n + 1} 条提示")
    assert voice.wait_idle(20)
    timeline = [json.loads(line) for line in (tmp_path / "timeline.jsonl").read_text().splitlines()]
    assert [e["label"] for e in timeline] == ["kiosk-prompt-00001", "kiosk-prompt-00002", "kiosk-prompt-00003"]
    assert all(a["finished"] <= b["started"] for a, b in zip(timeline, timeline[1:]))
    with wave.open(str(tmp_path / "kiosk-prompt-00001.wav")) as w:
        assert w.getnframes() / w.getframerate() > 0.5
    voice.close()


def test_cancel_drops_what_the_last_resident_would_hear(tmp_path):
    voice = SpokenPrompts("wav-dir", save_dir=str(tmp_path))
    voice.say("很长的一段提示，" * 20)
    for _ in range(5):
        voice.say("不该播放的提示")
    voice.cancel()
    voice.say("新的居民")
    assert voice.wait_idle(30)
    assert [t for _, t in voice.spoken][-1] == "新的居民"
    assert "不该播放的提示" not in [t for _, t in voice.spoken]
    voice.close()


def test_no_sound_device_is_a_health_problem_not_a_crash(monkeypatch):
    monkeypatch.setattr("device_drivers.voice.detect_sound_device", lambda *a, **k: None)
    voice = build_voice("espeak")
    assert voice.problems == ["no_sound_device"]
    voice.say("测试")
    assert voice.wait_idle(5)
    voice.close()
    assert isinstance(build_voice("none"), NoVoice)
