"""The voice output contract, run against the real sound device driver and the WAV-directory sink.

The real driver plays through a real PulseAudio server with a null sink (a
loudspeaker nobody hears): ``paplay`` takes as long as the audio does, as on
a hall's loudspeaker.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from device_drivers.base import DeviceError
from device_drivers.voice import SoundDevice, WavDirSink, build_output, detect_sound_device
from display_board.audio import Pcm, chime, join, silence, wav_seconds, write_wav


@pytest.fixture
def short_wav(tmp_path) -> Path:
    path = tmp_path / "ding.wav"
    ding = chime(22050)
    write_wav(path, join([Pcm(ding.rate, 1, ding.frames[:2 * 22050 * 4 // 10]), silence(100, 22050)]))  # 0.5 s
    return path


@pytest.fixture(params=["device", "wav-dir"])
def output(request, tmp_path):
    if request.param == "device":
        env = request.getfixturevalue("pulse")
        return build_output("device", environ=env)
    return build_output("wav-dir", directory=tmp_path / "wavs", pace=1.0)  # "plays" in real time


def test_play_returns_when_the_audio_has_been_played(output, short_wav):
    seconds = wav_seconds(short_wav)
    played = output.play(short_wav, "00000001-A001")
    assert played.seconds == pytest.approx(seconds, abs=0.01)
    assert played.finished - played.started >= seconds * 0.9
    assert output.check() == []


def test_two_threads_never_overlap(output, short_wav):
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(output.play(short_wav, f"0000000{i}-A00{i}")))
               for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    a, b = sorted(results, key=lambda p: p.started)
    assert a.finished <= b.started


def test_a_missing_file_is_an_error(output, tmp_path):
    with pytest.raises(OSError):
        output.play(tmp_path / "nothing.wav", "x")


def test_no_sound_device_is_an_error_with_the_fix_not_silence(tmp_path):
    empty = tmp_path / "snd"
    empty.mkdir()
    assert detect_sound_device({}, str(empty)) is None
    with pytest.raises(DeviceError) as e:
        SoundDevice(environ={"PATH": os.environ["PATH"]}, dev_snd=str(empty))
    assert e.value.code == "no_sound_device" and 'output = "wav-dir"' in e.value.fix
    (empty / "pcmC0D0p").touch()
    assert detect_sound_device({}, str(empty)).kind == "alsa"


def test_an_unknown_driver_is_a_configuration_error():
    with pytest.raises(DeviceError) as e:
        build_output("bluetooth")
    assert e.value.code == "bad_config" and "device, wav-dir" in e.value.fix


def test_the_wav_dir_keeps_a_bounded_number_of_files(tmp_path, short_wav):
    sink = WavDirSink(tmp_path / "wavs", keep=10)
    for i in range(25):
        sink.play(short_wav, f"{i:08d}-A{i:03d}")
    names = sorted(p.name for p in (tmp_path / "wavs").glob("*.wav"))
    assert names == [f"{i:08d}-A{i:03d}.wav" for i in range(15, 25)]
    assert len((tmp_path / "wavs" / "timeline.jsonl").read_text().splitlines()) == 25


def test_pcm_helpers_refuse_mixed_formats():
    from display_board.audio import AudioError

    with pytest.raises(AudioError):
        join([Pcm(22050, 1, b"\0\0"), Pcm(16000, 1, b"\0\0")])
