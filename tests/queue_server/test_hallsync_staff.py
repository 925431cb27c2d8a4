"""Staff accounts when the hall file changes (queue_server/hallsync.py): the file seeds them, the console rules them.

An account's name and role (and active) come from the file only when its own [[staff]] entry changed, so a
deactivation or a role set in the console survives an unrelated edit of the file and a restart; an account
the file seeded and no longer lists is deactivated and its sessions end; accounts created in the console are
not the file's and are left alone.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from hallq.demo import DEMO_PASSWORD, DEMO_PASSWORD_HASH
from hallq.hallconfig import load_hall
from queue_server.domain.context import Hall
from queue_server.hallsync import apply_config
from tests.conftest import TINY

STRONG = "Window-2026"


@pytest.fixture
def restart(state, tmp_path):
    """Apply an edited copy of the tiny hall's file, as the next start after the edit does."""
    count = iter(range(100))

    def apply(*edits) -> None:
        text = TINY.read_text()
        for edit in edits:
            new = edit(text)
            assert new != text, "the edit changed nothing"
            text = new
        conf = tmp_path / f"conf{next(count)}"
        conf.mkdir()
        shutil.copy(TINY.parent / "services.toml", conf / "services.toml")
        (conf / "hall.toml").write_text(text)
        assert apply_config(state.db, Hall(load_hall(conf / "hall.toml"), state.hall.clock, state.hall.secret)) is True
    return apply


def unrelated(limit: int = 6):
    """An edit that has nothing to do with staff: alpha's daily limit."""
    return lambda text: text.replace("daily_limit = 5\n", f"daily_limit = {limit}\n", 1)


def without(job_no: str):
    """The file with one [[staff]] entry removed."""
    return lambda text: re.sub(rf'\[\[staff\]\]\njob_no = "{job_no}"\n(?:[^\[\n][^\n]*\n)*\n?', "", text, count=1)


def entry(job_no: str, old: str, new: str):
    """The file with one line of a [[staff]] entry changed."""
    def edit(text: str) -> str:
        start = text.index(f'job_no = "{job_no}"')
        end = text.index("[[", start)
        return text[:start] + text[start:end].replace(old, new, 1) + text[end:]
    return edit


def can_sign_in(api, job_no: str, password: str = DEMO_PASSWORD) -> bool:
    r = api.client.post("/api/v1/auth/login", json={"job_no": job_no, "password": password})
    assert r.status_code in (200, 401), r.get_json()
    return r.status_code == 200


def staff(state, job_no: str) -> dict:
    row = state.db.connection().execute("SELECT * FROM staff WHERE job_no = ?", (job_no,)).fetchone()
    return dict(row)


def journal(state, action: str) -> list[dict]:
    rows = state.db.connection().execute("SELECT data FROM journal WHERE action = ? ORDER BY seq", (action,))
    return [json.loads(r[0]) for r in rows]


def test_a_console_deactivation_survives_an_unrelated_edit_of_the_file(api, state, restart):
    api.ok("post", "/accounts/101/deactivate", as_="900")
    assert not can_sign_in(api, "101")
    restart(unrelated())
    assert staff(state, "101")["active"] == 0
    assert not can_sign_in(api, "101")
    restart(unrelated(7))  # and the next one
    assert staff(state, "101")["active"] == 0 and not can_sign_in(api, "101")
    # an edit of the account's own entry is the file speaking about it: it wins
    restart(unrelated(7), entry("101", 'name = "张小三"', 'name = "张晓三"'))
    assert staff(state, "101")["active"] == 1 and staff(state, "101")["name"] == "张晓三"
    assert can_sign_in(api, "101")
    assert {"job_no": "101", "source": "config"} in journal(state, "account_activated")


def test_a_role_set_in_the_console_survives_an_unrelated_edit_of_the_file(api, state, restart, admin):
    assert api.ok("post", "/accounts/101/role", {"role": "manager"}, as_=admin)["role"] == "manager"
    assert api.ok("post", "/accounts/900/role", {"role": "staff"}, as_=admin)["role"] == "staff"
    restart(unrelated())
    assert staff(state, "101")["role"] == "manager"
    assert staff(state, "900")["role"] == "staff"
    r = api.client.post("/api/v1/auth/login", json={"job_no": "900", "password": DEMO_PASSWORD})
    assert r.status_code == 200 and r.get_json()["staff"]["role"] == "staff"
    # the file changes 101's role: its entry changed, so the file's role is taken
    restart(unrelated(), entry("101", 'role = "staff"', 'role = "admin"'))
    assert staff(state, "101")["role"] == "admin"
    assert staff(state, "900")["role"] == "staff"


def test_an_account_removed_from_the_file_is_deactivated_and_its_sessions_end(api, state, restart, admin):
    api.ok("post", "/accounts", {"job_no": "120", "name": "周新", "role": "staff", "password": STRONG}, as_="900",
           status=201)
    api.open_window(2, "102")
    token = api.login("102")
    assert api.get("/auth/me", as_="102").status_code == 200
    staff_id = staff(state, "102")["id"]

    restart(without("102"))
    assert staff(state, "102")["active"] == 0
    r = api.get("/auth/me", as_="102")  # the token it had
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"
    assert state.db.connection().execute("SELECT COUNT(*) FROM sessions WHERE staff_id = ?", (staff_id,)).fetchone()[0] == 0
    assert not can_sign_in(api, "102")
    assert {"job_no": "102", "source": "config"} in journal(state, "account_deactivated")
    window = api.ok("get", "/windows/2")
    assert window["staff"] is None and window["state"] == "closed"
    # the others the file lists, and the accounts created in the console, are untouched
    for job_no in ("101", "103", "900", "120", admin):
        assert staff(state, job_no)["active"] == 1, job_no
    assert staff(state, "120")["name"] == "周新" and staff(state, "120")["role"] == "staff"
    assert can_sign_in(api, "120", STRONG) and can_sign_in(api, admin)

    restart(without("102"), unrelated())  # still not listed: nothing more happens
    assert staff(state, "102")["active"] == 0
    assert journal(state, "account_deactivated").count({"job_no": "102", "source": "config"}) == 1

    restart(unrelated())  # listed again: a new entry, active again
    assert staff(state, "102")["active"] == 1
    assert can_sign_in(api, "102")
    api.tokens["102"] = token
    assert api.get("/auth/me", as_="102").status_code == 401  # the session it had stays ended
    assert staff(state, "120")["active"] == 1 and staff(state, admin)["active"] == 1


def test_a_database_from_before_the_entries_upgrades_once_as_before(api, state, restart):
    """Installed by a release that remembered only the passwords (``staff_hash:``): the first apply takes every
    listed entry as new, as that release did, and a removed account is recognised as the file's."""
    with state.db.write() as conn:
        assert conn.execute("DELETE FROM meta WHERE key GLOB 'staff_entry:*'").rowcount in (0, 4)
    api.ok("post", "/accounts/101/deactivate", as_="900")
    restart(without("103"))
    assert staff(state, "101")["active"] == 1  # the first time, as before
    assert staff(state, "103")["active"] == 0
    api.ok("post", "/accounts/101/deactivate", as_="900")
    restart(without("103"), unrelated())
    assert staff(state, "101")["active"] == 0  # from then on, the console's deactivation stays


def test_a_password_the_file_changes_signs_out_whoever_held_the_old_one(api, state, restart):
    """The administrator resets a lost or leaked password by changing the account's hash in the file: as a reset
    in the console, the sessions made with the old one end (and the account's sign-in throttles with them)."""
    from argon2 import PasswordHasher

    token = api.login("101")
    other = api.login("102")
    restart(unrelated())  # an unrelated edit ends no one's session
    assert api.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    restart(entry("101", DEMO_PASSWORD_HASH, PasswordHasher().hash(STRONG)))
    assert api.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert api.get("/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    assert not can_sign_in(api, "101") and can_sign_in(api, "101", STRONG)
    assert {"job_no": "101", "source": "config", "sessions_ended": 1} in journal(state, "password_reset")


def test_a_password_the_file_marks_temporary_is_good_for_one_sign_in(api, state, restart):
    """An administrator who writes a clerk's password into hall.toml knows it: with ``temporary_password = true`` its
    owner must choose their own at the next sign-in (as after a reset in the console), and once they have, the file
    (unchanged) does not force it again."""
    restart(entry("101", 'role = "staff"\n', 'role = "staff"\ntemporary_password = true\n'))
    r = api.client.post("/api/v1/auth/login", json={"job_no": "101", "password": DEMO_PASSWORD})
    assert r.status_code == 200 and r.get_json()["must_change_password"] is True
    token = r.get_json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    assert api.client.post("/api/v1/windows/1/sign-in", headers=h).status_code == 403  # password_change_required
    assert api.client.post("/api/v1/auth/password", json={"current": DEMO_PASSWORD, "new": STRONG},
                           headers=h).status_code == 200
    restart(unrelated(), entry("101", 'role = "staff"\n', 'role = "staff"\ntemporary_password = true\n'))
    r = api.client.post("/api/v1/auth/login", json={"job_no": "101", "password": STRONG})
    assert r.status_code == 200 and r.get_json()["must_change_password"] is False
