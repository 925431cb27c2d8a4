"""回访: a resident who rates badly may leave a phone for the call-back, with consent; it is kept
encrypted, shown to managers only (every view journaled) and deleted when the follow-up closes or
after [privacy] followup_contact_days (docs/privacy.md "Bad-review call-back")."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import pytest
from cryptography.exceptions import InvalidTag

from hallq.clock import CHINA
from queue_server.domain import contacts
from queue_server.watch import Watch
from tests.web.test_roles import Browser

TABLET = "demo-tablet-1"
PHONE = "13912345678"
CONSENTED = {"contact": "139 1234 5678", "contact_consent": True}


@pytest.fixture
def served(api):
    """Window 1 (clerk 101) served a resident; the tablet may rate it."""
    api.tokens["tablet"] = TABLET

    def serve() -> dict:
        api.open_window(1, "101")
        t = api.issue()
        api.act(1, "call-next", "101")
        api.act(1, "complete", "101")
        return t
    return serve


def rate(api, level=1, **extra):
    return api.post("/windows/1/rating", {"level": level, "reasons": ["attitude"], **extra}, as_="tablet")


def followup(api) -> dict:
    (f,) = api.ok("get", "/followups?which=all", as_="900")
    return f


def journal(state, action: str) -> list:
    return state.db.connection().execute("SELECT * FROM journal WHERE action = ? ORDER BY seq", (action,)).fetchall()


def db_bytes(state) -> bytes:
    """Every byte of the database on disk (the main file after a checkpoint, and what the WAL still holds)."""
    conn = state.db.connection()
    conn.execute("PRAGMA wal_checkpoint(FULL)")
    path = conn.execute("PRAGMA database_list").fetchone()["file"]
    out = b""
    for suffix in ("", "-wal"):
        try:
            with open(path + suffix, "rb") as f:
                out += f.read()
        except FileNotFoundError:
            pass
    return out


def test_the_phone_is_kept_encrypted_bound_to_its_rating(api, served, state):
    served()
    r = rate(api, **CONSENTED)
    assert r.status_code == 201 and r.get_json()["contact_left"] is True
    assert PHONE.encode() not in db_bytes(state)
    assert PHONE.encode("utf-16-le") not in db_bytes(state)
    row = state.db.connection().execute("SELECT * FROM followup_contacts").fetchone()
    assert row["consent"] == contacts.CONSENT and len(row["sealed"]) == contacts.NONCE + len(PHONE) + 16
    assert contacts.unseal(state.hall.secret, row["rating_id"], row["sealed"]) == PHONE
    with pytest.raises(InvalidTag):  # copied to another rating's row it does not open
        contacts.unseal(state.hall.secret, row["rating_id"] + 1, row["sealed"])
    with pytest.raises(InvalidTag):  # nor under another installation's key
        contacts.unseal(b"x" * 32, row["rating_id"], row["sealed"])


def test_a_phone_needs_consent_a_bad_rating_and_a_real_number_and_a_refusal_rates_nothing(api, served, state):
    served()
    r = rate(api, contact=PHONE)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "consent_required"
    r = rate(api, level=4, **CONSENTED)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "contact_not_asked"
    r = rate(api, contact="12345", contact_consent=True)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_phone"
    assert state.db.connection().execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 0
    r = rate(api, contact="  ")  # an empty field is no phone, and needs no consent
    assert r.status_code == 201 and r.get_json()["contact_left"] is False
    assert state.db.connection().execute("SELECT COUNT(*) FROM followup_contacts").fetchone()[0] == 0


def test_the_phone_page_may_leave_one_too(api, served, state):
    t = served()
    page = api.client.get(f"/t/{t['id']}?lang=zh-Hans").get_data(as_text=True)
    assert 'id="rate-phone"' in page and 'id="rate-consent"' in page
    assert "仅大厅管理人员可见" in page and "最长保存 30 天" in page  # purpose, who sees it, how long (PIPL §17)
    r = api.post("/ratings", {"ticket": t["id"], "level": 2, **CONSENTED})
    assert r.status_code == 201, r.get_json()
    assert followup(api)["contact_left"] is True


def test_only_managers_see_the_number_and_every_view_is_journaled(api, served, state, caplog):
    caplog.set_level(logging.DEBUG)
    served()
    assert rate(api, **CONSENTED).status_code == 201
    fid = followup(api)["id"]
    mine = api.ok("get", f"/followups/{fid}", as_="101")  # the clerk whose case it was: that one was left
    assert mine["contact_left"] is True and PHONE not in json.dumps(mine)
    for who in ("101", "102"):
        r = api.get(f"/followups/{fid}/contact", as_=who)
        assert r.status_code == 403, who
    assert api.get(f"/followups/{fid}/contact", as_="kiosk").status_code == 403
    assert journal(state, "followup_contact_viewed") == []
    r = api.get(f"/followups/{fid}/contact", as_="900")
    assert r.status_code == 200 and r.get_json()["phone"] == PHONE and r.headers["Cache-Control"] == "no-store"
    api.ok("get", f"/followups/{fid}/contact", as_="900")
    seen = journal(state, "followup_contact_viewed")
    assert [(e["actor"], json.loads(e["data"])) for e in seen] == [("staff:900", {"followup": fid})] * 2
    everything = " ".join(str(tuple(r)) for r in state.db.connection().execute("SELECT * FROM journal"))
    assert PHONE not in everything and "5678" not in everything  # the journal is also the MQTT outbox
    assert PHONE not in caplog.text


def test_the_console_shows_it_on_a_managers_click_only(app, api, served, state):
    served()
    assert rate(api, **CONSENTED).status_code == 201
    fid = followup(api)["id"]
    manager, clerk = Browser(app, "900"), Browser(app, "101")
    assert "留有回访电话" in manager.client.get("/console/reviews").text  # which ones can be called back
    page = manager.client.get(f"/console/reviews/{fid}").text
    assert "?contact=1" in page and PHONE not in page
    assert journal(state, "followup_contact_viewed") == []
    page = manager.client.get(f"/console/reviews/{fid}?contact=1").text
    assert f'href="tel:{PHONE}"' in page and len(journal(state, "followup_contact_viewed")) == 1
    page = clerk.client.get(f"/console/reviews/{fid}?contact=1").text
    assert PHONE not in page and "?contact=1" not in page and len(journal(state, "followup_contact_viewed")) == 1


def test_closing_the_follow_up_deletes_the_number(api, served, state):
    served()
    assert rate(api, **CONSENTED).status_code == 201
    fid = followup(api)["id"]
    api.ok("post", f"/followups/{fid}/verify", {"note": "已电话回访，属实", "complaint_valid": True}, as_="900")
    api.ok("post", f"/followups/{fid}/fix", {"note": "已提醒窗口人员注意态度"}, as_="101")
    f = api.ok("post", f"/followups/{fid}/report", {"note": "已告知整改情况"}, as_="900")
    assert f["state"] == "closed" and f["contact_left"] is False
    assert state.db.connection().execute("SELECT COUNT(*) FROM followup_contacts").fetchone()[0] == 0
    assert json.loads(journal(state, "followup_closed")[0]["data"])["contact_erased"] is True
    r = api.get(f"/followups/{fid}/contact", as_="900")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "no_contact"


def test_an_upheld_appeal_deletes_it_too(api, served, state):
    served()
    assert rate(api, **CONSENTED).status_code == 201
    fid = followup(api)["id"]
    api.ok("post", f"/followups/{fid}/appeal", {"reason": "恶意差评"}, as_="101")
    api.ok("post", f"/followups/{fid}/appeal-decision", {"upheld": True, "note": "查看录像属实"}, as_="900")
    assert state.db.connection().execute("SELECT COUNT(*) FROM followup_contacts").fetchone()[0] == 0


def test_the_retention_job_deletes_it_after_the_configured_days(api, served, state, clock):
    served()
    assert rate(api, **CONSENTED).status_code == 201  # Monday 2026-11-23
    fid = followup(api)["id"]
    watch = Watch(state)
    clock.set(datetime(2026, 12, 23, 9, 0, tzinfo=CHINA))  # 30 days later: still kept
    watch.run_once()
    api.tokens.pop("900")  # a month later: sign in again
    assert api.ok("get", f"/followups/{fid}/contact", as_="900")["phone"] == PHONE
    assert journal(state, "followup_contacts_erased") == []
    clock.set(datetime(2026, 12, 24, 9, 0, tzinfo=CHINA))
    done = watch.run_once()
    assert done["erased"]["followup_contacts"] == 1
    api.tokens.pop("900")
    assert api.get(f"/followups/{fid}/contact", as_="900").status_code == 404
    (e,) = journal(state, "followup_contacts_erased")
    assert json.loads(e["data"]) == {"count": 1, "before": "2026-11-24", "followup_contact_days": 30}
    assert api.ok("get", f"/followups/{fid}", as_="900")["state"] == "open"  # the follow-up itself goes on
