"""Window actions: who may act, the calling cycle, transfers, hold, pause, allocation, the day."""

from datetime import datetime

import pytest

from hallq.clock import CHINA
from tests.conftest import make_id


def err(r):
    return r.status_code, r.get_json()["error"]["code"]


def test_only_the_signed_in_clerk_a_manager_or_a_bound_device_acts(api):
    api.issue("alpha")
    assert err(api.post("/windows/1/call-next", as_="101")) == (403, "not_signed_in_here")
    api.open_window(1, "101")
    assert err(api.post("/windows/1/call-next", as_="102")) == (403, "not_signed_in_here")
    assert err(api.post("/windows/1/call-next", as_="kiosk")) == (403, "forbidden")
    assert err(api.post("/windows/1/call-next")) == (401, "unauthorized")
    assert api.act(1, "call-next", "gateway")["ticket"]["ticket"] == "A001"  # keypad bound to window 1
    api.open_window(2, "102")
    assert err(api.post("/windows/2/recall", as_="gateway")) == (403, "not_signed_in_here")
    assert api.act(1, "recall", "900")["seq"] == 2  # a manager may act anywhere


def test_a_window_calls_only_when_open_and_staffed(api):
    api.issue("alpha")
    assert err(api.post("/windows/1/call-next", as_="900")) == (409, "window_closed")
    api.open_window(1, "101")
    api.act(1, "pause", "101", {"reason": "午休"})
    assert err(api.post("/windows/1/call-next", as_="101")) == (409, "window_paused")
    api.act(1, "resume", "101")
    assert api.act(1, "call-next", "101")["ticket"]["ticket"] == "A001"
    assert err(api.post("/windows/99/call-next", as_="101")) == (404, "unknown_window")


def test_the_calling_cycle_and_its_sequence_numbers(api):
    for _ in range(3):
        api.issue("alpha")
    api.open_window(1, "101")
    first = api.act(1, "call-next", "101")
    assert first["ticket"]["state"] == "called" and first["seq"] == 1
    assert first["window"]["current"]["ticket"] == "A001"
    assert err(api.post("/windows/1/call-next", as_="101")) == (409, "current_ticket_open")
    assert api.act(1, "recall", "101")["seq"] == 2
    assert api.act(1, "recall", "101", {"ticket": "A001"})["ticket"]["recalls"] == 2
    assert err(api.post("/windows/1/recall", as_="101")) == (409, "recall_limit")  # max_recalls = 2
    api.act(1, "start", "101")
    assert err(api.post("/windows/1/no-show", as_="101")) == (409, "already_serving")
    done = api.act(1, "complete", "101")
    assert done["ticket"]["state"] == "done" and done["window"]["current"] is None
    second = api.act(1, "call-next", "101")
    assert second["ticket"]["ticket"] == "A002" and second["seq"] == 4
    third = api.act(1, "call-next", "101", {"complete_current": True})  # keypad "next": finish and call
    assert third["ticket"]["ticket"] == "A003"
    assert err(api.post("/windows/1/call-next", as_="101", body={"complete_current": True})) == (409, "nobody_waiting")


def test_service_starts_only_on_a_ticket_this_window_called(api):
    api.issue("alpha")
    api.issue("alpha")
    api.open_window(1, "101")
    assert err(api.post("/windows/1/start", as_="101")) == (409, "not_called")
    api.act(1, "call-next", "101")
    assert err(api.post("/windows/1/start", {"ticket": "A002"}, as_="101")) == (409, "not_called")
    assert api.act(1, "start", "101", {"ticket": "A001"})["ticket"]["state"] == "serving"
    assert err(api.post("/windows/1/complete", {"ticket": "A002"}, as_="101")) == (409, "not_current_ticket")


def test_no_show_then_the_next(api):
    api.issue("alpha")
    api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    assert api.act(1, "no-show", "101")["ticket"]["state"] == "no_show"
    assert api.act(1, "call-next", "101")["ticket"]["ticket"] == "A002"


def test_transfer_to_a_business_keeps_the_original_arrival(api, clock):
    api.issue("alpha")
    clock.advance(60)
    api.issue("beta", id_number=make_id(seq=1))
    clock.advance(60)
    api.issue("beta", id_number=make_id(seq=2))
    api.open_window(1, "101")
    api.open_window(3, "103")
    api.act(1, "call-next", "101")
    moved = api.act(1, "transfer", "101", {"to_business": "beta"})
    assert moved["ticket"]["state"] == "waiting" and moved["ticket"]["business"] == "beta"
    assert moved["window"]["current"] is None
    # A001 arrived before both beta tickets, so window 3 (beta) takes it first
    assert api.act(3, "call-next", "103")["ticket"]["ticket"] == "A001"
    assert api.act(3, "call-next", "103", {"complete_current": True})["ticket"]["ticket"] == "B001"


def test_transfer_to_a_window_is_called_there_first(api, clock):
    api.issue("beta", id_number=make_id(seq=1))
    clock.advance(60)
    api.issue("beta", id_number=make_id(seq=2))
    api.open_window(2, "102")
    api.open_window(3, "103")
    api.act(3, "call-next", "103")                     # B001 at window 3
    clock.advance(60)
    api.issue("alpha")
    api.act(3, "transfer", "103", {"to_window": 2})    # directed to window 2
    assert api.act(2, "call-next", "102")["ticket"]["ticket"] == "B001"
    assert err(api.post("/windows/2/transfer", {"to_window": 2}, as_="102")) == (422, "transfer_target")
    assert err(api.post("/windows/2/transfer", {"to_window": 1}, as_="102")) == (409, "window_closed")
    assert err(api.post("/windows/2/transfer", {"to_business": "x"}, as_="102")) == (404, "unknown_business")
    assert err(api.post("/windows/2/transfer", {}, as_="102")) == (422, "transfer_target")


def test_hold_and_call_back(api):
    api.issue("alpha")
    api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    api.act(1, "hold", "101")
    nxt = api.act(1, "call-next", "101")
    assert nxt["ticket"]["ticket"] == "A002" and nxt["window"]["held"] == 1
    assert err(api.post("/windows/1/call-back", {"ticket": "A001"}, as_="101")) == (409, "current_ticket_open")
    api.act(1, "complete", "101")
    back = api.act(1, "call-back", "101", {"ticket": "A001"})
    assert back["ticket"]["state"] == "called" and back["seq"] == 3
    api.act(1, "complete", "101")
    assert err(api.post("/windows/1/call-back", {"ticket": "A009"}, as_="101")) == (404, "not_held")


def test_sign_out_refused_while_a_resident_is_at_the_window(api):
    api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    assert err(api.post("/windows/1/sign-out", as_="101")) == (409, "window_busy")
    api.act(1, "complete", "101")
    assert api.act(1, "sign-out", "101")["window"]["state"] == "closed"


def test_signing_in_elsewhere_leaves_the_first_window(api):
    api.open_window(1, "101")
    moved = api.open_window(2, "101")
    assert moved["window"]["staff"]["job_no"] == "101" and moved["window"]["staff"]["name"] == "张*三"
    assert api.ok("get", "/windows/1")["state"] == "closed"
    assert err(api.post("/windows/2/sign-in", as_="102")) == (409, "window_taken")


def test_allocation_change_is_effective_for_the_very_next_call(api, clock):
    api.issue("alpha")
    clock.advance(60)
    api.issue("beta", id_number=make_id())
    api.open_window(3, "103")
    assert err(api.put("/windows/3/allocation", {"serves": ["alpha"]}, as_="103")) == (403, "forbidden")
    api.ok("put", "/windows/3/allocation", {"serves": ["alpha", "beta"]}, as_="900")
    assert api.act(3, "call-next", "103")["ticket"]["ticket"] == "A001"
    assert err(api.put("/windows/3/allocation", {"serves": ["zzz"]}, as_="900")) == (404, "unknown_business")


def test_end_of_day_close_and_reopen(api, state):
    api.issue("alpha")
    api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    api.act(1, "start", "101")
    assert err(api.post("/day/close", as_="101")) == (403, "forbidden")
    assert err(api.post("/day/close", as_="900")) == (409, "still_serving")
    api.act(1, "complete", "101")
    closed = api.ok("post", "/day/close", as_="900")
    assert closed["expired"] == 1 and closed["windows_closed"] == 3
    assert err(api.post("/tickets", {"business": "alpha"}, as_="kiosk")) == (409, "day_closed")
    api.ok("post", "/day/reopen", as_="900")
    assert api.issue("alpha")["ticket"] == "A003"


def test_a_new_day_ends_the_old_one_even_without_a_close(api, clock, state):
    api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    api.issue("alpha")
    clock.set(datetime(2026, 11, 24, 8, 45, tzinfo=CHINA))
    assert api.issue("alpha")["ticket"] == "A001"
    states = dict(state.db.connection().execute(
        "SELECT label, state FROM tickets WHERE business_day = '2026-11-23'").fetchall())
    assert states == {"A001": "expired", "A002": "expired"}
    assert api.ok("get", "/windows/1")["state"] == "closed"


def test_every_action_is_journaled_with_who_and_when(api):
    api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    api.act(1, "complete", "101")
    entries = api.ok("get", "/journal", as_="900")["entries"]
    actions = [(e["actor"], e["action"]) for e in entries if e["action"] not in ("config_applied", "login")]
    assert actions == [("kiosk:kiosk-1", "issue"), ("staff:101", "sign_in"), ("staff:101", "call"),
                       ("staff:101", "complete")]
    assert all(e["at"].startswith("2026-11-23T09:30") for e in entries)
    assert api.get("/journal", as_="101").status_code == 403
    assert err(api.get("/journal?after=x", as_="900")) == (400, "invalid_fields")


def test_the_journal_is_append_only(state):
    conn = state.db.connection()
    with pytest.raises(Exception, match="append-only"):
        conn.execute("UPDATE journal SET action = 'x'")
    with pytest.raises(Exception, match="append-only"):
        conn.execute("DELETE FROM journal")


def test_login_throttling_slows_the_client_after_five_failures(api):
    for _ in range(5):
        assert err(api.post("/auth/login", {"job_no": "101", "password": "wrong"})) == (401, "bad_login")
    r = api.post("/auth/login", {"job_no": "101", "password": "hallq-demo"})
    assert err(r) == (429, "too_many_attempts")
    assert err(api.post("/auth/login", {"job_no": "nobody", "password": "x"})) == (401, "bad_login")


def test_a_window_s_own_view_is_its_part_of_every_window_s(api, state):
    """One window's view (one statement, the answer of each of its actions) is what the board's view of every
    window (four queries) says of it: staffed or not, a current ticket called or serving, held tickets, its
    businesses in rank order, paused."""
    from queue_server.domain.windows import window_views

    def check() -> None:
        with state.db.read() as conn:
            every = window_views(conn)
            assert every
            for view in every:
                assert window_views(conn, [view["number"]]) == [view]
            assert window_views(conn, [999]) == []

    check()
    for _ in range(4):
        api.issue("alpha")
    api.open_window(1, "101")
    api.ok("put", "/windows/1/allocation", {"serves": ["beta", "alpha"]}, as_="900")
    api.act(1, "call-next", "101")
    check()
    api.act(1, "hold", "101")
    api.act(1, "call-next", "101")
    api.act(1, "hold", "101")
    api.act(1, "call-next", "101")
    api.act(1, "start", "101")
    check()
    api.open_window(2, "102")
    api.act(2, "pause", "102", {"reason": "午休"})
    check()
