"""Calls a second with 16 windows calling at once (targets: ≥ 800 calls/s; issue 16).

A real ``hallq serve`` publishing to its broker (``--broker``: by default the hall's own Mosquitto, as a
hall runs it), its queues filled beforehand through the API (as the windows' businesses will draw on them),
16 clerks signed in at windows 1-16 of the sample city hall, then ``wrk`` (bench/wrk/call.lua: one
connection per window, each clerk pressing "next, completing the current one" again as soon as the last
press was answered) for ``--seconds`` after ``--warmup`` seconds that are not measured. A subscriber
process on hallq/<site>/calls (as a board) counts the call events, so a call the server answered but never
published shows as ``calls_not_received``.

Reported: calls answered per second (an error status, such as a queue run dry, is not a call), latency
percentiles, the server's CPU per call at this rate (its processes' user + system time over the measured
window, the broker apart, as bench_issue.py counts it), and the labels read from the running server.

    .venv/bin/python bench/bench_call_rate.py [--seconds 10] [--warmup 2] [--windows 16] [--broker hall|mosquitto]

Needs ``wrk`` (``apt-get install wrk``): a Python client spends a process's CPU per request on the same
cores and would be measured as much as the server.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import threading
import time
import uuid

from bench_call import subscriber
from common import (BROKERS, ROOT, WRK_MISSING, ServerCpu, add_broker_option, emit, labels, machine, run_wrk,
                    start_server, tempdir, wrk_figures)
from hallq.client import HallClient

WRK_SCRIPT = ROOT / "bench" / "wrk" / "call.lua"
# what windows 1-16 of the sample city hall draw on, roughly by how many of them serve each business
# (config/city-hall/hall.toml): each business gets this share of the calls the run can make, and half as much again
SHARES = {"commerce": 0.30, "construction": 0.25, "social": 0.45, "online": 0.20}


def fill(url: str, tickets: dict[str, int], threads: int = 8) -> None:
    """Issue the tickets through the API, as kiosks do, ``threads`` at a time."""
    todo = [b for b, n in tickets.items() for _ in range(n)]
    lock = threading.Lock()

    def worker() -> None:
        c = HallClient(url, token="demo-kiosk-1", timeout=10)
        while True:
            with lock:
                if not todo:
                    return
                business = todo.pop()
            c.issue_ticket(business)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--windows", type=int, default=16, help="windows 1..N call at once (at most 18)")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--most", type=float, default=1000.0,
                    help="calls a second the queues are filled for (default 1,000: above the target)")
    add_broker_option(ap)
    args = ap.parse_args()
    if args.broker == "none":
        raise SystemExit(f"bench_call_rate: --broker none has no subscriber to count the events; one of "
                         f"{', '.join(b for b in BROKERS if b != 'none')}")
    if not 1 <= args.windows <= 18:
        raise SystemExit("bench_call_rate: --windows from 1 to 18 (the sample city hall's windows that call)")
    if shutil.which("wrk") is None:
        raise SystemExit(f"bench_call_rate: {WRK_MISSING}")
    work = tempdir()
    server = start_server(work, broker=args.broker)
    system = labels(server)
    results: mp.Queue = mp.Queue()
    ready, done = mp.Event(), mp.Event()
    sub = mp.Process(target=subscriber, args=(server.subscriber_login(), ready, done, results))
    sub.start()
    try:
        if not ready.wait(10):
            raise SystemExit("bench_call_rate: the subscriber did not subscribe within 10 s")
        calls = args.most * (args.seconds + args.warmup + 1)
        tickets = {b: round(share * calls * 1.5) for b, share in SHARES.items()}
        t0 = time.perf_counter()
        fill(server.url, tickets)
        fill_seconds = time.perf_counter() - t0
        tokens = []
        for n in range(1, args.windows + 1):
            c = HallClient(server.url)
            c.login(str(1000 + n), "hallq-demo")
            c.window_action(n, "sign-in")
            tokens.append(f"{n}={c.token}")

        def run(seconds: float) -> dict:
            return run_wrk(server.url, WRK_SCRIPT, seconds, args.wrk_threads, args.windows,
                           [uuid.uuid4().hex[:12], str(args.wrk_threads), *tokens])

        warm = run(args.warmup) if args.warmup > 0 else None
        cpu = ServerCpu(server)
        cpu.start()
        measured = run(args.seconds)
        cpu.stop()
        r = wrk_figures(measured, "call")
        answered = r["ok"] + (wrk_figures(warm, "call")["ok"] if warm else 0)
        time.sleep(1.0)  # the last events on their way
        done.set()
        received = results.get(timeout=10)
    finally:
        done.set()
        sub.join(5)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    emit({"benchmark": f"call next with completion at {args.windows} windows at once (wrk)", "system": system,
          "windows": args.windows, "load_generator": f"wrk {args.wrk_threads} threads, {args.windows} connections "
                                                     "(one per window), bench/wrk/call.lua (keep-alive)",
          **{k: v for k, v in r.items() if k != "ok"}, **cpu.per_op(r["ok"], "call"),
          # every call answered, the warm-up's too, against the events the board-like subscriber got
          "calls_answered": answered, "calls_not_received": max(0, answered - len(received)),
          "tickets_filled": sum(tickets.values()), "fill_seconds": round(fill_seconds, 1),
          "targets": {"calls_per_second": 800}, "machine": machine()})


if __name__ == "__main__":
    main()
