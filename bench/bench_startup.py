"""Server cold start to a healthy, publishing /api/v1/health, and idle memory (targets: ≤ 1.5 s, ≤ 80 MB).

``--runs`` times: a fresh data directory (migrations, hall import, secret
key), ``hallq serve`` with the broker of ``--broker`` (default the hall's own
Mosquitto, which ``hallq serve`` starts first), timed until /api/v1/health
answers and the server's MQTT link is up (with ``--broker none``: until it
answers). Then ``--idle`` seconds idle, and the memory of the server's
processes (Granian's master and worker) and, apart, of its broker.

    .venv/bin/python bench/bench_startup.py [--runs 5] [--idle 2] [--broker hall|mosquitto|none]
"""

from __future__ import annotations

import argparse
import shutil
import time

from common import add_broker_option, emit, labels, machine, percentiles, server_memory, start_server, tempdir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=2.0, help="seconds idle before the memory is read")
    add_broker_option(ap)
    args = ap.parse_args()
    starts, memory, system = [], [], {}
    for _ in range(args.runs):
        work = tempdir()
        try:
            t0 = time.perf_counter()
            server = start_server(work, broker=args.broker)  # returns once healthy and publishing
            starts.append((time.perf_counter() - t0) * 1000)
            try:
                system = labels(server)
                time.sleep(args.idle)  # idle on purpose: the memory of a server nobody uses
                memory.append(server_memory(server))
            finally:
                server.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    brokers = [m["broker"] for m in memory if m["broker"]]
    emit({"benchmark": "server cold start (fresh data dir) until healthy and publishing; idle memory",
          "system": system, "cold_start": percentiles(starts),
          "idle_memory_mb": {"rss_max": max(m["server"]["rss"] for m in memory),
                             "pss_max": max(m["server"]["pss"] for m in memory),
                             "processes": memory[0]["server"]["processes"],
                             "broker_rss_max": max((b["rss"] for b in brokers), default=None),
                             "every_run": memory},
          "targets": {"cold_start_ms": 1500, "idle_rss_mb": 80}, "machine": machine()})


if __name__ == "__main__":
    main()
