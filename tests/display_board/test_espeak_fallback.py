"""The espeak-ng program, the synthesizer's fallback when pyttsx3 gives silence (display_board/synth.py), reads the
text from its standard input: a text starting with "-" (a template an administrator wrote so) is spoken, not taken
for an option of the program."""

from __future__ import annotations

import shutil

import pytest

from display_board.audio import read_wav
from display_board.synth import PhraseCache, Synthesizer

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (./run.sh installs it)")


@pytest.mark.parametrize("text", ["-v 请 A001 号到 1 号窗口", "--help", "请 A002 号到 2 号窗口"])
def test_the_program_speaks_the_text_whatever_it_starts_with(tmp_path, text):
    synth = Synthesizer(PhraseCache(tmp_path / "cache", 10))
    out = tmp_path / "out.wav"
    synth._espeak_cli(text, "cmn", 175, 1.0, out)
    wav = read_wav(out)
    assert wav.frames  # audio, not an option's output or nothing
