"""Alerts an operator acknowledges and resolves (issue 13 item 2), on a real PostgreSQL: who may (a county
supervisor) and who may not (a hall manager, even for their own hall; no session; a forged or another session's
CSRF token; another site's Origin), the journal of who did what, and a resolved alert that fires again being a
new alert."""

from __future__ import annotations

import re

import psycopg
import pytest

from county import console
from county import db as cdb
from county.app import create_app
from hallq.demo import DEMO_PASSWORD
from tests.county.test_console import _client, cfg  # noqa: F401
from tests.county.test_console import alerting as raise_alerts
from tests.county.conftest import sql


@pytest.fixture
def alerting(cfg):  # noqa: F811
    """Three open alerts: hall A's wait and satisfaction, hall B silent (test_console.alerting)."""
    raise_alerts(cfg)
    return cfg, {(r["site"], r["kind"]): r["id"] for r in sql(cfg.database_url,
                                                                "SELECT id, site, kind FROM alerts WHERE cleared_at IS NULL")}


def _token(app, username: str) -> dict:
    r = app.test_client().post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def test_the_role_matrix_of_acting_on_an_alert_over_the_api(alerting):
    conf, ids = alerting
    app = create_app(conf, ingest=False)
    c = app.test_client()
    sup, mgr = _token(app, "sup"), _token(app, "mgr-b")
    silent, wait = ids[("hall-b", "silent")], ids[("hall-a", "wait")]
    # a hall manager may not, not even on their own hall's alert; nobody without a session
    for alert, headers in ((silent, mgr), (wait, mgr)):
        for action in ("acknowledge", "resolve"):
            r = c.post(f"/api/v1/alerts/{alert}/{action}", json={"note": "x"}, headers=headers)
            assert r.status_code == 403 and r.get_json() == {"error": {"status": 403, "code": "forbidden"}}
    assert c.post(f"/api/v1/alerts/{silent}/resolve", json={"note": "x"}).status_code == 401
    mine = c.get("/api/v1/alerts", headers=mgr).get_json()["alerts"]  # read-only, their own hall's only
    assert [(a["site"], a["kind"]) for a in mine] == [("hall-b", "silent")]
    assert sql(conf.database_url, "SELECT count(*) AS n FROM alerts WHERE acknowledged_by IS NOT NULL "
                                 "OR cleared_at IS NOT NULL")[0]["n"] == 0
    # the supervisor acknowledges: still open, marked as being handled
    r = c.post(f"/api/v1/alerts/{silent}/acknowledge", json={"note": "已电话联系乙镇"}, headers=sup)
    a = r.get_json()["alert"]
    assert r.status_code == 200 and a["acknowledged_by"] == "sup" and a["acknowledgement"] == "已电话联系乙镇"
    assert a["cleared_at"] is None
    # resolving needs what was done; an ID number in the note is masked
    r = c.post(f"/api/v1/alerts/{silent}/resolve", json={"note": "  "}, headers=sup)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_note"
    r = c.post(f"/api/v1/alerts/{silent}/resolve", json={"note": "x" * 501}, headers=sup)
    assert r.status_code == 400
    r = c.post(f"/api/v1/alerts/{silent}/resolve", json={"note": "网络恢复，联系人 520201198506150123"}, headers=sup)
    a = r.get_json()["alert"]
    assert r.status_code == 200 and a["resolved_by"] == "sup" and a["cleared_at"] is not None
    assert "520201198506150123" not in a["resolution"] and a["resolution"].startswith("网络恢复")
    # once ended it cannot be acted on; an unknown one is 404; the shape is the API's one error shape
    r = c.post(f"/api/v1/alerts/{silent}/acknowledge", json={}, headers=sup)
    assert r.status_code == 409 and r.get_json() == {"error": {"status": 409, "code": "alert_closed"}}
    assert c.post("/api/v1/alerts/999999/resolve", json={"note": "x"}, headers=sup).get_json()["error"]["code"] == \
        "unknown_alert"
    assert c.post(f"/api/v1/alerts/{wait}/resolve", data="note", headers=sup).status_code == 400
    # open and ended lists
    open_ = {a["id"] for a in c.get("/api/v1/alerts", headers=sup).get_json()["alerts"]}
    closed = c.get("/api/v1/alerts?state=closed", headers=sup).get_json()["alerts"]
    assert silent not in open_ and wait in open_
    assert [(a["id"], a["resolved_by"]) for a in closed] == [(silent, "sup")]
    # journaled: who, when, what; the journal is append-only
    audit = sql(conf.database_url, "SELECT actor, action, site, data FROM audit WHERE action IN "
                          "('alert_acknowledged', 'alert_resolved') ORDER BY id")
    assert [(r["actor"], r["action"], r["site"], r["data"]["alert"]) for r in audit] == [
        ("sup", "alert_acknowledged", "hall-b", silent), ("sup", "alert_resolved", "hall-b", silent)]
    with pytest.raises(psycopg.errors.RaiseException):
        sql(conf.database_url, "DELETE FROM audit")


def test_a_resolved_alert_that_fires_again_is_a_new_alert(alerting):
    conf, ids = alerting
    wait = ids[("hall-a", "wait")]
    with cdb.connect(conf.database_url, autocommit=True) as conn:
        console.act_on_alert(conn, wait, "sup", "acknowledge", "派人去甲大厅")
        console.act_on_alert(conn, wait, "sup", "resolve", "加开两个窗口")
        console.check_alerts(conn, conf)  # hall A's two tickets still wait past 30 minutes
        rows = conn.execute("SELECT id, cleared_at, acknowledged_by, resolved_by, count FROM alerts "
                            "WHERE site = 'hall-a' AND kind = 'wait' ORDER BY id").fetchall()
    assert len(rows) == 2
    old, new = rows
    assert old["id"] == wait and old["resolved_by"] == "sup" and old["cleared_at"] is not None
    assert new["id"] != wait and new["cleared_at"] is None and new["acknowledged_by"] is None and new["count"] == 1


def test_the_console_page_resolves_with_the_sessions_csrf_token_only(alerting):
    conf, ids = alerting
    sup = _client(conf, "sup")
    page = sup.get("/console/alerts?lang=zh-Hans").get_data(as_text=True)
    assert page.count('<tr data-alert=') == 3 and "未确认" in page
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page).group(1)
    wait, silent = ids[("hall-a", "wait")], ids[("hall-b", "silent")]
    # no token, a forged one, another session's, another site's Origin: refused, nothing changed
    other = re.search(r'name="csrf_token" value="([0-9a-f]{64})"',
                      _client(conf, "sup").get("/console/alerts").get_data(as_text=True)).group(1)
    assert other != token
    for data, headers in (({"note": "a"}, {}), ({"note": "a", "csrf_token": "0" * 64}, {}),
                          ({"note": "a", "csrf_token": other}, {}),
                          ({"note": "a", "csrf_token": token}, {"Origin": "https://evil.example"})):
        r = sup.post(f"/console/alerts/{wait}/resolve", data=data, headers=headers)
        assert r.status_code == 403 and "页面已过期" in r.get_data(as_text=True)
    assert sql(conf.database_url, "SELECT cleared_at FROM alerts WHERE id = %s", (wait,))[0]["cleared_at"] is None
    # with the token: acknowledged, then resolved (303 back to the list)
    r = sup.post(f"/console/alerts/{wait}/acknowledge", data={"note": "正在处理", "csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].endswith("/console/alerts")
    assert "sup 于" in sup.get("/console/alerts").get_data(as_text=True)
    r = sup.post(f"/console/alerts/{wait}/resolve", data={"note": "", "csrf_token": token})
    assert r.status_code == 400 and "须写明处理说明" in r.get_data(as_text=True)
    r = sup.post(f"/console/alerts/{wait}/resolve", data={"note": "加开窗口", "csrf_token": token},
                 headers={"Origin": "http://localhost"})
    assert r.status_code == 303
    r = sup.post(f"/console/alerts/{wait}/resolve", data={"note": "again", "csrf_token": token})
    assert r.status_code == 409 and "已经结束" in r.get_data(as_text=True)
    closed = sup.get("/console/alerts?state=closed&lang=en").get_data(as_text=True)
    row = re.search(rf'<tr data-alert="{wait}" data-state="resolved">.*?</tr>', closed, re.S).group(0)
    assert "Resolved by sup" in row and "加开窗口" in row
    assert "Handle the alerts" in sup.get("/console/").get_data(as_text=True)
    # the hall manager: their hall's alerts, read-only; a POST with their own session's token is still refused
    mgr = _client(conf, "mgr-b")
    page = mgr.get("/console/alerts?lang=en").get_data(as_text=True)
    assert f'data-alert="{silent}"' in page and f'data-alert="{ids[("hall-a", "satisfaction")]}"' not in page
    assert "<form method=\"post\" action=\"/console/alerts" not in page and "Only county supervisors" in page
    mgr_token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"',
                          mgr.get("/console/").get_data(as_text=True))
    assert mgr_token is None  # no form on their pages but sign-out
    r = mgr.post(f"/console/alerts/{silent}/resolve", data={"note": "x", "csrf_token": _csrf_of(mgr, conf)})
    assert r.status_code == 403 and "页面已过期" not in r.get_data(as_text=True)
    assert sql(conf.database_url, "SELECT cleared_at FROM alerts WHERE id = %s", (silent,))[0]["cleared_at"] is None


def _csrf_of(client, conf) -> str:
    """A session's own CSRF token, computed as the console does (a hall manager's pages carry no form)."""
    import hashlib
    import hmac

    key = bytes(sql(conf.database_url, "SELECT value FROM platform_secrets WHERE name = 'csrf'")[0]["value"])
    return hmac.new(key, client.get_cookie("hallq_county").value.encode(), hashlib.sha256).hexdigest()
