"""Server cold start to a healthy /api/v1/health, and idle memory (targets: ≤ 1.5 s, ≤ 80 MB).

    .venv/bin/python bench/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import time

from common import emit, machine, memory_mb, percentiles, start_server, tempdir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    starts, rss = [], []
    for _ in range(args.runs):
        work = tempdir()
        try:
            t0 = time.perf_counter()
            server = start_server(work)  # fresh data dir: migrations and config import included
            starts.append((time.perf_counter() - t0) * 1000)
            time.sleep(2)  # idle: let the publisher settle before reading memory
            rss.append(memory_mb(server.proc.pid))
            server.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    emit({"benchmark": "server cold start (fresh data dir, embedded broker off: HALLQ_MQTT_URL to a closed port)",
          "cold_start": percentiles(starts),
          "idle_memory_mb": {"rss_max": max(m["rss"] for m in rss), "pss_max": max(m["pss"] for m in rss),
                             "processes": rss[0]["processes"]},
          "targets": {"cold_start_ms": 1500, "idle_rss_mb": 80}, "machine": machine()})


if __name__ == "__main__":
    main()
