"""Statistics: the same figures live (today) and from the daily rollup; p90 from histograms; exports."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest

from hallq.clock import CHINA
from queue_server.domain import statistics
from tests.conftest import make_id

MONDAY, TUESDAY = date(2026, 11, 23), date(2026, 11, 24)


def at(clock, hh: int, mm: int, day: date = MONDAY) -> None:
    clock.set(datetime(day.year, day.month, day.day, hh, mm, tzinfo=CHINA))


@pytest.fixture
def monday(api, clock):
    """A001 served 10 min after a 10 min wait, A002 missed, A003 never called, B001 served at window 2."""
    at(clock, 9, 30)
    a1, a2, a3 = api.issue("alpha"), api.issue("alpha"), api.issue("alpha")
    b1 = api.issue("beta", id_number=make_id())
    api.open_window(1, "101")
    api.open_window(2, "102")
    at(clock, 9, 40)
    api.act(1, "call-next", "101")
    at(clock, 9, 41)
    api.act(1, "start", "101")
    at(clock, 9, 51)
    api.act(1, "complete", "101")
    api.tokens["tablet"] = "demo-tablet-1"
    api.ok("post", "/windows/1/rating", {"level": 5}, as_="tablet", status=201)
    at(clock, 9, 52)
    api.act(1, "call-next", "101")
    at(clock, 9, 57)
    api.act(1, "no-show", "101")
    at(clock, 10, 0)
    assert api.act(2, "call-next", "102")["ticket"]["ticket"] == "B001"
    api.act(2, "start", "102")
    at(clock, 10, 5)
    api.act(2, "complete", "102")
    return {"a1": a1, "a2": a2, "a3": a3, "b1": b1}


def report(state, group="business", first=MONDAY, last=MONDAY, business=None):
    today = state.hall.now().date()
    with state.db.read() as conn:
        return statistics.report(conn, first, last, group, today, business)


def by_key(rep):
    return {r["key"]: r for r in rep["rows"]}


def test_today_is_computed_live(state, monday):
    rows = by_key(report(state))
    a, b = rows["alpha"], rows["beta"]
    assert (a["issued"], a["done"], a["no_show"]) == (3, 1, 1)
    assert a["avg_wait_min"] == 16.0  # (10 + 22) / 2
    assert a["p90_wait_min"] == 22.8  # buckets 10 and 22, interpolated within the 1-minute bucket
    assert a["avg_service_min"] == 10.0
    assert (a["rated"], a["avg_level"], a["satisfaction"], a["bad"]) == (1, 5.0, 1.0, 0)
    assert (b["issued"], b["done"], b["avg_wait_min"], b["p90_wait_min"], b["avg_service_min"]) == \
        (1, 1, 30.0, 34.5, 5.0)
    assert b["rated"] == 0 and b["satisfaction"] is None


def test_a_closed_day_reads_the_same_from_its_rollup(state, monday, api, clock):
    live = {g: report(state, g) for g in statistics.GROUPS}
    at(clock, 9, 0, TUESDAY)
    api.issue("alpha")  # the first action of the day rolls Monday over (A003 expires)
    assert statistics.pending_days(state.db.connection()) == ["2026-11-23"]
    assert statistics.roll_up_pending(state.db, state.hall.now()) == 1
    assert statistics.pending_days(state.db.connection()) == []
    for group, before in live.items():
        after = report(state, group)
        for row in before["rows"] + [before["total"]]:
            row.pop("expired", None)
        for row in after["rows"] + [after["total"]]:
            row.pop("expired", None)
        assert after["rows"] == before["rows"], group
        assert after["total"] == before["total"], group
    assert report(state)["total"]["expired"] == 1


def test_groupings(state, monday):
    assert [r["key"] for r in report(state, "hour")["rows"]] == [9]
    windows = by_key(report(state, "window"))
    assert set(windows) == {0, 1, 2} and windows[0]["issued"] == 1 and windows[1]["no_show"] == 1
    staff = state.db.connection().execute("SELECT id FROM staff WHERE job_no = '101'").fetchone()[0]
    assert by_key(report(state, "staff"))[staff]["done"] == 1
    assert report(state, "day")["rows"][0]["key"] == "2026-11-23"


def test_a_business_filter_keeps_percentiles(state, monday):
    rows = by_key(report(state, "window", business="alpha"))
    assert set(rows) == {0, 1}
    assert rows[1]["p90_wait_min"] == 22.8
    assert report(state, "hour", business="beta")["rows"][0]["p90_wait_min"] == 34.5
    assert report(state, "day", business="beta")["total"]["p90_wait_min"] == 34.5


def test_a_late_rating_rolls_its_day_up_again(state, monday, api, clock):
    at(clock, 9, 0, TUESDAY)
    api.issue("alpha")
    statistics.roll_up_pending(state.db, state.hall.now())
    assert report(state)["total"]["bad"] == 0
    api.ok("post", "/ratings", {"ticket": monday["b1"]["id"], "level": 1}, status=201)  # from the phone, a day later
    assert statistics.pending_days(state.db.connection()) == ["2026-11-23"]
    statistics.roll_up_pending(state.db, state.hall.now())
    assert by_key(report(state))["beta"]["bad"] == 1


def test_percentile_interpolates_within_buckets():
    assert statistics.percentile({}) is None
    assert statistics.percentile({5: 10}) == 5.9
    assert statistics.percentile({0: 50, 40: 50}, 0.5) == 1.0
    assert statistics.percentile({0: 1, 240: 9}) == 293.3  # the open bucket counts 60 minutes wide
    hist = {b: 1 for b in range(0, 30)}  # 0..29 one each
    assert statistics.percentile(hist) == 27.0


def test_buckets_match_the_sql(state):
    for minutes, lower in ((0, 0), (29, 29), (30, 30), (34, 30), (59, 55), (60, 60), (119, 110), (120, 120),
                           (239, 210), (240, 240), (999, 240)):
        got = state.db.connection().execute(
            f"SELECT {statistics._BUCKET} FROM (SELECT ? AS m)", (minutes,)).fetchone()[0]
        assert got == lower, minutes
        assert lower <= minutes < lower + statistics.bucket_width(lower) or lower == 240


def test_exports(api, monday):
    r = api.get("/stats?group=business&from=2026-11-23&to=2026-11-23&format=csv", as_="900")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["分组", "取号", "办结"]
    assert rows[1][0] == "甲业务" and rows[1][1] == "3" and rows[-1][0] == "合计"
    r = api.get("/stats?group=hour&format=xlsx", as_="900", headers={"Accept-Language": "en"})
    from openpyxl import load_workbook
    ws = load_workbook(io.BytesIO(r.data)).active
    assert ws["A1"].value == "Group" and ws["A2"].value == "09:00" and ws["B2"].value == 4


def test_bad_parameters_are_refused(api):
    # dates near year 1 or 9999: the period's arithmetic overflowed (a 500)
    for query in ("group=month", "from=2026-13-01", "from=2026-11-24&to=2026-11-23", "business=nope",
                  "from=2020-01-01&to=2026-11-23", "to=0001-01-10", "to=9999-12-31", "from=9999-12-30&to=9999-12-31"):
        r = api.get(f"/stats?{query}", as_="900")
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_fields", query
