from datetime import date, datetime

from hallq.clock import CHINA, VirtualClock
from hallq.hours import OpeningHours, Period
from hallq.workdays import WorkCalendar

HOURS = [Period.parse("09:00-12:00"), Period.parse("13:00-17:00")]


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=CHINA)


def test_official_holidays_and_make_up_days():
    cal = WorkCalendar("china")
    assert not cal.is_workday(date(2026, 10, 1))     # National Day
    assert cal.is_workday(date(2026, 10, 10))        # a Saturday made a workday (调休) for National Day
    assert not cal.is_workday(date(2026, 11, 22))    # a Sunday
    assert cal.is_workday(date(2026, 11, 23))        # a Monday
    assert cal.holiday_name(date(2026, 10, 1)) == "National Day"


def test_make_up_workday_on_a_weekend_is_a_working_day():
    cal = WorkCalendar("china")
    make_up = [d for d in (date(2026, 1, 1).fromordinal(date(2026, 1, 1).toordinal() + i) for i in range(365))
               if d.weekday() >= 5 and cal.is_workday(d)]
    assert make_up, "2026 has make-up workdays (调休)"
    hours = OpeningHours(cal, HOURS)
    assert hours.periods_on(make_up[0]) == HOURS


def test_overrides_win_and_unknown_years_are_reported():
    cal = WorkCalendar("china", holidays=[date(2027, 1, 1)], workdays=[date(2027, 2, 6)])
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 2, 6))          # a Saturday made a workday
    assert cal.is_known(2027)                        # the overrides count as knowledge
    cal2 = WorkCalendar("china")
    cal2.is_workday(date(2031, 3, 3))
    assert cal2.unknown_years() == {2031}


def test_working_day_arithmetic_skips_holidays():
    cal = WorkCalendar("china")
    # Wednesday 30 Sep 2026 + 1 working day jumps the National Day holiday (1-7 Oct)
    assert cal.add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert cal.add_workdays(date(2026, 10, 9), 1) == date(2026, 10, 10)  # Saturday make-up day
    assert all(cal.is_workday(d) for d in cal.next_workdays(date(2026, 9, 30), 5))
    assert cal.workdays_between(date(2026, 11, 20), date(2026, 11, 23)) == 1  # Fri -> Mon


def test_issuing_window_early_breaks_and_close():
    hours = OpeningHours(WorkCalendar("china"), HOURS, issue_before_open_minutes=30,
                         stop_issuing_before_close_minutes=15, issue_during_breaks=False)
    assert hours.issuing_state(at("2026-11-23T08:29")) == (False, "before_opening")
    assert hours.issuing_state(at("2026-11-23T08:30")) == (True, "")
    assert hours.issuing_state(at("2026-11-23T12:30")) == (False, "break")
    assert hours.issuing_state(at("2026-11-23T16:44")) == (True, "")
    assert hours.issuing_state(at("2026-11-23T16:45")) == (False, "after_closing")
    assert hours.issuing_state(at("2026-11-22T10:00")) == (False, "closed_today")
    assert hours.next_opening(at("2026-11-21T10:00")) == at("2026-11-23T09:00")


def test_weekend_opening_for_extended_service():
    hours = OpeningHours(WorkCalendar("china"), HOURS, weekend={"saturday": [Period.parse("09:00-12:00")]})
    assert hours.is_serving(at("2026-11-21T10:00"))       # Saturday morning (错时延时)
    assert not hours.is_serving(at("2026-10-03T10:00"))   # but not on a public holiday


def test_virtual_clock_freezes_and_moves():
    c = VirtualClock(at("2026-11-23T09:30"), rate=0)
    assert c.now() == at("2026-11-23T09:30")
    c.advance(90)
    assert c.now() == at("2026-11-23T09:31:30")
