"""Application statistics over a year of a busy hall (target: 100,000 applications, each report ≤ 500 ms).

A year of the sample city hall's applications (办件: 400 a working day over 250 days, on the
hall's real items; 90 % accepted, 15 % sent a correction notice first, 5 % refused, most decided
within their time limit, some late, some still open) is written straight into a real hall
database made by the server's own migrations, with the window each was taken in at. A real
``hallq serve`` (``--broker``, default the hall's own Mosquitto) then answers
``GET /api/v1/stats/applications`` over the whole year, signed in as a manager: by item,
department, business and window, one item alone, and the CSV and Excel downloads, ``--repeat``
times each. The JSON gives p50/p99 per report.

    .venv/bin/python bench/bench_app_statistics.py [--applications 100000] [--repeat 20] [--broker hall|mosquitto|none]
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from common import add_broker_option, bench_hall, emit, labels, machine, percentiles, start_server, tempdir

from launcher.processes import ServerProcess

DB = "hallq.sqlite3"
FIRST, LAST = "2025-11-24", "2026-11-23"
REPORTS = {  # name -> query
    "by_item": "group=item", "by_department": "group=department", "by_business": "group=business",
    "by_window": "group=window", "one_item": "group=window&item={item}",
    "csv_by_item": "group=item&format=csv", "xlsx_by_department": "group=department&format=xlsx",
}


def build(work: Path, applications: int) -> str:
    """A migrated hall database with ``applications`` of the past year; returns the busiest item's code."""
    config = bench_hall(work)
    server = ServerProcess(work / "data", config=config)  # the server's own migrations and config rows
    server.start(timeout=60)
    server.stop()
    conn = sqlite3.connect(work / "data" / DB, isolation_level=None)
    items = [r[0] for r in conn.execute("SELECT code FROM items WHERE active ORDER BY position, code")]
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.execute("CREATE TEMP TABLE its (n INTEGER PRIMARY KEY, code TEXT, business TEXT)")
    conn.executemany("INSERT INTO its (n, code, business) SELECT ?, code, business FROM items WHERE code = ?",
                     list(enumerate(items)))
    # day d of 365 back from 2026-11-23 (weekends skipped by the modulo); acceptance the same day or the next,
    # a result 1-12 days later; promised 5 days after acceptance; i % 20 == 0 refused, i % 7 == 0 corrected,
    # i % 11 == 0 still undecided
    conn.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {applications}),
        x AS (SELECT i, date('{LAST}', printf('-%d days', (i * 365) / {applications})) AS d,
                     i % (SELECT COUNT(*) FROM its) AS it FROM n)
        INSERT INTO applications (id, tracking_no, item, business, status, applicant_name, name_masked, id_hash,
            id_masked, phone_hash, phone_masked, delivery, submitted_at, review_by, accepted_at, promised_by,
            statutory_by, deadline_basis, decision, result_at, correction, source, updated_at)
        SELECT 2000000 + i, printf('SQ%s-B%07d', replace(d, '-', ''), i), its.code, its.business,
               CASE WHEN i % 20 = 0 THEN 'rejected' WHEN i % 11 = 0 THEN 'accepted' ELSE 'delivered' END,
               '张三', '张*', printf('h%d', i), '520201********123X', '', '', 'onsite',
               d || 'T10:00:00.000+08:00', date(d, '+7 days'),
               CASE WHEN i % 20 != 0 THEN date(d, printf('+%d days', i % 2)) || 'T11:00:00.000+08:00' END,
               CASE WHEN i % 20 != 0 THEN date(d, printf('+%d days', i % 2 + 5)) END,
               CASE WHEN i % 20 != 0 THEN date(d, printf('+%d days', i % 2 + 20)) END,
               CASE WHEN i % 20 != 0 THEN 'accepted' ELSE 'submitted' END,
               CASE WHEN i % 20 != 0 AND i % 11 != 0 THEN 'approved' END,
               CASE WHEN i % 20 != 0 AND i % 11 != 0
                    THEN date(d, printf('+%d days', i % 2 + 1 + i % 12)) || 'T15:00:00.000+08:00' END,
               CASE WHEN i % 7 = 0 THEN '{{"missing": []}}' END, 'kiosk:kiosk-1', d || 'T10:00:00.000+08:00'
        FROM x JOIN its ON its.n = x.it
    """)
    conn.execute("""
        INSERT INTO application_desks (application_id, window, staff_id, at)
        SELECT id, 1 + id % 18, NULL, submitted_at FROM applications WHERE id >= 2000000 AND id % 23 != 0
    """)  # one in 23 never reached a window (a kiosk's, waiting)
    conn.execute("COMMIT")
    busiest = conn.execute("SELECT item FROM applications GROUP BY item ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    print(f"wrote {applications} applications in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return busiest


def fetch(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[int, int]:
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept-Language": "zh-Hans"})
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, len(body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--applications", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=20)
    add_broker_option(ap)
    args = ap.parse_args()
    work = tempdir()
    try:
        item = build(work, args.applications)
        server = start_server(work, broker=args.broker, config=work / "hall" / "hall.toml")
        try:
            system = labels(server)
            token = server.client().login("2001", "hallq-demo")["token"]
            u = urlparse(server.url)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            results = {}
            t0 = time.perf_counter()  # the very first report rolls the whole year up (once, after an upgrade)
            status, _ = fetch(conn, f"/api/v1/stats/applications?from={FIRST}&to={LAST}&group=item", token)
            first_report_ms = round((time.perf_counter() - t0) * 1000, 1)
            print(f"first report (rolls up the year): {first_report_ms} ms", file=sys.stderr)
            for name, q in REPORTS.items():
                path = f"/api/v1/stats/applications?from={FIRST}&to={LAST}&" + q.format(item=item)
                status, size = fetch(conn, path, token)  # the first answer: caches warm, not measured
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status}")
                samples = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    fetch(conn, path, token)
                    samples.append((time.perf_counter() - t0) * 1000)
                results[name] = {**percentiles(samples), "bytes": size}
                print(f"{name}: p50 {results[name]['p50_ms']} ms, p99 {results[name]['p99_ms']} ms", file=sys.stderr)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    worst = max(results, key=lambda k: results[k]["p99_ms"])
    emit({"benchmark": "application_statistics", "applications": args.applications, "period": [FIRST, LAST],
          "worst_p99_ms": results[worst]["p99_ms"], "worst_report": worst,
          "repeat": args.repeat, "targets": {"report_ms": 500}, "first_report_ms": first_report_ms,
          "reports": results, "system": system,
          "machine": machine()})


if __name__ == "__main__":
    main()
