"""A review's findings on directed tickets, capacity, closed days and appointments, each pinned:

* a ticket sent to a window by name (转移到指定窗口) goes back to its business's queue, keeping its place, when
  that window stops serving (signed out, closed, its clerk signed in elsewhere); a transfer to a window where
  nobody is signed in is refused, one to a paused window that is staffed is not;
* a missed number cannot be re-queued once the day is closed;
* a window a manager opened with nobody signed in is no serving capacity;
* an appointment in the last slot checks in after walk-in numbers stop, until the hall closes;
* the people ahead printed on a new ticket are those its phone page shows.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from hallq.clock import CHINA
from hallq.testing import TINY
from queue_server.domain.estimates import WindowNow, capacity_of
from tests.conftest import Api, make_id
from tests.queue_server.test_appointments import RULES, SERVICES, booking_hall as make_booking_hall


def at(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def refusal(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.get_json())
    return r.get_json()["error"]


def ticket_row(state, label: str):
    return state.db.connection().execute("SELECT * FROM tickets WHERE label = ?", (label,)).fetchone()


def returned_entries(state) -> list[tuple]:
    return [tuple(r) for r in state.db.connection().execute(
        "SELECT ticket, window, json_extract(data, '$.reason') FROM journal WHERE action = 'transfer_returned' "
        "ORDER BY seq")]


def send_to_window_2(api, state) -> None:
    """A001 and A002 waiting; window 1 calls A001 and sends it to window 2 (staff 102), which is signed in."""
    api.issue("alpha")
    api.issue("alpha")
    api.open_window(1, "101")
    api.open_window(2, "102")
    api.act(1, "call-next", "101")
    api.act(1, "transfer", "101", {"to_window": 2})
    assert ticket_row(state, "A001")["target_window"] == 2


# -- 1. a directed ticket is never stranded ------------------------------------------------------------

@pytest.mark.parametrize("leave", ["sign_out", "close", "sign_in_elsewhere", "account_deactivated"])
def test_a_ticket_sent_to_a_window_goes_back_to_its_queue_when_that_window_stops_serving(api, state, leave):
    send_to_window_2(api, state)
    before = ticket_row(state, "A001")
    if leave == "sign_out":
        api.act(2, "sign-out", "102")
    elif leave == "close":
        api.act(2, "close", "900")  # a manager closes it; its clerk stays signed in
    elif leave == "sign_in_elsewhere":
        api.open_window(3, "102")  # signing in at window 3 signs 102 out of window 2
    else:
        api.ok("post", "/accounts/102/deactivate", {}, as_="900")  # its clerk's account deactivated
    after = ticket_row(state, "A001")
    assert (after["state"], after["target_window"]) == ("waiting", None)
    # its place kept: the same arrival and promise, so window 1 calls it before A002, which came later
    assert (after["arrived_at"], after["promise_from"], after["business"]) == \
        (before["arrived_at"], before["promise_from"], before["business"])
    reason = {"sign_out": "sign_out", "close": "close_window", "sign_in_elsewhere": "sign_out",
              "account_deactivated": "account_deactivated"}[leave]
    assert returned_entries(state) == [("A001", 2, reason)]
    view = api.ok("get", f"/tickets/{after['public_id']}")
    assert view["state"] == "waiting" and view["people_ahead"] == 0 and view["est_wait_minutes"] is not None
    assert api.ok("post", "/windows/1/call-next", {"complete_current": True}, as_="101")["ticket"]["ticket"] == "A001"
    assert api.ok("post", "/windows/1/call-next", {"complete_current": True}, as_="101")["ticket"]["ticket"] == "A002"


def test_every_ticket_sent_to_the_window_goes_back_with_its_own_journal_entry(api, state):
    for _ in range(3):
        api.issue("alpha")
    api.open_window(1, "101")
    api.open_window(2, "102")
    for _ in range(2):
        api.ok("post", "/windows/1/call-next", {"complete_current": True}, as_="101")
        api.act(1, "transfer", "101", {"to_window": 2})
    api.act(2, "sign-out", "102")
    assert returned_entries(state) == [("A001", 2, "sign_out"), ("A002", 2, "sign_out")]
    assert state.db.connection().execute(
        "SELECT COUNT(*) FROM tickets WHERE target_window IS NOT NULL").fetchone()[0] == 0
    # back in order: A001 and A002 kept their arrival, ahead of A003
    calls = [api.ok("post", "/windows/1/call-next", {"complete_current": True}, as_="101")["ticket"]["ticket"]
             for _ in range(3)]
    assert calls == ["A001", "A002", "A003"]


def test_a_transfer_to_a_window_where_nobody_is_signed_in_is_refused(api, state):
    api.issue("alpha")
    api.open_window(1, "101")
    api.ok("post", "/windows/2/open", as_="900")  # opened by a manager, nobody signed in
    api.act(1, "call-next", "101")
    err = refusal(api.post("/windows/1/transfer", {"to_window": 2}, as_="101"), 409)
    assert err["code"] == "window_not_staffed" and err["status"] == 409
    assert "2 号窗口" in err["messages"]["zh-Hans"] and "window 2" in err["messages"]["en"]
    # nothing moved: A001 is still window 1's
    t = ticket_row(state, "A001")
    assert (t["state"], t["window"], t["target_window"]) == ("called", 1, None)


def test_a_transfer_to_a_paused_staffed_window_waits_until_it_resumes(api, state):
    api.issue("alpha")
    api.issue("alpha")
    api.open_window(1, "101")
    api.open_window(2, "102")
    api.act(2, "pause", "102", {"reason": "break"})
    api.act(1, "call-next", "101")
    api.act(1, "transfer", "101", {"to_window": 2})
    assert ticket_row(state, "A001")["target_window"] == 2
    api.act(2, "resume", "102")
    assert api.act(2, "call-next", "102")["ticket"]["ticket"] == "A001"
    assert returned_entries(state) == []


# -- 2. a closed day takes no re-queue ---------------------------------------------------------------------

def test_a_missed_number_cannot_be_requeued_once_the_day_is_closed(api, state, clock):
    clock.set(at(2026, 11, 23, 16, 40))
    t = api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    api.act(1, "no-show", "101")
    clock.set(at(2026, 11, 23, 16, 50))
    api.ok("post", "/day/close", as_="900")
    err = refusal(api.post("/tickets/requeue", {"ticket": t["ticket"]}, as_="kiosk"), 409)
    assert err["code"] == "day_closed"
    assert ticket_row(state, t["ticket"])["state"] == "no_show"
    assert api.ok("get", "/businesses/alpha")["queue"]["waiting"] == 0
    # reopened (a mistaken close undone), the same re-queue is taken
    api.ok("post", "/day/reopen", as_="900")
    assert api.ok("post", "/tickets/requeue", {"ticket": t["ticket"]}, as_="kiosk")["state"] == "waiting"


# -- 3. an unstaffed window is no capacity -------------------------------------------------------------------

def test_a_window_opened_with_nobody_signed_in_is_no_serving_capacity(api, state):
    tickets = [api.issue("beta", id_number=make_id(seq=i)) for i in range(1, 4)]
    assert [api.ok("get", f"/tickets/{t['id']}")["est_wait_minutes"] for t in tickets] == [None, None, None]
    w = api.ok("post", "/windows/3/open", as_="900")["window"]
    assert (w["state"], w["staff"]) == ("open", None)
    assert [api.ok("get", f"/tickets/{t['id']}")["est_wait_minutes"] for t in tickets] == [None, None, None]
    conn, now = state.db.connection(), state.hall.now()
    assert state.snapshots.queues(conn, now)["beta"]["est_wait_minutes"] is None  # the board says the same
    api.open_window(3, "103")  # staffed: now it counts
    assert all(api.ok("get", f"/tickets/{t['id']}")["est_wait_minutes"] is not None for t in tickets)
    assert state.snapshots.queues(conn, state.hall.now())["beta"]["est_wait_minutes"] is not None


def test_capacity_counts_a_window_only_while_it_can_call():
    staffed = WindowNow("open", False, ("alpha",))
    empty = WindowNow("open", False, ("alpha",), staffed=False)
    assert capacity_of([staffed, empty], {}) == {"alpha": (1.0, 1)}
    assert capacity_of([empty], {}) == {}
    # before opening and over a break, every window counts as it will once its clerk signs in and calls
    assert capacity_of([empty, WindowNow("closed", False, ("alpha",), staffed=False)], {}, before_calling=True) == \
        {"alpha": (2.0, 1)}


# -- 4. the last slot's check-in -----------------------------------------------------------------------------

@pytest.fixture
def late_hall(tmp_path, clock):
    """The tiny hall with appointments, walk-in numbers stopping 30 minutes before closing, and check-in
    open until 45 minutes after a slot's start (past the hall's 17:00 close for the 16:30 slot)."""
    from queue_server.app import create_app

    cfg = tmp_path / "hall"
    cfg.mkdir()
    text = TINY.read_text(encoding="utf-8").replace("stop_issuing_before_close_minutes = 0",
                                                    "stop_issuing_before_close_minutes = 30")
    (cfg / "hall.toml").write_text(text + RULES.replace("checkin_after_minutes = 15", "checkin_after_minutes = 45"),
                                   encoding="utf-8")
    (cfg / "services.toml").write_text(SERVICES, encoding="utf-8")
    app = create_app(cfg / "hall.toml", data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    yield Api(app.test_client()), app.extensions["hallq"]
    app.extensions["hallq"].close()


def book_last_slot(api, seq: int) -> dict:
    r = api.post("/appointments", {"item": "T-ALPHA-1", "date": "2026-11-24", "start": "16:30", "name": "张小三",
                                   "id_number": make_id("19850615", seq=seq), "phone": "13812345678"}, as_="kiosk")
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_the_last_slot_checks_in_after_walk_in_numbers_stop_until_the_hall_closes(late_hall, clock):
    api, _ = late_hall
    first, second = book_last_slot(api, 301), book_last_slot(api, 302)
    clock.set(at(2026, 11, 24, 16, 32))
    # walk-in numbers stopped at 16:30
    err = refusal(api.post("/tickets", {"business": "alpha"}, as_="kiosk"), 409)
    assert (err["code"], err["detail"]["reason"]) == ("outside_hours", "after_closing")
    r = api.post("/appointments/check-in", {"code": first["code"]}, as_="kiosk")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["class"] == "appointment"
    # within the booking's own check-in window still (until 17:15), but the hall closed at 17:00
    clock.set(at(2026, 11, 24, 17, 5))
    err = refusal(api.post("/appointments/check-in", {"code": second["code"]}, as_="kiosk"), 409)
    assert (err["code"], err["detail"]["reason"]) == ("outside_hours", "after_closing")


# -- 5. the people ahead on a new ticket -------------------------------------------------------------------------

@pytest.fixture
def appointment_hall(tmp_path, clock):
    yield from make_booking_hall(tmp_path, clock)


def assert_slip_matches_phone(api, slip: dict) -> None:
    assert slip["people_ahead"] == api.ok("get", f"/tickets/{slip['id']}")["people_ahead"], slip["ticket"]


def test_a_new_ticket_leaves_out_early_appointments_like_its_phone_page(appointment_hall, clock):
    api, _ = appointment_hall
    codes = [api.post("/appointments", {"item": "T-ALPHA-1", "date": "2026-11-24", "start": "10:00",
                                        "name": "张小三", "id_number": make_id("19850615", seq=200 + i),
                                        "phone": "13812345678"}, as_="kiosk").get_json()["code"] for i in range(2)]
    clock.set(at(2026, 11, 24, 9, 35))
    for c in codes:  # checked in 25 minutes early: ordinary until 10:00
        assert api.post("/appointments/check-in", {"code": c}, as_="kiosk").status_code == 201
    green = api.issue("alpha", id_number=make_id("19500101", seq=7))  # 76: green channel, automatically
    assert green["class"] == "green" and green["people_ahead"] == 0
    assert_slip_matches_phone(api, green)
    ordinary = api.issue("alpha")
    assert ordinary["people_ahead"] == 3  # every promise waiting, the early appointments included
    assert_slip_matches_phone(api, ordinary)


def test_a_new_ticket_leaves_out_tickets_sent_to_a_window_like_its_phone_page(api, state):
    for i in range(3):
        api.issue("beta", id_number=make_id(seq=10 + i))
    api.open_window(2, "102")
    api.open_window(3, "103")
    api.act(3, "call-next", "103")
    api.act(3, "transfer", "103", {"to_window": 2})  # B001 now waits for window 2 by name
    api.issue("beta", id_number=make_id("19500101", seq=20))  # a green one ahead of later promises
    ordinary = api.issue("beta", id_number=make_id(seq=30))
    assert ordinary["people_ahead"] == 3  # B002, B003 and the green B004; not B001, window 2's
    assert_slip_matches_phone(api, ordinary)
    green = api.issue("beta", id_number=make_id("19480101", seq=31))
    assert green["people_ahead"] == 1
    assert_slip_matches_phone(api, green)
