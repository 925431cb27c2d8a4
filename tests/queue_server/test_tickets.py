"""Issuing tickets: numbering, limits, ID rules, green channel, hours, idempotency, bad input."""

import json
from datetime import datetime

from hallq.clock import CHINA
from tests.conftest import make_id


def count(state, sql, *params):
    return state.db.connection().execute(sql, params).fetchone()[0]


def test_numbers_count_per_business_and_restart_with_each_day(api, clock):
    assert [api.issue("alpha")["ticket"] for _ in range(3)] == ["A001", "A002", "A003"]
    assert api.issue("beta", id_number=make_id())["ticket"] == "B001"
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=CHINA))
    assert api.issue("alpha")["ticket"] == "A001"


def test_daily_limit_gives_a_clear_409_and_writes_nothing(api, state):
    for _ in range(5):
        api.issue("alpha")
    journal_before = count(state, "SELECT COUNT(*) FROM journal")
    r = api.post("/tickets", {"business": "alpha"}, as_="kiosk")
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "daily_limit_reached" and "5" in err["messages"]["zh-Hans"]
    assert count(state, "SELECT COUNT(*) FROM tickets") == 5
    assert count(state, "SELECT COUNT(*) FROM journal") == journal_before


def test_business_that_needs_an_id_number(api):
    r = api.post("/tickets", {"business": "beta"}, as_="kiosk")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "identity_required"
    r = api.post("/tickets", {"business": "beta", "id_number": "110105194912310021"}, as_="kiosk")
    err = r.get_json()["error"]
    assert r.status_code == 422 and err["code"] == "invalid_id_number"
    assert "校验位" in err["messages"]["zh-Hans"] and "校驗位" in err["messages"]["zh-Hant"]


def test_one_open_ticket_per_person_per_business(api, state):
    person = make_id()
    first = api.issue("beta", id_number=person)
    r = api.post("/tickets", {"business": "beta", "id_number": person}, as_="kiosk")
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "already_has_ticket"
    assert r.get_json()["error"]["detail"]["ticket"] == first["ticket"]
    # the ID number is never stored or echoed: only a keyed hash and a mask
    row = state.db.connection().execute("SELECT id_hash, id_masked FROM tickets").fetchone()
    assert person not in row["id_hash"] and row["id_masked"] == person[:6] + "********" + person[-4:]
    dump = "\n".join(str(tuple(r)) for r in state.db.connection().execute("SELECT * FROM journal"))
    assert person not in dump
    # once served, the same person may take another number
    api.open_window(3, "101")
    api.act(3, "call-next", "101")
    api.act(3, "complete", "101")
    assert api.issue("beta", id_number=person)["ticket"] == "B002"


def test_elderly_residents_get_the_green_channel_and_are_served_first(api):
    api.issue("beta", id_number=make_id("19850101"))
    api.issue("beta", id_number=make_id("19850102"))
    old = api.issue("beta", id_number=make_id("19500101"))
    assert old["class"] == "green" and old["people_ahead"] == 0
    api.open_window(3, "101")
    assert api.act(3, "call-next", "101")["ticket"]["ticket"] == old["ticket"]


def test_green_channel_reasons_by_who_asks(api):
    assert api.issue("alpha", green_reason="disabled")["class"] == "green"
    r = api.post("/tickets", {"business": "alpha", "green_reason": "military"}, as_="kiosk")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "green_channel_staff_only"
    staff = api.ok("post", "/tickets", {"business": "alpha", "green_reason": "military"}, as_="101", status=201)
    assert staff["class"] == "green"


def test_outside_opening_hours_is_a_409_that_says_when_to_come(api, clock):
    clock.set(datetime(2026, 11, 23, 8, 0, tzinfo=CHINA))
    r = api.post("/tickets", {"business": "alpha"}, as_="kiosk")
    err = r.get_json()["error"]
    assert r.status_code == 409 and err["code"] == "outside_hours"
    assert err["detail"]["reason"] == "before_opening"
    assert err["detail"]["next_opening"].startswith("2026-11-23T09:00")
    clock.set(datetime(2026, 11, 22, 10, 0, tzinfo=CHINA))  # Sunday
    r = api.post("/tickets", {"business": "alpha"}, as_="kiosk")
    assert r.get_json()["error"]["detail"]["reason"] == "closed_today"
    assert "11月23日 09:00" in r.get_json()["error"]["messages"]["zh-Hans"]


def test_a_retried_request_returns_the_same_ticket(api, state):
    h = {"Idempotency-Key": "press-42"}
    a = api.post("/tickets", {"business": "alpha"}, as_="kiosk", headers=h).get_json()
    b = api.post("/tickets", {"business": "alpha"}, as_="kiosk", headers=h).get_json()
    assert a["ticket"] == b["ticket"] == "A001" and b["replayed"] is True
    assert count(state, "SELECT COUNT(*) FROM tickets") == 1
    # another kiosk with the same key is another request
    other = api.post("/tickets", {"business": "alpha"}, as_="101", headers=h)
    assert other.get_json()["ticket"] == "A002"


def test_a_refused_request_stays_refused_on_retry(api, state):
    for _ in range(5):
        api.issue("alpha")
    h = {"Idempotency-Key": "late"}
    r1 = api.post("/tickets", {"business": "alpha"}, as_="kiosk", headers=h)
    r2 = api.post("/tickets", {"business": "alpha"}, as_="kiosk", headers=h)
    assert r1.status_code == r2.status_code == 409
    assert r1.get_json()["error"]["code"] == r2.get_json()["error"]["code"] == "daily_limit_reached"


def test_bad_input_gets_the_one_error_shape(api):
    r = api.post("/tickets", {"business": "nope"}, as_="kiosk")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_business"
    r = api.post("/tickets", {"business": "alpha", "item": "NOPE"}, as_="kiosk")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_item"
    r = api.post("/tickets", {"business": "alpha", "item": "T-BETA-1"}, as_="kiosk")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "item_not_in_business"
    r = api.post("/tickets", {"busines": "alpha", "phone": 138}, as_="kiosk")
    err = r.get_json()["error"]
    assert r.status_code == 400 and err["code"] == "invalid_fields"
    assert {f["field"] for f in err["fields"]} == {"business", "busines", "phone"}
    r = api.client.post("/api/v1/tickets", data=b"{not json", headers={"Authorization": "Bearer demo-kiosk-1"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed_json"
    for e in (api.get("/nope").get_json()["error"], api.client.delete("/api/v1/tickets").get_json()["error"]):
        assert set(e) == {"status", "code", "message", "messages", "fields", "detail"}
        assert set(e["messages"]) == {"zh-Hans", "zh-Hant", "en"}


def test_message_follows_accept_language(api):
    r = api.post("/tickets", {"business": "nope"}, as_="kiosk", headers={"Accept-Language": "en"})
    assert r.get_json()["error"]["message"] == 'There is no business "nope".'
    r = api.post("/tickets", {"business": "nope"}, as_="kiosk", headers={"Accept-Language": "zh-TW"})
    assert r.get_json()["error"]["message"].startswith("沒有")


def test_only_kiosks_and_staff_issue(api):
    assert api.post("/tickets", {"business": "alpha"}).status_code == 401
    r = api.post("/tickets", {"business": "alpha"}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"
    assert api.post("/tickets", {"business": "alpha"}, as_="gateway").status_code == 403


def test_cancel_and_the_public_ticket_page_data(api):
    a1, a2 = api.issue("alpha"), api.issue("alpha")
    view = api.ok("get", f"/tickets/{a2['id']}")
    assert view["people_ahead"] == 1 and view["state"] == "waiting"
    assert "id_number" not in view and "id_masked" not in view
    api.ok("post", f"/tickets/{a1['id']}/cancel", as_="kiosk")
    assert api.ok("get", f"/tickets/{a2['id']}")["people_ahead"] == 0
    r = api.post(f"/tickets/{a1['id']}/cancel", as_="kiosk")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_waiting"
    assert api.get("/tickets/doesnotexist").status_code == 404


def test_estimated_wait_uses_open_windows_and_recent_service_times(api, clock):
    """(people ahead − idle windows + ½) × minutes per call ÷ capacity, with a range around it."""
    tickets = [api.issue("alpha") for _ in range(3)]
    assert api.ok("get", f"/tickets/{tickets[-1]['id']}")["est_wait_minutes"] is None  # no window open
    api.open_window(1, "101")
    view = api.ok("get", f"/tickets/{tickets[-1]['id']}")
    assert view["people_ahead"] == 2
    assert view["est_wait_minutes"] == round((2 - 1 + 0.5) * 10)  # configured 10 min, window 1 idle
    low, high = view["est_wait_range"]
    assert low < view["est_wait_minutes"] < high
    api.open_window(2, "102")  # window 2 only helps with alpha: half a window, and it is idle too
    assert api.ok("get", f"/tickets/{tickets[-1]['id']}")["est_wait_minutes"] == round(0.5 * 10 / 1.5)
    api.act(1, "sign-out", "101")
    for i in range(3):  # beta at window 2, its own: three services of 4 minutes each, from the call
        api.issue("beta", id_number=make_id(seq=10 + i))
        api.act(2, "call-next", "102")
        api.act(2, "start", "102")
        clock.advance(240)
        api.act(2, "complete", "102")
    for i in range(2):
        api.issue("beta", id_number=make_id(seq=20 + i))
    api.act(2, "call-next", "102")  # the window is busy again
    last = api.issue("beta", id_number=make_id(seq=30))
    view = api.ok("get", f"/tickets/{last['id']}")
    assert view["people_ahead"] == 1 and view["est_wait_minutes"] == round((1 + 0.5) * 4)


def test_an_estimate_moves_when_a_window_pauses_not_only_on_arrival(api, clock):
    for _ in range(3):
        api.issue("alpha")
    last = api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    before = api.ok("get", f"/tickets/{last['id']}")["est_wait_minutes"]
    api.ok("post", "/windows/1/pause", {"reason": "break"}, as_="101")
    assert api.ok("get", f"/tickets/{last['id']}")["est_wait_minutes"] > before  # half the capacity now
    api.ok("post", "/windows/1/resume", {}, as_="101")
    assert api.ok("get", f"/tickets/{last['id']}")["est_wait_minutes"] == before


def test_a_number_taken_before_lunch_is_estimated_across_the_break(api, clock):
    clock.set(clock.now().replace(hour=11, minute=50))
    for _ in range(4):
        api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    last = api.issue("alpha")
    # 3 ahead, the window busy: 3.5 × 10 = 35 minutes of calling, 10 before the 12:00 break, 25 after 13:00
    assert api.ok("get", f"/tickets/{last['id']}")["est_wait_minutes"] == 35 + 60


def test_a_promise_carries_its_deadline(api, clock):
    green = api.ok("post", "/tickets", {"business": "alpha", "green_reason": "disabled"}, as_="kiosk", status=201)
    assert green["class"] == "green"
    assert green["promise"] == {"within_minutes": 8, "by": "2026-11-23T09:38:00.000+08:00"}
    assert api.issue("alpha")["promise"] is None


def test_requeue_a_missed_number_within_the_grace_period(api, clock):
    a1 = api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    api.act(1, "no-show", "101")
    a2 = api.issue("alpha")
    clock.advance(60)
    again = api.ok("post", "/tickets/requeue", {"ticket": "a001"}, as_="kiosk")
    assert again["state"] == "waiting" and again["ticket"] == a1["ticket"] and again["people_ahead"] == 1
    # typed by its number, the answer has no public id nor page: whoever typed it may not hold the slip (the id
    # rates the service); the slip's own QR still opens the ticket
    assert "id" not in again and "track_url" not in again and a1["id"] not in json.dumps(again)
    assert api.ok("get", f"/tickets/{a1['id']}")["state"] == "waiting"
    assert api.act(1, "call-next", "101")["ticket"]["ticket"] == a2["ticket"]  # re-queued at the back
    api.act(1, "complete", "101")
    api.act(1, "call-next", "101")
    api.act(1, "no-show", "101")
    r = api.post("/tickets/requeue", {"id": a1["id"]}, as_="kiosk")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "requeue_limit"
    a3 = api.issue("alpha")
    api.act(1, "call-next", "101")
    api.act(1, "no-show", "101")
    clock.advance(31 * 60)
    r = api.post("/tickets/requeue", {"id": a3["id"]}, as_="kiosk")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "grace_expired"
    assert api.post("/tickets/requeue", {"id": a3["id"], "ticket": "A003"}, as_="kiosk").status_code == 400
