"""How fast this machine's cores are right now: a fixed piece of work, timed in CPU time.

The CPU a server spends per ticket is the code's work divided by the cores' speed, and on a shared
virtual machine that speed moves: the same commit measured 40-60 % dearer in one evening than in the
morning (docs/performance.md). ``bench/run_all.py`` therefore times this reference work right before
every benchmark run and keeps it beside the run (``calibration_ms``); the docs show it in the heading of
the figures, so a reader can tell a slower spell of the machine from slower code.

The work is the same every time and mixes what a hall server does: Python objects and calls, JSON,
hashing and SQLite statements (in memory: no disk, no fsync). It runs in one thread of this process and is
timed with that thread's CPU clock, so neither waiting nor another process's work is counted; the least of
``rounds`` rounds is kept (interference only ever adds). On the machine of 2026-12-06 it took 80-140 ms.

    .venv/bin/python bench/calibrate.py      # prints {"calibration_ms": ...}
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time

ROWS = 2000


def _work() -> int:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, business TEXT, number TEXT, state TEXT, data TEXT)")
    db.execute("CREATE INDEX t_state ON t (business, state)")
    total = 0
    for i in range(ROWS):
        body = json.dumps({"business": f"B{i % 7}", "number": f"A{i:03d}", "people_ahead": i % 13,
                           "names": ["张三", "李四"], "when": "2026-12-06T09:00:00+08:00"}, ensure_ascii=False)
        data = json.loads(body)
        key = hashlib.sha256(body.encode()).hexdigest()
        db.execute("BEGIN")
        db.execute("INSERT INTO t (business, number, state, data) VALUES (?, ?, 'waiting', ?)",
                   (data["business"], data["number"], key))
        total += db.execute("SELECT count(*) FROM t WHERE business = ? AND state = 'waiting'",
                            (data["business"],)).fetchone()[0]
        if i % 3 == 0:
            db.execute("UPDATE t SET state = 'called' WHERE id = (SELECT min(id) FROM t WHERE business = ? "
                       "AND state = 'waiting')", (data["business"],))
        db.execute("COMMIT")
        total += len("".join(sorted(str(v) for v in data.values())))
    db.close()
    return total


def calibration_ms(rounds: int = 3) -> float:
    """CPU milliseconds of the reference work on this machine now: the least of ``rounds`` rounds."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.thread_time()
        _work()
        best = min(best, time.thread_time() - t0)
    return round(best * 1000, 1)


if __name__ == "__main__":
    print(json.dumps({"calibration_ms": calibration_ms()}))
