"""No statement on the hot paths scans the tickets or the journal.

A realistic flow (issue, sign in, call, recall, serve, transfer, hold, rate,
read every public view) runs with a trace callback on every connection; each
distinct statement is then explained, and a full scan of ``tickets`` or
``journal`` fails the test. A scan makes a call cost grow with the day (it
went from 2 ms to 13 ms with 100,000 waiting before this test existed).
"""

from __future__ import annotations

import re
import sqlite3

from tests.conftest import make_id

BIG_TABLES = ("tickets", "journal", "ratings")


def test_hot_paths_use_indexes(api, state, monkeypatch):
    statements: set[str] = set()
    real_open = state.db._open

    def traced_open():
        conn = real_open()
        conn.set_trace_callback(statements.add)
        return conn

    monkeypatch.setattr(state.db, "_open", traced_open)
    state.db._write_conn = traced_open()
    state.db._local.__dict__.clear()

    tickets = [api.issue("alpha") for _ in range(3)] + [api.issue("beta", id_number=make_id(seq=i)) for i in range(3)]
    api.open_window(1, "101")
    api.open_window(3, "103")
    api.act(1, "call-next", "101")
    api.act(1, "recall", "101")
    api.act(1, "start", "101")
    api.act(1, "complete", "101")
    api.act(1, "call-next", "101")
    api.act(1, "hold", "101")
    api.act(1, "call-next", "101")
    api.act(1, "transfer", "101", {"to_business": "beta"})
    api.act(1, "call-back", "101", {"ticket": "A002"})
    api.act(1, "no-show", "101")
    api.act(3, "call-next", "103", {"complete_current": True})
    api.act(3, "complete", "103")
    api.tokens["tablet"] = "demo-tablet-1"
    for path in ("/board", "/businesses", "/windows", "/windows/1", "/calls", f"/tickets/{tickets[-1]['id']}",
                 "/windows/1/queue", "/hall", "/notices"):
        api.ok("get", path, as_="101")
    with state.db.read() as conn:
        state.snapshots.board(conn, state.hall.now())

    probe = sqlite3.connect(state.db.path)
    scans = []
    for sql in statements:
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if head not in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH"):
            continue
        literal = re.sub(r"'[^']*'", "'x'", sql)  # traced SQL has its parameters inlined
        try:
            plan = [r[3] for r in probe.execute("EXPLAIN QUERY PLAN " + literal)]
        except sqlite3.Error:
            continue
        for step in plan:
            if any(re.fullmatch(rf"SCAN {t}( .*)?", step) for t in BIG_TABLES):
                scans.append((step, sql[:160]))
    probe.close()
    assert not scans, "\n".join(f"{step}: {sql}" for step, sql in scans)
