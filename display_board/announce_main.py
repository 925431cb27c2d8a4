"""``hallq announce``: one voice announcer process, from its settings to speaking calls."""

from __future__ import annotations

import logging
import signal
import threading

from hallq import contract
from hallq.settings import data_dir as hall_data_dir
from display_board.settings import AnnouncerSettings

log = logging.getLogger("hallq.announcer")


def resolve_output(requested: str) -> tuple[str, str]:
    """``(driver, why)`` for an output setting; ``auto`` is the documented rule, logged by the caller."""
    from device_drivers.voice import detect_sound_device

    if requested != "auto":
        return requested, "configured"
    found = detect_sound_device()
    if found is not None:
        return "device", f"output = auto and a sound device was found ({found.kind}: {found.detail})"
    return "wav-dir", "output = auto and no sound device was found (no /dev/snd playback device, no PulseAudio)"


def run_announcer(settings: AnnouncerSettings, output: str | None = None, wav_dir: str | None = None,
                  data_dir: str | None = None, clock=None) -> int:
    """Announce calls until SIGTERM/Ctrl-C; return an exit code. ``clock``: the hall's (a hallq Clock;
    default the real one in the hall's time zone), against which a call's ``at`` tells its age."""
    from device_drivers.base import DeviceError, HealthReporter
    from device_drivers.voice import build_output
    from display_board.announcer import Announcer
    from hallq.feed import HallFeed
    from display_board.synth import PhraseCache, SynthesisError, Synthesizer
    from hallq.mqtt import connect_from_settings

    hall = settings.hall
    directory = hall_data_dir(hall.site, data_dir)
    driver, why = resolve_output(output or settings.output)
    target = wav_dir or str(directory / settings.wav_dir)
    if driver == "wav-dir":
        log.warning("announcer %s writes its announcements as WAV files to %s instead of playing them (%s)",
                    settings.id, target, why)
    connection = connect_from_settings(hall.mqtt, hall.site, "announcer", settings.id, directory)
    health = HealthReporter(connection, hall.site)
    device = f"announcer-{settings.id}"
    try:
        sink = build_output(driver, player=settings.player, directory=target, keep=settings.keep_wavs)
    except DeviceError as e:
        log.error("announcer %s cannot speak: %s — %s", settings.id, e.message, e.fix)
        connection.start()
        health.report(device, "audio", False, [e.code], {"output": driver, "error": e.message})
        connection.wait_connected(3)
        connection.stop()
        return 2
    synth = Synthesizer(PhraseCache(directory / "voice-cache", settings.cache_max_files))
    try:
        for lang in settings.languages:
            synth.resolve(lang.voice)
    except SynthesisError as e:
        log.error("announcer %s: %s", settings.id, e)
        return 2
    if clock is None:
        from zoneinfo import ZoneInfo

        from hallq.clock import Clock

        clock = Clock(ZoneInfo(hall.timezone))
    announcer = Announcer(settings, synth, sink, work_dir=directory / f"announcer-{settings.id}", now=clock.now)
    detail = {"output": sink.name, "languages": [lg.lang for lg in settings.languages]}
    problems: set[str] = set()

    def on_problem(code: str, message: str) -> None:
        problems.add(code)
        health.report(device, "audio", False, sorted(problems), {**detail, "error": message[:200]})

    def on_done(ann) -> None:
        if not ann.error and problems:
            problems.clear()
            health.report(device, "audio", True, [], detail)

    announcer.on_problem.append(on_problem)
    announcer.on_done.append(on_done)
    feed = HallFeed(connection, hall.site, (contract.CALLS,), deliver=lambda t, p, payload: announcer.offer(payload))
    feed.start()
    health.report(device, "audio", True, [], detail)
    log.info("announcer %s of %s: %s via %s, listening on %s", settings.id, hall.site,
             "+".join(f"{lg.lang}({lg.voice})" for lg in settings.languages), sink.name, connection.address)
    connection.start()
    announcer.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        announcer.stop()
        connection.stop()
        c = announcer.counters
        log.info("announcer %s stopped: %d announced (%d merged), %d skipped (stale or superseded), %d duplicates, %d failed; "
                 "phrase cache %d hits / %d misses", settings.id, c.announced, c.merged, c.skipped, c.duplicates,
                 c.failed, synth.cache.hits, synth.cache.misses)
    return 0
