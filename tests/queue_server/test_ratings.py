"""Ratings: from the resident's device only, once per case, finished services only, within the period."""

from datetime import datetime

from hallq.clock import CHINA

TABLET = "demo-tablet-1"


def serve_one(api):
    t = api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    return t


def test_a_window_tablet_rates_the_service_just_finished(api, state):
    api.tokens["tablet"] = TABLET
    t = serve_one(api)
    r = api.post("/windows/1/rating", {"level": 2, "reasons": ["slow"]}, as_="tablet")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "nothing_to_rate"  # not finished yet
    api.act(1, "complete", "101")
    rated = api.ok("post", "/windows/1/rating", {"level": 2, "reasons": ["slow"]}, as_="tablet", status=201)
    assert rated["bad"] is True and rated["ticket"] == t["ticket"] and rated["level_name"]["zh-Hans"] == "不满意"
    again = api.post("/windows/1/rating", {"level": 5}, as_="tablet")
    assert again.status_code == 404  # the pad has nothing left to rate at this window
    assert api.post("/ratings", {"ticket": t["id"], "level": 5}).get_json()["error"]["code"] == "already_rated"
    assert state.db.connection().execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 1


def test_staff_can_never_rate(api):
    t = serve_one(api)
    api.act(1, "complete", "101")
    r = api.post("/ratings", {"ticket": t["id"], "level": 5}, as_="101")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "staff_cannot_rate"
    assert api.post("/windows/1/rating", {"level": 5}, as_="101").status_code == 403


def test_a_device_rates_only_at_its_own_window(api):
    api.tokens["tablet"] = TABLET
    api.issue("beta", id_number="11010519491231002X")
    api.open_window(3, "103")
    api.act(3, "call-next", "103")
    api.act(3, "complete", "103")
    r = api.post("/windows/3/rating", {"level": 5}, as_="tablet")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_bound_here"


def test_rating_later_from_the_phone_within_the_period(api, clock):
    t = serve_one(api)
    api.act(1, "complete", "101")
    clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=CHINA))  # Friday: 4 working days later
    assert api.ok("post", "/ratings", {"ticket": t["id"], "level": 4}, status=201)["bad"] is False


def test_rating_period_over(api, clock):
    t = serve_one(api)
    api.act(1, "complete", "101")
    clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=CHINA))  # 6 working days later
    r = api.post("/ratings", {"ticket": t["id"], "level": 4})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "rating_period_over"


def test_only_finished_services_and_valid_levels(api):
    t = serve_one(api)
    assert api.post("/ratings", {"ticket": t["id"], "level": 5}).get_json()["error"]["code"] == "not_finished"
    assert api.post("/ratings", {"ticket": t["id"], "level": 6}).status_code == 400
    assert api.post("/ratings", {"ticket": "nope", "level": 5}).status_code == 404


def test_a_rating_tablet_rates_but_never_issues_numbers(api):
    api.tokens["tablet"] = TABLET
    r = api.post("/tickets", {"business": "alpha"}, as_="tablet")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


def test_a_comment_quoting_an_id_or_phone_number_is_stored_masked(api, state):
    """A bad review's comment is read by managers and the clerk concerned, and exported: never the full number."""
    t = serve_one(api)
    api.act(1, "complete", "101")
    api.ok("post", "/ratings", {"ticket": t["id"], "level": 1,
                                "comment": "窗口大声念我的身份证号520201198506151007，手机13611112222"}, status=201)
    (stored,) = state.db.connection().execute("SELECT comment FROM ratings").fetchone()
    assert stored == "窗口大声念我的身份证号520201********1007，手机136****2222"
