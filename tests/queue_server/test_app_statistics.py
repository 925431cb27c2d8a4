"""Application statistics for supervision (issue 12.4): by item, department, business and window, on
small known data taken through the real API; the figures, the period, the exports and the page."""

from __future__ import annotations

import csv
import io

import pytest

from tests.queue_server.test_applications import (BUSINESS_REG, CLERK, PERSON, UNEMPLOYMENT, at, city,  # noqa: F401
                                                   move, submit, unemployment)
from tests.web.test_roles import Browser


def business_reg() -> dict:
    return {"item": BUSINESS_REG, "applicant": {"name": "李四", "id_number": PERSON, "phone": "13812345678"},
            "fields": {"trade_name": "六盘水某某小吃店", "organization": "personal", "business_scope": "小吃服务",
                       "premises": "钟山区人民路1号", "capital": 5, "employees": 2},
            "materials": [0, 1, 2], "delivery": "onsite"}


@pytest.fixture
def known(city, clock):  # noqa: F811
    """Monday 2026-11-23, clerk 1001 at window 1:

    A (失业保险金: promised 3 working days) accepted at once, result Wednesday: on time, 2 working days;
    B (失业保险金) a correction notice, accepted Tuesday (due Friday 27th), result Tuesday 1 December: late,
      5 working days; C (失业保险金) refused (不予受理); D (个体工商户设立: promised 0, so due the day it is
      accepted) accepted Monday and undecided on 2 December: overdue; E (失业保险金) submitted at a kiosk
      on Tuesday and never touched."""
    api, st = city
    clock.set(at(2026, 11, 23, 9, 0))
    api.open_window(1, CLERK)
    a = submit(api)["tracking_no"]
    b = submit(api, unemployment(materials=[0, 1]))["tracking_no"]
    c = submit(api)["tracking_no"]
    r = api.post("/applications", business_reg(), as_="kiosk")
    assert r.status_code == 201, r.get_json()
    d = r.get_json()["tracking_no"]
    move(api, a, "accepted")
    move(api, b, "correction", missing=["separation_date"], reason="离职日期与证明不一致")
    move(api, c, "rejected", reason="申请人不符合条件")
    move(api, d, "accepted")
    clock.set(at(2026, 11, 24))
    api.ok("post", f"/applications/{b}/supplement",
           {"materials": [2], "fields": {"separation_date": "2026-10-30"}, "id_number": PERSON}, as_="kiosk")
    move(api, b, "accepted")
    submit(api)  # E
    clock.set(at(2026, 11, 25))
    move(api, a, "result_ready", decision="approved")
    clock.set(at(2026, 12, 1))
    move(api, b, "result_ready", decision="approved")
    clock.set(at(2026, 12, 2))
    return api, st


def report(api, **query) -> dict:
    q = "&".join(f"{k}={v}" for k, v in {"from": "2026-11-01", "to": "2026-12-02", **query}.items())
    r = api.get(f"/stats/applications?{q}", as_="2001")
    if r.status_code == 401:  # the manager's session ended while the clock moved on by days
        api.tokens.pop("2001", None)
        r = api.get(f"/stats/applications?{q}", as_="2001")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def by_key(rep: dict) -> dict:
    return {r["key"]: r for r in rep["rows"]}


def figures(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("key", "label")}


def test_by_item_every_figure(known):
    api, _ = known
    rows = by_key(report(api, group="item"))
    assert figures(rows[UNEMPLOYMENT]) == {
        "received": 4, "accepted": 2, "corrected": 1, "refused": 1, "completed": 2, "on_time": 1, "overdue": 1,
        "avg_workdays": 3.5, "on_time_rate": 0.5, "one_visit_rate": 0.5}
    assert figures(rows[BUSINESS_REG]) == {
        "received": 1, "accepted": 1, "corrected": 0, "refused": 0, "completed": 0, "on_time": 0, "overdue": 1,
        "avg_workdays": None, "on_time_rate": None, "one_visit_rate": None}
    assert rows[UNEMPLOYMENT]["label"] == "失业保险金申领"


def test_totals_department_business_and_window(known):
    api, _ = known
    rep = report(api, group="department")
    assert rep["total"]["received"] == 5 and rep["total"]["overdue"] == 2 and rep["total"]["completed"] == 2
    assert {r["label"]: r["received"] for r in rep["rows"]} == {"六盘水市人力资源和社会保障局": 4,
                                                               "钟山区市场监督管理局": 1}
    windows = by_key(report(api, group="window"))
    assert {k: r["received"] for k, r in windows.items()} == {0: 1, 1: 4}  # E: no clerk has taken it in yet
    assert windows[0]["label"] == "未经窗口受理"
    assert sum(r["received"] for r in report(api, group="business")["rows"]) == 5


def test_past_days_are_rolled_up_and_a_later_change_opens_its_day_again(known, clock):
    api, st = known
    first = figures(by_key(report(api, group="item"))[BUSINESS_REG])
    rolled = {r[0] for r in st.db.connection().execute("SELECT day FROM stats_application_days")}
    assert rolled == {"2026-11-23", "2026-11-24"}  # past days of submission; today would be live
    assert first["overdue"] == 1 and first["completed"] == 0
    (d,) = [r[0] for r in st.db.connection().execute("SELECT tracking_no FROM applications WHERE item = ?",
                                                       (BUSINESS_REG,))]
    move(api, d, "result_ready", decision="approved")  # decided a week late: its day is opened again
    assert "2026-11-23" not in {r[0] for r in st.db.connection().execute("SELECT day FROM stats_application_days")}
    again = figures(by_key(report(api, group="item"))[BUSINESS_REG])
    assert again["completed"] == 1 and again["overdue"] == 1 and again["on_time"] == 0
    assert again["avg_workdays"] == 7.0  # Monday 23 → Wednesday 2 December
    with st.db.write() as conn:  # a holiday set afterwards: the working days are counted again
        conn.execute("INSERT INTO journal (at, business_day, actor, action) VALUES "
                     "('2026-12-02T10:00:00+08:00', '2026-12-02', 'staff:2001', 'calendar_changed')")
    assert st.db.connection().execute("SELECT COUNT(*) FROM stats_application_days").fetchone()[0] == 0


def test_the_period_is_by_submission_and_one_item_can_be_picked(known):
    api, _ = known
    rep = report(api, group="item", **{"from": "2026-11-24"})
    assert rep["total"]["received"] == 1 and rep["total"]["accepted"] == 0  # E only
    assert report(api, group="item", item=BUSINESS_REG)["total"]["received"] == 1
    for bad in ({"group": "staff"}, {"item": "NOPE"}, {"from": "2026-12-03"}, {"to": "9999-12-31"}, {"to": "0001-06-01"}):
        r = api.get("/stats/applications?" + "&".join(f"{k}={v}" for k, v in bad.items()), as_="2001")
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_fields", bad


def test_the_exports_carry_the_same_figures_and_no_personal_data(known):
    api, _ = known
    r = api.get("/stats/applications?from=2026-11-01&to=2026-12-02&group=item&format=csv", as_="2001")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["分组", "申请", "受理"] and rows[0][-1] == "一次办结率"
    assert rows[-1][0] == "合计" and rows[-1][1] == "5"
    assert "王小明" not in r.get_data(as_text=True) and PERSON not in r.get_data(as_text=True)
    x = api.get("/stats/applications?from=2026-11-01&to=2026-12-02&group=window&format=xlsx", as_="2001")
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(x.get_data())).active
    assert ws.title == "按窗口统计办件" and ws.cell(1, 11).value == "一次办结率"
    assert ws.cell(ws.max_row, 11).number_format == "0.0%" and ws.cell(ws.max_row, 11).value == 0.5


def test_managers_only_and_the_page_draws_it(known):
    api, _ = known
    api.tokens.pop(CLERK, None)  # signed in a week ago
    assert api.get("/stats/applications", as_=CLERK).status_code == 403
    app = api.client.application
    page = Browser(app, "2001").client.get("/manager/stats/applications?from=2026-11-01&to=2026-12-02&group=item")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "失业保险金申领" in html and "<svg" in html and "50.0%" in html
