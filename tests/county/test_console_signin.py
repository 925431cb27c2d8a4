"""The platform's sign-in is throttled as a hall's (hallq/throttle.py), on a real PostgreSQL: a flood of wrong
passwords from one address is refused before any password is checked (429 in the API's one error shape with
Retry-After; the sign-in page says how long), while the account's owner signs in from their own address, and,
once the wait is over, from the flooded one too; a sweep over many usernames from one address is held back by
the address's own counter, which a user known at that address is not."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from county import console_web
from county.app import create_app
from hallq.demo import DEMO_PASSWORD
from tests.county.conftest import console_login, sql
from tests.county.test_console import make_county

FREE, PER_CLIENT = 3, 6


@pytest.fixture
def cfg(county_db, tmp_path):
    return make_county(county_db, tmp_path, f"""
[security]
sign_in_free_failures = {FREE}
sign_in_free_failures_per_client = {PER_CLIENT}
sign_in_first_delay_seconds = 60
sign_in_max_delay_minutes = 30
""")


def login(client, addr: str, username: str = "sup", password: str = "wrong"):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def test_a_flood_is_refused_and_the_owner_still_signs_in(cfg):
    c = create_app(cfg, ingest=False).test_client()
    for _ in range(FREE):
        r = login(c, "10.0.0.9")
        assert r.status_code == 401 and r.get_json() == {"error": {"status": 401, "code": "bad_login"}}
    flood = [login(c, "10.0.0.9") for _ in range(40)] + [login(c, "10.0.0.9", password=DEMO_PASSWORD)]
    assert {r.status_code for r in flood} == {429}  # the right password too: refused before it is checked
    body = flood[-1].get_json()
    assert body["error"]["status"] == 429 and body["error"]["code"] == "too_many_attempts"
    assert 58 <= body["error"]["detail"]["retry_after_seconds"] <= 60
    assert flood[-1].headers["Retry-After"] == str(body["error"]["detail"]["retry_after_seconds"])
    # refused attempts are not counted: the counter stands at the failures that were checked
    pair = sql(cfg.database_url, "SELECT failures FROM sign_in_throttles WHERE client = '10.0.0.9' AND username = 'sup'")
    assert pair == [{"failures": FREE}]
    # the owner, from their own machine, is not refused because of someone else's guesses
    r = login(c, "10.0.0.20", password=DEMO_PASSWORD)
    assert r.status_code == 200 and r.get_json()["role"] == "supervisor"
    # the wait over (its end moved to now, as the clock would), the flooded address signs in again
    sql(cfg.database_url, "UPDATE sign_in_throttles SET refused_until = now() - interval '1 second' "
                          "WHERE client = '10.0.0.9'")
    assert login(c, "10.0.0.9", password=DEMO_PASSWORD).status_code == 200
    journal = [(r["action"], r["data"]["username"], r["data"].get("reason"))
               for r in sql(cfg.database_url, "SELECT action, data FROM audit ORDER BY id")]
    assert journal == [("sign_in_throttled", "sup", None), ("sign_in_throttle_ended", "sup", "signed_in")]
    assert all("password" not in str(r["data"]) for r in sql(cfg.database_url, "SELECT data FROM audit"))


def test_a_sweep_over_usernames_is_held_back_by_the_address_but_not_a_user_known_there(cfg):
    c = create_app(cfg, ingest=False).test_client()
    assert login(c, "10.0.0.7", password=DEMO_PASSWORD).status_code == 200  # sup signs in from here every day
    codes = [login(c, "10.0.0.7", username=f"guess{i}").status_code for i in range(PER_CLIENT + 3)]
    assert codes == [401] * PER_CLIENT + [429] * 3
    assert login(c, "10.0.0.7", username="someone").status_code == 429
    assert login(c, "10.0.0.7", password=DEMO_PASSWORD).status_code == 200  # known at this address


def test_a_name_that_is_no_account_is_never_written_down(cfg):
    """What was typed as a username that names no account (a password typed in the wrong box) reaches neither the
    audit journal nor the supervisors' list of throttles; an account's own name still does."""
    c = create_app(cfg, ingest=False).test_client()
    typed = "Hall-2026!pw"
    assert [login(c, "10.0.0.8", username=typed).status_code for _ in range(FREE + 1)] == [401] * FREE + [429]
    audit = sql(cfg.database_url, "SELECT action, data FROM audit ORDER BY id")
    assert [(r["action"], r["data"]["username"], r["data"].get("unknown_account")) for r in audit] == [
        ("sign_in_throttled", None, True)]
    assert typed not in str(audit)
    kept = [r["username"] for r in sql(cfg.database_url, "SELECT username FROM sign_in_throttles WHERE client = '10.0.0.8'")]
    assert typed not in str(kept) and sorted(len(k) for k in kept) == [0, 33]  # the address's counter, and a hash
    sup = create_app(cfg, ingest=False).test_client()
    assert login(sup, "10.0.0.30", password=DEMO_PASSWORD).status_code == 200
    token = login(sup, "10.0.0.31", password=DEMO_PASSWORD).get_json()["token"]
    listed = sup.get("/api/v1/sign-in/throttles", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [t for t in listed["throttles"] if t["client"] == "10.0.0.8"] == []
    for _ in range(FREE):
        login(c, "10.0.0.8")  # the supervisor's own name: named, as before
    listed = sup.get("/api/v1/sign-in/throttles", headers={"Authorization": f"Bearer {token}"}).get_json()
    names = [t["username"] for t in listed["throttles"] if t["client"] == "10.0.0.8"]
    assert "sup" in names and typed not in str(listed)  # (and the address's counter over every account, None)


def test_attempts_from_one_client_are_checked_one_at_a_time_across_processes(cfg):
    """Sent together, attempts from one address all passed the throttle's check before any failure was counted, so
    a client could try more passwords than the free ones. While one is checked (here: its lock held by another
    process's connection), another from that address is refused at once, 503 sign_in_busy, counted nowhere."""
    from county import db as county_db
    from county import signin

    c = create_app(cfg, ingest=False).test_client()
    other = county_db.connect(cfg.database_url, autocommit=True)  # another platform process, checking 10.0.0.5
    try:
        with signin.one_at_a_time(other, "10.0.0.5"):
            r = login(c, "10.0.0.5")
            assert r.status_code == 503 and r.get_json() == {"error": {"status": 503, "code": "sign_in_busy"}}
            assert r.headers["Retry-After"] == "1"
            page = console_login(c, "sup", "wrong",
                          environ_base={"REMOTE_ADDR": "10.0.0.5"})
            assert page.status_code == 503 and "正在处理其他登录" in page.get_data(as_text=True)
            assert login(c, "10.0.0.6").status_code == 401  # another address is not held up
    finally:
        other.close()
    assert sql(cfg.database_url, "SELECT failures FROM sign_in_throttles WHERE client = '10.0.0.5'") == []
    assert login(c, "10.0.0.5").status_code == 401  # released: checked and counted as usual


def test_the_sign_in_page_says_how_long_to_wait(cfg):
    c = create_app(cfg, ingest=False).test_client()
    for _ in range(FREE):
        r = console_login(c, "sup", "wrong",
                   environ_base={"REMOTE_ADDR": "10.0.0.5"})
        assert r.status_code == 401
    r = console_login(c, "sup", DEMO_PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.5"}, query_string={"lang": "zh-Hans"})
    page = r.get_data(as_text=True)
    assert r.status_code == 429 and "登录失败次数过多" in page and "秒后再试" in page and "Retry-After" in r.headers
    assert not any(h.startswith("hallq_county=") for h in r.headers.getlist("Set-Cookie"))  # no session
    r = console_login(c, "sup", DEMO_PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.6"}, query_string={"lang": "en"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/")


PROXY = "10.0.0.2"  # the platform's nginx


@pytest.fixture
def behind_proxy(county_db, tmp_path):
    return make_county(county_db, tmp_path, f"""
[security]
trusted_proxies = ["{PROXY}"]
sign_in_free_failures = {FREE}
sign_in_free_failures_per_client = {PER_CLIENT}
""")


def via(client, forwarded_for: str, peer: str = PROXY, password: str = "wrong"):
    return client.post("/api/v1/auth/login", json={"username": "sup", "password": password},
                       environ_base={"REMOTE_ADDR": peer}, headers={"X-Forwarded-For": forwarded_for})


def test_behind_a_trusted_proxy_each_client_is_counted_at_its_own_address(behind_proxy):
    """Every request reaches the platform from its nginx: without trusted_proxies a guesser would lock every
    supervisor out; with it the guesser's own address is throttled, and what it writes in the header is not taken."""
    c = create_app(behind_proxy, ingest=False).test_client()
    # the guesser writes an address of its own choosing in front; nginx appends the one it saw
    codes = [via(c, "10.0.0.20, 192.168.5.9").status_code for _ in range(FREE + 2)]
    assert codes == [401] * FREE + [429] * 2
    clients = sql(behind_proxy.database_url, "SELECT DISTINCT client FROM sign_in_throttles")
    assert clients == [{"client": "192.168.5.9"}], "counted at the proxy's or a forged address"
    # the supervisor at 10.0.0.20, through the same proxy, is not refused for the guesser's attempts
    r = via(c, "10.0.0.20", password=DEMO_PASSWORD)
    assert r.status_code == 200 and r.get_json()["role"] == "supervisor"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_choose_its_address(behind_proxy):
    c = create_app(behind_proxy, ingest=False).test_client()
    codes = [via(c, f"172.16.0.{i}", peer="192.168.7.7").status_code for i in range(FREE + 1)]
    assert codes == [401] * FREE + [429], "a new X-Forwarded-For each time escaped the throttle"
    assert sql(behind_proxy.database_url, "SELECT DISTINCT client FROM sign_in_throttles") == [{"client": "192.168.7.7"}]


def test_a_trusted_proxy_that_is_not_an_address_is_refused_at_start(county_db, tmp_path):
    from county.config import CountyConfigError

    with pytest.raises(CountyConfigError, match=r"security\.trusted_proxies\[1\].*neither an address"):
        make_county(county_db, tmp_path, '[security]\ntrusted_proxies = ["10.0.0.0/24", "10.0.0.300"]\n')


def console_session(c, addr: str, username: str = "sup"):
    r = console_login(c, username, DEMO_PASSWORD,
               environ_base={"REMOTE_ADDR": addr})
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/")


def test_a_supervisor_sees_the_throttles_in_force_and_lifts_one(cfg):
    c = create_app(cfg, ingest=False).test_client()
    for _ in range(FREE + 1):
        login(c, "10.0.0.9")  # someone at 10.0.0.9 guessing sup's password: throttled, then refused
    assert login(c, "10.0.0.9", password=DEMO_PASSWORD).status_code == 429
    console_session(c, "10.0.0.20")
    page = c.get("/console/sign-ins?lang=zh-Hans").get_data(as_text=True)
    row = re.search(r'<tr data-client="10.0.0.9" data-account="sup">.*?</tr>', page, re.S)
    assert row and f"<td class=\"num\">{FREE}</td>" in row.group(0) and "前拒绝登录" in row.group(0)
    assert "登录限制" in page and f"输错密码{FREE}次后" in page  # the rule, with this county's numbers
    # on the county's clock (Asia/Shanghai), whatever zone PostgreSQL's session reads timestamps in
    since = sql(cfg.database_url, "SELECT throttled_since FROM sign_in_throttles WHERE client = '10.0.0.9' "
                                  "AND username = 'sup'")[0]["throttled_since"]
    shown = since.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%m-%d %H:%M")
    assert f"<td>{shown}</td>" in row.group(0), (shown, row.group(0))
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    # without the session's CSRF token nothing is lifted
    r = c.post("/console/sign-ins/lift", data={"client": "10.0.0.9", "username": "sup"})
    assert r.status_code == 403
    r = c.post("/console/sign-ins/lift", data={"client": "10.0.0.9", "username": "sup", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"].endswith("/console/sign-ins")
    assert 'data-client="10.0.0.9"' not in c.get("/console/sign-ins").get_data(as_text=True)
    assert login(c, "10.0.0.9", password=DEMO_PASSWORD).status_code == 200  # the owner, at that address, again
    ended = sql(cfg.database_url, "SELECT actor, data FROM audit WHERE action = 'sign_in_throttle_ended'")
    assert [(e["actor"], e["data"]["reason"], e["data"]["client"]) for e in ended] == [("sup", "lifted", "10.0.0.9")]
    # lifted twice (another supervisor's page was older): said so, nothing journaled twice
    r = c.post("/console/sign-ins/lift", data={"client": "10.0.0.9", "username": "sup", "csrf_token": csrf})
    assert r.status_code == 409 and "该登录限制已不存在" in r.get_data(as_text=True)
    assert len(sql(cfg.database_url, "SELECT 1 FROM audit WHERE action = 'sign_in_throttle_ended'")) == 1


def test_a_hall_manager_may_not_see_or_lift_throttles(cfg):
    app = create_app(cfg, ingest=False)
    c = app.test_client()
    for _ in range(FREE):
        login(c, "10.0.0.9")
    console_session(c, "10.0.0.30", username="mgr-b")
    assert c.get("/console/sign-ins").status_code == 403
    assert "/console/sign-ins" not in c.get("/console/").get_data(as_text=True)  # not in their menu
    with app.app_context():  # their session's own CSRF token: refused for the role, not for a missing token
        token = console_web.csrf_token(c.get_cookie(console_web.COOKIE).value)
    r = c.post("/console/sign-ins/lift", data={"client": "10.0.0.9", "username": "sup", "csrf_token": token})
    assert r.status_code == 403 and "无权" in r.get_data(as_text=True)  # (a bad token says the page expired)
    assert sql(cfg.database_url, "SELECT throttled_since IS NOT NULL AS on FROM sign_in_throttles "
                                 "WHERE client = '10.0.0.9' AND username = 'sup'") == [{"on": True}]


def test_a_supervisor_lists_and_lifts_throttles_over_the_api(cfg):
    c = create_app(cfg, ingest=False).test_client()
    for _ in range(FREE + 1):
        login(c, "10.0.0.9")
    token = login(c, "10.0.0.20", password=DEMO_PASSWORD).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    throttles = c.get("/api/v1/sign-in/throttles", headers=headers).get_json()["throttles"]
    mine = [t for t in throttles if t["client"] == "10.0.0.9" and t["username"] == "sup"]
    assert len(mine) == 1 and mine[0]["failures"] == FREE and mine[0]["refusing"] is True  # the last refused unchecked
    assert mine[0]["since"] and mine[0]["refused_until"]  # ISO times, as every time the API answers
    # a body that is not a throttle's pair: refused in the one shape, nothing lifted
    for bad in ({}, {"client": ""}, {"client": "x" * 65}, {"client": "10.0.0.9", "username": 7}, []):
        r = c.post("/api/v1/sign-in/throttles/lift", json=bad, headers=headers)
        assert r.status_code == 400 and r.get_json() == {"error": {"status": 400, "code": "invalid_fields"}}, bad
    assert login(c, "10.0.0.9", password=DEMO_PASSWORD).status_code == 429
    r = c.post("/api/v1/sign-in/throttles/lift", json={"client": "10.0.0.9", "username": "sup"}, headers=headers)
    assert r.status_code == 200 and r.get_json() == {"lifted": {"client": "10.0.0.9", "username": "sup"}}
    assert login(c, "10.0.0.9", password=DEMO_PASSWORD).status_code == 200
    # lifted again: none in force, said so, journaled once
    r = c.post("/api/v1/sign-in/throttles/lift", json={"client": "10.0.0.9", "username": "sup"}, headers=headers)
    assert r.status_code == 404 and r.get_json() == {"error": {"status": 404, "code": "unknown_throttle"}}
    ended = sql(cfg.database_url, "SELECT actor, data FROM audit WHERE action = 'sign_in_throttle_ended'")
    assert [(e["actor"], e["data"]["reason"]) for e in ended] == [("sup", "lifted")]


def test_a_sign_in_not_sent_by_the_consoles_own_form_is_refused_unchecked(cfg):
    """A page of another site could post wrong passwords from the supervisor's own browser (throttling their address)
    or sign them in as someone else: without the form's double-submit token, or with a foreign Origin, an attempt is
    refused before its password is checked and is not counted."""
    c = create_app(cfg, ingest=False).test_client()
    forged = [c.post("/console/login", data={"username": "sup", "password": "wrong"},
                     environ_base={"REMOTE_ADDR": "10.0.0.5"}) for _ in range(FREE + 3)]
    forged.append(console_login(c, "sup", "wrong", environ_base={"REMOTE_ADDR": "10.0.0.5"},
                                headers={"Origin": "https://evil.example"}))
    assert {r.status_code for r in forged} == {403}
    assert "页面已过期" in forged[0].get_data(as_text=True)
    assert sql(cfg.database_url, "SELECT failures FROM sign_in_throttles WHERE client = '10.0.0.5'") == []
    r = console_login(c, "sup", DEMO_PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert r.status_code == 302  # the owner, from the same address: not held back by the forged attempts


def test_behind_a_tls_proxy_the_consoles_forms_work_and_its_cookies_are_secure(county_db, tmp_path):
    """nginx ends TLS and forwards plain HTTP: the browser's Origin says https, the request arrives as http. Only the
    host is compared, and the session cookie is Secure when a trusted proxy says the client spoke HTTPS."""
    cfg = make_county(county_db, tmp_path, '[security]\ntrusted_proxies = ["10.0.0.1"]\n')
    app = create_app(cfg, ingest=False)
    c = app.test_client()
    proxy = {"environ_base": {"REMOTE_ADDR": "10.0.0.1"}, "base_url": "http://county.example",
             "headers": {"Origin": "https://county.example", "X-Forwarded-Proto": "https",
                         "X-Forwarded-For": "192.168.3.7"}}
    r = console_login(c, "sup", DEMO_PASSWORD, **proxy)
    assert r.status_code == 302
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    token = re.search(r"hallq_county=([^;]+)", r.headers["Set-Cookie"]).group(1)
    c.set_cookie(console_web.COOKIE, token, domain="county.example")  # as the browser sends it (HTTPS to the proxy)
    assert c.get("/console/sign-ins", **proxy).status_code == 200
    with app.app_context():
        csrf = console_web.csrf_token(token)
    r = c.post("/console/sign-ins/lift", data={"csrf_token": csrf, "client": "10.0.0.8", "username": "sup"}, **proxy)
    assert r.status_code != 403 and "无权" not in r.get_data(as_text=True)  # the https Origin is this site
    r = c.post("/console/sign-ins/lift", data={"csrf_token": csrf, "client": "10.0.0.8", "username": "sup"},
               **{**proxy, "headers": {**proxy["headers"], "Origin": "https://evil.example"}})
    assert r.status_code == 403
    # a proxy the platform does not trust cannot make a plain-HTTP cookie Secure, nor is the header believed
    c2 = create_app(cfg, ingest=False).test_client()
    r = console_login(c2, "sup", DEMO_PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.9"},
                      base_url="http://county.example", headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 302 and "Secure" not in r.headers["Set-Cookie"]
