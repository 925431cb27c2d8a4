"""PCM audio in pure Python: read and write WAV, silence, the chime, joining pieces.

An announcement is one WAV file: chime, pause, the sentence (repeated), the
further languages. Building it as one file means one player process per
announcement, so two announcements can never overlap on the loudspeaker.
Everything is 16-bit PCM; espeak-ng gives mono 22,050 Hz, and the chime is
made at whatever rate the voice uses.
"""

from __future__ import annotations

import math
import os
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path


class AudioError(Exception):
    """A WAV that cannot be used (wrong format, damaged)."""


@dataclass(frozen=True)
class Pcm:
    rate: int
    channels: int
    frames: bytes  # 16-bit little-endian samples

    @property
    def seconds(self) -> float:
        return len(self.frames) / (2 * self.channels * self.rate)


def read_wav(path: str | os.PathLike[str]) -> Pcm:
    """Read a 16-bit PCM WAV; raise AudioError when it is anything else."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise AudioError(f"{path}: {8 * w.getsampwidth()}-bit samples; hallq uses 16-bit PCM")
            return Pcm(w.getframerate(), w.getnchannels(), w.readframes(w.getnframes()))
    except (wave.Error, EOFError) as e:
        raise AudioError(f"{path}: not a PCM WAV file ({e})") from None


def write_wav(path: str | os.PathLike[str], pcm: Pcm) -> None:
    """Write ``pcm`` to ``path`` atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(pcm.channels)
        w.setsampwidth(2)
        w.setframerate(pcm.rate)
        w.writeframes(pcm.frames)
    os.replace(tmp, path)


def silence(ms: int, rate: int, channels: int = 1) -> Pcm:
    return Pcm(rate, channels, bytes(2 * channels * (rate * ms // 1000)))


_CHIMES: dict[int, Pcm] = {}


def chime(rate: int) -> Pcm:
    """A two-note "ding-dong" (E6 then C6, bell-like partials, 1.1 s), made once per rate.

    Halls play a chime before each call so people look up before the words
    start; it is synthesised here so no sound file has to ship.
    """
    if rate in _CHIMES:
        return _CHIMES[rate]
    notes = ((1318.5, 0.0, 0.55), (1046.5, 0.42, 0.68))  # (Hz, start s, length s)
    total = int(rate * 1.1)
    buf = [0.0] * total
    for freq, start, length in notes:
        s0 = int(start * rate)
        for i in range(int(length * rate)):
            if s0 + i >= total:
                break
            t = i / rate
            attack = min(1.0, t / 0.005)
            env = attack * math.exp(-4.5 * t)
            buf[s0 + i] += env * (math.sin(2 * math.pi * freq * t) + 0.35 * math.sin(2 * math.pi * 2 * freq * t)
                                  + 0.12 * math.sin(2 * math.pi * 3 * freq * t))
    peak = max(abs(x) for x in buf) or 1.0
    samples = array("h", (int(x / peak * 0.45 * 32767) for x in buf))
    if samples.itemsize != 2:  # pragma: no cover - every platform hallq runs on has 16-bit shorts
        raise AudioError("array('h') is not 16-bit here")
    if sys.byteorder == "big":  # WAV is little-endian
        samples.byteswap()
    _CHIMES[rate] = Pcm(rate, 1, samples.tobytes())
    return _CHIMES[rate]


def join(pieces: list[Pcm]) -> Pcm:
    """One Pcm of ``pieces`` in order; all must share rate and channels."""
    if not pieces:
        raise AudioError("nothing to join")
    first = pieces[0]
    for p in pieces[1:]:
        if (p.rate, p.channels) != (first.rate, first.channels):
            raise AudioError(f"cannot join {p.rate} Hz/{p.channels} ch audio to {first.rate} Hz/{first.channels} ch: "
                             "use voices of one engine (espeak-ng gives 22050 Hz mono)")
    return Pcm(first.rate, first.channels, b"".join(p.frames for p in pieces))


def wav_seconds(path: str | os.PathLike[str]) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()
