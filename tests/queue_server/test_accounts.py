"""Staff accounts: who may manage whom, temporary passwords, deactivation, per-IP login throttling."""

from __future__ import annotations



STRONG = "Window-2026"


def test_a_manager_creates_a_clerk_whose_first_password_must_be_changed(api):
    api.ok("post", "/accounts", {"job_no": "120", "name": "周新", "role": "staff", "password": STRONG}, as_="900",
           status=201)
    r = api.client.post("/api/v1/auth/login", json={"job_no": "120", "password": STRONG})
    assert r.status_code == 200
    accounts = {a["job_no"]: a for a in api.ok("get", "/accounts", as_="900")}
    assert accounts["120"]["must_change_password"] is True
    assert accounts["120"]["role"] == "staff"
    token = r.get_json()["token"]
    api.tokens["120"] = token
    api.ok("post", "/auth/password", {"current": STRONG, "new": "Another-2026"}, as_="120")
    accounts = {a["job_no"]: a for a in api.ok("get", "/accounts", as_="900")}
    assert accounts["120"]["must_change_password"] is False


def test_a_manager_cannot_create_or_touch_managers_but_an_administrator_can(api, admin):
    r = api.post("/accounts", {"job_no": "901", "name": "钱经理", "role": "manager", "password": STRONG}, as_="900")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "admin_only"
    api.ok("post", "/accounts", {"job_no": "901", "name": "钱经理", "role": "manager", "password": STRONG},
           as_=admin, status=201)
    r = api.post("/accounts/901/password", {"password": STRONG}, as_="900")
    assert r.get_json()["error"]["code"] == "admin_only"
    r = api.post("/accounts/101/role", {"role": "manager"}, as_="900")
    assert r.status_code == 403
    assert api.ok("post", "/accounts/101/role", {"role": "manager"}, as_=admin)["role"] == "manager"


def test_nobody_changes_their_own_role_or_deactivates_themselves(api, admin):
    r = api.post(f"/accounts/{admin}/role", {"role": "staff"}, as_=admin)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "own_account"
    r = api.post("/accounts/900/deactivate", {}, as_="900")
    assert r.get_json()["error"]["code"] == "own_account"


def test_weak_passwords_and_bad_job_numbers_are_refused(api):
    r = api.post("/accounts", {"job_no": "121", "name": "甲", "role": "staff", "password": "12345678"}, as_="900")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "weak_password"
    r = api.post("/accounts", {"job_no": "1 2", "name": "甲", "role": "staff", "password": STRONG}, as_="900")
    assert r.status_code == 400  # the schema's pattern
    r = api.post("/accounts", {"job_no": "101", "name": "甲", "role": "staff", "password": STRONG}, as_="900")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "job_no_taken"


def test_deactivating_ends_the_sessions_and_signs_the_clerk_out_of_the_window(api, state):
    api.open_window(1, "101")
    api.ok("post", "/accounts/101/deactivate", as_="900")
    r = api.get("/windows/1/queue", as_="101")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"
    window = api.ok("get", "/windows/1")
    assert window["staff"] is None and window["state"] == "closed"
    r = api.client.post("/api/v1/auth/login", json={"job_no": "101", "password": "hallq-demo"})
    assert r.status_code == 401
    api.ok("post", "/accounts/101/activate", as_="900")
    assert api.client.post("/api/v1/auth/login", json={"job_no": "101", "password": "hallq-demo"}).status_code == 200


def test_a_clerk_with_a_ticket_in_hand_is_not_deactivated(api):
    api.open_window(1, "101")
    api.issue()
    api.act(1, "call-next", "101")
    r = api.post("/accounts/101/deactivate", {}, as_="900")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "window_busy"


def test_a_reset_lifts_the_throttle_and_ends_old_sessions(api):
    api.login("101")
    for _ in range(5):
        api.client.post("/api/v1/auth/login", json={"job_no": "101", "password": "wrong"})
    r = api.client.post("/api/v1/auth/login", json={"job_no": "101", "password": "hallq-demo"})
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "too_many_attempts"
    api.ok("post", "/accounts/101/password", {"password": STRONG}, as_="900")
    assert api.get("/auth/me", as_="101").status_code == 401  # the old session is gone
    assert api.client.post("/api/v1/auth/login", json={"job_no": "101", "password": STRONG}).status_code == 200


def test_a_password_change_ends_the_other_sessions_and_a_reset_all_of_them(api):
    def me(token):
        return api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})

    here, elsewhere = api.login("101"), api.login("101")  # two sessions of one account
    api.tokens["101"] = here
    changed = api.ok("post", "/auth/password", {"current": "hallq-demo", "new": STRONG}, as_="101")
    assert changed["other_sessions_ended"] == 1
    assert me(here).status_code == 200  # where the change was made: still signed in
    r = me(elsewhere)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"

    manager = api.login("900")
    api.ok("post", "/accounts/101/password", {"password": "Reset-2026x"}, as_="900")
    assert me(here).status_code == 401  # a reset ends every session of the account...
    assert me(manager).status_code == 200  # ...and none of whoever reset it


def test_every_account_change_is_journaled_without_the_password(api, state):
    api.ok("post", "/accounts", {"job_no": "122", "name": "孙丽", "role": "staff", "password": STRONG}, as_="900",
           status=201)
    api.ok("post", "/accounts/122/password", {"password": "Reset-2026x"}, as_="900")
    rows = state.db.connection().execute(
        "SELECT actor, action, data FROM journal WHERE action IN ('account_created', 'password_reset')").fetchall()
    assert [(r["actor"], r["action"]) for r in rows] == [("staff:900", "account_created"), ("staff:900", "password_reset")]
    assert all(STRONG not in r["data"] and "Reset-2026x" not in r["data"] for r in rows)


def test_too_many_failures_from_one_address_slow_that_address_not_the_accounts(api):
    """The client's counter (20 by default) refuses its next attempts, whichever account; the same
    accounts sign in from another address at once (tests/queue_server/test_sign_in_throttle.py has more)."""
    for i in range(20):
        r = api.client.post("/api/v1/auth/login", json={"job_no": f"9{i:02d}", "password": "wrong"})
        assert r.status_code == 401
    r = api.client.post("/api/v1/auth/login", json={"job_no": "900", "password": "hallq-demo"})
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "too_many_attempts"
    assert int(r.headers["Retry-After"]) == 60
    other = api.client.post("/api/v1/auth/login", json={"job_no": "900", "password": "hallq-demo"},
                            environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200
