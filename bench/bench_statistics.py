"""Statistics over a year of a busy hall (target: a report over 1,000,000 tickets in ≤ 500 ms).

Generates the tickets (and ratings) of ``--days`` working days straight into
SQLite — a busy city hall's year: 4,000 tickets a day over 250 days — plus
today's, then measures:

* the rollup of every closed day (done once, a day at a time, by the server);
* each report over the whole year (by day, hour, business, window, staff;
  with and without a business filter), median of ``--repeat`` runs, with
  today computed live; and the same through the HTTP view in-process;
* for comparison, one naive GROUP BY straight over the tickets.

    .venv/bin/python bench/bench_statistics.py [--tickets 10000,100000,1000000] [--days 250] [--repeat 5]

The sizes make a curve (a village station's year, a town's, a busy city
hall's); the largest gets every report and the HTTP views.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics as stats_
import time
from datetime import date, datetime, timedelta

from common import emit, machine, tempdir

TODAY = date(2026, 11, 23)
OPEN = (("09:00", "12:00"), ("13:00", "17:00"))
BUSINESS_SHARE = {"commerce": 0.25, "construction": 0.1, "social": 0.4, "online": 0.1, "delivery": 0.15}
LEVELS = (5,) * 70 + (4,) * 20 + (3,) * 6 + (2,) * 3 + (1,)


def build(workdir, tickets: int, days: int):
    from zoneinfo import ZoneInfo

    from common import bench_hall
    from hallq.clock import VirtualClock
    from queue_server.app import create_app

    tz = ZoneInfo("Asia/Shanghai")
    clock = VirtualClock(datetime(TODAY.year, TODAY.month, TODAY.day, 16, 0, tzinfo=tz), rate=0)
    app = create_app(bench_hall(workdir), data_dir=workdir / "data", clock=clock, mqtt=False, housekeeping=False)
    st = app.extensions["hallq"]
    t0 = time.perf_counter()
    generated = generate(st, tickets, days)
    return app, st, {"generated_tickets": generated[0], "generated_ratings": generated[1],
                     "days": days + 1, "generate_s": round(time.perf_counter() - t0, 1)}


def _staff_of_windows(conn) -> dict[int, int]:
    staff = [r[0] for r in conn.execute("SELECT id FROM staff WHERE role = 'staff' ORDER BY job_no")]
    windows = [r[0] for r in conn.execute("SELECT number FROM windows ORDER BY number")]
    return {w: staff[i % len(staff)] for i, w in enumerate(windows)}


def generate(st, tickets: int, days: int) -> tuple[int, int]:
    """Tickets and ratings of ``days`` closed working days plus today, written in bulk."""
    rnd = random.Random(20261123)
    conn = st.db._write_conn
    cal = st.hall.config.calendar
    day_list, d = [], TODAY
    while len(day_list) < days:
        d -= timedelta(days=1)
        if cal.is_workday(d):
            day_list.append(d)
    day_list.reverse()
    day_list.append(TODAY)
    per_day = tickets // days
    serves: dict[str, list[int]] = {}
    for w, b in conn.execute("SELECT window, business FROM allocation ORDER BY rank"):
        serves.setdefault(b, []).append(w)
    staff_at = _staff_of_windows(conn)
    minutes = {r[0]: r[1] for r in conn.execute("SELECT code, service_minutes FROM businesses")}
    prefixes = {r[0]: r[1] for r in conn.execute("SELECT code, prefix FROM businesses")}
    codes, weights = list(BUSINESS_SHARE), list(BUSINESS_SHARE.values())
    index_sql = [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tickets' "
                                            "AND sql IS NOT NULL")]
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    for sql in index_sql:  # bulk load first, index after: minutes instead of hours
        conn.execute("DROP INDEX " + sql.split()[2] if sql.split()[1] == "INDEX" else "DROP INDEX " + sql.split()[3])
    tid, rid, n_ratings = 0, 0, 0
    for day in day_list:
        rows, ratings, numbers = [], [], dict.fromkeys(codes, 0)
        count = per_day if day != TODAY else per_day // 2
        for _ in range(count):
            tid += 1
            b = rnd.choices(codes, weights)[0]
            numbers[b] += 1
            # arrivals peak mid-morning and mid-afternoon
            start = datetime.combine(day, datetime.min.time()).replace(hour=9) + timedelta(
                minutes=rnd.choice((rnd.triangular(0, 180, 60), rnd.triangular(240, 480, 330))))
            wait = min(rnd.expovariate(1 / 14), 180)
            klass = rnd.choices((0, 1, 2), (7, 3, 90))[0]
            state = rnd.choices(("done", "no_show", "cancelled", "expired"), (85, 6, 3, 6))[0]
            if day == TODAY and start.hour >= 15:
                state = "waiting"
            window = rnd.choice(serves[b]) if state in ("done", "no_show") else None
            called = start + timedelta(minutes=wait) if window else None
            started = called + timedelta(minutes=1) if state == "done" else None
            finished = (started + timedelta(minutes=max(1.0, rnd.gauss(minutes[b], minutes[b] / 3))) if started
                        else called + timedelta(minutes=3) if state == "no_show" else None)
            iso = (lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000+08:00") if t else None)  # noqa: E731
            rows.append((tid, f"p{tid:x}", day.isoformat(), b, b, numbers[b], f"{prefixes[b]}{numbers[b]:04d}", klass,
                         state, window, staff_at.get(window) if window else None, iso(start), iso(start), iso(called),
                         iso(called), iso(started), iso(finished), "bench"))
            if state == "done" and rnd.random() < 0.3:
                rid += 1
                level = rnd.choice(LEVELS)
                ratings.append((rid, tid, level, int(level <= 2), day.isoformat(), b, window, staff_at[window],
                                iso(finished + timedelta(minutes=1))))
        conn.executemany(
            "INSERT INTO tickets (id, public_id, business_day, business, origin_business, number, label, class, state, "
            "window, staff_id, issued_at, arrived_at, called_at, first_called_at, started_at, finished_at, source) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany("INSERT INTO ratings (id, ticket_id, level, bad, business_day, business, window, staff_id, "
                         "source, rated_at) VALUES (?,?,?,?,?,?,?,?,'bench',?)", ratings)
        n_ratings += len(ratings)
    for sql in index_sql:
        conn.execute(sql)
    conn.execute("INSERT INTO meta (key, value) VALUES ('business_day', ?) ON CONFLICT(key) DO UPDATE SET "
                 "value = excluded.value", (TODAY.isoformat(),))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute(f"PRAGMA synchronous={st.db.synchronous}")
    return tid, n_ratings


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(stats_.median(times), 1), result


def measure(tickets: int, days: int, repeat: int, full: bool) -> dict:
    """Build a database of ``tickets`` over ``days`` working days, roll it up, time every report over the year."""
    from queue_server.domain import statistics

    work = tempdir()
    try:
        app, st, out = build(work, tickets, days)
        now = st.hall.now()
        t0 = time.perf_counter()
        rolled = statistics.roll_up_pending(st.db, now)
        rollup_s = time.perf_counter() - t0
        conn = st.db.connection()
        out.update(rolled_up_days=rolled, rollup_s=round(rollup_s, 1), rollup_ms_per_day=round(rollup_s / rolled * 1000, 1),
                   summary_rows=conn.execute("SELECT COUNT(*) FROM stats_tickets").fetchone()[0],
                   histogram_rows=conn.execute("SELECT COUNT(*) FROM stats_waits").fetchone()[0])
        first = TODAY - timedelta(days=365)
        reports = {}
        for group in statistics.GROUPS:
            for business in ((None, "social") if full else (None,)):
                def run(group=group, business=business):
                    with st.db.read() as c:
                        return statistics.report(c, first, TODAY, group, TODAY, business)
                ms, rep = timed(run, repeat)
                key = group + ("+business" if business else "")
                reports[key] = {"median_ms": ms, "rows": len(rep["rows"]), "issued": rep["total"]["issued"]}
        out["report_over_the_year_ms"] = reports
        if full:
            client = app.test_client()
            token = client.post("/api/v1/auth/login",
                                json={"job_no": "2001", "password": "hallq-demo"}).get_json()["token"]
            http = {}
            for group in ("day", "staff"):
                ms, _ = timed(lambda group=group: client.get(f"/api/v1/stats?from={first}&to={TODAY}&group={group}",
                                                             headers={"Authorization": f"Bearer {token}"}), repeat)
                http[group] = ms
            ms, _ = timed(lambda: client.get(f"/api/v1/stats?from={first}&to={TODAY}&group=day&format=xlsx",
                                             headers={"Authorization": f"Bearer {token}"}), 1)
            http["day_xlsx"] = ms
            out["http_in_process_ms"] = http
        t0 = time.perf_counter()
        conn.execute("SELECT business, COUNT(*), AVG((julianday(first_called_at) - julianday(issued_at)) * 1440) "
                     "FROM tickets WHERE business_day BETWEEN ? AND ? GROUP BY business",
                     (first.isoformat(), TODAY.isoformat())).fetchall()
        out["naive_group_by_over_tickets_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        out["worst_report_ms"] = max(r["median_ms"] for r in reports.values())
        st.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tickets", default="10000,100000,1000000",
                    help="database sizes of the curve, comma-separated; the largest gets every report")
    ap.add_argument("--days", type=int, default=250)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sizes = sorted(int(n) for n in args.tickets.split(","))
    curve, largest = [], {}
    for n in sizes:
        out = measure(n, args.days, args.repeat, full=n == sizes[-1])
        curve.append({"tickets": out["generated_tickets"], "rollup_s": out["rollup_s"],
                      "day_report_ms": out["report_over_the_year_ms"]["day"]["median_ms"],
                      "worst_report_ms": out["worst_report_ms"],
                      "naive_group_by_over_tickets_ms": out["naive_group_by_over_tickets_ms"]})
        largest = out
    worst = largest["worst_report_ms"]
    emit({"benchmark": "statistics over a year of a hall, 10,000 to 1,000,000 tickets", "curve": curve,
          "largest": largest, "target_ms": 500, "within_target": worst <= 500, "machine": machine()})


if __name__ == "__main__":
    main()
