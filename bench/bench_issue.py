"""Ticket issue throughput and latency (targets: ≥ 1,500 tickets/s, p99 ≤ 30 ms; issue 16).

Kiosk clients (device key, an Idempotency-Key on every request, keep-alive)
post POST /api/v1/tickets for a fixed time against a real ``hallq serve`` with
the hall's own broker and publishing on (``--broker``, bench/common.py), after
``--warmup`` seconds that are not measured. Two load generators, each on a
fresh server, one after the other:

* ``python``: ``--procs`` processes of ``--threads`` threads of hallq.client,
  the client the kiosks use; it costs a Python process's CPU per request, on
  the same cores as the server, so above several hundred tickets a second it
  is the load generator that is measured as much as the server;
* ``wrk``: ``wrk`` (C, ``--wrk-threads`` threads, ``--wrk-connections``
  connections) with bench/wrk/issue.lua, the same requests; if wrk is not
  installed the figure is left out, the JSON says why and how to install it
  (``apt-get install wrk``).

Server CPU per ticket (``server_cpu_ms_per_ticket``, target ≤ 0.5 ms): the utime + stime of
``hallq serve`` and its Granian workers (all threads, the publisher's included) over the measured
window, from /proc/<pid>/stat, divided by the tickets issued in it; the hall's own Mosquitto is a
process of its own, measured apart (``broker_cpu_ms_per_ticket``) and not counted in it. CPU time
holds up far better than tickets/s when other work shares the cores.

Labels (SQLite's synchronous and journal mode, the broker, workers and
threads, hallq's version) are read from the running server's /api/v1/health.

    .venv/bin/python bench/bench_issue.py [--seconds 10] [--procs 2] [--threads 8] [--workers 1]
        [--broker hall|mosquitto|none] [--load python,wrk]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import threading
import time
import uuid

from common import (ROOT, SERVE_THREADS, WRK_MISSING, BenchServer, ServerCpu, add_broker_option, emit, labels, machine,
                    percentiles, run_wrk, server_memory, start_server, tempdir, wrk_figures)

WRK_SCRIPT = ROOT / "bench" / "wrk" / "issue.lua"
BUSINESSES = ["commerce", "construction", "social", "online", "delivery"]


def load(url: str, threads: int, t_start: float, t_end: float, out) -> None:
    """Issue tickets until ``t_end``; those started from ``t_start`` on are measured (``time.perf_counter``,
    CLOCK_MONOTONIC, the same clock in every process)."""
    from hallq.client import ApiError, HallClient

    lat: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()

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


def python_load(server: BenchServer, args) -> dict:
    q: mp.Queue = mp.Queue()
    t_start = time.perf_counter() + max(args.warmup, 0.5)  # the load processes start first
    t_end = t_start + args.seconds
    procs = [mp.Process(target=load, args=(server.url, args.threads, t_start, t_end, q))
             for _ in range(args.procs)]
    for p in procs:
        p.start()
    cpu = ServerCpu(server)
    time.sleep(max(0.0, t_start - time.perf_counter()))
    cpu.start()
    time.sleep(max(0.0, t_end - time.perf_counter()))
    cpu.stop()
    lat: list[float] = []
    errors: dict[str, int] = {}
    for _ in procs:
        part, errs = q.get()
        lat.extend(part)
        for k, v in errs.items():
            errors[k] = errors.get(k, 0) + v
    for p in procs:
        p.join()
    return {"load_generator": f"hallq.client, {args.procs} processes x {args.threads} threads, keep-alive",
            "clients": args.procs * args.threads, "tickets_per_second": round(len(lat) / args.seconds, 1),
            "latency": percentiles(lat), "errors": errors, **cpu.per_op(len(lat), "ticket")}


def wrk_load(server: BenchServer, args) -> dict:
    if shutil.which("wrk") is None:
        return {"skipped": f"{WRK_MISSING}; only the Python client was measured"}

    def run(seconds: float) -> dict:
        return run_wrk(server.url, WRK_SCRIPT, seconds, args.wrk_threads, args.wrk_connections,
                       ["demo-kiosk-1", uuid.uuid4().hex[:12]])

    if args.warmup > 0:
        run(args.warmup)  # not measured: the server's first requests
    cpu = ServerCpu(server)
    cpu.start()
    r = wrk_figures(run(args.seconds), "ticket")
    cpu.stop()
    return {"load_generator": f"wrk {args.wrk_threads} threads, {args.wrk_connections} connections, "
                              "bench/wrk/issue.lua (keep-alive)",
            "clients": args.wrk_connections, **{k: v for k, v in r.items() if k != "ok"},
            **cpu.per_op(r["ok"], "ticket")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8, help="client threads per load process")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--server-threads", type=int, default=SERVE_THREADS,
                    help=f"blocking threads of the worker (default {SERVE_THREADS}, as hallq serve)")
    ap.add_argument("--load", default="python,wrk", help="load generators, in turn: python, wrk")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-connections", type=int, default=16)
    add_broker_option(ap)
    args = ap.parse_args()
    out: dict = {"benchmark": "POST /api/v1/tickets (kiosk key, Idempotency-Key, keep-alive)",
                 "seconds": args.seconds, "warmup_seconds": args.warmup}
    for name in args.load.split(","):
        work = tempdir()
        server = start_server(work, broker=args.broker, workers=args.workers, threads=args.server_threads)
        try:
            out["system"] = labels(server)
            if name == "python":
                out["python"] = python_load(server, args)
            elif name == "wrk":
                out["wrk"] = wrk_load(server, args)
            else:
                raise SystemExit(f"bench_issue: unknown load generator {name!r}: python or wrk")
            out[name]["memory_mb_after"] = server_memory(server)
        finally:
            server.stop()
            shutil.rmtree(work, ignore_errors=True)
    if "python" in out:  # the figures at the top level are the Python client's, as before (bench/compare.py)
        out.update({k: out["python"][k] for k in ("clients", "tickets_per_second", "latency", "errors",
                                                   "server_cpu_ms_per_ticket", "broker_cpu_ms_per_ticket")})
    out.update({"targets": {"tickets_per_second": 1500, "p99_ms": 30, "server_cpu_ms_per_ticket": 0.5}, "machine": machine()})
    emit(out)


if __name__ == "__main__":
    main()
