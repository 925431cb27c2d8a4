"""The kiosk's spoken prompts (语音提示): offline espeak-ng speech played through device_drivers.voice.

Synthesis is espeak-ng's Mandarin voice ``cmn-latn-pinyin`` (it reads A001
as "A 零零一"; English with ``en``), called directly: a prompt takes about
15 ms. Playback reuses the hall's voice output driver
(:mod:`device_drivers.voice`): ``SoundDevice`` on a real kiosk, which looks
for a sound device explicitly instead of failing quietly, or ``WavDirSink``
(the simulator) that writes each prompt to a directory.

Prompts are queued so they never talk over each other, and dropped when the
screen goes back home: a prompt for the last resident must not be spoken to
the next one.

读给我听 (:meth:`Voice.read`): a whole screen read aloud, sentence by sentence,
in the resident's language: Mandarin for 简体, Cantonese (``yue``) for 繁體 when
the hall's Traditional Chinese is Hong Kong's (``traditional = "hk"``),
Mandarin for Taiwan's, English. :meth:`Voice.stop` cuts it short, the sentence
being played included (the sound device's player is stopped). Without a sound device the kiosk says so once (health
problem ``no_sound_device`` over MQTT) and carries on: everything spoken is
also on the screen.
"""

from __future__ import annotations

import functools
import logging
import queue
import shutil
import subprocess
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from device_drivers.base import DeviceError
from hallq import i18n

log = logging.getLogger("hallq.kiosk.voice")

VOICES = {"zh-Hans": "cmn-latn-pinyin", "zh-Hant": "cmn-latn-pinyin", "en": "en"}
CANTONESE = "yue"


@functools.cache
def _espeak_has(voice: str) -> bool:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return False
    r = subprocess.run([exe, f"--voices={voice}"], capture_output=True, text=True, timeout=10)
    return any(line.split()[1:2] == [voice] for line in r.stdout.splitlines()[1:])


def voice_for(lang: str) -> str:
    """The espeak-ng voice for ``lang``: Traditional Chinese is read in Cantonese where the hall's Traditional is
    Hong Kong's (and espeak-ng has ``yue``), in Mandarin otherwise."""
    if lang == "zh-Hant" and i18n.traditional() == "hk" and _espeak_has(CANTONESE):
        return CANTONESE
    return VOICES.get(lang, VOICES["zh-Hans"])


class Voice(ABC):
    """Speaks prompts in order, never overlapping; :meth:`say` returns at once."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[int, str, str, bool, Callable[[], None] | None] | None] = queue.Queue()
        self._generation = 0
        self.problems: list[str] = []
        self.asked: list[tuple[str, str]] = []    # (lang, text): what it was asked to say, in order
        self.spoken: list[tuple[str, str]] = []   # (lang, text): what was said, for tests and the log
        self._reading: object | None = None       # the reading aloud under way (读给我听), if any
        self._done: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="kiosk-voice", daemon=True)
        self._thread.start()

    def say(self, text: str, lang: str = "zh-Hans", slow: bool = False, then: Callable[[], None] | None = None) -> None:
        """Queue ``text``; ``then`` is called (on the voice's thread) once it has been said or dropped."""
        if text:
            self._idle.clear()
            self.asked.append((lang, text))
            self._queue.put((self._generation, text, lang, slow, then))
        elif then is not None:
            then()

    def cancel(self) -> None:
        """Drop everything not yet spoken (the screen went back home)."""
        self._generation += 1

    @property
    def reading(self) -> bool:
        """A reading aloud (:meth:`read`) is under way."""
        return self._reading is not None

    def read(self, sentences: list[str], lang: str = "zh-Hans", slow: bool = False,
             done: Callable[[], None] | None = None) -> None:
        """Read a screen aloud, one sentence after the other; ``done`` is called once, when the last sentence has
        been said or the reading was stopped (:meth:`stop`)."""
        token = object()
        with self._lock:
            self._reading = token

        def finished() -> None:
            with self._lock:
                if self._reading is not token:
                    return                 # stopped, or a newer reading: that one says when it is done
                self._reading = None
            if done is not None:
                done()
        self._done = finished
        texts = [t for t in sentences if t]
        for i, text in enumerate(texts):
            self.say(text, lang, slow, then=finished if i == len(texts) - 1 else None)
        if not texts:
            finished()

    def stop(self) -> None:
        """Stop speaking now: drop what is queued and cut short the sentence being played."""
        self.cancel()
        done = self._done if self._reading is not None else None
        self._interrupt()
        if done is not None:
            done()

    def _interrupt(self) -> None:
        """Cut short the sentence being played (drivers that can)."""

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued has been spoken (tests, shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            generation, text, lang, slow, then = job
            if generation == self._generation:
                try:
                    self._speak(text, lang, slow)
                    self.spoken.append((lang, text))
                except Exception:
                    log.exception("speaking a prompt failed")
            if then is not None:
                try:
                    then()
                except Exception:
                    log.exception("after speaking a prompt")
            if self._queue.empty():
                self._idle.set()

    @abstractmethod
    def _speak(self, text: str, lang: str, slow: bool) -> None: ...

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(2)


def synthesize(text: str, lang: str = "zh-Hans", rate: int = 160) -> bytes:
    """WAV bytes of ``text`` from espeak-ng (offline); raise DeviceError when espeak-ng is missing or fails."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise DeviceError("no_tts", "espeak-ng is not installed", "apt-get install espeak-ng")
    r = subprocess.run([exe, "-v", voice_for(lang), "-s", str(rate), "--stdout", text],
                       capture_output=True, timeout=20)
    if r.returncode != 0 or not r.stdout.startswith(b"RIFF"):
        raise DeviceError("tts_failed", f"espeak-ng failed: {r.stderr.decode(errors='replace')[:200]}")
    return r.stdout


class SpokenPrompts(Voice):
    """espeak-ng speech through a :mod:`device_drivers.voice` output ("device" or "wav-dir")."""

    def __init__(self, output: str = "device", rate: int = 160, elderly_rate: int = 130, player: str = "auto",
                 save_dir: str | None = None) -> None:
        from device_drivers.voice import build_output

        self.rate, self.elderly_rate = rate, elderly_rate
        self._count = 0
        self._tmp = Path(tempfile.mkdtemp(prefix="hallq-kiosk-voice-"))
        options = {"player": player} if output == "device" else {"directory": save_dir or "test-artifacts/kiosk-voice"}
        try:
            self.output = build_output(output, **options)
            problems: list[str] = []
        except DeviceError as e:
            self.output = None
            problems = [e.code]
            log.warning("spoken prompts are off: %s. Fix: connect the loudspeaker (a sound card or a PulseAudio/"
                        "PipeWire session), or set [voice] driver = \"simulator\" in kiosk.toml to write the prompts "
                        "as WAV files; everything is also shown on screen", e.message)
        super().__init__()
        self.problems = problems

    def _speak(self, text: str, lang: str, slow: bool) -> None:
        if self.output is None:
            return
        self._count += 1
        wav = self._tmp / f"prompt-{self._count % 8}.wav"
        wav.write_bytes(synthesize(text, lang, self.elderly_rate if slow else self.rate))
        try:
            self.output.play(wav, f"kiosk-prompt-{self._count:05d}")
            self.problems = [p for p in self.problems if p not in ("play_failed", "play_timeout")]
        except DeviceError as e:
            if e.code not in self.problems:
                log.warning("cannot play a prompt: %s", e)
            self.problems = [e.code]

    def _interrupt(self) -> None:
        stop = getattr(self.output, "stop", None)
        if stop is not None:
            stop()

    def close(self) -> None:
        super().close()
        if self.output is not None:
            self.output.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


class RecordingVoice(Voice):
    """Records what would be said, nothing more (tests that need no audio).

    ``hold``: each sentence "plays" for up to that many seconds, until :meth:`stop` cuts it short, like a
    loudspeaker's player (tests of stopping a reading).
    """

    def __init__(self, hold: float = 0.0) -> None:
        self.hold = hold
        self._release = threading.Event()
        self.playing = threading.Event()      # set when a sentence starts "playing"
        super().__init__()

    def _speak(self, text: str, lang: str, slow: bool) -> None:
        self.playing.set()
        if self.hold:
            self._release.clear()
            self._release.wait(self.hold)

    def _interrupt(self) -> None:
        self._release.set()


class NoVoice(Voice):
    """No speaker configured (``driver = "none"``): prompts are on screen only."""

    def _speak(self, text: str, lang: str, slow: bool) -> None:
        return


def build_voice(driver: str, **options) -> Voice:
    """``espeak`` → the sound device; ``simulator`` → real speech written to ``save_dir``; ``none``."""
    from device_drivers.base import choose

    drivers = {"espeak": lambda **o: SpokenPrompts("device", **o),
               "simulator": lambda **o: SpokenPrompts("wav-dir", **o),
               "none": lambda **o: NoVoice()}
    return choose("voice", driver, drivers, **options)
