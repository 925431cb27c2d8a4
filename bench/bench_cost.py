"""The request path's work, counted in instructions: a figure that holds on any day (issue 16).

The CPU a server spends per ticket, in milliseconds, is the code's work divided by the cores' speed,
and this shared machine's speed moves by 40-60 % within a day (docs/performance.md). An instruction
count does not: it is the same for the same code, inputs and libraries, whatever else the machine is
doing. This benchmark counts, under Valgrind's callgrind, the user-space instructions of

* ``POST /api/v1/tickets`` as a kiosk sends it (device key, Idempotency-Key), and
* ``POST /api/v1/windows/<n>/call-next`` with ``complete_current`` as a clerk's console sends it,

each through the server's own WSGI app (the hot path, the door, the rules, SQLite with the hall's
settings, read back from the database: ``synchronous=FULL``, WAL; the journal, the JSON answer), in
one thread of one process, with no broker and no publisher (their share is in ``bench_call.py``'s
server CPU) and nothing of the HTTP server: the part of a request the application's code decides.
The kernel's work (the fsync, the sockets) is not an instruction of the process and is not counted.

How: the driver (this script with ``--driver``) builds the app for the benchmark's city hall on a
virtual Monday morning, warms it up (tickets and calls, every code path loaded and every statement
prepared), then issues ``--requests`` tickets and makes as many calls, each batch between two marker
system calls at which callgrind writes what it counted so far and starts again from zero
(``--dump-before=getppid``, ``getpgrp``, ``getsid``), so the second and third dumps hold exactly one
batch each. ``PYTHONHASHSEED=0`` fixes
Python's hashing, so two runs of one commit agree to a few parts in ten thousand. Without Valgrind
the same driver reports its thread CPU per request (``native``), which moves with the machine, and
again with each request after a pause (``after_gap``, ``--gaps`` in ms): the same work costs more CPU
when the caches have cooled between requests, as they do at a hall's pace (docs/performance.md,
"Fourth pass").

    .venv/bin/python bench/bench_cost.py                  # ~3 minutes: Valgrind is ~50x slower
    .venv/bin/python bench/bench_cost.py --requests 50    # quicker, a little less exact

Needs ``valgrind`` (Debian's package; not among what ``./run.sh setup`` installs: ``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from common import bench_hall, emit, machine, tempdir
from hallq.testing import Mosquitto

WINDOWS = [1, 2, 3, 4]  # the city hall's acceptance windows 1-4 serve commerce (and construction)
BUSINESSES = ["commerce", "construction"]
KIOSK_KEY = "demo-kiosk-1"
START = "2026-11-23T09:30:00+08:00"  # a Monday: the hall is open and issuing
MARKERS = ["--dump-before=getppid", "--dump-before=getpgrp", "--dump-before=getsid"]  # each dump restarts the count


def _environ(method: str, path: str, body: dict, headers: dict[str, str]) -> dict:
    raw = json.dumps(body).encode()
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
           "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "SCRIPT_NAME": "",
           "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw),
           "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
           "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
           "HTTP_ACCEPT": "application/json", "HTTP_ACCEPT_LANGUAGE": "zh-Hans", "HTTP_HOST": "127.0.0.1:8080"}
    env.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return env


def _send(app, env: dict) -> tuple[int, bytes]:
    status: list[str] = []
    body = b"".join(app(env, lambda s, h, exc_info=None: status.append(s)))
    return int(status[0].split()[0]), body


def _tickets(n: int, offset: int = 0) -> list[dict]:
    return [_environ("POST", "/api/v1/tickets", {"business": BUSINESSES[(offset + i) % len(BUSINESSES)]},
                     {"Authorization": f"Bearer {KIOSK_KEY}", "Idempotency-Key": uuid.uuid4().hex})
            for i in range(n)]


def _calls(n: int, tokens: dict[int, str]) -> list[dict]:
    return [_environ("POST", f"/api/v1/windows/{w}/call-next", {"complete_current": True},
                     {"Authorization": f"Bearer {tokens[w]}", "Idempotency-Key": uuid.uuid4().hex})
            for w in (WINDOWS[i % len(WINDOWS)] for i in range(n))]


def _run_batch(app, envs: list[dict], expect: int, gap: float = 0.0) -> float:
    """Send ``envs`` one after another, ``gap`` seconds asleep before each; the thread CPU of the requests alone."""
    spent = 0.0
    for env in envs:
        if gap:
            time.sleep(gap)
        t0 = time.thread_time()
        status, body = _send(app, env)
        spent += time.thread_time() - t0
        if status != expect:
            raise SystemExit(f"bench_cost: {env['PATH_INFO']} answered {status}: {body[:300]!r}")
    return spent


def _published(app) -> None:
    """Until the publisher has sent every committed entry, flushed its snapshots and read every acknowledgement."""
    state = app.extensions["hallq"]
    pub = state.publisher
    top = state.db.connection().execute("SELECT MAX(seq) FROM journal").fetchone()[0]
    deadline = time.monotonic() + 60
    while pub.cursor < top or pub._dirty.pending or (pub.conn is not None and pub.conn._inflight):
        if time.monotonic() > deadline:
            raise SystemExit("bench_cost: the publisher did not catch up in 60 s (is the broker there?)")
        time.sleep(0.005)


def driver(hall_toml: str, data_dir: str, n: int, gap: float = 0.0, broker: str = "") -> dict:
    """Build the app, warm it, then the two measured batches between the markers; thread CPU per request
    (with ``gap``: each request after that long asleep, its CPU alone counted). With ``broker`` (a URL), the
    app publishes to it as a hall's server does, and each batch ends when everything it committed is published:
    the count is then of every thread, the publisher's included."""
    from datetime import datetime

    from hallq.clock import VirtualClock
    from queue_server.app import create_app

    if broker:
        os.environ["HALLQ_MQTT_URL"] = broker
    app = create_app(hall_toml, data_dir=data_dir, clock=VirtualClock(datetime.fromisoformat(START)),
                     mqtt=bool(broker), housekeeping=False)
    if broker:
        pub, deadline = app.extensions["hallq"].publisher, time.monotonic() + 30
        while pub.conn is None or not pub.conn.connected.is_set():
            if time.monotonic() > deadline:
                raise SystemExit(f"bench_cost: no connection to the broker {broker}")
            time.sleep(0.01)
    tokens = {}
    for w in WINDOWS:
        status, body = _send(app, _environ("POST", "/api/v1/auth/login",
                                           {"job_no": str(1000 + w), "password": "hallq-demo"}, {}))
        if status != 200:
            raise SystemExit(f"bench_cost: login of {1000 + w} answered {status}: {body[:300]!r}")
        tokens[w] = json.loads(body)["token"]
        _run_batch(app, [_environ("POST", f"/api/v1/windows/{w}/sign-in", {}, {"Authorization": f"Bearer {tokens[w]}"})],
                   200)
    warm = max(20, n // 5)
    _run_batch(app, _tickets(2 * warm + n), 201)  # enough waiting for the warm-up's calls and the measured ones
    _run_batch(app, _calls(warm, tokens), 200)
    _run_batch(app, _tickets(warm), 201)
    tickets, calls = _tickets(n, offset=1), _calls(n, tokens)
    settle = (lambda: _published(app)) if broker else (lambda: None)
    settle()
    os.getppid()  # callgrind: dump 1, the start and the warm-up; counting starts again here
    ticket_s = _run_batch(app, tickets, 201, gap)
    settle()
    os.getpgrp()  # callgrind: dump 2, the tickets
    call_s = _run_batch(app, calls, 200, gap)
    settle()
    os.getsid(0)  # callgrind: dump 3, the calls
    conn = app.extensions["hallq"].db.connection()
    synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[conn.execute("PRAGMA synchronous").fetchone()[0]]
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0].upper()
    app.extensions["hallq"].close()
    return {"ticket_ms": ticket_s * 1000 / n, "call_ms": call_s * 1000 / n, "synchronous": synchronous,
            "journal_mode": journal}


def _instructions(dump: Path) -> int:
    for line in dump.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("totals:"):  # this dump's own count ("summary:" is the whole run's so far)
            return int(line.split()[1])
    raise SystemExit(f"bench_cost: no totals in {dump}")


def _prepared(work: Path) -> tuple[Path, Path]:
    hall = bench_hall(work)
    data = work / "data"
    data.mkdir()
    return hall, data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200, help="tickets measured, and as many calls (default 200)")
    ap.add_argument("--gaps", default="1,10", help="also the thread CPU per request with each request after "
                                                  "this many ms asleep, comma-separated (default 1,10; '' for none)")
    ap.add_argument("--driver", nargs="+", metavar="HALL_TOML DATA_DIR N GAP_S [BROKER]", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.driver:
        hall_toml, data_dir, count, gap, *broker = args.driver
        print(json.dumps(driver(hall_toml, data_dir, int(count), float(gap), broker[0] if broker else "")))
        return
    try:
        gaps = [float(g) for g in args.gaps.split(",") if g.strip()]
    except ValueError:
        raise SystemExit(f"bench_cost: --gaps {args.gaps!r}: milliseconds, comma-separated (e.g. 1,10)") from None
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("bench_cost: valgrind is not installed (apt-get install valgrind)")
    n = args.requests
    env = {**os.environ, "PYTHONHASHSEED": "0", "HALLQ_DEMO": "1"}
    here = str(Path(__file__).resolve())
    work = tempdir()
    try:
        def native(gap_ms: float) -> dict:
            hall, data = _prepared(work / f"native-{gap_ms:g}")
            done = subprocess.run([sys.executable, here, "--driver", str(hall), str(data), str(n), str(gap_ms / 1000)],
                                  env=env, capture_output=True, text=True, timeout=600, check=True)
            return json.loads(done.stdout.strip().splitlines()[-1])

        per = native(0)
        after_gap = {f"{g:g} ms": native(g) for g in gaps}
        def counted(name: str, *broker: str) -> tuple[int, int]:
            hall, data = _prepared(work / name)
            out = work / f"callgrind-{name}.out"
            done = subprocess.run([valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *MARKERS,
                                   sys.executable, here, "--driver", str(hall), str(data), str(n), "0", *broker],
                                  env=env, capture_output=True, text=True, timeout=3600)
            if done.returncode != 0:
                raise SystemExit(f"bench_cost: the driver under valgrind failed:\n{done.stderr[-3000:]}")
            return _instructions(Path(f"{out}.2")), _instructions(Path(f"{out}.3"))

        t0 = time.perf_counter()
        tickets, calls = counted("counted")
        counted_seconds = time.perf_counter() - t0
        (work / "broker").mkdir()
        broker = Mosquitto(work / "broker")  # anonymous, on a free port: the publisher's connection, counted with it
        broker.start()
        try:
            published = counted("published", broker.url)
        finally:
            broker.stop()
        version = subprocess.run([valgrind, "--version"], capture_output=True, text=True).stdout.strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    emit({"benchmark": "instructions per request of the server's WSGI app, in one thread (callgrind)",
          "requests": n, "instructions_per_ticket": round(tickets / n), "instructions_per_call": round(calls / n),
          # the same requests with the publisher on (a Mosquitto of the benchmark's own), each batch counted until
          # all it committed was published and acknowledged: every thread, the MQTT connection's I/O included
          "with_publishing": {"instructions_per_ticket": round(published[0] / n),
                              "instructions_per_call": round(published[1] / n)},
          "native": {"thread_cpu_ms_per_ticket": round(per["ticket_ms"], 3),
                     "thread_cpu_ms_per_call": round(per["call_ms"], 3)},
          # the same requests, each after a pause: what a request costs when the caches have cooled, as at a
          # hall's pace (100 calls/s is one every 10 ms); the work is the same, the machine's caches are not
          "after_gap": {k: {"thread_cpu_ms_per_ticket": round(v["ticket_ms"], 3),
                            "thread_cpu_ms_per_call": round(v["call_ms"], 3)} for k, v in after_gap.items()},
          "counted_by": f"{version} --tool=callgrind, PYTHONHASHSEED=0", "valgrind_seconds": round(counted_seconds, 1),
          "system": {"in_process": f"in-process WSGI calls, one thread, `synchronous={per['synchronous']}`, "
                                   f"{per['journal_mode']}, no publisher"},
          "machine": machine()})


if __name__ == "__main__":
    main()
