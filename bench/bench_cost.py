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

The same batches are counted once more with the publisher on, publishing to a Mosquitto of the
benchmark's own (``with_publishing``): every thread, each request published and acknowledged before the
next is sent and a snapshot set after every 25th (:class:`_Paced`, as the publisher's 0.25 s between sets
makes it at 100 requests a second; every 10th before 2026-12-07's tenth session: the publisher's clock-driven work
would otherwise fall on more or fewer requests as Valgrind's slow clock had it).

    .venv/bin/python bench/bench_cost.py                  # ~3 minutes: Valgrind is ~50x slower
    .venv/bin/python bench/bench_cost.py --requests 50    # quicker, a little less exact

Needs ``valgrind`` (Debian's package; not among what ``./run.sh setup`` installs: ``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from common import bench_hall, emit, machine, tempdir
from hallq.testing import Mosquitto
from queue_server.publisher import SNAPSHOT_INTERVAL

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


def _run_batch(app, envs: list[dict], expect: int, gap: float = 0.0, paced: "_Paced | None" = None) -> float:
    """Send ``envs`` one after another, ``gap`` seconds asleep before each; the thread CPU of the requests alone.
    ``paced``: each request published before the next (:class:`_Paced`)."""
    spent = 0.0
    for env in envs:
        if gap:
            time.sleep(gap)
        if paced is not None:
            paced.before()
        t0 = time.thread_time()
        status, body = _send(app, env)
        spent += time.thread_time() - t0
        if status != expect:
            raise SystemExit(f"bench_cost: {env['PATH_INFO']} answered {status}: {body[:300]!r}")
        if paced is not None:
            paced.after()
    return spent


# with the publisher: a snapshot set after every FLUSH_EVERY-th request, as the publisher's SNAPSHOT_INTERVAL makes
# it at 100 requests a second (25 since it is 0.25 s; 10 before, in the runs of 2026-12-07 and earlier)
FLUSH_EVERY = round(100 * SNAPSHOT_INTERVAL)


class _Paced:
    """The publisher of ``app`` at a hall's pace, the same on every run (the count ``with_publishing``).

    Left to its clock, the publisher's time-driven work (a snapshot set at most every 0.1 s, the refresh every
    15 s, the safety poll, saving its cursor once a second) fell on more or fewer requests as Valgrind's ~50x
    slower clock and the machine's load had it: the count spread by 15 % across runs. Here each request is
    published before the next is sent (:meth:`after`: its journal entries and call events sent and
    acknowledged), a snapshot set follows every :data:`FLUSH_EVERY`-th request (what the publisher's
    ``SNAPSHOT_INTERVAL`` makes of 100 requests a second), and the rest of that time-driven work is left out
    (the cursor is saved once a second: at 100 requests a second, once in a hundred). The waits are on a
    condition the publisher's loop notifies, never polls, so the waiting thread adds no instructions of its own."""

    def __init__(self, app) -> None:
        from queue_server import publisher as module

        state = app.extensions["hallq"]
        self.db, self.pub = state.db, state.publisher
        self.cond = threading.Condition()
        self.requests = self.flushes = self.want = 0
        self.flush = False
        module.PERIODIC = math.inf
        pub = self.pub
        pub.safety_poll = 3600.0
        pub._cursor_saved_at = math.inf  # never due
        pub._last_snapshot = math.inf  # a snapshot set only when asked for (before())
        flush = pub._flush_snapshots

        def flushed(*args):
            flush(*args)
            pub._last_snapshot = math.inf
            self.flushes += 1

        pub._flush_snapshots = flushed
        for owner, name in ((pub, "_step"), (pub.conn, "serve")):
            original = getattr(owner, name)

            def notifying(*args, _original=original):
                try:
                    return _original(*args)
                finally:
                    with self.cond:
                        self.cond.notify_all()

            setattr(owner, name, notifying)

    def _wait(self, done) -> None:
        with self.cond:
            while not done():
                if not self.cond.wait(60):
                    raise SystemExit("bench_cost: the publisher did not catch up in 60 s (is the broker there?)")

    def settle(self) -> None:
        """Until every committed entry is published and acknowledged, and the snapshots are flushed."""
        pub = self.pub
        top = self.db.connection().execute("SELECT MAX(seq) FROM journal").fetchone()[0]
        if pub._dirty.pending:
            want = self.flushes + 1
            pub._last_snapshot = -math.inf
            pub.wake()
            self._wait(lambda: self.flushes >= want)
        self._wait(lambda: pub.cursor >= top and not pub.conn._inflight)

    def before(self) -> None:
        """Every :data:`FLUSH_EVERY`-th request: the step its commit wakes flushes the snapshots too."""
        self.requests += 1
        self.flush = self.requests % FLUSH_EVERY == 0
        if self.flush:
            self.want = self.flushes + 1
            self.pub._last_snapshot = -math.inf

    def after(self) -> None:
        """Until the request's entries are published and acknowledged (and its snapshot set flushed)."""
        pub = self.pub
        top = self.db.connection().execute("SELECT MAX(seq) FROM journal").fetchone()[0]
        self._wait(lambda: pub.cursor >= top and not pub.conn._inflight
                   and (not self.flush or self.flushes >= self.want))


def driver(hall_toml: str, data_dir: str, n: int, gap: float = 0.0, broker: str = "") -> dict:
    """Build the app, warm it, then the two measured batches between the markers; thread CPU per request
    (with ``gap``: each request after that long asleep, its CPU alone counted). With ``broker`` (a URL), the
    app publishes to it as a hall's server does, each request published before the next (:class:`_Paced`): the
    count is then of every thread, the publisher's included."""
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
    paced = _Paced(app) if broker else None
    if paced is not None:
        paced.settle()
        sets, calls_published = paced.flushes, paced.pub.published_calls
    os.getppid()  # callgrind: dump 1, the start and the warm-up; counting starts again here
    ticket_s = _run_batch(app, tickets, 201, gap, paced)
    os.getpgrp()  # callgrind: dump 2, the tickets (each published, a snapshot set every 10th)
    call_s = _run_batch(app, calls, 200, gap, paced)
    os.getsid(0)  # callgrind: dump 3, the calls
    conn = app.extensions["hallq"].db.connection()
    synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[conn.execute("PRAGMA synchronous").fetchone()[0]]
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0].upper()
    app.extensions["hallq"].close()
    out = {"ticket_ms": ticket_s * 1000 / n, "call_ms": call_s * 1000 / n, "synchronous": synchronous,
           "journal_mode": journal}
    if paced is not None:  # what the publisher did for the measured requests
        out["publisher"] = {"snapshot_sets": paced.flushes - sets,
                            "calls_published": paced.pub.published_calls - calls_published}
    return out


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
          # the same requests with the publisher on (a Mosquitto of the benchmark's own), every thread, the MQTT
          # connection's I/O included, each request published before the next (_Paced)
          "with_publishing": {"instructions_per_ticket": round(published[0] / n),
                              "instructions_per_call": round(published[1] / n),
                              "paced": f"each request published and acknowledged before the next, a snapshot set "
                                       f"after every {FLUSH_EVERY}th (as at 100 requests a second)"},
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
