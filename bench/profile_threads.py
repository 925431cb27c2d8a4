"""Where a call's server CPU goes at a hall's pace: each server thread's CPU per call during ``bench_call.py``.

    .venv/bin/python bench/profile_threads.py [--runs 5] [--seconds 12] [--window 4]

Runs ``bench_call.py`` (100 calls/s, the hall's own broker) ``--runs`` times; in each, once the calls have run
2 s (bench_call's set-up before them takes seconds of its own), reads every thread's run time of the Granian
worker from ``/proc/<pid>/task/<tid>/schedstat`` (nanoseconds) over ``--window`` seconds and the calls journaled
meanwhile (the server's database, read-only), and names the threads by ``py-spy dump``: the MQTT publisher
(``mqtt-publisher``), the request threads (Granian's blocking threads, which run Python), and Granian's own I/O
threads (which run no Python, so py-spy does not list them). Prints one JSON object: per run, each role's CPU
per call in ms, and how many times per call its threads were put on a core (schedstat's third field: each a
wake-up or a return after preemption, each on caches others may have cooled).

A profile, not a target figure: it says where the time goes, not what a call costs (``bench_call.py`` does).
Needs ``py-spy`` (``.venv/bin/pip install py-spy``; not among what ``./run.sh setup`` installs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from common import machine

HERE = Path(__file__).resolve().parent
RATE = 100.0  # bench_call.py's default: calls per second
SETTLE = 2.0  # seconds of calls before the window
OTHER = ("MainThread", "mqtt-publisher-wake", "hallq-watch", "hallq-argon2", "Thread-")  # not on a call's path


def _worker_pids() -> list[int]:
    """Granian's workers: the processes running queue_server.wsgi whose parent runs it too (the supervisor)."""
    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()[1:]]
    ours = {int(pid): int(ppid) for pid, ppid, args in rows if "queue_server.wsgi" in args}
    return [pid for pid, ppid in ours.items() if ppid in ours]


def _run_times(pid: int) -> dict[int, tuple[int, int]]:
    """Each thread's run time (ns) and the times it was put on a core (schedstat's first and third fields)."""
    times = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ran, _, slices = f.read().split()[:3]
                times[int(tid)] = (int(ran), int(slices))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return times


def _database(pid: int) -> str | None:
    """The hall database the worker has open (bench_call's temporary data directory); None before it opens it."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.endswith("/hallq.sqlite3"):
            return target
    return None


def _calls_made(database: str) -> int:
    """Calls journaled so far: the window's own count, whatever bench_call's set-up left of it."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM journal WHERE action = 'call'").fetchone()[0]
    finally:
        conn.close()


def _python_threads(pyspy: str, pid: int) -> dict[int, str]:
    """The threads of ``pid`` that run Python, by thread id, with py-spy's name for each ("" without one)."""
    out = subprocess.run([pyspy, "dump", "--pid", str(pid)], capture_output=True, text=True).stdout
    named = {}
    for block in out.split("\nThread ")[1:]:
        head = block.splitlines()[0]  # 17779 (idle): "Dummy-1"
        tid = int(head.split()[0])
        named[tid] = head.split('"')[1] if '"' in head else ""
    return named


def one_run(pyspy: str, seconds: float, window: float) -> dict:
    bench = subprocess.Popen([sys.executable, str(HERE / "bench_call.py"), "--seconds", str(seconds)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        # bench_call's set-up (the server, the tickets, the sign-ins) takes seconds of its own: the window starts
        # SETTLE seconds after the first call is journaled (polled: bench_call announces nothing)
        deadline = time.monotonic() + 120
        while (len(pids := _worker_pids()) != 1 or (database := _database(pids[0])) is None
               or _calls_made(database) == 0):
            if time.monotonic() > deadline or bench.poll() is not None:
                raise SystemExit(f"profile_threads: no calls from bench_call within 120 s (workers: {pids})")
            time.sleep(0.2)
        time.sleep(SETTLE)
        pid = pids[0]
        calls0, before, t0 = _calls_made(database), _run_times(pid), time.monotonic()
        time.sleep(window)
        after, t1, calls1 = _run_times(pid), time.monotonic(), _calls_made(database)
        names = _python_threads(pyspy, pid)
    finally:
        out, _ = bench.communicate(timeout=seconds * 4 + 60)
    calls = calls1 - calls0
    if calls < 0.5 * RATE * (t1 - t0):
        raise SystemExit(f"profile_threads: only {calls} calls in the {t1 - t0:.1f} s sampled (bench_call's set-up "
                         "took longer than half its --seconds): give it more --seconds")
    roles = {"request_threads": 0.0, "publisher": 0.0, "granian_io": 0.0, "other": 0.0}
    scheduled = dict.fromkeys(roles, 0.0)
    busy_request_threads = 0
    for tid, (ns, slices) in after.items():
        ns0, slices0 = before.get(tid, (0, 0))  # a thread born in the window: all its time is in it
        spent = ns - ns0
        name = names.get(tid)
        if name is None:
            role = "granian_io"
        elif name == "mqtt-publisher":
            role = "publisher"
        elif name.startswith(OTHER):
            role = "other"
        else:
            role = "request_threads"
            busy_request_threads += spent > 0.01 * (t1 - t0) * 1e9  # over 1 % of a core in the window
        roles[role] += spent / 1e6 / calls
        scheduled[role] += (slices - slices0) / calls
    result = json.loads(out)
    return {"ms_per_call": {k: round(v, 3) for k, v in roles.items()},
            "times_scheduled_per_call": {k: round(v, 2) for k, v in scheduled.items()},
            "request_threads_busy": busy_request_threads, "window_s": round(t1 - t0, 2), "calls_in_window": calls,
            "bench_call_server_cpu_ms_per_call": result.get("server_cpu_ms_per_call"),
            "system": result.get("system")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=12.0, help="each bench_call.py run (default 12)")
    ap.add_argument("--window", type=float, default=4.0, help="seconds sampled in the middle of each run (default 4)")
    args = ap.parse_args()
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        raise SystemExit("profile_threads: py-spy is not installed (.venv/bin/pip install py-spy)")
    if args.window + SETTLE >= args.seconds - 1:
        raise SystemExit("profile_threads: --window must end a second before the calls do: "
                         f"under --seconds - {SETTLE + 1:g}")
    runs = [one_run(pyspy, args.seconds, args.window) for _ in range(args.runs)]
    print(json.dumps({"profile": "server CPU per call by thread role, bench_call.py at 100 calls/s",
                      "runs": runs, "machine": machine()}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
