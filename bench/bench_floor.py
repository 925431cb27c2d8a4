"""The floor: what a request costs the server at a hall's pace before hallq's own work (issue 16).

At 100 requests a second each request finds caches that the rest of the host has cooled since the last one
(docs/performance.md, "Fourth pass"), so the CPU per request at that pace is far above what the same request
costs back to back. This measures how much of it the HTTP server itself takes, in turns within each run:

* ``granian``: Granian alone, started as ``hallq serve`` starts it (one worker, ``SERVE_THREADS`` blocking
  threads, backlog 512), serving a WSGI app that answers ``{}`` (bench/floor_app.py): reading the request,
  handing it to a Python thread and back, writing the answer;
* ``health``: the hall's server with its broker (``--broker``, default the hall's own) answering
  ``GET /api/v1/health`` to a kiosk: Flask, the door (the device key), one SELECT, a JSON answer.

Each is paced at ``--rate`` requests a second over one keep-alive connection for ``--seconds``; the figure is
the server's CPU (its processes' user + system time, /proc; the broker apart) per request. The call next with
completion at the same pace is ``bench_call.py``'s ``server_cpu_ms_per_call``: set against ``granian`` here,
the part hallq decides.

    .venv/bin/python bench/bench_floor.py [--runs 3] [--seconds 8] [--rate 100] [--broker hall]
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import (ServerCpu, _descendants, add_broker_option, cpu_seconds, emit, labels, machine, start_server,
                    tempdir)
from hallq.client import HallClient, free_port
from queue_server import SERVE_THREADS

HERE = Path(__file__).resolve().parent
KIOSK_KEY = "demo-kiosk-1"


def paced(send, rate: float, seconds: float) -> int:
    """``send()`` at ``rate`` a second for ``seconds``; how many were sent. A slot missed (a slow answer) is
    skipped, not made up in a burst: the pace stays the hall's, and the count says what was kept."""
    n, nxt = 0, time.perf_counter()
    end = nxt + seconds
    while nxt < end:
        delay = nxt - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        send()
        n += 1
        nxt += 1 / rate
        late = time.perf_counter() - nxt
        if late > 0:
            nxt += (int(late * rate) + 1) / rate
    return n


def granian_alone(rate: float, seconds: float) -> dict:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1",
                             "--blocking-threads", str(SERVE_THREADS), "--backlog", "512", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "floor_app:app"],
                            cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        deadline = time.monotonic() + 30
        while True:
            try:
                conn.request("GET", "/")
                conn.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    said = proc.stderr.read().decode()[-2000:] if proc.poll() is not None else ""
                    raise SystemExit(f"bench_floor: Granian did not answer on port {port}: {said}") from None
                conn.close()
                time.sleep(0.05)

        def send() -> None:
            conn.request("GET", "/")
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"bench_floor: Granian answered {r.status}")

        paced(send, rate, 1.0)  # warm: the threads started, the connection in use
        pids = [proc.pid, *_descendants(proc.pid)]
        before, t0 = sum(cpu_seconds(p) for p in pids), time.monotonic()
        n = paced(send, rate, seconds)
        spent, wall = sum(cpu_seconds(p) for p in pids) - before, time.monotonic() - t0
        conn.close()
        return {"server_cpu_ms_per_request": round(spent * 1000 / n, 3), "requests": n, "seconds": round(wall, 2)}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def hall_health(rate: float, seconds: float, broker: str) -> tuple[dict, dict]:
    work = tempdir()
    server = start_server(work, broker=broker)
    try:
        system = labels(server)
        kiosk = HallClient(server.url, token=KIOSK_KEY)
        paced(kiosk.health, rate, 1.0)
        cpu = ServerCpu(server)
        cpu.start()
        n = paced(kiosk.health, rate, seconds)
        cpu.stop()
        kiosk.close()
        per = cpu.per_op(n, "request")
        return {"server_cpu_ms_per_request": per["server_cpu_ms_per_request"], "requests": n,
                "seconds": per["cpu_window"]["seconds"]}, system
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": min(values), "max": max(values)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rate", type=float, default=100.0, help="requests per second")
    add_broker_option(ap)
    args = ap.parse_args()
    if args.runs < 1 or args.seconds <= 0 or not 0 < args.rate <= 1000:
        raise SystemExit("bench_floor: --runs ≥ 1, --seconds > 0 and --rate in (0, 1000]")
    runs, system = [], None
    for i in range(args.runs):
        order = ["granian", "health"] if i % 2 == 0 else ["health", "granian"]  # what comes first alternates
        run = {}
        for what in order:
            if what == "granian":
                run["granian"] = granian_alone(args.rate, args.seconds)
            else:
                run["health"], system = hall_health(args.rate, args.seconds, args.broker)
        runs.append(run)
    emit({"benchmark": "the floor: server CPU per request at a hall's pace, Granian alone and GET /api/v1/health",
          "system": system, "requests_per_second": args.rate, "seconds": args.seconds, "runs": runs,
          "granian_server_cpu_ms_per_request": spread([r["granian"]["server_cpu_ms_per_request"] for r in runs]),
          "health_server_cpu_ms_per_request": spread([r["health"]["server_cpu_ms_per_request"] for r in runs]),
          "granian_settings": {"workers": 1, "blocking_threads": SERVE_THREADS, "backlog": 512},
          "machine": machine()})


if __name__ == "__main__":
    main()
