"""Bad reviews (差评): verify → fix → report back within working days; overdue flags; appeals."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from hallq.clock import CHINA
from queue_server.domain import statistics

TABLET = "demo-tablet-1"


@pytest.fixture
def rate_at_window(api):
    api.tokens["tablet"] = TABLET

    def rate(level: int, reasons=("slow",)) -> dict:
        api.open_window(1, "101")
        api.issue()
        api.act(1, "call-next", "101")
        api.act(1, "complete", "101")
        return api.ok("post", "/windows/1/rating", {"level": level, "reasons": list(reasons)}, as_="tablet",
                      status=201)
    return rate


def only(api, as_="900", which="active"):
    items = api.ok("get", f"/followups?which={which}", as_=as_)
    assert len(items) == 1, items
    return items[0]


def test_a_bad_review_opens_a_follow_up_owned_by_the_clerk_due_in_working_days(api, rate_at_window):
    rate_at_window(2)
    f = only(api)
    assert f["state"] == "open" and f["owner"]["job_no"] == "101" and f["owner"]["name"] == "张*三"
    assert f["due_date"] == "2026-11-30"  # Monday + 5 working days
    assert f["reasons"] == ["slow"] and not f["overdue"]


def test_good_reviews_open_nothing(api, rate_at_window):
    rate_at_window(3)
    assert api.ok("get", "/followups?which=all", as_="900") == []


def test_verify_fix_report_back_closes_it(api, rate_at_window, state):
    rate_at_window(1)
    fid = only(api)["id"]
    api.ok("post", f"/followups/{fid}/verify", {"note": "电话回访，群众反映等候过久属实", "complaint_valid": True}, as_="900")
    r = api.post(f"/followups/{fid}/report", {"note": "too early"}, as_="900")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "wrong_step"
    api.ok("post", f"/followups/{fid}/fix", {"note": "高峰时段增开潮汐窗口"}, as_="101")  # the owner records the fix
    f = api.ok("post", f"/followups/{fid}/report", {"note": "已电话告知整改情况"}, as_="900")
    assert f["state"] == "closed" and f["fixed_by"] == "staff:101" and f["closed_by"] == "staff:900"
    actions = [r[0] for r in state.db.connection().execute(
        "SELECT action FROM journal WHERE action LIKE 'followup_%' ORDER BY seq")]
    assert actions == ["followup_opened", "followup_verified", "followup_fixed", "followup_closed"]


def test_a_complaint_that_does_not_hold_is_reported_back_without_a_fix(api, rate_at_window):
    rate_at_window(2)
    fid = only(api)["id"]
    api.ok("post", f"/followups/{fid}/verify", {"note": "群众反映的是政策问题", "complaint_valid": False}, as_="900")
    assert api.ok("post", f"/followups/{fid}/report", {"note": "已解释政策"}, as_="900")["state"] == "closed"


def test_clerks_see_and_fix_only_their_own_and_cannot_verify(api, rate_at_window):
    rate_at_window(1)
    fid = only(api)["id"]
    assert only(api, as_="101")["id"] == fid
    assert api.ok("get", "/followups", as_="102") == []
    assert api.get(f"/followups/{fid}", as_="102").status_code == 403
    r = api.post(f"/followups/{fid}/verify", {"note": "x", "complaint_valid": True}, as_="101")
    assert r.status_code == 403
    api.ok("post", f"/followups/{fid}/verify", {"note": "属实", "complaint_valid": True}, as_="900")
    r = api.post(f"/followups/{fid}/fix", {"note": "x"}, as_="102")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_your_review"


def test_open_past_the_due_date_is_overdue(api, rate_at_window, clock):
    rate_at_window(1)
    clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=CHINA))  # after Monday 30 November
    f = only(api, which="overdue")
    assert f["overdue"] is True
    assert api.ok("get", "/hall/live", as_="900")["attention"]["followups_overdue"] == 1


def test_the_deadline_counts_working_days_from_config(api, rate_at_window, state):
    state.hall.config.ratings = dataclasses.replace(state.hall.config.ratings, followup_workdays=15)
    rate_at_window(2)
    assert only(api)["due_date"] == "2026-12-14"  # 15 working days after Monday 23 November


def test_an_upheld_appeal_closes_it_and_leaves_the_rating_out_of_satisfaction(api, rate_at_window, state, clock):
    rate_at_window(1)
    fid = only(api)["id"]
    api.ok("post", f"/followups/{fid}/appeal", {"reason": "该群众辱骂工作人员后给差评，有录像为证"}, as_="101")
    r = api.post(f"/followups/{fid}/appeal-decision", {"upheld": True, "note": "x"}, as_="101")
    assert r.status_code == 403
    with state.db.write() as conn:  # a second manager
        conn.execute("INSERT INTO staff (job_no, name, role, password_hash) SELECT '901', '钱经理', 'manager', "
                     "password_hash FROM staff WHERE job_no = '900'")
    day = clock.now().date()
    with state.db.read() as conn:
        before = statistics.report(conn, day, day, "day", day)["total"]
    assert before["bad"] == 1 and before["satisfaction"] == 0.0
    f = api.ok("post", f"/followups/{fid}/appeal-decision", {"upheld": True, "note": "查看录像属实"}, as_="901")
    assert f["state"] == "closed" and f["appeal"]["state"] == "upheld"
    with state.db.read() as conn:
        after = statistics.report(conn, day, day, "day", day)["total"]
    assert after["bad"] == 0 and after["rated"] == 0


def test_a_manager_cannot_decide_their_own_appeal(api, rate_at_window):
    rate_at_window(1)
    fid = only(api)["id"]
    api.ok("post", f"/followups/{fid}/appeal", {"reason": "恶意差评"}, as_="900")
    r = api.post(f"/followups/{fid}/appeal-decision", {"upheld": True, "note": "x"}, as_="900")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "own_appeal"
    r = api.post(f"/followups/{fid}/appeal", {"reason": "again"}, as_="101")
    assert r.get_json()["error"]["code"] == "appeal_not_possible"


def test_unknown_follow_ups_are_404(api):
    for path in ("/followups/123", "/followups/abc", "/followups/²", "/followups/①"):  # digits, but not ASCII
        r = api.get(path, as_="900")
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_followup"


def test_staff_may_ask_for_a_rating_but_never_rate(api):
    api.open_window(1, "101")
    issued = api.issue()  # the resident's ticket: its QR code holds the public id
    api.act(1, "call-next", "101")
    done = api.act(1, "complete", "101")
    assert "id" not in done["ticket"], "the public id rates the service: a clerk never sees it"
    r = api.post("/ratings", {"ticket": issued["id"], "level": 5}, as_="101")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "staff_cannot_rate"
    asked = api.ok("post", "/windows/1/rating-prompt", as_="101", status=201)
    assert asked["ticket"] == done["ticket"]["ticket"]
    api.tokens["tablet"] = TABLET
    prompt = api.ok("get", "/windows/1/rating-prompt", as_="tablet")
    assert prompt["prompted"] is True and prompt["ticket"]["ticket"] == done["ticket"]["ticket"]
    assert api.get("/windows/1/rating-prompt", as_="101").status_code == 403  # staff are not a rating device


def test_the_tablet_stops_offering_a_service_once_the_window_calls_the_next_resident(api):
    api.tokens["tablet"] = TABLET
    api.open_window(1, "101")
    api.issue()
    api.issue()
    api.act(1, "call-next", "101")
    api.act(1, "complete", "101")
    assert api.ok("get", "/windows/1/rating-prompt", as_="tablet")["ticket"] is not None
    api.act(1, "call-next", "101")
    assert api.ok("get", "/windows/1/rating-prompt", as_="tablet")["ticket"] is None


def test_once_the_next_resident_is_called_the_old_service_is_not_offered_even_when_asked_or_the_call_is_over(api):
    api.tokens["tablet"] = TABLET
    api.open_window(1, "101")
    for _ in range(4):
        api.issue()
    api.act(1, "call-next", "101")
    first = api.act(1, "complete", "101")["ticket"]["ticket"]
    api.ok("post", "/windows/1/rating-prompt", as_="101", status=201)  # the clerk asked
    assert api.ok("get", "/windows/1/rating-prompt", as_="tablet")["ticket"]["ticket"] == first
    api.act(1, "call-next", "101")  # the next resident comes to the window: asked or not, not theirs to rate
    assert api.ok("get", "/windows/1/rating-prompt", as_="tablet")["ticket"] is None
    api.act(1, "no-show", "101")  # and once that call is over (missed), still not the previous one's service
    assert api.ok("get", "/windows/1/rating-prompt", as_="tablet")["ticket"] is None
    r = api.post("/windows/1/rating-prompt", {}, as_="101")  # nor may the clerk ask for it again
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "nothing_to_rate"
    r = api.post("/windows/1/rating", {"level": 5}, as_="tablet")  # nor a pad pressed now rate it
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "nothing_to_rate"
    api.act(1, "call-next", "101")
    third = api.act(1, "complete", "101")["ticket"]["ticket"]  # a service finished now is offered again
    assert api.ok("get", "/windows/1/rating-prompt", as_="tablet")["ticket"]["ticket"] == third


def test_a_declined_rating_is_not_offered_again(api, state):
    api.tokens["tablet"] = TABLET
    api.open_window(1, "101")
    issued = api.issue()
    api.act(1, "call-next", "101")
    done = api.act(1, "complete", "101")["ticket"]
    assert api.ok("get", "/windows/1/rating-prompt", as_="tablet")["ticket"]["ticket"] == done["ticket"]
    assert api.post("/windows/1/rating-decline", {}, as_="101").status_code == 403  # the resident's, not the clerk's
    declined = api.ok("post", "/windows/1/rating-decline", {}, as_="tablet", status=201)
    assert declined["ticket"] == done["ticket"]
    assert api.ok("get", "/windows/1/rating-prompt", as_="tablet")["ticket"] is None
    r = api.post("/windows/1/rating-prompt", {}, as_="101")  # asking again would be pressing
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "nothing_to_rate"
    r = api.post("/windows/1/rating-decline", {}, as_="tablet")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "nothing_to_rate"
    r = api.post("/windows/1/rating", {"level": 1}, as_="tablet")  # a pad pressed after 不评价 rates nothing
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "nothing_to_rate"
    assert [a for (a,) in state.db.connection().execute(
        "SELECT action FROM journal WHERE ticket = ? AND action LIKE 'rating%'", (done["ticket"],))] \
        == ["rating_declined"]
    # the resident may still rate later from the ticket's phone page (one rating, never pressed)
    assert api.ok("post", "/ratings", {"ticket": issued["id"], "level": 4}, status=201)["level"] == 4


def test_nothing_to_rate_means_no_prompt(api):
    api.open_window(1, "101")
    r = api.post("/windows/1/rating-prompt", {}, as_="101")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "nothing_to_rate"


def test_housekeeping_catches_up_on_many_bad_reviews_in_short_transactions(api, rate_at_window, state, monkeypatch):
    """An upgrade that brings follow-ups to a hall with a year of ratings must not hold the write lock for
    seconds: each round opens at most FOLLOWUPS_PER_ROUND, oldest first."""
    from queue_server import watch

    for _ in range(5):
        rate_at_window(1)
    monkeypatch.setattr(watch, "FOLLOWUPS_PER_ROUND", 2)
    w = watch.Watch(state)
    assert [w.run_once().get("followups") for _ in range(4)] == [2, 2, 1, None]
    opened = [r[0] for r in state.db.connection().execute("SELECT rating_id FROM followups ORDER BY id")]
    assert opened == sorted(opened) and len(opened) == 5
