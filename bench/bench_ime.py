"""The kiosk's pinyin keyboard: loading its data, a lookup, and the memory it takes.

    .venv/bin/python bench/bench_ime.py [--loads 5] [--rounds 20]

* load: a fresh :class:`kiosk.ime.PinyinEngine` reading ``pinyin.txt.gz``
  (gunzip, index) in a fresh process, as on the first letter typed (the form
  starts it in the background before that);
* lookup: ``candidates()`` for 15 buffers from ``a`` to
  ``guizhoushengliupanshui``, ``rounds`` times each, on a loaded engine,
  with the per-key parse cache cleared each round so every lookup pays for
  parsing its lines as a first one does;
* memory: the process's RSS before and after loading.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import emit, machine, percentiles

BUFFERS = ("a", "z", "li", "wang", "zhang", "shi", "xian", "zh", "beijing", "beijingshi", "liupanshui",
           "zhongshanqu", "guizhousheng", "shehuibaoxian", "guizhoushengliupanshui")

ONE_LOAD = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from kiosk.ime import PinyinEngine
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20
before = rss()
e = PinyinEngine()
t0 = time.perf_counter()
e.load()
print(json.dumps({"load_ms": (time.perf_counter() - t0) * 1000, "rss_before_mb": before, "rss_after_mb": rss()}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    loads = [json.loads(subprocess.run([sys.executable, "-c", ONE_LOAD, root], capture_output=True, text=True,
                                       check=True).stdout) for _ in range(args.loads)]

    from kiosk.ime import PinyinEngine

    engine = PinyinEngine()
    engine.load()
    per_buffer: dict[str, list[float]] = {b: [] for b in BUFFERS}
    for _ in range(args.rounds):
        engine._parsed.clear()           # every lookup parses its lines again, as the first one of a visit
        for b in BUFFERS:
            t0 = time.perf_counter()
            engine.candidates(b)
            per_buffer[b].append((time.perf_counter() - t0) * 1000)
    everything = [ms for v in per_buffer.values() for ms in v]
    slowest = max(per_buffer, key=lambda b: max(per_buffer[b]))
    emit({"benchmark": "pinyin keyboard data: load, lookup, memory",
          "load": percentiles([r["load_ms"] for r in loads]),
          "rss_added_mb": round(sum(r["rss_after_mb"] - r["rss_before_mb"] for r in loads) / len(loads), 1),
          "lookup": percentiles(everything), "slowest_buffer": slowest,
          "data_file_bytes": os.path.getsize(engine.path),
          "machine": machine()})


if __name__ == "__main__":
    main()
