"""Offline speech: espeak-ng through pyttsx3, each phrase cached on disk.

Nothing here needs the network: a hall keeps announcing when the city's
network is down (the usual complaint about online voices is silence).

pyttsx3's espeak driver has quirks this module works around (checked with
pyttsx3 2.99 and espeak-ng 1.51):

* one ``save_to_file`` per ``runAndWait()``; and a ``say()`` after a
  ``save_to_file`` writes to that file again -- so the synthesiser only ever
  calls ``save_to_file``, one phrase per ``runAndWait()``;
* its own playback (``say``) shells out to ``aplay`` and fails quietly
  without a sound card -- so it never plays; device_drivers.voice does;
* it prints "Audio saved to ..." on stdout -- swallowed here;
* voice ``cmn``/``zh`` reads Latin letters as English words and pinyin badly;
  ``cmn-latn-pinyin`` speaks Mandarin and reads "A" as the letter.

The synthesiser is used from one thread (the announcer's worker).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from display_board.audio import AudioError, Pcm, read_wav

log = logging.getLogger("hallq.announcer")


class SynthesisError(Exception):
    """Speech could not be made; the message says why and what to do."""


class PhraseCache:
    """Synthesised phrases on disk, at most ``max_files``; least recently used go first."""

    def __init__(self, directory: Path, max_files: int) -> None:
        self.directory = directory
        self.max_files = max_files
        directory.mkdir(parents=True, exist_ok=True)
        self._count = sum(1 for _ in directory.glob("*.wav"))
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.wav"

    def get(self, key: str) -> Path | None:
        p = self.path(key)
        try:
            os.utime(p)  # recently used: evicted last
        except FileNotFoundError:
            self.misses += 1
            return None
        self.hits += 1
        return p

    def added(self) -> None:
        self._count += 1
        if self._count > self.max_files:
            self._evict()

    def _evict(self) -> None:
        files = sorted(self.directory.glob("*.wav"), key=lambda p: p.stat().st_mtime)
        drop = len(files) - int(self.max_files * 0.9)  # evict in batches, not one file per phrase
        for p in files[:max(drop, 0)]:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        self._count = len(files) - max(drop, 0)


class Synthesizer:
    """Text to speech with espeak-ng voices, through pyttsx3; results cached per phrase."""

    def __init__(self, cache: PhraseCache) -> None:
        self.cache = cache
        self._engine = None
        self._voices: dict[str, str] | None = None
        self.synth_seconds = 0.0

    def _get_engine(self):
        if self._engine is None:
            try:
                import pyttsx3

                self._engine = pyttsx3.init("espeak")
            except Exception as e:  # pyttsx3 raises bare RuntimeError/OSError/ImportError variants
                raise SynthesisError(f"cannot start espeak-ng through pyttsx3 ({e}): install espeak-ng "
                                     "(apt-get install espeak-ng) and pyttsx3") from None
        return self._engine

    def voices(self) -> dict[str, str]:
        """espeak-ng voice ids by lower-case short name and id: {"cmn-latn-pinyin": "sit/cmn-latn-pinyin", …}."""
        if self._voices is None:
            out: dict[str, str] = {}
            for v in self._get_engine().getProperty("voices"):
                out.setdefault(v.id.lower(), v.id)
                out.setdefault(v.id.rsplit("/", 1)[-1].lower(), v.id)
            self._voices = out
        return self._voices

    def resolve(self, voice: str) -> str:
        """The pyttsx3 voice id for a configured name; SynthesisError listing near names if unknown."""
        found = self.voices().get(voice.lower())
        if found is None:
            stem = voice.lower().split("-")[0]
            near = sorted({k for k in self.voices() if "/" not in k and k.startswith(stem)})[:8]
            raise SynthesisError(f"espeak-ng has no voice {voice!r}" + (f"; similar: {', '.join(near)}" if near else "")
                                 + " (list them with `espeak-ng --voices`)")
        return found

    def phrase(self, text: str, voice: str, rate: int = 150, volume: float = 1.0) -> tuple[Pcm, bool]:
        """The audio of ``text`` and whether it came from the cache."""
        voice_id = self.resolve(voice)
        key = f"espeak|{voice_id}|{rate}|{volume:.2f}|{text}"
        cached = self.cache.get(key)
        if cached is not None:
            try:
                return read_wav(cached), True
            except AudioError:
                log.warning("cached phrase %s is damaged; synthesising it again", cached.name)
        path = self.cache.path(key)
        self._synthesize(text, voice_id, rate, volume, path)
        self.cache.added()
        return read_wav(path), False

    def _synthesize(self, text: str, voice_id: str, rate: int, volume: float, path: Path) -> None:
        """Synthesise into ``path``; retried when pyttsx3 hands back silence.

        About one phrase in a few hundred comes back from pyttsx3's espeak driver as an empty WAV
        (seen after switching voices); the same call again gives the audio. If it does not, the
        espeak-ng program itself makes the phrase: still espeak-ng, still offline.
        """
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.wav")
        for attempt in range(3):
            self._pyttsx3(text, voice_id, rate, volume, tmp)
            if self._audible(tmp):
                os.replace(tmp, path)
                if attempt:
                    log.info("pyttsx3 gave silence for %r %d time(s); the retry spoke", text, attempt)
                return
        log.warning("pyttsx3 gave silence three times for %r (voice %s); using the espeak-ng program", text, voice_id)
        self._espeak_cli(text, voice_id, rate, volume, tmp)
        if not self._audible(tmp):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise SynthesisError(f"espeak-ng produced silence for {text!r} with voice {voice_id}")
        os.replace(tmp, path)

    @staticmethod
    def _audible(path: Path) -> bool:
        try:
            return bool(read_wav(path).frames)
        except (AudioError, FileNotFoundError):
            return False

    def _pyttsx3(self, text: str, voice_id: str, rate: int, volume: float, tmp: Path) -> None:
        engine = self._get_engine()
        started = time.perf_counter()
        try:
            engine.setProperty("voice", voice_id)
            engine.setProperty("rate", rate)
            engine.setProperty("volume", volume)
            with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to …"
                engine.save_to_file(text, str(tmp))
                engine.runAndWait()  # one save_to_file per runAndWait (pyttsx3 quirk)
        except Exception as e:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise SynthesisError(f"espeak-ng failed on {text!r} with voice {voice_id}: {e}") from None
        finally:
            self.synth_seconds += time.perf_counter() - started

    def _espeak_cli(self, text: str, voice_id: str, rate: int, volume: float, tmp: Path) -> None:
        program = shutil.which("espeak-ng")
        if program is None:
            return
        voice = voice_id.rsplit("/", 1)[-1]
        # the text on standard input, never as an argument: one starting with "-" would be read as an option
        subprocess.run([program, "--stdin", "-v", voice, "-s", str(rate), "-a", str(int(volume * 100)), "-w", str(tmp)],
                       input=text.encode("utf-8"), capture_output=True, timeout=30)
