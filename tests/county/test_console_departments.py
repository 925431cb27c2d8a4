"""Departments (部门) in the county's rankings (issue 13 item 2): the department of a ticket's, a rating's and an
application's item travels with the hall's own journal entries, and the console ranks departments by the same
measures as halls, businesses and items (page, CSV, Excel), on a real PostgreSQL.

The first test is the hall's side: a real hall (the city config's catalogue) writes the department into its
``issue``, ``rate`` and ``application_submitted`` entries; the others feed such entries to the platform."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from county import console
from county import db as cdb
from tests.county.test_console import DAY, NOW, _client, cfg, entry, feed, live  # noqa: F401
from tests.conftest import make_id
from tests.queue_server.test_applications import CLERK, PERSON, UNEMPLOYMENT, city, submit  # noqa: F401

HR = "六盘水市人力资源和社会保障局"  # the department of 失业保险金申领 in config/city-hall/services.toml


def test_a_halls_journal_entries_carry_the_department_of_their_item(city):  # noqa: F811
    api, st = city
    t = api.ok("post", "/tickets", {"business": "social", "item": UNEMPLOYMENT, "id_number": PERSON},
                as_="kiosk", status=201)
    plain = api.ok("post", "/tickets", {"business": "social", "id_number": make_id(seq=456)}, as_="kiosk",
                   status=201)
    submit(api)
    conn = st.db.connection()
    rows = {(r["action"], r["ticket"]): json.loads(r["data"]) for r in conn.execute(
        "SELECT action, ticket, data FROM journal WHERE action IN ('issue', 'application_submitted')")}
    assert rows[("issue", t["ticket"])]["department"] == HR
    assert "department" not in rows[("issue", plain["ticket"])]  # no item, no department: nothing invented
    assert rows[("application_submitted", None)]["department"] == HR
    # served and rated: the rating names the department too
    api.open_window(7, CLERK)  # window 7 serves 社会保障
    assert api.act(7, "call-next", CLERK)["ticket"]["ticket"] == t["ticket"]
    api.act(7, "complete", CLERK)
    api.ok("post", "/ratings", {"ticket": t["id"], "level": 2}, status=201)
    rate = conn.execute("SELECT data FROM journal WHERE action = 'rate'").fetchone()
    assert json.loads(rate["data"])["department"] == HR


def a_day_by_department(cfg) -> None:  # noqa: F811
    """公安局: A001 (id_card) waits 10 min, A002 (passport) 30 min (late: on time is 20); rated 5 and 1.
    税务局: A003 waits 5 min, rated 4; hall B's B001 waits 15 min, rated 2 by an entry without a department (a hall
    before this change): the ticket's department counts it. B002 names no item: in no department."""
    t0 = NOW - timedelta(minutes=60)
    m = lambda n: t0 + timedelta(minutes=n)  # noqa: E731
    feed(cfg, *[live("hall-a", e) for e in [
        entry(1, "open_window", m(0), window=1, business=None),
        entry(2, "issue", m(0), "A001", item="id_card", department="公安局"),
        entry(3, "issue", m(0), "A002", item="passport", department="公安局"),
        entry(4, "issue", m(0), "A003", item="tax_reg", business="beta", department="税务局"),
        entry(5, "call", m(10), "A001", window=1, call_seq=1, recalls=0),
        entry(6, "call", m(30), "A002", window=1, call_seq=2, recalls=0),
        entry(7, "call", m(5), "A003", window=1, business="beta", call_seq=3, recalls=0),
        entry(8, "complete", m(31), "A001", window=1),
        entry(9, "complete", m(32), "A002", window=1),
        entry(10, "complete", m(33), "A003", window=1, business="beta"),
        entry(11, "rate", m(34), "A001", window=1, level=5, stage="window", bad=False, item="id_card",
              department="公安局"),
        entry(12, "rate", m(35), "A002", window=1, level=1, stage="window", bad=True, item="passport",
              department="公安局"),
        entry(13, "rate", m(36), "A003", window=1, business="beta", level=4, stage="window", bad=False,
              item="tax_reg", department="税务局"),
    ]], *[live("hall-b", e) for e in [
        entry(1, "issue", m(0), "B001", item="tax_reg", business="beta", department="税务局"),
        entry(2, "issue", m(0), "B002"),
        entry(3, "call", m(15), "B001", window=1, business="beta", call_seq=1, recalls=0),
        entry(4, "complete", m(20), "B001", window=1, business="beta"),
        entry(5, "rate", m(21), "B001", window=1, business="beta", level=2, stage="window", bad=True,
              item="tax_reg"),
    ]])


def test_departments_are_ranked_by_wait_on_time_and_satisfaction(cfg):  # noqa: F811
    a_day_by_department(cfg)
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        console.fold(conn, cfg)
        rows = console.rankings(conn, "department", NOW.date() - timedelta(days=1), NOW.date() + timedelta(days=1))
        hall_b = console.rankings(conn, "department", NOW.date() - timedelta(days=1), NOW.date() + timedelta(days=1),
                                  "hall-b")
    got = [(r["key"], r["issued"], r["called"], r["served"], r["avg_wait_minutes"], r["on_time_rate"], r["rated"],
            r["bad"], r["satisfaction"]) for r in rows]
    assert got == [("税务局", 2, 2, 2, 10.0, 1.0, 2, 1, 0.5),  # shorter average wait first
                   ("公安局", 2, 2, 2, 20.0, 0.5, 2, 1, 0.5)]
    assert [(r["key"], r["issued"], r["avg_wait_minutes"], r["bad"]) for r in hall_b] == [("税务局", 1, 15.0, 1)]


def test_the_department_ranking_page_and_its_csv_and_excel(cfg):  # noqa: F811
    a_day_by_department(cfg)
    c = _client(cfg, "sup")
    page = c.get("/console/rankings?by=department&days=7&lang=zh-Hans").get_data(as_text=True)
    assert page.index('data-key="税务局"') < page.index('data-key="公安局"') and ">部门<" in page
    assert 'aria-current="page">部门</a>' in page
    csv = c.get("/console/rankings?by=department&days=7&format=csv&lang=en")
    assert csv.headers["Content-Disposition"].startswith('attachment; filename="county-rankings-department-all-')
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[0] == "\ufeff#,Departments,Tickets,Called,Served,Average wait,On-time rate,Ratings,Bad reviews,Satisfaction"
    assert lines[1:] == ["1,税务局,2,2,2,10.0,1.0,2,1,0.5", "2,公安局,2,2,2,20.0,0.5,2,1,0.5"]
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(c.get("/console/rankings?by=department&days=7&format=xlsx").data)).active
    assert [cell.value for cell in ws[3]] == [2, "公安局", 2, 2, 2, 20.0, 0.5, 2, 1, 0.5]
    # a hall manager ranks their own hall's departments only
    mgr = _client(cfg, "mgr-b").get("/console/rankings?by=department&days=7&format=csv").get_data(as_text=True)
    assert mgr.splitlines()[1:] == ["1,税务局,1,1,1,15.0,1.0,1,1,0.0"]
