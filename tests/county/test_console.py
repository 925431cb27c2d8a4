"""The supervision console on a real PostgreSQL: the numbers folded from the events, and who may see what.

Events go in through :func:`county.store.apply` (what the ingester calls), so each rule of the fold is seen on
its own: waits from issue to first call, on time, satisfaction, follow-ups overdue, windows open, a gap that
holds the fold until it is filled, and each event counted once. The pages are read through Flask's client
with the platform's accounts (a supervisor, a hall manager). The end to end test with a real hall is in
test_console_e2e.py.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from county import catchup, console, intake, registry, store
from county import db as cdb
from county.app import create_app
from county.config import Ingest, load_county
from hallq import contract
from hallq.demo import DEMO_PASSWORD
from tests.county.conftest import console_login, sql

ROOT = Path(__file__).resolve().parents[2]
RULES = Ingest()
NOW = datetime.now(timezone.utc).replace(microsecond=0)
DAY = NOW.astimezone(timezone(timedelta(hours=8))).date().isoformat()


def entry(seq: int, action: str, at: datetime, ticket: str | None = None, window: int | None = None,
          business: str | None = "alpha", **data) -> dict:
    return {"seq": seq, "at": at.isoformat(), "day": DAY, "actor": "staff:1", "action": action, "ticket": ticket,
            "business": business, "window": window,
            "data": {("seq" if k == "call_seq" else k): v for k, v in data.items()}}


def live(site: str, e: dict):
    topic = f"hallq/{site}/journal"
    known = frozenset({"hall-a", "hall-b"})
    return intake.live(topic, contract.encode(contract.JOURNAL, {"site": site, **e}), known, RULES, NOW), topic


@pytest.fixture
def cfg(county_db, tmp_path):
    return make_county(county_db, tmp_path)


def make_county(county_db: str, tmp_path: Path, extra: str = ""):
    """Two halls (A, a district; B, a town under it), a supervisor and B's manager; ``extra``: more sections."""
    path = tmp_path / "county.toml"
    path.write_text(f'''{extra}
[county]
id = "t"
name = {{ zh-Hans = "测试县", en = "Test county" }}
[broker]
url = "mqtt://127.0.0.1:1"
[console]
wait_alert_minutes = 30
satisfaction_alert = 0.8
satisfaction_min_ratings = 2
silent_minutes = 10
on_time_minutes = 20
[[halls]]
site = "hall-a"
level = "district"
name = {{ zh-Hans = "甲大厅", en = "Hall A" }}
journal_url = "http://127.0.0.1:1"
credential = "env:NONE"
[[halls]]
site = "hall-b"
level = "town"
parent = "hall-a"
name = {{ zh-Hans = "乙镇", en = "Town B" }}
journal_url = "http://127.0.0.1:1"
credential = "env:NONE"
[[accounts]]
username = "sup"
role = "supervisor"
password_hash = "{_hash()}"
[[accounts]]
username = "mgr-b"
role = "hall_manager"
site = "hall-b"
password_hash = "{_hash()}"
''', encoding="utf-8")
    cdb.migrate(county_db)
    c = load_county(path, database_url=county_db)
    with cdb.connect(county_db) as conn:
        registry.sync(conn, c)
    return c


def _hash() -> str:
    from hallq.demo import DEMO_PASSWORD_HASH

    return DEMO_PASSWORD_HASH


def feed(cfg, *items) -> None:
    with cdb.connect(cfg.database_url) as conn:
        store.apply(conn, list(items))


def a_day_of_hall_a(cfg) -> None:
    """Hall A: window 1 opens; A001 waits 10 min (on time) and is served; A002 waits 40 min (late), no-show;
    A003 and A004 still wait (the older since 50 min); two ratings, one bad; a follow-up due yesterday, open."""
    t0 = NOW - timedelta(minutes=60)
    m = lambda n: t0 + timedelta(minutes=n)  # noqa: E731
    feed(cfg, *[live("hall-a", e) for e in [
        entry(1, "open_window", m(0), window=1, business=None),
        entry(2, "issue", m(0), "A001", item="id_card"),
        entry(3, "issue", m(0), "A002", item="passport"),
        entry(4, "call", m(10), "A001", window=1, call_seq=1, recalls=0),
        entry(5, "complete", m(15), "A001", window=1),
        entry(6, "call", m(40), "A002", window=1, call_seq=2, recalls=0),
        entry(7, "recall", m(42), "A002", window=1, call_seq=3, recalls=1),  # a recall is not a second wait
        entry(8, "no_show", m(45), "A002", window=1),
        entry(9, "issue", m(10), "A003", item="id_card"),
        entry(10, "issue", m(20), "A004", item="id_card"),
        entry(11, "rate", m(16), "A001", window=1, level=5, stage="window", bad=False),
        entry(12, "rate", m(46), "A002", window=1, level=1, stage="window", bad=True),
        entry(13, "followup_opened", m(60), window=1, level=1, rating=2,  # now: the hall's clock is the platform's
              due=(NOW - timedelta(days=1)).date().isoformat()),
    ]])


def test_the_fold_derives_each_halls_state_and_daily_numbers(cfg):
    a_day_of_hall_a(cfg)
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        assert console.fold(conn, cfg) == 13
        assert console.fold(conn, cfg) == 0  # each event once
        a = {h["site"]: h for h in console.overview(conn, cfg)}["hall-a"]
        assert (a["open_windows"], a["waiting"], a["overdue"], a["rated"], a["bad"]) == (1, 2, 1, 2, 1)
        assert 49 <= a["longest_wait_minutes"] <= 51 and a["satisfaction"] == 0.5
        items = {r["key"]: r for r in console.rankings(conn, "item", NOW.date() - timedelta(days=1),
                                                       NOW.date() + timedelta(days=1))}
    assert items["id_card"]["avg_wait_minutes"] == 10.0 and items["id_card"]["on_time_rate"] == 1.0
    assert items["passport"]["avg_wait_minutes"] == 40.0 and items["passport"]["on_time_rate"] == 0.0
    daily = sql(cfg.database_url, "SELECT sum(issued) i, sum(called) c, sum(served) s, sum(no_show) n, "
                                  "sum(rated) r, sum(bad) b FROM console_daily WHERE site = 'hall-a'")[0]
    assert daily == {"i": 4, "c": 2, "s": 1, "n": 1, "r": 2, "b": 1}


def test_a_hall_on_its_own_clock_and_a_hall_not_open_yet_today(cfg):
    a_day_of_hall_a(cfg)
    # hall A's clock is 3 days behind the platform's: its waits are measured on its clock, not the platform's
    sql(cfg.database_url, "UPDATE events SET at = at - interval '3 days', business_day = business_day - 3 "
                          "WHERE site = 'hall-a'")
    # hall B issued a ticket two days ago, heard as it happened, and has not opened since
    two_days_ago = NOW - timedelta(days=2)
    e = entry(1, "issue", two_days_ago, "B001")
    feed(cfg, live("hall-b", {**e, "day": (two_days_ago + timedelta(hours=8)).date().isoformat()}))
    sql(cfg.database_url, "UPDATE events SET received_at = at WHERE site = 'hall-b'")
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        console.fold(conn, cfg)
        halls = {h["site"]: h for h in console.overview(conn, cfg)}
    a, b = halls["hall-a"], halls["hall-b"]
    assert a["waiting"] == 2 and 49 <= a["longest_wait_minutes"] <= 51 and a["satisfaction"] == 0.5
    assert (b["waiting"], b["longest_wait_minutes"]) == (0, 0)  # its leftover waits for no one today


def test_a_hall_heard_only_by_catch_up_is_read_on_the_clock_its_journal_page_shows(cfg):
    """Hall A's clock is 3 days behind and none of its events came live (the catch-up was faster than its bridge,
    or the bridge is down): the journal page's ``now`` gives its clock, so its tickets wait today on its clock.
    A newer reading wins over an older live event's."""
    behind = timedelta(days=3)
    t0 = NOW - behind - timedelta(minutes=30)
    entries = [{"site": "hall-a", **entry(1, "open_window", t0, window=1, business=None)},
               {"site": "hall-a", **entry(2, "issue", t0, "A001", item="id_card")},
               {"site": "hall-a", **entry(3, "issue", t0 + timedelta(minutes=10), "A002", item="id_card")}]
    for e in entries:  # the business day of the hall's today
        e["day"] = (NOW - behind).astimezone(timezone(timedelta(hours=8))).date().isoformat()

    def overview():
        with cdb.connect(cfg.database_url, autocommit=True) as conn:
            console.fold(conn, cfg)
            return {h["site"]: h for h in console.overview(conn, cfg)}["hall-a"]

    items = [intake.fetched("hall-a", e, RULES, NOW) for e in entries]
    with cdb.connect(cfg.database_url) as conn:  # a page without ``now`` (an older hall): no offset known
        store.apply_page(conn, "hall-a", 0, items[:2], 2)
    assert overview()["waiting"] == 0  # taken on the platform's clock: its day is 3 days ago, not open today
    page = {"now": (NOW - behind).astimezone(timezone(timedelta(hours=8))).isoformat()}
    with cdb.connect(cfg.database_url) as conn:
        store.apply_page(conn, "hall-a", 2, items[2:], 3, clock_offset=catchup.clock_offset(page, NOW.timestamp()))
    a = overview()
    assert a["waiting"] == 2 and 29 <= a["longest_wait_minutes"] <= 31
    assert sql(cfg.database_url, "SELECT round(clock_offset_seconds) s FROM hall_progress WHERE site = 'hall-a'") \
        == [{"s": behind.total_seconds()}]

    # a live event heard before the latest reading does not override it; one heard after it does
    feed(cfg, live("hall-a", {**entries[0], "seq": 4, "action": "close_window", "at": (NOW - behind).isoformat()}))
    sql(cfg.database_url, "UPDATE events SET received_at = received_at - interval '1 hour', at = at + interval '1 day' "
                          "WHERE site = 'hall-a' AND seq = 4")
    assert overview()["waiting"] == 2
    sql(cfg.database_url, "UPDATE hall_progress SET clock_offset_at = clock_offset_at - interval '2 hours' "
                          "WHERE site = 'hall-a'")
    assert overview()["waiting"] == 0  # the live event (a day ahead of the reading) is newer: its clock is used


def test_the_clock_offset_is_read_from_a_journal_pages_now_or_not_at_all():
    at = datetime(2026, 12, 7, 1, 0, 5, tzinfo=timezone.utc).timestamp()
    assert catchup.clock_offset({"now": "2026-12-07T09:00:00+08:00"}, at) == 5.0
    assert catchup.clock_offset({"now": "2026-12-07T09:00:00.500000+08:00", "entries": []}, at) == 4.5
    for page in ({}, {"now": None}, {"now": "not a time"}, {"now": "2026-12-07T09:00:00"}, {"now": 12},
                 {"now": "2026-12-07T09:00:00+08:00" + " " * 50}, [], None):
        assert catchup.clock_offset(page, at) is None, page


def test_a_gap_holds_the_fold_until_it_is_filled_and_nothing_counts_twice(cfg):
    t = NOW - timedelta(minutes=5)
    feed(cfg, live("hall-b", entry(1, "issue", t, "B001")), live("hall-b", entry(3, "issue", t, "B003")))
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        assert console.fold(conn, cfg) == 1  # seq 3 waits behind the gap at 2
        feed(cfg, live("hall-b", entry(2, "call", t, "B001", window=2)),
             live("hall-b", entry(3, "issue", t, "B003")))  # the gap filled; 3 delivered again
        assert console.fold(conn, cfg) == 2
        b = {h["site"]: h for h in console.overview(conn, cfg)}["hall-b"]
    assert b["waiting"] == 1
    assert sql(cfg.database_url, "SELECT sum(issued) i, sum(called) c FROM console_daily")[0] == {"i": 2, "c": 1}


def alerting(cfg) -> None:
    """Hall A past its wait and satisfaction thresholds, hall B offline for an hour (silent), and the alerts checked."""
    a_day_of_hall_a(cfg)
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        console.fold(conn, cfg)
        conn.execute("UPDATE hall_progress SET server_state = 'offline', server_state_since = now() - interval '1 hour' "
                     "WHERE site = 'hall-b'")
        console.check_alerts(conn, cfg)


def test_alerts_are_raised_past_the_thresholds_and_cleared_when_back(cfg):
    alerting(cfg)
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        open_ = {(r["site"], r["kind"]) for r in conn.execute("SELECT site, kind FROM alerts WHERE cleared_at IS NULL")}
        assert {("hall-a", "wait"), ("hall-a", "satisfaction"), ("hall-b", "silent")} <= open_
        feed(cfg, *[live("hall-a", entry(s, "call", NOW, tk, window=1)) for s, tk in ((14, "A003"), (15, "A004"))])
        conn.execute("UPDATE hall_progress SET server_state = 'online', server_state_since = now(), "
                     "last_heard_at = now() - interval '1 hour' WHERE site = 'hall-b'")  # online and idle: not silent
        console.fold(conn, cfg)
        console.check_alerts(conn, cfg)
        open_ = {(r["site"], r["kind"]) for r in conn.execute("SELECT site, kind FROM alerts WHERE cleared_at IS NULL")}
    assert ("hall-a", "wait") not in open_ and ("hall-b", "silent") not in open_
    assert ("hall-a", "satisfaction") in open_


def _client(cfg, username: str):
    app = create_app(cfg, ingest=False)
    c = app.test_client()
    r = console_login(c, username, DEMO_PASSWORD)
    assert r.status_code == 302, r.data[:300]
    return c


def test_the_supervisor_sees_every_hall_rankings_statistics_and_exports(cfg):
    a_day_of_hall_a(cfg)
    c = _client(cfg, "sup")
    page = c.get("/console/?lang=zh-Hans").get_data(as_text=True)
    assert "甲大厅" in page and "乙镇" in page and "差评整改逾期" in page
    row = re.search(r'<tr data-site="hall-a".*?</tr>', page, re.S).group(0)
    assert re.search(r'data-col="waiting">2<', row) and re.search(r'data-col="overdue">1<', row)
    assert "全縣大廳實時情況" in c.get("/console/?lang=zh-Hant").get_data(as_text=True)  # Traditional (Hong Kong's)
    assert "Every hall now" in c.get("/console/?lang=en").get_data(as_text=True)
    ranks = c.get("/console/rankings?by=item&days=7").get_data(as_text=True)
    assert ranks.index('data-key="id_card"') < ranks.index('data-key="passport"')  # shorter wait first
    assert "Hall A" in c.get("/console/rankings?by=hall").get_data(as_text=True)  # English since ?lang=en
    stats = c.get("/console/stats?days=7")
    assert stats.status_code == 200 and b"<svg" in stats.data
    for odd in ("²", "①", "-3", "99999", "9" * 4301):  # not ASCII digits, or out of range: the default 30 days, not a 500
        assert c.get("/console/stats", query_string={"days": odd}).status_code == 200
    assert c.get("/console/halls/hall-a/journal", query_string={"after": "²"}).status_code == 200
    csv = c.get("/console/stats?days=7&format=csv&lang=en").get_data(as_text=True)
    assert csv.startswith("\ufeffDay,Tickets") and f"{DAY},4,2,1,25.0,0.5,2,1,0.5" in csv
    xlsx = c.get("/console/stats?days=7&format=xlsx&site=hall-a")
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(xlsx.data)).active
    assert [cell.value for cell in ws[2]][:4] == [DAY, 4, 2, 1]
    journal = c.get("/console/halls/hall-a/journal").get_data(as_text=True)
    assert "A001" in journal and 'data-action="no_show">No-show<' in journal  # the action in words
    assert c.get("/console/halls/hall-a/journal?after=13").status_code == 200


def test_a_hall_manager_sees_only_their_hall_read_only(cfg):
    a_day_of_hall_a(cfg)
    c = _client(cfg, "mgr-b")
    page = c.get("/console/").get_data(as_text=True)
    assert 'data-site="hall-b"' in page and 'data-site="hall-a"' not in page
    assert c.get("/console/halls/hall-a/journal").status_code == 403
    assert c.get("/console/halls/hall-b/journal").status_code == 200
    assert c.get("/console/stats?site=hall-a").status_code == 403
    assert "id_card" not in c.get("/console/rankings?by=item").get_data(as_text=True)  # hall A's items
    assert c.post("/console/halls/hall-b/journal").status_code == 405  # nothing to write


def test_a_page_without_a_session_goes_to_the_sign_in_and_a_wrong_password_is_refused(cfg):
    app = create_app(cfg, ingest=False)
    c = app.test_client()
    r = c.get("/console/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/login")
    r = console_login(c, "sup", "wrong")
    assert r.status_code == 401 and "用户名或密码不正确" in r.get_data(as_text=True)
    c.set_cookie("hallq_county", "forged")
    assert c.get("/console/stats").status_code == 302
    ok = _client(cfg, "sup")
    cookie = ok.get_cookie("hallq_county")
    assert cookie.http_only and cookie.same_site == "Strict"
    assert "Content-Security-Policy" in ok.get("/console/").headers
    ok.post("/console/logout")
    assert ok.get("/console/").status_code == 302


def test_three_years_of_a_county_answer_the_main_reports_within_a_second(cfg):
    """163 halls (1 centre, 12 towns, 150 villages) × 3 years × 4 businesses and items in the daily rollup: about
    700,000 rows standing for some 30 million tickets. The reports read the rollup, never the events."""
    import time

    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO console_daily (site, day, business, item, issued, called, served, no_show, wait_seconds, "
            "wait_max, on_time, rated, bad) "
            "SELECT 'hall-' || h, d::date, b, i, 40 + h % 7, 38, 36, 2, 38 * (300 + h * 3), 2400, 30 + h % 5, 20, h % 3 "
            "FROM generate_series(1, 163) h, generate_series(date '2023-12-01', date '2026-11-30', '1 day') d, "
            "unnest(ARRAY['social', 'tax']) b, unnest(ARRAY['item_1', 'item_2']) i")
        conn.execute("ANALYZE console_daily")
        tickets = conn.execute("SELECT sum(issued) AS n FROM console_daily").fetchone()["n"]
        assert tickets > 25_000_000
        start, end = date(2023, 12, 1), date(2026, 11, 30)
        for name, report in (("halls", lambda: console.rankings(conn, "hall", start, end)),
                             ("businesses", lambda: console.rankings(conn, "business", start, end)),
                             ("items", lambda: console.rankings(conn, "item", start, end)),
                             ("county by day", lambda: console.daily_series(conn, start, end)),
                             ("one hall by day", lambda: console.daily_series(conn, start, end, "hall-7"))):
            t0 = time.monotonic()
            rows = report()
            took = time.monotonic() - t0
            assert rows and took < 1.0, f"the {name} report over three years took {took:.2f} s"
        assert len(console.rankings(conn, "hall", start, end)) == 163
