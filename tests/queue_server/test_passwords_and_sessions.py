"""等保 2.0 identity and authentication: password complexity and age, the idle end of console sessions."""

from __future__ import annotations

import json

import pytest

from hallq.demo import DEMO_PASSWORD
from hallq.passwords import password_problem

STRONG = "Window-2026"


@pytest.mark.parametrize("password, why", [
    ("Wi-26", "three kinds"),            # too short
    ("windowpass", "three kinds"),
    ("WINDOW2026", "three kinds"),
    ("Zhou-120-x", "job number"),        # the account's own job number
    ("Zhou-021-x", "job number"),        # or backwards
    ("P@ssw0rd123", "tried first"),
    ("Admin@123", "tried first"),
    ("1qaz@WSX", "tried first"),
    ("Aa123456!", "tried first"),
    ("Woaini520!", "tried first"),
    ("Hallq-Demo1", "tried first"),
])
def test_weak_passwords_are_refused_with_their_reason(api, password, why):
    r = api.post("/accounts", {"job_no": "120", "name": "周新", "role": "staff", "password": password}, as_="900")
    body = r.get_json()["error"]
    assert r.status_code == 422 and body["code"] == "weak_password", password
    assert why in body["messages"]["en"]
    assert all(body["messages"][lang] for lang in ("zh-Hans", "zh-Hant", "en"))


@pytest.mark.parametrize("password", ["window-2026", "Window-2026", "Badminton-77", "zhou.XIN.88", "长城-Great-1"])
def test_three_kinds_without_a_common_word_pass(password):
    assert password_problem(password, "120") is None  # lowercase, digits and a symbol are three kinds too


def test_an_old_password_must_be_changed_before_anything_else(api, state, clock):
    api.ok("post", "/accounts", {"job_no": "120", "name": "周新", "role": "staff", "password": STRONG}, as_="900",
           status=201)
    api.login("120", STRONG)
    api.ok("post", "/auth/password", {"current": STRONG, "new": "Another-2026"}, as_="120")
    clock.advance(89 * 86400)
    r = api.client.post("/api/v1/auth/login", json={"job_no": "120", "password": "Another-2026"})
    assert r.status_code == 200 and r.get_json()["must_change_password"] is False
    clock.advance(2 * 86400)  # 91 days after the change
    r = api.client.post("/api/v1/auth/login", json={"job_no": "120", "password": "Another-2026"})
    assert r.status_code == 200 and r.get_json()["must_change_password"] is True
    expired = [json.loads(x["data"]) for x in state.db.connection().execute(
        "SELECT data FROM journal WHERE action = 'password_expired'")]
    assert [(e["job_no"], e["max_age_days"]) for e in expired] == [("120", 90)]
    # the flag a reset sets: the API and the consoles let this session do nothing but change it
    api.tokens["120"] = r.get_json()["token"]
    r = api.get("/windows/1/queue", as_="120")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "password_change_required"
    from tests.web.test_console_pages import login
    client, page = login(api.client.application, "120", "Another-2026")
    assert client.get("/console/windows").headers["Location"].endswith("/console/password")
    api.ok("post", "/auth/password", {"current": "Another-2026", "new": "Third-2026x"}, as_="120")
    r = api.client.post("/api/v1/auth/login", json={"job_no": "120", "password": "Third-2026x"})
    assert r.get_json()["must_change_password"] is False


def test_a_password_from_hall_toml_ages_from_when_the_file_set_it(api, clock):
    clock.advance(91 * 86400)
    r = api.client.post("/api/v1/auth/login", json={"job_no": "101", "password": DEMO_PASSWORD})
    assert r.status_code == 200 and r.get_json()["must_change_password"] is True


def test_a_console_session_ends_after_thirty_minutes_unused(app, state, clock):
    from tests.web.test_roles import Browser

    b = Browser(app, "900")
    clock.advance(29 * 60)
    assert b.client.get("/manager/accounts").status_code == 200  # used: the half hour starts again
    clock.advance(29 * 60)
    assert b.client.get("/api/v1/live", headers={"X-Hallq-Background": "1"}).status_code == 200
    clock.advance(2 * 60)  # 31 minutes after the last use; the page's own refresh did not count
    r = b.client.get("/api/v1/live", headers={"X-Hallq-Background": "1"})
    assert r.status_code == 401
    assert b.client.get("/manager/accounts").status_code == 302  # to the sign-in page
    ended = [json.loads(x["data"]) for x in state.db.connection().execute(
        "SELECT data FROM journal WHERE action = 'session_ended'")]
    assert [(e["job_no"], e["reason"]) for e in ended] == [("900", "idle")]


def test_api_tokens_keep_only_the_twelve_hour_limit(api, clock):
    api.login("900")
    clock.advance(3 * 3600)
    assert api.get("/accounts", as_="900").status_code == 200
    clock.advance(9 * 3600)
    assert api.get("/accounts", as_="900").status_code == 401


def test_guessing_the_current_password_through_a_stolen_session_is_slowed_like_a_sign_in(api, state):
    """A password change checks the current one as a sign-in does: wrong ones count and start the same delay."""
    api.login("101")
    for _ in range(5):  # sign_in_free_failures: five free tries for a (client, account)
        r = api.post("/auth/password", {"current": "not-it", "new": "Another-2026"}, as_="101")
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "bad_password"
    r = api.post("/auth/password", {"current": DEMO_PASSWORD, "new": "Another-2026"}, as_="101")
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "too_many_attempts"  # even the right one waits
    actions = [row[0] for row in state.db.connection().execute(
        "SELECT action FROM journal WHERE action = 'password_check_failed'")]
    assert len(actions) == 5
