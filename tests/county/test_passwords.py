"""The platform's accounts change their own passwords (county/passwords.py), on a real PostgreSQL: a temporary password
from county.toml, or one past ``[security] password_max_age_days``, opens nothing but the change (the API: 403
``password_change_required``; the console: the form, from every page); the change checks the current password as a
sign-in does, the new one by the halls' rules, ends the other sessions and is audited; the file's next sync keeps the
owner's password until the file gives another hash, which resets it and ends the account's sessions."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher

from county import db as cdb
from county import registry
from county.app import create_app
from county.config import load_county
from county.console_web import COOKIE
from hallq.demo import DEMO_PASSWORD
from tests.county.conftest import console_login, sql
from tests.county.test_console import make_county

NEW = "Oversee-County-27"
FREE = 3


@pytest.fixture
def cfg(county_db, tmp_path):
    c = make_county(county_db, tmp_path, f"[security]\nsign_in_free_failures = {FREE}\n")
    return resync(c, lambda text: text.replace('role = "supervisor"\n', 'role = "supervisor"\ntemporary_password = true\n'))


def resync(cfg, edit):
    """county.toml edited by ``edit`` and synced, as ``hallq platform serve`` does at every start."""
    cfg.path.write_text(edit(cfg.path.read_text(encoding="utf-8")), encoding="utf-8")
    fresh = load_county(cfg.path, database_url=cfg.database_url)
    with cdb.connect(cfg.database_url) as conn:
        registry.sync(conn, fresh)
    return fresh


def api_login(c, password: str = DEMO_PASSWORD, username: str = "sup", addr: str = "10.0.0.5"):
    return c.post("/api/v1/auth/login", json={"username": username, "password": password},
                  environ_base={"REMOTE_ADDR": addr})


def change(c, token: str, current: str, new: str, addr: str = "10.0.0.5"):
    return c.post("/api/v1/auth/password", json={"current": current, "new": new},
                  headers={"Authorization": f"Bearer {token}"}, environ_base={"REMOTE_ADDR": addr})


def halls(c, token: str):
    return c.get("/api/v1/halls", headers={"Authorization": f"Bearer {token}"})


def audit(cfg) -> list[tuple[str, str]]:
    return [(r["actor"], r["action"]) for r in sql(cfg.database_url, "SELECT actor, action FROM audit ORDER BY id")]


def test_a_temporary_password_opens_nothing_but_its_change(cfg):
    c = create_app(cfg, ingest=False).test_client()
    first = api_login(c).get_json()
    assert first["must_change_password"] is True
    r = halls(c, first["token"])
    assert r.status_code == 403 and r.get_json() == {"error": {"status": 403, "code": "password_change_required"}}
    other = api_login(c).get_json()["token"]  # a second session, elsewhere
    refusals = [("short1A", "too_simple"), ("P@ssw0rd123", "common"), ("Xsup-2027z", "contains_username")]
    for new, reason in refusals:
        r = change(c, first["token"], DEMO_PASSWORD, new)
        assert r.status_code == 422, new
        assert r.get_json() == {"error": {"status": 422, "code": "weak_password", "detail": {"reason": reason}}}
    r = change(c, first["token"], "not-the-password", NEW)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "bad_password"
    r = change(c, first["token"], DEMO_PASSWORD, NEW)
    assert r.status_code == 200 and r.get_json() == {"username": "sup", "must_change_password": False}
    assert halls(c, first["token"]).status_code == 200  # the session it was made in stays
    r = change(c, first["token"], NEW, NEW)
    assert r.get_json() == {"error": {"status": 422, "code": "weak_password", "detail": {"reason": "same_as_current"}}}
    assert halls(c, other).status_code == 401  # every other one ended
    assert api_login(c, DEMO_PASSWORD).status_code == 401
    again = api_login(c, NEW).get_json()
    assert again["must_change_password"] is False and halls(c, again["token"]).status_code == 200
    assert ("sup", "password_check_failed") in audit(cfg) and ("sup", "password_changed") in audit(cfg)
    stored = sql(cfg.database_url, "SELECT data FROM audit")
    assert not any(p in str(stored) for p in (DEMO_PASSWORD, NEW, "not-the-password"))


def test_wrong_current_passwords_count_as_failed_sign_ins(cfg):
    c = create_app(cfg, ingest=False).test_client()
    token = api_login(c).get_json()["token"]
    codes = [change(c, token, f"guess-{i}", NEW).status_code for i in range(FREE + 2)]
    assert codes == [401] * FREE + [429] * 2
    r = change(c, token, DEMO_PASSWORD, NEW)  # the right one too: refused before it is checked
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_the_files_next_sync_keeps_the_owners_password_until_it_gives_another(cfg):
    c = create_app(cfg, ingest=False).test_client()
    token = api_login(c).get_json()["token"]
    assert change(c, token, DEMO_PASSWORD, NEW).status_code == 200
    cfg = resync(cfg, lambda text: text)  # the same file, the platform restarted
    assert api_login(c, NEW).status_code == 200 and halls(c, token).status_code == 200
    reset = PasswordHasher().hash("Reset-by-admin-9")
    cfg = resync(cfg, lambda text: text.replace(text.split('password_hash = "')[1].split('"')[0], reset, 1))
    assert halls(c, token).status_code == 401  # the reset ended the account's sessions
    assert api_login(c, NEW).status_code == 401
    r = api_login(c, "Reset-by-admin-9")
    assert r.status_code == 200 and r.get_json()["must_change_password"] is True  # temporary, as the file says
    assert ("config", "password_reset") in audit(cfg)
    # the other account, whose entry did not change, kept its password
    assert api_login(c, username="mgr-b", addr="10.0.0.6").status_code == 200


def test_a_password_past_its_age_must_be_changed(county_db, tmp_path):
    cfg = make_county(county_db, tmp_path, "[security]\npassword_max_age_days = 90\n")
    c = create_app(cfg, ingest=False).test_client()
    token = api_login(c).get_json()["token"]
    assert halls(c, token).status_code == 200
    sql(cfg.database_url, "UPDATE accounts SET password_changed_at = now() - interval '91 days' WHERE username = 'sup'")
    assert halls(c, token).get_json()["error"]["code"] == "password_change_required"
    assert change(c, token, DEMO_PASSWORD, NEW).status_code == 200
    assert halls(c, token).status_code == 200


def test_the_console_sends_a_temporary_password_to_its_form_and_changes_it(cfg):
    c = create_app(cfg, ingest=False).test_client()
    assert console_login(c, "sup", DEMO_PASSWORD).status_code == 302
    for path in ("/console/", "/console/rankings", "/console/alerts", "/console/halls/hall-a/journal"):
        r = c.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/console/password"), path
    form = c.get("/console/password")
    assert form.status_code == 200 and "请先设置新密码" in form.text
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text).group(1)
    fields = {"csrf_token": csrf, "current": DEMO_PASSWORD, "new": NEW}
    assert c.post("/console/password", data={**fields, "repeat": NEW}, headers={"Origin": "http://evil.example"}
                  ).status_code == 403
    assert c.post("/console/password", data={**fields, "repeat": NEW, "csrf_token": "0" * 64}).status_code == 403
    r = c.post("/console/password", data={**fields, "repeat": NEW + "x"})
    assert r.status_code == 400 and "两次输入的新密码不一致" in r.text
    r = c.post("/console/password", data={**fields, "new": "Asup1234", "repeat": "Asup1234"})
    assert r.status_code == 422 and "密码不能包含用户名" in r.text
    r = c.post("/console/password?lang=en", data={**fields, "current": "wrong", "repeat": NEW})
    assert r.status_code == 401 and "The current password is not correct." in r.text
    r = c.post("/console/password", data={**fields, "repeat": NEW})
    assert r.status_code == 200 and "Your password has been changed" in r.text  # in English since ?lang=en
    assert c.get("/console/").status_code == 200
    assert NEW not in r.text and c.get_cookie(COOKIE) is not None
