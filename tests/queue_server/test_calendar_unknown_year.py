"""A year whose official holiday arrangement is not published yet (issue 12, item 7).

``chinesecalendar`` knows the years it was released for. For a later year the calendar takes the weekdays less
the statutory holidays of the law (元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆), the lunar ones computed with
``borax``; the hall's own ``[calendar]`` and the manager's overrides still win, and the manager is warned.
"""

import logging
from datetime import date, datetime

import chinese_calendar
import pytest

from hallq.clock import CHINA
from hallq.testing import TINY
from hallq.workdays import WorkCalendar, statutory_holidays
from tests.conftest import Api, make_id

UNKNOWN = 2027  # the year after the newest the locked chinesecalendar knows (checked below)

SERVICES = """
[[items]]
code = "T-ALPHA-1"
business = "alpha"
name = { zh-Hans = "甲事项", zh-Hant = "甲事項", en = "Alpha item" }
appointment = true
"""


def test_the_locked_calendar_package_does_not_know_the_test_year():
    # if a chinesecalendar release learns 2027, these tests must move to a year it does not know
    assert not WorkCalendar("china").is_known(UNKNOWN)


def test_spring_festival_2027_and_the_other_lunar_holidays_are_computed():
    days = statutory_holidays(UNKNOWN)
    # 正月初一 2027 is Saturday 6 Feb; 除夕 is the day before (腊月 has 29 days that year)
    assert [d for d, n in sorted(days.items()) if n == "Spring Festival"] == \
        [date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8)]
    assert days[date(2027, 4, 5)] == "Tomb-sweeping Day"       # 清明, the solar term
    assert days[date(2027, 6, 9)] == "Dragon Boat Festival"    # 五月初五
    assert days[date(2027, 9, 15)] == "Mid-autumn Festival"    # 八月十五
    assert [d for d, n in sorted(days.items()) if n in ("New Year's Day", "Labour Day", "National Day")] == \
        [date(2027, 1, 1), date(2027, 5, 1), date(2027, 5, 2), date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3)]
    assert len(days) == 13                                     # 1 + 4 + 1 + 2 + 1 + 1 + 3 days by the law
    assert statutory_holidays(2028)[date(2028, 10, 3)] == "National Day"  # 中秋 on 10-03 that year: one day


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_computed_days_are_holidays_in_the_published_arrangements(year):
    # the arrangements of 2025 and 2026 (chinesecalendar) contain every statutory day, under the same name
    for day, name in statutory_holidays(year).items():
        on_holiday, official = chinese_calendar.get_holiday_detail(day)
        assert on_holiday and official == name, (day, name, official)


def test_an_unknown_year_closes_the_statutory_holidays_and_keeps_asking():
    cal = WorkCalendar("china")
    assert not cal.is_workday(date(2027, 1, 1))                 # 元旦, a Friday
    assert cal.holiday_name(date(2027, 1, 1)) == "New Year's Day"
    assert not cal.is_workday(date(2027, 2, 8))                 # 初三, a Monday
    assert cal.is_workday(date(2027, 2, 9)) and cal.holiday_name(date(2027, 2, 9)) is None
    assert cal.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert cal.unknown_years() == {2027}                        # 调休 unknown: the server still warns


def test_the_halls_own_calendar_wins_over_the_computed_days():
    cal = WorkCalendar("china", holidays=[date(2027, 1, 4)], workdays=[date(2027, 1, 1), date(2027, 2, 20)])
    assert cal.is_workday(date(2027, 1, 1)) and cal.holiday_name(date(2027, 1, 1)) is None
    assert not cal.is_workday(date(2027, 1, 4))
    assert cal.is_workday(date(2027, 2, 20))                    # a 调休 Saturday
    assert not WorkCalendar("weekdays").is_workday(date(2027, 1, 2)) and WorkCalendar("weekdays").is_workday(
        date(2027, 1, 1))                                       # mode = "weekdays" is Monday to Friday, as before


def test_years_outside_the_law_and_the_lunar_table():
    assert statutory_holidays(2024) == {}                       # older rules; chinesecalendar knows those years
    fixed_only = statutory_holidays(2101)                       # beyond borax's table: the fixed dates only
    assert sorted(fixed_only) == [date(2101, 1, 1), date(2101, 5, 1), date(2101, 5, 2),
                                  date(2101, 10, 1), date(2101, 10, 2), date(2101, 10, 3)]


# -- through the API --------------------------------------------------------------------------------

def at(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def make_hall(tmp_path, clock, calendar_lines: str = ""):
    from queue_server.app import create_app

    cfg = tmp_path / "hall"
    cfg.mkdir()
    text = TINY.read_text(encoding="utf-8").replace('mode = "china"\n', 'mode = "china"\n' + calendar_lines, 1)
    (cfg / "hall.toml").write_text(text + "\n[appointments]\nmax_workdays_ahead = 5\ncapacity = 2\n", encoding="utf-8")
    (cfg / "services.toml").write_text(SERVICES, encoding="utf-8")
    return create_app(cfg / "hall.toml", data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)


def book(api, day, id_number):
    return api.post("/appointments", {"item": "T-ALPHA-1", "date": day, "start": "09:00", "name": "张小三",
                                      "id_number": id_number, "phone": "13812345678"}, as_="kiosk")


def test_new_years_day_2027_is_not_bookable_and_the_manager_is_asked_to_confirm(tmp_path, clock, caplog):
    clock.set(at(2026, 12, 28))  # Monday; 2027's arrangement is not published in the package
    with caplog.at_level(logging.WARNING, logger="hallq.server"):
        app = make_hall(tmp_path, clock)
    try:
        warning = next(r.getMessage() for r in caplog.records if "arrangement of 2027" in r.getMessage())
        assert "调休" in warning and "calendar page" in warning
        api = Api(app.test_client())
        days = {d["date"]: d for d in api.ok("get", "/appointments/slots?item=T-ALPHA-1")["days"]}
        assert [d for d, v in days.items() if v["bookable"]] == ["2026-12-29", "2026-12-30", "2026-12-31",
                                                                 "2027-01-04", "2027-01-05"]
        new_year = days["2027-01-01"]
        assert new_year["reason"] == "not_a_working_day" and new_year["holiday"]["zh-Hans"] == "元旦"
        r = book(api, "2027-01-01", make_id("19850615", seq=123))
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_a_working_day"
        assert book(api, "2027-01-04", make_id("19850615", seq=123)).status_code == 201
        settings = api.ok("get", "/settings", as_="900")               # the manager's calendar page reads this
        assert settings["unknown_years"] == [2027]
        upcoming = {d["date"]: d for d in settings["upcoming"]}
        assert upcoming["2027-02-05"]["periods"] == [] and upcoming["2027-02-05"]["holiday"] == "Spring Festival"
    finally:
        app.extensions["hallq"].close()


def test_a_halls_calendar_section_and_the_managers_override_win(tmp_path, clock):
    clock.set(at(2026, 12, 28))
    app = make_hall(tmp_path, clock, 'workdays = ["2027-01-01"]\nholidays = ["2027-01-04"]\n')
    try:
        api = Api(app.test_client())
        bookable = [d["date"] for d in api.ok("get", "/appointments/slots?item=T-ALPHA-1")["days"] if d["bookable"]]
        assert "2027-01-01" in bookable and "2027-01-04" not in bookable
        api.ok("put", "/settings/calendar/2027-01-01", {"kind": "holiday", "note": "元旦"}, as_="900")
        api.ok("put", "/settings/calendar/2027-01-04", {"kind": "workday", "note": ""}, as_="900")
        bookable = [d["date"] for d in api.ok("get", "/appointments/slots?item=T-ALPHA-1")["days"] if d["bookable"]]
        assert "2027-01-01" not in bookable and "2027-01-04" in bookable
    finally:
        app.extensions["hallq"].close()
