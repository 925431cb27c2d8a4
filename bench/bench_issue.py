"""Ticket issue throughput and latency (targets: ≥ 1,000 tickets/s sustained, p99 ≤ 50 ms).

Kiosk clients (device key, Idempotency-Key on every request, keep-alive) in
separate load processes hammer POST /api/v1/tickets for a fixed time.

    .venv/bin/python bench/bench_issue.py [--seconds 10] [--procs 2] [--threads 8] [--workers 1]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import threading
import time

from common import emit, machine, memory_mb, percentiles, start_server, tempdir

BUSINESSES = ["commerce", "construction", "social", "online", "delivery"]


def load(url: str, threads: int, seconds: float, warmup: float, out) -> None:
    from hallq.client import ApiError, HallClient

    lat: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    t_start = time.perf_counter() + warmup
    t_end = t_start + seconds

    def worker(i: int) -> None:
        c = HallClient(url, token="demo-kiosk-1", timeout=10, retries=0)
        mine, n = [], 0
        while True:
            t0 = time.perf_counter()
            if t0 >= t_end:
                break
            try:
                c.issue_ticket(BUSINESSES[(i + n) % len(BUSINESSES)])
                ok = True
            except ApiError as e:
                ok = False
                with lock:
                    errors[e.code] = errors.get(e.code, 0) + 1
            t1 = time.perf_counter()
            n += 1
            if ok and t0 >= t_start:
                mine.append((t1 - t0) * 1000)
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put((lat, errors))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8, help="client threads per load process")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--server-threads", type=int, default=8)
    args = ap.parse_args()
    work = tempdir()
    server = start_server(work, workers=args.workers, threads=args.server_threads,
                          mqtt_url=None if args.workers == 1 else "mqtt://127.0.0.1:1")
    try:
        q: mp.Queue = mp.Queue()
        procs = [mp.Process(target=load, args=(server.url, args.threads, args.seconds, args.warmup, q))
                 for _ in range(args.procs)]
        for p in procs:
            p.start()
        lat, errors = [], {}
        for _ in procs:
            part, errs = q.get()
            lat.extend(part)
            for k, v in errs.items():
                errors[k] = errors.get(k, 0) + v
        for p in procs:
            p.join()
        mem = memory_mb(server.proc.pid)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    emit({"benchmark": "POST /api/v1/tickets (kiosk key, Idempotency-Key, keep-alive)",
          "seconds": args.seconds, "clients": args.procs * args.threads, "server_workers": args.workers,
          "server_threads": args.server_threads, "sqlite_synchronous": "FULL",
          "tickets_per_second": round(len(lat) / args.seconds, 1), "latency": percentiles(lat),
          "errors": errors, "server_memory_mb_after": mem,
          "targets": {"tickets_per_second": 1000, "p99_ms": 50}, "machine": machine()})


if __name__ == "__main__":
    main()
