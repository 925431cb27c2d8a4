"""A snapshot set is what each view read on its own gives, and the publisher sends it byte for byte.

The publisher builds the queues, the windows and the board together (queue_server/snapshots.py
``snapshot_set``: every business's reads in one statement, the capacities from the windows' views,
the day's closing read once). Here, on a hall with appointments, the green channel, a transfer, a held
ticket, windows open, paused and closed, a notice, the lunch break and a closed day, every payload of a
set is compared with one built the plain way: each business's
:func:`~queue_server.domain.estimates.queue_state` read by itself, each window's own view, and plain
SQL for the counts.
"""

from __future__ import annotations

import json
from datetime import timedelta

from hallq import contract
from hallq.clock import iso
from queue_server.domain.day import day_closed
from queue_server.domain.estimates import queue_state, wait, waiting_counts
from queue_server.domain.windows import window_view
from queue_server.publisher import Publisher
from tests.conftest import make_id
from tests.queue_server.test_appointments import at, booked
from tests.queue_server.test_appointments import hall as appointments_hall  # noqa: F401 (a fixture: the hall with appointments)

BOARD_QUEUE = ("business", "name", "prefix", "waiting", "est_wait_minutes", "est_wait_range", "windows_serving",
               "last_called")


def plain_queues(conn, st, now) -> dict[str, dict]:
    """The queues' snapshots, each business's parts read by themselves."""
    snap, hours, day = st.snapshots, st.hall.config.hours, now.date().isoformat()
    counts = waiting_counts(conn, day)
    issuing = hours.issuing_state(now)[0] and not day_closed(conn, day)
    out = {}
    for b in conn.execute("SELECT * FROM businesses WHERE active ORDER BY position").fetchall():
        code = b["code"]
        state = queue_state(conn, hours, code, now, b["service_minutes"], snap._rates)
        waiting, green = counts.get(code, (0, 0))
        est = wait(state, hours, now, 2, waiting)
        last = conn.execute("SELECT ticket FROM journal WHERE business = ? AND business_day = ? "
                            "AND action IN ('call', 'recall', 'call_back') ORDER BY seq DESC LIMIT 1",
                            (code, day)).fetchone()
        issued = conn.execute("SELECT COALESCE(MAX(number), 0) FROM tickets WHERE business_day = ? "
                              "AND origin_business = ?", (day, code)).fetchone()[0]
        serving = conn.execute("SELECT COUNT(*) FROM allocation a JOIN windows w ON w.number = a.window "
                               "WHERE a.business = ? AND w.active AND w.state = 'open'", (code,)).fetchone()[0]
        out[code] = {
            "business": code, "name": json.loads(b["name"]), "prefix": b["prefix"], "waiting": waiting,
            "green_waiting": green, "est_wait_minutes": est.minutes if est else None,
            "est_wait_range": est.range if est else None, "windows_serving": serving,
            "last_called": last[0] if last else None, "issued": issued, "daily_limit": b["daily_limit"],
            "issuing": issuing and issued < b["daily_limit"], "updated_at": iso(now),
        }
    return out


def same_set(st) -> dict[str, bytes]:
    """Check the set against the plain way; return what the publisher sends for all of it, by topic."""
    now = st.hall.now()
    with st.db.read() as conn:
        queues, windows, board = st.snapshots.snapshot_set(conn, now)
        expected_queues = plain_queues(conn, st, now)
        expected_windows = [window_view(conn, w) for w in
                            conn.execute("SELECT * FROM windows WHERE active ORDER BY number").fetchall()]
        alone = st.snapshots.board(conn, now)
        notices = st.snapshots.notices(conn, now)
    assert json.dumps(queues, ensure_ascii=False) == json.dumps(expected_queues, ensure_ascii=False)
    assert json.dumps(windows, ensure_ascii=False) == json.dumps(expected_windows, ensure_ascii=False)
    assert json.dumps(board, ensure_ascii=False) == json.dumps(alone, ensure_ascii=False)
    assert board["queues"] == [{k: q[k] for k in BOARD_QUEUE} for q in expected_queues.values()]
    assert board["issuing"] == any(q["issuing"] for q in expected_queues.values()) or not board["issuing"]
    site = st.hall.config.site
    sent = {contract.WINDOW.topic(site, number=w["number"]): contract.encode(contract.WINDOW, w)
            for w in expected_windows}
    sent |= {contract.QUEUE.topic(site, business=c): contract.encode(contract.QUEUE, q)
             for c, q in expected_queues.items()}
    sent[contract.NOTICES.topic(site)] = contract.encode(contract.NOTICES, notices)
    sent[contract.BOARD.topic(site)] = contract.encode(contract.BOARD, alone)
    return sent


class Broker:
    def __init__(self) -> None:
        self.sent: dict[str, bytes] = {}

    def publish(self, topic, body, qos, retain, again=None):
        assert retain
        self.sent[topic] = body
        return True


def published(st, tmp_path, some: tuple[set[int], set[str]] | None = None) -> dict[str, bytes]:
    pub = Publisher(st.db, st.hall, None, tmp_path)
    pub.conn = Broker()
    pub.snap = st.snapshots  # the same promise rates (each Snapshots reads them once a minute)
    db, now = st.db.connection(), st.hall.now()
    if some is None:
        pub._publish_all(db, now)
    else:
        pub._publish_some(db, now, *some)
    return pub.conn.sent


def check(st, tmp_path) -> None:
    expected = same_set(st)
    assert published(st, tmp_path) == expected
    site = st.hall.config.site
    some = {contract.WINDOW.topic(site, number=2), contract.QUEUE.topic(site, business="alpha"),
            contract.BOARD.topic(site)}
    assert published(st, tmp_path, ({2}, {"alpha"})) == {t: b for t, b in expected.items() if t in some}


def test_a_set_is_what_each_view_read_alone_gives_and_is_published_as_such(request, clock, tmp_path):
    api, st = request.getfixturevalue("appointments_hall")
    check(st, tmp_path)  # an empty hall, before opening
    a = booked(api, "2026-11-24", start="09:00")
    clock.set(at(2026, 11, 24, 8, 40))
    for i in range(4):
        api.issue("alpha")
        api.issue("beta", id_number=make_id(seq=200 + i))
    api.issue("beta", id_number=make_id("19500101", seq=300))  # the green channel
    api.ok("post", "/appointments/check-in", {"code": a["code"]}, as_="kiosk", status=201)
    api.ok("post", "/notices", {"text": {"zh-Hans": "今日下午系统维护"}}, as_="900", status=201)
    check(st, tmp_path)  # before opening: every window counts as it will
    clock.set(at(2026, 11, 24, 9, 5))
    for n, job in ((1, "101"), (2, "102"), (3, "103")):
        api.open_window(n, job)
    api.act(1, "call-next", "101")
    clock.set(at(2026, 11, 24, 9, 12))
    api.act(1, "complete", "101")
    api.act(1, "call-next", "101")
    api.act(2, "call-next", "102")
    api.act(2, "transfer", "102", {"to_business": "beta"})
    for i in range(24):  # more services than an estimate's sample, of different lengths
        api.issue("beta", id_number=make_id(seq=400 + i))
        api.act(3, "call-next", "103", {"complete_current": True})
        clock.set(st.hall.now() + timedelta(minutes=1 + i // 4))
    api.act(3, "call-next", "103", {"complete_current": True})
    api.act(3, "hold", "103")
    api.act(3, "pause", "103", {"reason": "break"})
    check(st, tmp_path)  # open, serving, a held ticket, a transfer, a paused window
    for _ in range(3):
        clock.set(st.hall.now() + timedelta(minutes=4))
        api.act(1, "call-next", "101", {"complete_current": True})
    api.act(2, "close", "102")
    check(st, tmp_path)  # a closed window; services timed for the estimates
    clock.set(at(2026, 11, 24, 12, 20))
    check(st, tmp_path)  # the lunch break
    api.ok("post", "/day/close", as_="900")
    check(st, tmp_path)  # the day closed: nothing issued, every window closed


def test_a_set_reads_each_thing_once(api, state):
    api.issue("alpha")
    api.issue("beta", id_number=make_id())
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    conn, now = state.db.connection(), state.hall.now()
    state.snapshots.snapshot_set(conn, now)  # the names and the promise rates (kept a minute) read
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        state.snapshots.snapshot_set(conn, now)
    finally:
        conn.set_trace_callback(None)
    # the day's closing, the windows (3), the waiting counts, every business's reads, the recent calls
    assert len(statements) == 7, statements
