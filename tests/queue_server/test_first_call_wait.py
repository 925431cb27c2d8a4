"""A ticket's wait runs from taking the number to its FIRST call (docs/statistics.md, schema/028).

A held ticket (挂起) called back (回呼), a recall, a missed number re-queued (过号重排), a transfer (转移) and a
day closed and reopened never move where its wait ended, live or from the rollup; the latest call still
orders the held tickets and shows on the phone page. Tickets kept from before 028 get their first call from
the journal, and the days already rolled up whose waits change are rolled up again.
"""

from __future__ import annotations

from datetime import date, datetime

from hallq.clock import CHINA
from queue_server import migrations
from queue_server.db import Database
from queue_server.domain import estimates, statistics
from tests.conftest import make_id

MONDAY, TUESDAY = date(2026, 11, 23), date(2026, 11, 24)


def at(clock, hh: int, mm: int, day: date = MONDAY) -> None:
    clock.set(datetime(day.year, day.month, day.day, hh, mm, tzinfo=CHINA))


def report(state, group: str = "business", day: date = MONDAY) -> dict:
    with state.db.read() as conn:
        return statistics.report(conn, day, day, group, state.hall.now().date())


def alpha(state, group: str = "business", day: date = MONDAY) -> dict:
    return {r["key"]: r for r in report(state, group, day)["rows"]}["alpha"]


def roll_monday_up(api, clock, state) -> None:
    at(clock, 9, 0, TUESDAY)
    api.issue("beta", id_number=make_id(seq=77))  # the first action of Tuesday rolls Monday over
    assert statistics.roll_up_pending(state.db, state.hall.now()) == 1


def test_a_held_ticket_waited_until_its_first_call_not_its_call_back(api, clock, state):
    at(clock, 9, 30)
    t = api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    first = api.act(1, "call-next", "101")["ticket"]
    at(clock, 9, 41)
    api.act(1, "hold", "101")  # the resident goes to fetch a paper for half an hour
    at(clock, 10, 11)
    back = api.act(1, "call-back", "101", {"ticket": "A001"})["ticket"]
    at(clock, 10, 16)
    api.act(1, "complete", "101")
    # the window and the phone page show the latest call
    assert back["called_at"] > first["called_at"] and back["called_at"].startswith("2026-11-23T10:11")
    assert api.ok("get", f"/tickets/{t['id']}")["called_at"] == back["called_at"]
    live = alpha(state)
    assert (live["avg_wait_min"], live["p90_wait_min"]) == (10.0, 10.9)  # 9:30 → 9:40, not → 10:11 (41 min)
    staff = {r["key"]: r for r in report(state, "staff")["rows"]}
    assert [r["avg_wait_min"] for k, r in staff.items() if k] == [10.0]  # not against the clerk either
    roll_monday_up(api, clock, state)
    rolled = alpha(state)
    assert (rolled["avg_wait_min"], rolled["p90_wait_min"]) == (10.0, 10.9)


def test_held_tickets_are_still_ordered_by_their_latest_call(api, clock):
    at(clock, 9, 30)
    api.issue("alpha"), api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")
    api.act(1, "hold", "101")
    at(clock, 9, 42)
    api.act(1, "call-next", "101")
    api.act(1, "hold", "101")
    at(clock, 9, 50)
    api.act(1, "call-back", "101", {"ticket": "A001"})
    api.act(1, "hold", "101")
    held = api.ok("get", "/windows/1/queue", as_="101")["held"]
    assert [h["ticket"] for h in held] == ["A002", "A001"]  # A001's call-back (9:50) is its latest call


def test_a_recall_does_not_move_the_wait(api, clock, state):
    at(clock, 9, 30)
    api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 45)
    api.act(1, "call-next", "101")
    at(clock, 9, 47)
    api.act(1, "recall", "101")
    api.act(1, "complete", "101")
    assert alpha(state)["avg_wait_min"] == 15.0


def test_a_missed_number_requeued_waited_until_the_call_it_missed(api, clock, state):
    """过号重排: the wait is the one the hall made (issue to the first call), counted once; the time the
    resident waits again for having missed the call is not the hall's wait."""
    at(clock, 9, 30)
    t = api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")
    at(clock, 9, 45)
    api.act(1, "no-show", "101")
    at(clock, 9, 50)
    api.ok("post", "/tickets/requeue", {"id": t["id"]}, as_="kiosk")
    waiting = alpha(state)  # waiting again: its first wait still counts, once
    assert (waiting["avg_wait_min"], waiting["no_show"], waiting["no_show_rate"]) == (10.0, 0, 0.0)
    at(clock, 10, 20)
    api.act(1, "call-next", "101")
    at(clock, 10, 25)
    api.act(1, "complete", "101")
    done = alpha(state)
    assert (done["done"], done["avg_wait_min"], done["p90_wait_min"]) == (1, 10.0, 10.9)  # not 9:50 → 10:20
    roll_monday_up(api, clock, state)
    assert alpha(state)["avg_wait_min"] == 10.0


def test_a_transferred_ticket_waited_until_its_first_window_called_it(api, clock, state):
    at(clock, 9, 30)
    api.issue("alpha")
    api.open_window(1, "101")
    api.open_window(3, "103")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")
    at(clock, 9, 45)
    api.act(1, "transfer", "101", {"to_business": "beta"})
    at(clock, 10, 5)
    assert api.act(3, "call-next", "103")["ticket"]["ticket"] == "A001"
    rows = {r["key"]: r for r in report(state)["rows"]}
    assert rows["beta"]["avg_wait_min"] == 10.0  # 9:30 → 9:40 (first call), not → 10:05


def test_a_day_closed_and_reopened_keeps_the_first_call(api, clock, state):
    at(clock, 9, 30)
    api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")
    at(clock, 9, 45)
    api.ok("post", "/day/close", as_="900")
    api.ok("post", "/day/reopen", as_="900")
    row = state.db.connection().execute("SELECT state, called_at, first_called_at FROM tickets").fetchone()
    assert row["state"] == "waiting" and row["called_at"] is None  # waits in its queue again
    assert row["first_called_at"].startswith("2026-11-23T09:40")
    api.open_window(1, "101")
    at(clock, 10, 30)
    api.act(1, "call-next", "101")
    assert alpha(state)["avg_wait_min"] == 10.0


def test_the_time_per_call_of_the_estimates_leaves_the_hold_out(api, clock, state):
    """Estimates count a window's minutes per ticket from its latest call: over a hold the window serves others,
    whose minutes count for them (counted from the first call, the hold would count twice)."""
    at(clock, 9, 30)
    for _ in range(3):
        api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")
    api.act(1, "hold", "101")
    api.act(1, "call-next", "101")
    at(clock, 9, 45)
    api.act(1, "call-next", "101", {"complete_current": True})
    at(clock, 9, 50)
    api.act(1, "complete", "101")
    at(clock, 10, 10)
    api.act(1, "call-back", "101", {"ticket": "A001"})
    at(clock, 10, 15)
    api.act(1, "complete", "101")
    with state.db.read() as conn:
        assert estimates.service_minutes(conn, "alpha", "2026-11-23", 99) == 5.0


# -- the upgrade (schema/028) -------------------------------------------------------------------------------

def _t(hh: int, mm: int, day: str = "2026-11-23") -> str:
    return f"{day}T{hh:02d}:{mm:02d}:00.000+08:00"


def test_the_upgrade_takes_each_tickets_first_call_from_the_journal_and_rolls_changed_days_up_again(tmp_path,
                                                                                                   monkeypatch):
    files = migrations.migration_files()
    upto = next(i for i, f in enumerate(files) if f.name.startswith("028_"))
    db = Database(tmp_path / "old.sqlite3")
    try:
        monkeypatch.setattr(migrations, "migration_files", lambda: files[:upto])
        migrations.migrate(db)
        with db.write() as conn:
            conn.execute("INSERT INTO businesses (code, prefix, name, daily_limit, service_minutes, "
                         "ordinary_target_minutes) VALUES ('alpha', 'A', '{\"zh-Hans\": \"甲\"}', 999, 10, 40)")
            # (label, day, state, issued, arrived, called, calls, journal's calls): held and called back; missed,
            # requeued and called again; requeued and still waiting; called once; never called; a row written
            # around the domain (no journal)
            tickets = [
                ("A001", "2026-11-23", "done", _t(9, 30), _t(9, 30), _t(10, 11), 2, [("call", _t(9, 40)),
                                                                                   ("call_back", _t(10, 11))]),
                ("A002", "2026-11-23", "done", _t(9, 30), _t(9, 50), _t(10, 20), 2, [("call", _t(9, 40)),
                                                                                   ("call", _t(10, 20))]),
                ("A003", "2026-11-23", "expired", _t(9, 31), _t(9, 55), None, 1, [("call", _t(9, 45))]),
                ("A004", "2026-11-24", "done", _t(9, 0, "2026-11-24"), _t(9, 0, "2026-11-24"),
                 _t(9, 5, "2026-11-24"), 1, [("call", _t(9, 5, "2026-11-24"))]),
                ("A005", "2026-11-24", "expired", _t(9, 1, "2026-11-24"), _t(9, 1, "2026-11-24"), None, 0, []),
                ("A006", "2026-11-24", "done", _t(9, 2, "2026-11-24"), _t(9, 2, "2026-11-24"),
                 _t(9, 9, "2026-11-24"), 0, []),
            ]
            for n, (label, day, st, issued, arrived, called, calls, calls_journaled) in enumerate(tickets, 1):
                tid = conn.execute(
                    "INSERT INTO tickets (public_id, business_day, business, origin_business, number, label, class, "
                    "state, issued_at, arrived_at, called_at, calls, source) "
                    "VALUES (?, ?, 'alpha', 'alpha', ?, ?, 2, ?, ?, ?, ?, ?, 'kiosk:kiosk-1')",
                    (f"p{n}", day, n, label, st, issued, arrived, called, calls)).lastrowid
                for action, when in calls_journaled:
                    conn.execute("INSERT INTO journal (at, business_day, actor, action, ticket_id, ticket, business, "
                                 "window) VALUES (?, ?, 'staff:101', ?, ?, ?, 'alpha', 1)",
                                 (when, day, action, tid, label))
            # both days were rolled up by the release before (with the waits to the latest call)
            conn.execute("INSERT INTO meta (key, value) VALUES ('business_day', '2026-11-25')")
            conn.execute("INSERT INTO stats_days (business_day, rolled_at) VALUES ('2026-11-23', ?), "
                         "('2026-11-24', ?)", (_t(8, 0, "2026-11-25"), _t(8, 0, "2026-11-25")))
        monkeypatch.undo()
        assert migrations.migrate(db)[0] == "028_first_call"
        conn = db.connection()
        first = dict(conn.execute("SELECT label, first_called_at FROM tickets").fetchall())
        assert first == {"A001": _t(9, 40), "A002": _t(9, 40), "A003": _t(9, 45), "A004": _t(9, 5, "2026-11-24"),
                         "A005": None, "A006": _t(9, 9, "2026-11-24")}
        # Monday's waits change (A001, A002, A003): rolled up again by the next report; Tuesday's do not
        assert statistics.pending_days(conn) == ["2026-11-23"]
        with db.write() as w:
            statistics.roll_up_day(w, "2026-11-23", datetime(2026, 11, 25, 8, 0, tzinfo=CHINA))
        rep = statistics.report(conn, MONDAY, MONDAY, "business", date(2026, 11, 25))
        assert rep["total"]["avg_wait_min"] == round((10 + 10 + 14) / 3, 1)  # A003: 9:31 → 9:45, once called
        assert migrations.migrate(db) == []  # applied once
    finally:
        db.close()
