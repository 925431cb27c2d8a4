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

import pytest

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


TEMPORARY_TREES = ("OpenEphemeral", "OpenAutoindex")  # a B-tree built and dropped while the statement runs


def test_a_ticket_and_a_call_build_no_temporary_tree(api, state, monkeypatch):
    """Every statement of a kiosk's ticket and of a clerk's call next with completion runs without SQLite
    building a temporary B-tree: an IN list of three constants in a CHECK or a partial index's WHERE, a
    RETURNING, an INSERT … SELECT from its own table or an ORDER BY no index gives each cost one per execution
    (15 per call before schema/025: a sixth of a call's instructions; docs/performance.md, issue 16)."""
    api.open_window(1, "101")
    api.issue("alpha")
    api.act(1, "call-next", "101")
    statements: list[str] = []
    for conn in (state.db._write_conn, state.db.connection()):
        conn.set_trace_callback(statements.append)
    try:
        api.issue("alpha")
        api.issue("alpha", id_number=make_id(seq=7))  # with an ID number: tickets_one_open_per_person
        api.act(1, "call-next", "101", {"complete_current": True})
        api.act(1, "call-next", "101", {"complete_current": True})
    finally:
        for conn in (state.db._write_conn, state.db.connection()):
            conn.set_trace_callback(None)
    assert any(s.startswith("INSERT INTO tickets") for s in statements)
    assert any(s.startswith("UPDATE tickets SET state = 'called'") for s in statements)
    probe = sqlite3.connect(state.db.path)
    built = []
    for sql in dict.fromkeys(statements):
        if sql.lstrip().split(None, 1)[0].upper() not in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH"):
            continue
        ops = [r[1] for r in probe.execute("EXPLAIN " + sql)]
        built += [(op, sql[:160]) for op in ops if op in TEMPORARY_TREES]
    probe.close()
    assert not built, "\n".join(f"{op}: {sql}" for op, sql in built)


def test_the_partial_indexes_are_the_queries_own_predicates(api, state):
    """A partial index serves only a query repeating its WHERE's expression; the queries take theirs from
    ``any_of`` (queue_server/domain/context.py), the indexes were made by schema/025: both must agree, and
    a query naming the index (INDEXED BY) must find a plan."""
    from queue_server.domain.context import ACTIVE_SQL, ACTIVE_STATES, OPEN_STATES, any_of

    conn = state.db.connection()
    index = dict(conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"))
    assert ACTIVE_SQL == any_of("state", ACTIVE_STATES) == "(state = 'called' OR state = 'serving' OR state = 'held')"
    assert index["tickets_active"].endswith(f"WHERE {ACTIVE_SQL}")
    assert index["tickets_one_open_per_person"].endswith(f"WHERE id_hash IS NOT NULL AND {any_of('state', OPEN_STATES)}")
    conn.execute(f"SELECT * FROM tickets INDEXED BY tickets_active WHERE window = 1 AND {ACTIVE_SQL}").fetchall()
    with pytest.raises(sqlite3.OperationalError, match="no query solution"):  # the old IN list no longer fits it
        conn.execute("SELECT * FROM tickets INDEXED BY tickets_active WHERE state IN ('called', 'serving', 'held')")
    # and the tickets' CHECK (rewritten in place by 025) still refuses a state that does not exist
    api.issue("alpha")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        with state.db.write() as tx:
            tx.execute("UPDATE tickets SET state = 'lost' WHERE id = (SELECT min(id) FROM tickets)")
