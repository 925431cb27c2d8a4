"""Call next against queues from 10 to 100,000 waiting (target: within ±20% across the range).

The waiting tickets (one in 17 green channel, one in 23 a checked-in
appointment whose slot is still ahead, the rest ordinary; all ordinary ones
overdue after the first 40 minutes, so the urgent rules are the ones
exercised) are spread evenly over the hall's four acceptance
businesses and ten more that no window serves (a business issues at most
9,999 a day); the window measured serves two of them, and every lookup runs
on indexes shared by all tickets. For each size the database is filled directly in SQLite (the triggers keep the
counts, exactly as issuing would) and a real server is started on it, with
its broker (``--broker``: by default the hall's own Mosquitto, which ``hallq
serve`` starts; each server its own). Then
one window of each server calls next (completing the previous ticket) a few
hundred times over HTTP, the sizes taking turns call by call, a new ticket
arriving before each call so every queue keeps its size, and the latency of
the calls is recorded per size.

    .venv/bin/python bench/bench_call_scaling.py [--sizes 10,100,1000,10000,100000] [--calls 500]
        [--broker hall|mosquitto|none]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sqlite3
import time
from datetime import datetime, timedelta

from common import BenchServer, add_broker_option, bench_hall, emit, labels, machine, percentiles, tempdir
from hallq.clock import CHINA, VirtualClock, iso
from hallq.client import HallClient

DAY = datetime(2026, 11, 23, 9, 30, tzinfo=CHINA)
EXTRA = 10  # queues no window serves: 14 businesses hold up to 139,986 waiting within 每日限号


def fill(data_dir, config, n: int) -> None:
    """Migrate and import the hall, then add ``n`` waiting tickets over four businesses."""
    from queue_server.app import create_app

    app = create_app(config, data_dir=data_dir, clock=VirtualClock(DAY, rate=0), mqtt=False, housekeeping=False)
    app.extensions["hallq"].close()
    db = sqlite3.connect(data_dir / "hallq.sqlite3")
    prefixes = {"commerce": "A", "construction": "B", "social": "C", "online": "D",
                **{f"bench{k}": chr(ord("F") + k) for k in range(EXTRA)}}
    codes = list(prefixes)
    rows = []
    start = DAY - timedelta(minutes=30)
    for i in range(n):
        b = codes[i % len(codes)]
        num = i // len(codes) + 1
        at = iso(start + timedelta(milliseconds=i))
        # every class: a green channel in 17, an appointment in 23 whose slot is later than its check-in
        klass = 0 if i % 17 == 0 else 1 if i % 23 == 0 else 2
        promise = iso(start + timedelta(minutes=45)) if klass == 1 else at
        rows.append((secrets.token_urlsafe(12), "2026-11-23", b, b, num, f"{prefixes[b]}{num:04d}", klass, "waiting",
                     at, at, promise, "bench"))
    db.executemany("INSERT INTO tickets (public_id, business_day, business, origin_business, number, label, class, "
                   "state, issued_at, arrived_at, promise_from, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.execute("INSERT INTO meta (key, value) VALUES ('business_day', '2026-11-23') "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
    db.commit()
    db.close()


class Queue:
    """One size: its own data directory, filled, and its own real server with window 3 signed in."""

    def __init__(self, n: int, broker: str) -> None:
        self.n = n
        self.work = tempdir()
        config = bench_hall(self.work, extra_businesses=EXTRA)
        data = self.work / "data"
        data.mkdir()
        t0 = time.perf_counter()
        fill(data, config, n)
        self.fill_s = time.perf_counter() - t0
        self.server = BenchServer(self.work, broker=broker, config=config, clock="2026-11-23T09:30:00+08:00")
        self.server.start(timeout=60)
        self.clerk = HallClient(self.server.url)
        self.clerk.login("1003", "hallq-demo")  # window 3 serves commerce and helps construction
        self.clerk.window_action(3, "sign-in")
        self.kiosk = HallClient(self.server.url, token="demo-kiosk-1")
        self.latencies: list[float] = []

    def call(self, i: int, keep: bool) -> None:
        self.kiosk.issue_ticket("commerce" if i % 2 else "construction")  # keep the queue at its size
        t = time.perf_counter()
        self.clerk.call_next(3, complete_current=True)
        if keep:
            self.latencies.append((time.perf_counter() - t) * 1000)

    def close(self) -> None:
        try:
            self.server.stop()
        finally:
            shutil.rmtree(self.work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10,100,1000,10000,100000")
    ap.add_argument("--calls", type=int, default=500)
    add_broker_option(ap)
    args = ap.parse_args()
    queues: list[Queue] = []
    try:
        for n in args.sizes.split(","):
            queues.append(Queue(int(n), args.broker))
        system = labels(queues[0].server)
        # round robin over the sizes: whatever else the machine does falls on every size alike
        for i in range(args.calls + 20):
            for q in queues:
                q.call(i, keep=i >= 20)  # after a warm-up
        curve = [{"waiting": q.n, "fill_seconds": round(q.fill_s, 2), **percentiles(q.latencies)} for q in queues]
    finally:
        for q in queues:
            q.close()
    p50s = [c["p50_ms"] for c in curve]
    emit({"benchmark": "call next (HTTP, complete_current) vs tickets waiting, sizes interleaved call by call",
          "system": system, "curve": curve, "p50_spread_vs_smallest": round(max(abs(p / p50s[0] - 1) for p in p50s), 3),
          "targets": {"p50_spread": "within ±20%"}, "machine": machine()})


if __name__ == "__main__":
    main()
