"""A ticket's service time is the time spent serving it: start (or call) to completion, less its time on hold.

A clerk holds (挂起) the ticket at the counter while its resident fetches a paper, serves others meanwhile and calls
it back (回呼); those minutes are the others' service, not its own (queue_server/domain/holds.py, schema/029,
docs/statistics.md). Checked live, by business, window and clerk, and from the rollup of the closed day; for one hold
or several, for a ticket held before anyone pressed start, for a start pressed after the call-back, for a ticket that
leaves the window (missed and re-queued, a day closed and reopened) before it is served elsewhere; and the upgrade,
which takes the holds of the tickets kept so far from the journal.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from hallq.clock import CHINA
from queue_server import migrations
from queue_server.db import Database
from queue_server.domain import statistics
from tests.conftest import make_id

MONDAY, TUESDAY = date(2026, 11, 23), date(2026, 11, 24)


def at(clock, hh: int, mm: int, day: date = MONDAY) -> None:
    clock.set(datetime(day.year, day.month, day.day, hh, mm, tzinfo=CHINA))


def rows(state, group: str = "business", day: date = MONDAY) -> dict:
    with state.db.read() as conn:
        rep = statistics.report(conn, day, day, group, state.hall.now().date())
    return {r["key"]: r for r in rep["rows"]}


def service(state, group: str = "business", key="alpha", day: date = MONDAY) -> tuple[int, float | None]:
    r = rows(state, group, day)[key]
    return r["done"], r["avg_service_min"]


def columns(state, label: str) -> dict:
    return dict(state.db.connection().execute("SELECT started_at, held_seconds, held_at FROM tickets WHERE label = ?",
                                              (label,)).fetchone())


def test_the_minutes_on_hold_are_not_service_time_live_by_window_and_clerk_and_rolled_up(api, clock, state):
    at(clock, 9, 30)
    api.issue("alpha"), api.issue("alpha"), api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")                      # A001
    at(clock, 9, 41)
    api.act(1, "start", "101")
    at(clock, 9, 45)
    api.act(1, "hold", "101")                           # A001 served 4 min, goes for a copy
    assert columns(state, "A001")["held_at"].startswith("2026-11-23T09:45")
    api.act(1, "call-next", "101")                      # A002
    at(clock, 9, 55)
    api.act(1, "complete", "101")                       # A002: 10 min
    at(clock, 10, 5)
    api.act(1, "call-back", "101", {"ticket": "A001"})  # held 20 min
    at(clock, 10, 7)
    api.act(1, "hold", "101")                           # served 2 min more, goes again
    at(clock, 10, 8)
    api.act(1, "call-next", "101")                      # A003
    at(clock, 10, 14)
    api.act(1, "complete", "101")                       # A003: 6 min
    at(clock, 10, 20)
    api.act(1, "call-back", "101", {"ticket": "A001"})  # held 13 min
    a001 = columns(state, "A001")
    assert (a001["held_seconds"], a001["held_at"]) == ((20 + 13) * 60, None)
    at(clock, 10, 23)
    api.act(1, "complete", "101")
    # A001: 9:41 → 10:23 is 42 min, of which 33 on hold: 9 min served (4 + 2 + 3)
    expected = round((9 + 10 + 6) / 3, 1)
    assert service(state) == (3, expected)  # until 029: (42 + 10 + 6) / 3 = 19.3
    assert service(state, "window", 1) == (3, expected)
    assert [r["avg_service_min"] for k, r in rows(state, "staff").items() if k] == [expected]
    # the window console's "this window today" counts the same
    assert api.ok("get", "/console/windows/1", as_="101")["today"]["avg_service_minutes"] == expected
    at(clock, 9, 0, TUESDAY)
    api.issue("beta", id_number=make_id(seq=77))  # the first action of Tuesday rolls Monday over
    assert statistics.roll_up_pending(state.db, state.hall.now()) == 1
    assert service(state) == (3, expected)


def test_a_keypad_completion_after_a_call_back_counts_the_ticket_from_its_call_less_the_hold(api, clock, state):
    """Nobody presses start (a call keypad's one "next" key completes and calls): the service runs from the call.
    The hold keeps that start, so the minutes before the hold count, and the hold does not."""
    at(clock, 9, 30)
    api.issue("alpha"), api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")                      # A001
    at(clock, 9, 43)
    api.act(1, "hold", "101")                           # 3 min at the counter
    assert columns(state, "A001")["started_at"].startswith("2026-11-23T09:40")
    api.act(1, "call-next", "101")                      # A002
    at(clock, 9, 51)
    api.act(1, "complete", "101")                       # A002: 8 min
    at(clock, 10, 13)
    api.act(1, "call-back", "101", {"ticket": "A001"})  # held 30 min
    at(clock, 10, 18)
    api.issue("alpha")
    api.act(1, "call-next", "101", {"complete_current": True})  # A001 completed by the next call: 3 + 5 min
    assert service(state) == (2, 8.0)  # until 029: A001 counted from its call-back only, (5 + 8) / 2 = 6.5


def test_a_start_pressed_after_the_call_back_keeps_the_first_start(api, clock, state):
    at(clock, 9, 30)
    api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")
    at(clock, 9, 41)
    api.act(1, "start", "101")
    at(clock, 9, 45)
    api.act(1, "hold", "101")
    at(clock, 10, 15)
    api.act(1, "call-back", "101", {"ticket": "A001"})
    at(clock, 10, 16)
    api.act(1, "start", "101")
    at(clock, 10, 20)
    api.act(1, "complete", "101")
    assert columns(state, "A001")["started_at"].startswith("2026-11-23T09:41")
    assert service(state) == (1, 9.0)  # 4 before the hold, 5 after the call-back (until 029: 4, from the restart)


def test_a_ticket_missed_after_its_call_back_and_served_elsewhere_counts_only_that_service(api, clock, state):
    """Called back, the resident does not come (过号); re-queued, another window serves them: only that service
    counts, not the first window's nor the hold nor the wait in between."""
    at(clock, 9, 30)
    t = api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")
    api.act(1, "start", "101")
    at(clock, 9, 45)
    api.act(1, "hold", "101")
    at(clock, 10, 0)
    api.act(1, "call-back", "101", {"ticket": "A001"})
    at(clock, 10, 2)
    api.act(1, "no-show", "101")
    at(clock, 10, 5)
    api.ok("post", "/tickets/requeue", {"id": t["id"]}, as_="kiosk")
    api.open_window(2, "102")
    at(clock, 10, 30)
    assert api.act(2, "call-next", "102")["ticket"]["ticket"] == "A001"
    assert columns(state, "A001") == {"started_at": None, "held_seconds": 0, "held_at": None}
    at(clock, 10, 36)
    api.act(2, "complete", "102")
    assert service(state) == (1, 6.0)  # until 029: from the first window's start, 9:40 → 10:36 = 56 min


def test_a_ticket_expired_on_hold_by_the_close_has_no_service_and_its_hold_does_not_follow_it(api, clock, state):
    at(clock, 9, 30)
    api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")
    api.act(1, "start", "101")
    at(clock, 9, 45)
    api.act(1, "hold", "101")
    at(clock, 11, 0)
    api.ok("post", "/day/close", as_="900")  # closed with a ticket on hold: it expires, unserved
    r = rows(state)["alpha"]
    assert (r["expired"], r["done"], r["avg_service_min"]) == (1, 0, None)
    api.ok("post", "/day/reopen", as_="900")  # a mistake: A001 waits again
    api.open_window(1, "101")
    at(clock, 11, 10)
    api.act(1, "call-next", "101")
    at(clock, 11, 16)
    api.act(1, "complete", "101")
    assert service(state) == (1, 6.0)  # from its new call: the old start and its 75 min on hold are gone


def test_a_ticket_completed_while_still_on_hold_counts_its_service_up_to_the_hold(api, clock, state):
    """No action completes a held ticket today; should one (or a repair by hand) do so, the service ends where
    the hold began, not at the completion."""
    at(clock, 9, 30)
    api.issue("alpha")
    api.open_window(1, "101")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")
    at(clock, 9, 41)
    api.act(1, "start", "101")
    at(clock, 9, 45)
    api.act(1, "hold", "101")
    with state.db.write() as conn:
        conn.execute("UPDATE tickets SET state = 'done', finished_at = '2026-11-23T10:30:00.000+08:00' "
                     "WHERE label = 'A001'")
    assert service(state) == (1, 4.0)


# -- the upgrade (schema/029) -------------------------------------------------------------------------------

def _t(hh: int, mm: int, day: str = "2026-11-23") -> str:
    return f"{day}T{hh:02d}:{mm:02d}:00.000+08:00"


@pytest.fixture
def before_029(tmp_path, monkeypatch):
    """A database as the release before 029 left it (its schema, up to 028)."""
    files = migrations.migration_files()
    upto = next(i for i, f in enumerate(files) if f.name.startswith("029_"))
    db = Database(tmp_path / "old.sqlite3")
    with monkeypatch.context() as m:
        m.setattr(migrations, "migration_files", lambda: files[:upto])
        migrations.migrate(db)
    yield db
    db.close()


def test_the_upgrade_takes_the_holds_inside_each_service_from_the_journal(before_029):
    db = before_029
    with db.write() as conn:
        conn.execute("INSERT INTO businesses (code, prefix, name, daily_limit, service_minutes, "
                     "ordinary_target_minutes) VALUES ('alpha', 'A', '{\"zh-Hans\": \"甲\"}', 999, 10, 40)")
        # (label, day, state, called (latest), started, finished, journal): the release before kept started_at
        # through a hold, and set it at completion (to the latest call) or at a start pressed after a call-back
        tickets = [
            # served from 9:41, held twice (20 + 13 min), completed at 10:23: 33 min on hold
            ("A001", "2026-11-23", "done", _t(10, 20), _t(9, 41), _t(10, 23),
             [("call", _t(9, 40)), ("start", _t(9, 41)), ("hold", _t(9, 45)), ("call_back", _t(10, 5)),
              ("hold", _t(10, 7)), ("call_back", _t(10, 20)), ("complete", _t(10, 23))]),
            # held before anyone pressed start: its service ran from its call-back, the hold was never in it
            ("A002", "2026-11-23", "done", _t(10, 13), _t(10, 13), _t(10, 18),
             [("call", _t(9, 40)), ("hold", _t(9, 43)), ("call_back", _t(10, 13)), ("complete", _t(10, 18))]),
            # started again after its call-back: counted from the restart, the hold was never in it either
            ("A003", "2026-11-23", "done", _t(10, 15), _t(10, 16), _t(10, 20),
             [("call", _t(9, 40)), ("start", _t(9, 41)), ("hold", _t(9, 45)), ("call_back", _t(10, 15)),
              ("start", _t(10, 16)), ("complete", _t(10, 20))]),
            # never held, on another day: that day's rollup stays
            ("A004", "2026-11-24", "done", _t(9, 5, "2026-11-24"), _t(9, 6, "2026-11-24"), _t(9, 9, "2026-11-24"),
             [("call", _t(9, 5, "2026-11-24")), ("start", _t(9, 6, "2026-11-24")),
              ("complete", _t(9, 9, "2026-11-24"))]),
            # on hold while the upgrade runs (served from 9:01, held since 9:04, once before for 2 min)
            ("A005", "2026-11-25", "held", _t(9, 3, "2026-11-25"), _t(9, 1, "2026-11-25"), None,
             [("call", _t(9, 0, "2026-11-25")), ("start", _t(9, 1, "2026-11-25")), ("hold", _t(9, 1, "2026-11-25")),
              ("call_back", _t(9, 3, "2026-11-25")), ("hold", _t(9, 4, "2026-11-25"))]),
            # held while the day closed: expired, no service
            ("A006", "2026-11-24", "expired", _t(9, 10, "2026-11-24"), _t(9, 11, "2026-11-24"),
             _t(18, 0, "2026-11-24"), [("call", _t(9, 10, "2026-11-24")), ("start", _t(9, 11, "2026-11-24")),
                                       ("hold", _t(9, 20, "2026-11-24")), ("expire", _t(18, 0, "2026-11-24"))]),
        ]
        for n, (label, day, st, called, started, finished, journal) in enumerate(tickets, 1):
            tid = conn.execute(
                "INSERT INTO tickets (public_id, business_day, business, origin_business, number, label, class, "
                "state, window, issued_at, arrived_at, called_at, first_called_at, started_at, finished_at, calls, "
                "source) VALUES (?, ?, 'alpha', 'alpha', ?, ?, 2, ?, 1, ?, ?, ?, ?, ?, ?, 1, 'kiosk:kiosk-1')",
                (f"p{n}", day, n, label, st, journal[0][1], journal[0][1], called, journal[0][1], started,
                 finished)).lastrowid
            for action, when in journal:
                conn.execute("INSERT INTO journal (at, business_day, actor, action, ticket_id, ticket, business, "
                             "window) VALUES (?, ?, 'staff:101', ?, ?, ?, 'alpha', 1)", (when, day, action, tid, label))
        conn.execute("INSERT INTO meta (key, value) VALUES ('business_day', '2026-11-25')")
        conn.execute("INSERT INTO stats_days (business_day, rolled_at) VALUES ('2026-11-23', ?), ('2026-11-24', ?)",
                     (_t(8, 0, "2026-11-25"), _t(8, 0, "2026-11-25")))
    assert migrations.migrate(db)[0] == "029_hold_time"
    conn = db.connection()
    got = {r["label"]: (r["held_seconds"], r["held_at"]) for r in conn.execute("SELECT * FROM tickets")}
    assert got == {"A001": (33 * 60, None), "A002": (0, None), "A003": (0, None), "A004": (0, None),
                   "A005": (2 * 60, _t(9, 4, "2026-11-25")), "A006": (0, None)}
    assert statistics.pending_days(conn) == ["2026-11-23"]  # Monday's service times change; Tuesday's do not
    with db.write() as w:
        statistics.roll_up_day(w, "2026-11-23", datetime(2026, 11, 25, 8, 0, tzinfo=CHINA))
    rep = statistics.report(conn, MONDAY, MONDAY, "business", date(2026, 11, 25))
    assert rep["total"]["avg_service_min"] == round((9 + 5 + 4) / 3, 1)  # A001: 42 min less 33 on hold
    assert migrations.migrate(db) == []  # applied once
