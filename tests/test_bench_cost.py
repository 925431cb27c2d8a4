"""bench/bench_cost.py's driver: the requests it counts are the real ones, answered as a kiosk and a clerk
expect, on the hall's own SQLite settings (the count itself needs Valgrind and minutes: bench/, not here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hallq.testing import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import bench_cost


def test_the_driver_issues_and_calls_for_real_and_reads_the_settings_it_ran_with(tmp_path):
    hall, data = bench_cost._prepared(tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_cost.py"), "--driver", str(hall), str(data),
                           "5", "0.05"], capture_output=True, text=True, timeout=300,
                          env={"HALLQ_DEMO": "1", "PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["synchronous"] == "FULL" and result["journal_mode"] == "WAL"
    # each of the 10 measured requests came after 50 ms asleep, and the sleep is not counted as its CPU
    assert 0 < result["ticket_ms"] < 50 and 0 < result["call_ms"] < 50
    import sqlite3

    db = sqlite3.connect(Path(data) / "hallq.sqlite3")
    warm = max(20, 5 // 5)
    issued = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    called = db.execute("SELECT count(*) FROM tickets WHERE called_at IS NOT NULL").fetchone()[0]
    assert issued == (2 * warm + 5) + warm + 5  # the warm-up's, then the measured batch
    assert called == warm + 5


def test_a_dump_is_read_by_its_own_totals_not_the_runs_summary(tmp_path):
    dump = tmp_path / "callgrind.out.2"
    dump.write_text("events: Ir\nsummary: 999999\nfn=x\n0 5\ntotals: 1234\n", encoding="utf-8")
    assert bench_cost._instructions(dump) == 1234


def test_with_a_broker_each_request_is_published_before_the_next_and_every_25th_brings_a_snapshot_set(tmp_path):
    """The count with the publisher on (``with_publishing``) must not depend on the clock: each measured request is
    published and acknowledged before the next, and a snapshot set follows every FLUSH_EVERY-th (25: the
    publisher's 0.25 s at 100 requests a second), whatever Valgrind's speed (bench_cost._Paced)."""
    assert bench_cost.FLUSH_EVERY == 25
    from hallq.testing import Mosquitto

    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        hall, data = bench_cost._prepared(tmp_path / "hall")
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_cost.py"), "--driver", str(hall),
                               str(data), "50", "0", broker.url], capture_output=True, text=True, timeout=300,
                              env={"HALLQ_DEMO": "1", "PATH": "/usr/bin"})
    finally:
        broker.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # 50 tickets and 50 calls measured: 4 snapshot sets, every call announced
    assert result["publisher"] == {"snapshot_sets": 4, "calls_published": 50}
