"""``hallq announce``: one voice announcer process, from its settings to speaking calls.

At start it measures what it can say (:func:`capacity`: the real audio of a call with the configured voices,
repeats and chime) against what the hall's windows can call (:func:`hall_rate`), and says in the log whether it
keeps up. It listens to the board snapshot as well as the calls (:func:`listen`): after each (re)connect the
snapshot's recent calls fill in a call the server re-sent while this announcer was away from the broker.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from hallq import contract
from hallq.settings import data_dir as hall_data_dir
from display_board.settings import AnnouncerSettings

if TYPE_CHECKING:
    from display_board.announcer import Announcer
    from hallq.feed import HallFeed

log = logging.getLogger("hallq.announcer")

# Calls bunch: at the opening, after the lunch break, with recalls. An ordinary peak is this many times the rate of
# the hall's windows all serving at their services' pace (the sample city hall: 2.5 a minute, 4 at a peak)
PEAK_FACTOR = 1.6


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
    try:
        report_capacity(announcer)
    except Exception:  # a figure for the log must never keep the hall's voice from starting
        log.exception("announcer %s: could not measure how many calls a minute it says", settings.id)
    listen(announcer, connection, hall.site)
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
        log.info("announcer %s stopped: %d announced (%d merged, %d shortened), %d recovered from the board, %d skipped "
                 "(see the lines saying why), %d duplicates, %d failed; phrase cache %d hits / %d misses", settings.id,
                 c.announced, c.merged, c.shortened, c.recovered, c.skipped, c.duplicates, c.failed,
                 synth.cache.hits, synth.cache.misses)
    return 0


def listen(announcer: Announcer, connection, site: str) -> HallFeed:
    """Subscribe ``announcer`` to the hall: the board snapshot, then the calls.

    A call made while the broker restarts is re-sent by the server as soon as it is back, whether this announcer
    is back or not (a clean session: Mosquitto keeps no session over its own restart anyway). So after each
    (re)connect the first board snapshot (retained: it comes before any live call, the board being subscribed
    first) is handed to :meth:`Announcer.recover`; later snapshots are not even decoded."""
    from hallq.feed import HallFeed

    want = threading.Event()  # the first board snapshot after a (re)connect is wanted

    def on_board(topic: str, payload: bytes, retained: bool) -> None:
        if not want.is_set() or not payload:
            return
        try:
            board = contract.decode(contract.BOARD, payload)
        except contract.PayloadError as e:
            log.warning("ignored a board snapshot: %s", str(e)[:300])
            return
        want.clear()
        announcer.recover(board)

    connection.subscribe(contract.BOARD.topic(site), on_board, qos=0)
    connection.on_connect(want.set)  # after the subscriptions are renewed, before any message of them
    feed = HallFeed(connection, site, (contract.CALLS,), deliver=lambda t, p, payload: announcer.offer(payload))
    feed.start()
    return feed


def hall_rate(settings: AnnouncerSettings) -> tuple[int, float]:
    """``(windows, calls a minute)``: the windows this announcer speaks for, and how many calls they make a minute
    when every one serves at the pace of its first business (its ``service_minutes``)."""
    hall = settings.hall
    windows = [w for w in hall.windows.values() if settings.hears_window(w.number, w.area)]
    rate = 0.0
    for w in windows:
        b = hall.businesses.get(w.serves[0]) if w.serves else None
        rate += 1 / max(b.service_minutes if b else hall.queue.default_service_minutes, 1)
    return len(windows), rate


def capacity(announcer: Announcer) -> tuple[float, float] | None:
    """``(seconds, seconds)``: how long one call takes in full, and one call of a shortened announcement
    (``merge_max`` calls merged, the first language once), measured on real audio with the configured voices,
    repeats, pauses and chime. None when the voices cannot speak."""
    from display_board.announcer import Pending

    s = announcer.settings
    hall = s.hall
    windows = [w for w in hall.windows.values() if s.hears_window(w.number, w.area)] or list(hall.windows.values())
    if not windows:
        return None
    w = max(windows, key=lambda w: w.number)  # the longest number to say
    b = hall.businesses.get(w.serves[0]) if w.serves else next(iter(hall.businesses.values()), None)
    at = announcer.now()
    calls = [Pending(n, 0.0, {"seq": n, "kind": "call", "ticket": f"{b.prefix if b else 'A'}{n:03d}",
                              "business": b.code if b else "", "business_name": dict(b.name) if b else {},
                              "window": w.number, "window_name": dict(w.name), "area": w.area,
                              "at": (at - timedelta(seconds=n)).isoformat()}) for n in range(1, s.merge_max + 1)]
    full = announcer.render(calls[:1], short=False)
    short = announcer.render(calls, short=True)
    if full.error or short.error:
        return None
    return full.seconds, short.seconds / len(calls)


def report_capacity(announcer: Announcer) -> None:
    """Log how many calls a minute this announcer says, and warn, with the cause and the fix, when the hall's
    windows can call faster at a peak."""
    s = announcer.settings
    measured = capacity(announcer)
    if measured is None:
        return
    full, short = measured
    per_full, per_short = 60 / full, 60 / short
    windows, rate = hall_rate(s)
    peak = rate * PEAK_FACTOR
    first = s.languages[0]
    said = ", ".join([*(["chime"] if s.chime else []), *(f"{lg.lang} ×{lg.repeat}" for lg in s.languages)])
    log.info("announcer %s: a call takes %.1f s in full (%s): %.1f calls a minute; behind, %.1f s shortened (%d "
             "merged, %s once): %.1f a minute. Its %d windows call about %.1f a minute, %.1f at a peak",
             s.id, full, said, per_full, short, s.merge_max, first.lang, per_short, windows, rate, peak)
    if peak > per_short:
        log.warning("announcer %s cannot keep up with its windows at a peak: %d windows can call %.1f times a minute "
                    "and even shortened (%d calls merged, %s once) it says %.1f: calls will be read late. Fix: "
                    "split the hall between announcers (windows or areas in announcer.toml, one loudspeaker "
                    "each), or a higher rate for %s", s.id, windows, peak, s.merge_max, first.lang, per_short,
                    first.lang)
    elif peak > per_full:
        fixes = [f"repeat = 1 for {first.lang} (a recall repeats the call anyway)"] if first.repeat > 1 else []
        fixes += [f"drop {lg.lang}" + (" (or repeat = 1)" if lg.repeat > 1 else "") for lg in s.languages[1:]]
        fixes += ["chime = false"] if s.chime else []
        log.warning("announcer %s reads %.1f calls a minute in full (%s, %.1f s a call), and its %d windows can "
                    "call %.1f a minute at a peak: at a peak calls will wait and be read shortened (merged, %s "
                    "once, no chime between). To read every call in full: %s", s.id, per_full, said, full, windows,
                    peak, first.lang, "; or ".join(fixes) or "a higher rate")
    if s.stale == "skip":
        log.warning('announcer %s has stale = "skip": a call that waited over %.0f s is dropped without ever being '
                    'spoken (a resident who relies on the voice misses it); stale = "merge" reads it shortened',
                    s.id, s.max_age_seconds)
