"""Voice announcer: call event → announcement audio ready, uncached and cached.

    .venv/bin/python bench/bench_announcer.py [--calls 100] [--interval 0.2]

The real announcer (espeak-ng through pyttsx3, chime, Mandarin then English,
as config/city-hall/announcer.toml says; Mandarin twice in the committed runs
before 2026-12-07's fourteenth session) subscribed to a real
Mosquitto on a free port; its output is the WAV-directory sink, so
"playing" takes no time and each call is measured alone. A publisher in the
same process sends ``--calls`` calls whose sentences are new (nothing
cached), then the same sentences again under new sequence numbers (every
phrase cached). Each call carries its send time; "ready" is when the
announcement's WAV has been written, before it is played.
Targets: p99 ≤ 300 ms uncached, ≤ 50 ms cached.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from datetime import datetime, timedelta

from common import ROOT, emit, machine, percentiles, tempdir

from hallq.testing import Mosquitto


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.2, help="seconds between calls")
    args = ap.parse_args()
    work = tempdir()
    broker = Mosquitto(work)
    broker.start()
    os.environ["HALLQ_MQTT_URL"] = broker.url
    try:
        emit(run(args, work, broker))
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(args, work, broker) -> dict:
    import paho.mqtt.client as paho

    from device_drivers.voice import WavDirSink
    from display_board.announcer import Announcer
    from hallq.feed import HallFeed
    from display_board.settings import load_announcer
    from display_board.synth import PhraseCache, Synthesizer
    from hallq import contract
    from hallq.clock import CHINA
    from hallq.mqtt import connect_from_settings

    settings = load_announcer(ROOT / "config" / "city-hall" / "announcer.toml")
    hall = settings.hall
    synth = Synthesizer(PhraseCache(work / "voice-cache", settings.cache_max_files))
    sink = WavDirSink(work / "wavs", keep=50)
    announcer = Announcer(settings, synth, sink, work / "work")
    ready: dict[int, tuple[float, bool, float]] = {}
    done = threading.Condition()

    def on_ready(ann) -> None:
        with done:
            ready[ann.seqs[0]] = (time.perf_counter(), ann.cached, ann.seconds)
            done.notify_all()

    announcer.on_ready.append(on_ready)
    conn = connect_from_settings(hall.mqtt, hall.site, "announcer", "bench")
    HallFeed(conn, hall.site, (contract.CALLS,), deliver=lambda t, p, payload: announcer.offer(payload)).start()
    conn.start()
    conn.wait_connected(10)
    announcer.start()

    # warm up: pyttsx3 and espeak-ng start, the chime is made (a running announcer has done this long ago)
    t0 = datetime(2026, 11, 23, 9, 30, tzinfo=CHINA)
    announcer.render([_pending({"seq": 0, "kind": "call", "ticket": "Z999", "business": "commerce",
                                "window": 99, "at": t0.isoformat()})])

    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    prefixes = [b.prefix for b in hall.businesses.values()]
    codes = list(hall.businesses)
    sent: dict[int, float] = {}
    synth_before = synth.synth_seconds

    def send(seq: int, n: int) -> None:
        i = n % len(codes)
        window = 1 + n % 20
        payload = {"version": 1, "seq": seq, "kind": "call", "ticket": f"{prefixes[i]}{n:03d}", "business": codes[i],
                   "business_name": dict(hall.businesses[codes[i]].name), "window": window,
                   "window_name": {"zh-Hans": f"{window}号窗口"}, "area": hall.windows[window].area,
                   "at": (t0 + timedelta(seconds=seq)).isoformat(), "recalls": 0}
        sent[seq] = time.perf_counter()
        pub.publish(contract.CALLS.topic(hall.site), json.dumps(payload, ensure_ascii=False), qos=1)

    seq = 0
    for _round in range(2):  # new sentences, then the same sentences again: cached
        for n in range(1, args.calls + 1):
            seq += 1
            send(seq, n)
            time.sleep(args.interval)
    with done:
        done.wait_for(lambda: len(ready) >= seq, timeout=60)
    announcer.stop()
    conn.stop()
    pub.loop_stop()
    pub.disconnect()

    uncached = [(ready[s][0] - sent[s]) * 1000 for s in sent if s in ready and not ready[s][1]]
    cached = [(ready[s][0] - sent[s]) * 1000 for s in sent if s in ready and ready[s][1]]
    seconds = [ready[s][2] for s in sent if s in ready]
    phrases = synth.cache.misses
    return {
        "benchmark": "voice announcer: call event (MQTT, Mosquitto) → announcement WAV ready; espeak-ng via pyttsx3, "
                     "chime + Mandarin x2 + English",
        "uncached": {**percentiles(uncached), "target_p99_ms": 300},
        "cached": {**percentiles(cached), "target_p99_ms": 50},
        "missing": len(sent) - len([s for s in sent if s in ready]),
        "synthesis_ms_per_phrase": round((synth.synth_seconds - synth_before) * 1000 / max(phrases - 2, 1), 1),
        "announcement_seconds": {"min": round(min(seconds), 2), "max": round(max(seconds), 2)} if seconds else {},
        "counters": vars(announcer.counters),
        "machine": machine(),
        "note": "announcer, Mosquitto and the publisher share the 2 cores",
    }


def _pending(call):
    from display_board.announcer import Pending

    return Pending(call["seq"], time.monotonic(), call)


if __name__ == "__main__":
    sys.exit(main())
