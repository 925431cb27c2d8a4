"""``hallq backup`` of a year of a city hall while tickets are issued (targets: ≤ 30 s; issue p99 ≤ 100 ms).

A year of the sample city hall (≈ 1,000,000 tickets: 250 business days × 4,000, each with its
three journal rows, a rating for one in four, each bad one followed up, the statistics rolled up
night by night) is written into a real hall database made by the server's own migrations (cached
between runs under ``--cache``, keyed by the schema). A real ``hallq serve`` runs on a copy with its
broker (``--broker``, default the hall's own Mosquitto; publishing on); kiosk clients issue tickets
at a steady ``--rate`` per second the whole time. ``hallq backup`` (the command, as cron runs it)
copies the live database. The JSON gives the backup's time and size, and the issue latency before
and during the backup.

    .venv/bin/python bench/bench_backup.py [--tickets 1000000] [--rate 20] [--runs 1] [--broker hall|mosquitto|none]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ROOT, add_broker_option, bench_hall, emit, labels, machine, percentiles, start_server, tempdir

from launcher.processes import ServerProcess

BUSINESSES = ["commerce", "construction", "social", "online", "delivery"]
PER_DAY = 4000
WARMUP, BEFORE = 10.0, 15.0  # seconds of load before the backup: not measured, then measured
DB = "hallq.sqlite3"


def schema_key() -> str:
    h = hashlib.sha256()
    for p in sorted((ROOT / "queue_server" / "schema").glob("*.sql")):
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def year_database(cache: Path, tickets: int) -> Path:
    """A hall database with ``tickets`` finished tickets of past days, made once per schema and size."""
    folder = cache / f"year-{schema_key()}-{tickets}-rolled"
    if (folder / "complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # the server's own migrations and config rows: start it once, stop it
    server = ServerProcess(folder / "data", config=bench_hall(folder))
    server.start(timeout=60)
    server.stop()
    conn = sqlite3.connect(folder / "data" / DB, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    # 250 business days back from 2026-11-20; each ticket issued, called and done; no ID numbers
    conn.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {tickets})
        INSERT INTO tickets (id, public_id, business_day, business, number, label, class, state, window, staff_id,
                             issued_at, arrived_at, called_at, first_called_at, started_at, finished_at, calls, origin_business,
                             source, promise_from)
        SELECT 1000000000 + i, printf('y%010d', i), d, b, (i % {PER_DAY}) / 5 + 1,
               substr('ABCDE', (i % 5) + 1, 1) || printf('%03d', (i % {PER_DAY}) / 5 + 1),
               CASE WHEN i % 10 = 0 THEN 0 ELSE 2 END, 'done', 1 + i % 18, 1 + i % 20,
               t, t, t, t, t, t, 1, b, 'kiosk:kiosk-1', t
        FROM (SELECT i, date('2026-11-20', printf('-%d days', i / {PER_DAY})) AS d,
                     CASE i % 5 WHEN 0 THEN 'commerce' WHEN 1 THEN 'construction' WHEN 2 THEN 'social'
                                WHEN 3 THEN 'online' ELSE 'delivery' END AS b,
                     date('2026-11-20', printf('-%d days', i / {PER_DAY})) || 'T10:00:00.000+08:00' AS t FROM n)
    """)
    for action in ("ticket_issued", "ticket_called", "ticket_completed"):
        conn.execute(f"""
            INSERT INTO journal (at, business_day, actor, action, ticket_id, ticket, business, window, data)
            SELECT issued_at, business_day, 'kiosk:kiosk-1', '{action}', id, label, business, window,
                   '{{"class": ' || class || '}}'
            FROM tickets WHERE id >= 1000000000
        """)
    conn.execute("""
        INSERT INTO ratings (ticket_id, level, bad, business_day, business, window, staff_id, source, rated_at)
        SELECT id, 5 - (id % 7 = 0) * 3, id % 7 = 0, business_day, business, window, staff_id, 'device:pad-1',
               finished_at FROM tickets WHERE id >= 1000000000 AND id % 4 = 0
    """)
    conn.execute("""
        INSERT INTO followups (rating_id, state, opened_at, due_date, closed_at, closed_by, report_note)
        SELECT id, 'closed', rated_at, business_day, rated_at, 'staff:2001', '已回访' FROM ratings WHERE bad = 1
    """)  # a year-old hall has followed up its bad reviews as they came
    conn.execute("COMMIT")
    conn.close()
    # a hall a year old has rolled up its statistics night by night: do the year's rollups now, or the
    # server would catch up on them while the benchmark runs (5 days a round, each a write transaction)
    from datetime import datetime

    from hallq.clock import CHINA
    from queue_server.db import Database
    from queue_server.domain.statistics import roll_up_pending

    server = ServerProcess(folder / "data", config=bench_hall(folder))  # its first ticket closes the past days
    server.start(timeout=60)
    server.client(token="demo-kiosk-1").issue_ticket("commerce")
    server.stop()
    db = Database(folder / "data" / DB)
    roll_up_pending(db, datetime(2026, 11, 23, 8, 0, tzinfo=CHINA))
    days = db.connection().execute("SELECT count(*) FROM stats_days").fetchone()[0]
    assert days >= tickets // PER_DAY, f"only {days} days rolled up"
    db.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    (folder / "complete").touch()
    print(f"built a year of {tickets} tickets in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return folder


def issue_steadily(url: str, rate: float, stop: threading.Event, out: list[tuple[float, float, bool]]) -> None:
    """Issue ``rate`` tickets a second on a schedule (open loop: a slow answer does not slow the schedule)."""
    from hallq.client import ApiError, HallClient

    clients = [HallClient(url, token="demo-kiosk-1", timeout=30, retries=0) for _ in range(8)]
    lock = threading.Lock()
    pending = threading.Semaphore(len(clients))
    free = list(clients)

    def one(n: int) -> None:
        with lock:
            c = free.pop()
        t0 = time.perf_counter()
        try:
            c.issue_ticket(BUSINESSES[n % len(BUSINESSES)])
            ok = True
        except ApiError:
            ok = False
        t1 = time.perf_counter()
        with lock:
            out.append((t0, (t1 - t0) * 1000, ok))
            free.append(c)
        pending.release()

    n, start = 0, time.perf_counter()
    while not stop.is_set():
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0 and stop.wait(delay):
            break
        pending.acquire()
        threading.Thread(target=one, args=(n,), daemon=True).start()
        n += 1


def run_once(year: Path, rate: float, work: Path, broker: str) -> dict:
    data = work / "data"
    shutil.copytree(year / "data", data)
    config = bench_hall(work)
    server = start_server(work, broker=broker, config=config)
    system = labels(server)
    samples: list[tuple[float, float, bool]] = []
    stop = threading.Event()
    loader = threading.Thread(target=issue_steadily, args=(server.url, rate, stop, samples))
    try:
        loader.start()
        time.sleep(WARMUP)  # not measured: the server's first requests, its caches cold on a 1 GB file
        warm = time.perf_counter()
        time.sleep(BEFORE)  # the steady state before the backup, to compare with
        target = work / "backup.sqlite3"
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "launcher", "backup", "--config", str(config),
                            "--data-dir", str(data), "--to", str(target)], capture_output=True, text=True,
                           env={**os.environ, "HALLQ_DEMO": "1"}, timeout=600)
        t1 = time.perf_counter()
        time.sleep(3)
    finally:
        stop.set()
        loader.join(30)
        server.stop()
    if r.returncode != 0:
        raise RuntimeError(f"hallq backup failed: {r.stderr[-2000:]}")
    before = [ms for (t, ms, ok) in samples if ok and warm <= t < t0]
    during = [ms for (t, ms, ok) in samples if ok and t0 <= t <= t1]
    copied = sqlite3.connect(target)
    tickets_in_backup = copied.execute("SELECT count(*) FROM tickets").fetchone()[0]
    copied.close()
    return {"system": system, "backup_seconds": round(t1 - t0, 2), "database_mb": round((data / DB).stat().st_size / 2**20, 1),
            "backup_mb": round(target.stat().st_size / 2**20, 1), "tickets_in_backup": tickets_in_backup,
            "issue_before": percentiles(before), "issue_during": percentiles(during),
            "errors": sum(1 for (_, _, ok) in samples if not ok)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--rate", type=float, default=20.0, help="tickets issued per second during the run (default 20)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--cache", default=str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hallq-bench"))
    add_broker_option(ap)
    args = ap.parse_args()
    year = year_database(Path(args.cache), args.tickets)
    runs = []
    for _ in range(args.runs):
        work = tempdir()
        try:
            runs.append(run_once(year, args.rate, work, args.broker))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    emit({"benchmark": "backup_under_load", "tickets": args.tickets, "rate_per_s": args.rate,
          "targets": {"backup_seconds": 30, "issue_p99_ms_during": 100},
          "runs": runs, "machine": machine()})


if __name__ == "__main__":
    main()
