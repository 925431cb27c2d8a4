"""Voice output: where an announcement's audio goes. A device like any other.

Interface (:class:`VoiceOutput`): ``play(wav, label)`` plays one WAV and
returns when it has finished (so announcements never overlap), ``check()``
lists problems (``no_sound_device``, ``no_player``), ``close()``.

Drivers, chosen by configuration (``output = "device" | "wav-dir"``):

* :class:`SoundDevice` (real): the hall's loudspeaker through PulseAudio /
  PipeWire (``paplay``) or ALSA (``aplay``, or sox's ``play``). The sound
  device is looked for explicitly, because players (and pyttsx3) fail
  *quietly* without one: a missing device is an error with the fix, reported
  over MQTT, not silence.
* :class:`WavDirSink` (simulator): writes each announcement's WAV, named by
  call sequence and ticket, to a directory, with a ``timeline.jsonl`` of
  start and end times -- what tests and a server without a sound card use.
  ``pace`` makes "playing" take that fraction of the audio's real duration.

``output = "auto"`` (used by ``hallq start``) is a documented rule, not a
silent fallback: the sound device when one is detected, else the WAV
directory, and the log says which and why.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import subprocess
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from device_drivers.base import DeviceError, choose

log = logging.getLogger("hallq.devices.voice")


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


@dataclass(frozen=True)
class Played:
    """What one ``play`` did: which file, when, for how long."""

    label: str
    path: str
    seconds: float  # audio duration
    started: float  # time.monotonic()
    finished: float


class VoiceOutput(Protocol):
    name: str

    def check(self) -> list[str]: ...

    def play(self, wav: Path, label: str) -> Played: ...

    def close(self) -> None: ...


# -- detecting a sound device ------------------------------------------------------------

@dataclass(frozen=True)
class SoundSystem:
    kind: str  # "pulse" or "alsa"
    detail: str


def detect_sound_device(environ: dict[str, str] | None = None, dev_snd: str = "/dev/snd") -> SoundSystem | None:
    """A sound server (PulseAudio/PipeWire) or an ALSA playback device, or None."""
    env = os.environ if environ is None else environ
    server = env.get("PULSE_SERVER", "")
    if server:
        path = server.split("unix:", 1)[-1] if server.startswith("unix:") else ""
        if not path or os.path.exists(path):
            return SoundSystem("pulse", f"PULSE_SERVER={server}")
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.exists(os.path.join(runtime, "pulse", "native")):
        return SoundSystem("pulse", f"{runtime}/pulse/native")
    pcms = sorted(glob.glob(os.path.join(dev_snd, "pcmC*D*p")))
    if pcms:
        return SoundSystem("alsa", ", ".join(os.path.basename(p) for p in pcms[:4]))
    return None


NO_DEVICE_FIX = ("connect the loudspeaker (a sound card in /dev/snd or a PulseAudio/PipeWire session), or set "
                 "output = \"wav-dir\" in announcer.toml to write the announcements as WAV files instead")


class SoundDevice:
    """Plays through the hall's sound device with a player program, one file at a time."""

    name = "device"
    PLAYERS = {"pulse": ("paplay", "play"), "alsa": ("aplay", "play")}

    def __init__(self, player: str = "auto", environ: dict[str, str] | None = None, dev_snd: str = "/dev/snd",
                 **_: object) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.system = detect_sound_device(self.environ, dev_snd)
        if self.system is None:
            raise DeviceError("no_sound_device", "no sound device found (no /dev/snd playback device, "
                              "no PulseAudio/PipeWire server)", NO_DEVICE_FIX)
        self.player = self._pick(player)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._stopped = False
        log.info("voice output: %s via %s (%s)", self.system.kind, self.player, self.system.detail)

    def _pick(self, player: str) -> str:
        wanted = self.PLAYERS[self.system.kind] if player == "auto" else (player,)
        for p in wanted:
            if shutil.which(p):
                return p
        packages = {"paplay": "pulseaudio-utils", "aplay": "alsa-utils", "play": "sox"}
        raise DeviceError("no_player", f"no audio player found (tried {', '.join(wanted)})",
                          "install " + " or ".join(packages[p] for p in wanted))

    def check(self) -> list[str]:
        return [] if detect_sound_device(self.environ) else ["no_sound_device"]

    def play(self, wav: Path, label: str) -> Played:
        seconds = _wav_seconds(wav)
        argv = {"paplay": ["paplay", str(wav)], "aplay": ["aplay", "-q", str(wav)],
                "play": ["play", "-q", str(wav)]}[self.player]
        with self._lock:  # one announcement at a time, even if two threads tried
            started = time.monotonic()
            self._stopped = False
            proc = self._proc = subprocess.Popen(argv, env=self.environ, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.PIPE)
            try:
                _, stderr = proc.communicate(timeout=seconds + 15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise DeviceError("play_timeout", f"{self.player} did not finish {label} in {seconds + 15:.0f} s",
                                  "check the sound server") from None
            finally:
                self._proc = None
            finished = time.monotonic()
        if proc.returncode != 0 and not self._stopped:
            err = stderr.decode("utf-8", "replace").strip().splitlines()
            raise DeviceError("play_failed", f"{self.player} failed on {label}: {err[-1] if err else proc.returncode}",
                              NO_DEVICE_FIX)
        return Played(label, str(wav), seconds, started, finished)

    def stop(self) -> None:
        """Cut short what is playing now (the kiosk's 读给我听 pressed again); ``play`` then returns at once."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._stopped = True
            proc.terminate()

    def close(self) -> None:
        self.stop()


class WavDirSink:
    """Writes each announcement to ``directory`` instead of a loudspeaker (keeps the last ``keep``)."""

    name = "wav-dir"

    def __init__(self, directory: str | os.PathLike[str], keep: int = 500, pace: float = 0.0, **_: object) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.pace = pace
        self.timeline = self.directory / "timeline.jsonl"
        self._files: deque[Path] = deque(sorted(self.directory.glob("*.wav")))
        self._lock = threading.Lock()
        self._playing = False

    def check(self) -> list[str]:
        return [] if os.access(self.directory, os.W_OK) else ["not_writable"]

    def play(self, wav: Path, label: str) -> Played:
        with self._lock:
            if self._playing:  # cannot happen through the lock; kept as the overlap tripwire tests rely on
                raise DeviceError("overlap", "two announcements at once")
            self._playing = True
            try:
                return self._play(wav, label)
            finally:
                self._playing = False

    def _play(self, wav: Path, label: str) -> Played:
        seconds = _wav_seconds(wav)
        started = time.monotonic()
        target = self.directory / f"{label}.wav"
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(wav, tmp)
        os.replace(tmp, target)
        if self.pace > 0:
            time.sleep(seconds * self.pace)
        finished = time.monotonic()
        self._files.append(target)
        while len(self._files) > self.keep:
            old = self._files.popleft()
            if old != target:
                old.unlink(missing_ok=True)
        self._log({"label": label, "file": target.name, "seconds": round(seconds, 3),
                   "started": started, "finished": finished})
        return Played(label, str(target), seconds, started, finished)

    def _log(self, entry: dict) -> None:
        if self.timeline.exists() and self.timeline.stat().st_size > 2_000_000:
            os.replace(self.timeline, self.timeline.with_suffix(".jsonl.1"))  # bounded: one old file kept
        with open(self.timeline, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def close(self) -> None:
        pass


DRIVERS = {"device": SoundDevice, "wav-dir": WavDirSink}


def build_output(name: str, **options) -> VoiceOutput:
    """The voice output ``name`` ("device" or "wav-dir"); DeviceError when it cannot work."""
    return choose("voice", name, DRIVERS, **options)
