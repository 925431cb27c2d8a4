"""The platform's sessions end as a hall's do (county/sessions.py), on a real PostgreSQL: a console session unused for
``[security] session_idle_minutes`` is ended at its next request (等保 2.0: 登录连接超时自动退出), journaled in
``audit``; one in use is kept, its last use written at most once a minute; an API bearer token keeps only its 12 hours;
signing out deletes the session on the platform. Time is moved by moving the stored last use back, as the clock
would."""

from __future__ import annotations

import pytest

from county.app import create_app
from county.config import CountyConfigError
from county.console_web import COOKIE
from county.sessions import sha
from hallq.demo import DEMO_PASSWORD
from tests.county.conftest import console_login, sql
from tests.county.test_console import make_county


@pytest.fixture
def cfg(county_db, tmp_path):
    return make_county(county_db, tmp_path, "[security]\nsession_idle_minutes = 15\n")


def console_client(cfg):
    c = create_app(cfg, ingest=False).test_client()
    r = console_login(c, "sup", DEMO_PASSWORD)
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/")
    return c, c.get_cookie(COOKIE).value


def idle_for(cfg, token: str, minutes: float) -> None:
    sql(cfg.database_url, "UPDATE sessions SET last_seen_at = now() - make_interval(secs => %s) "
                          "WHERE token_sha256 = %s", (minutes * 60, sha(token)))


def last_seen_age(cfg, token: str) -> float:
    rows = sql(cfg.database_url, "SELECT extract(epoch FROM now() - last_seen_at) AS age FROM sessions "
                                 "WHERE token_sha256 = %s", (sha(token),))
    return float(rows[0]["age"])


def test_a_console_session_unused_too_long_ends_at_its_next_request(cfg):
    c, token = console_client(cfg)
    assert c.get("/console/").status_code == 200
    idle_for(cfg, token, 15.5)
    r = c.get("/console/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/login")
    assert sql(cfg.database_url, "SELECT 1 FROM sessions WHERE token_sha256 = %s", (sha(token),)) == []
    ended = sql(cfg.database_url, "SELECT actor, action, data FROM audit WHERE action = 'session_ended'")
    assert [(e["actor"], e["data"]["reason"]) for e in ended] == [("sup", "idle")]
    # the same token as a bearer token of the API is refused too: it is the same session
    assert c.get("/api/v1/halls", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_console_session_in_use_is_kept_and_its_use_written_at_most_once_a_minute(cfg):
    c, token = console_client(cfg)
    idle_for(cfg, token, 14)  # just within the limit: this request keeps it, and counts as its use
    assert c.get("/console/").status_code == 200
    assert last_seen_age(cfg, token) < 5
    idle_for(cfg, token, 0.5)  # used half a minute ago: not written again
    assert c.get("/console/").status_code == 200
    assert 25 < last_seen_age(cfg, token) < 40
    idle_for(cfg, token, 14)
    assert c.get("/console/").status_code == 200  # the session lives on, 14 minutes after the last use written
    assert sql(cfg.database_url, "SELECT 1 FROM audit WHERE action = 'session_ended'") == []


def test_an_api_token_keeps_only_its_twelve_hours(cfg):
    c = create_app(cfg, ingest=False).test_client()
    token = c.post("/api/v1/auth/login", json={"username": "sup", "password": DEMO_PASSWORD}).get_json()["token"]
    assert sql(cfg.database_url, "SELECT last_seen_at FROM sessions WHERE token_sha256 = %s",
               (sha(token),)) == [{"last_seen_at": None}]
    sql(cfg.database_url, "UPDATE sessions SET created_at = now() - interval '11 hours' WHERE token_sha256 = %s",
        (sha(token),))
    assert c.get("/api/v1/halls", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    sql(cfg.database_url, "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_sha256 = %s",
        (sha(token),))
    r = c.get("/api/v1/halls", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.get_json() == {"error": {"status": 401, "code": "invalid_token"}}


def test_signing_out_ends_the_session_on_the_platform(cfg):
    c, token = console_client(cfg)
    assert c.post("/console/logout").status_code == 302
    assert sql(cfg.database_url, "SELECT 1 FROM sessions WHERE token_sha256 = %s", (sha(token),)) == []
    c.set_cookie(COOKIE, token)  # the old cookie, kept by someone: it opens nothing
    assert c.get("/console/").status_code == 302


def test_the_idle_limit_is_checked_in_the_config(county_db, tmp_path):
    with pytest.raises(CountyConfigError, match="session_idle_minutes"):
        make_county(county_db, tmp_path, "[security]\nsession_idle_minutes = 0\n")
