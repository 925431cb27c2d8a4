from datetime import date, datetime, timedelta

import pytest

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


# -- opening-time arithmetic: the clock of the dispatch promises (hallq/targets.py) ----------------

MONDAY = OpeningHours(WorkCalendar("china"), HOURS)


@pytest.mark.parametrize("start, minutes, due", [
    ("2026-11-23T09:30", 10, "2026-11-23T09:40"),   # inside a period: plain arithmetic
    ("2026-11-23T08:40", 10, "2026-11-23T09:10"),   # before opening the clock starts at opening
    ("2026-11-23T08:40", 0, "2026-11-23T09:00"),
    ("2026-11-23T11:58", 2, "2026-11-23T12:00"),    # exactly used up at the start of the lunch break
    ("2026-11-23T11:58", 10, "2026-11-23T13:08"),   # across the lunch break: the clock stops 12:00-13:00
    ("2026-11-23T12:30", 8, "2026-11-23T13:08"),    # taken during the break: counts from 13:00
    ("2026-11-23T11:00", 300, "2026-11-23T17:00"),  # the rest of the morning and the whole afternoon
    ("2026-11-23T11:00", 301, "2026-11-23T17:01"),  # past the last period the remainder runs on
    ("2026-11-23T16:55", 10, "2026-11-23T17:05"),
    ("2026-11-23T17:30", 10, "2026-11-23T17:40"),   # after closing: wall-clock minutes
    ("2026-11-22T10:00", 10, "2026-11-22T10:10"),   # a closed day (Sunday): wall-clock minutes too
    ("2026-10-01T10:00", 10, "2026-10-01T10:10"),   # a public holiday
])
def test_add_open_minutes(start, minutes, due):
    got = MONDAY.add_open_minutes(at(start), minutes)
    assert got == at(due) and got.tzinfo is CHINA


def test_add_open_minutes_keeps_whole_microseconds():
    """Deadlines are compared with ticket times: they must be exact, not float-rounded seconds."""
    just_before_noon = at("2026-11-23T11:59:59.999999")
    assert MONDAY.add_open_minutes(just_before_noon, 1) == at("2026-11-23T13:00:59.999999")
    assert MONDAY.add_open_minutes(just_before_noon, 0.5) == at("2026-11-23T13:00:29.999999")
    assert MONDAY.add_open_minutes(at("2026-11-23T09:00"), 4.5) == at("2026-11-23T09:04:30")  # half of a 9 min target
    assert MONDAY.add_open_minutes(at("2026-11-23T09:00"), 1 / 60) == at("2026-11-23T09:00:01")
    assert MONDAY.add_open_minutes(at("2026-11-23T11:59:59"), 1e-6) == at("2026-11-23T11:59:59.000060")
    assert MONDAY.add_open_minutes(at("2026-11-23T12:00"), 1e-6) == at("2026-11-23T13:00:00.000060")


def test_add_open_minutes_follows_a_weekday_override():
    wednesday_late = OpeningHours(WorkCalendar("china"), HOURS,
                                  by_weekday={"wednesday": [Period.parse("09:00-12:00"), Period.parse("13:00-18:00")]})
    assert wednesday_late.add_open_minutes(at("2026-11-25T17:30"), 40) == at("2026-11-25T18:10")
    assert wednesday_late.add_open_minutes(at("2026-11-23T16:50"), 40) == at("2026-11-23T17:30")  # Monday as usual


def counted(periods: list[Period], day: date, t: datetime) -> bool:
    """Whether the promise clock of a ticket taken on ``day`` (with these periods) runs in the minute from ``t``.

    It runs in the day's periods and after its last one (the day's close expires what still
    waits); all day on a closed day; and on from midnight.
    """
    if not periods or t.date() > day:
        return True
    return any(p.start <= t.time() < p.end for p in periods) or t.time() >= periods[-1].end


@pytest.mark.parametrize("day", ["2026-11-23", "2026-11-22"])
def test_add_open_minutes_agrees_with_counting_minute_by_minute(day):
    starts = [at(f"{day}T07:00") + timedelta(minutes=13 * i) for i in range(55)]  # 07:00 to 18:42
    periods = MONDAY.periods_on(date.fromisoformat(day))
    for start in starts:
        for minutes in (1, 59, 60, 61, 180, 181, 300, 421, 600):
            t, left = start, minutes
            while left:
                left -= counted(periods, start.date(), t)
                t += timedelta(minutes=1)
            assert MONDAY.add_open_minutes(start, minutes) == t, (start, minutes)


def test_open_minutes_between_is_the_inverse_of_add_open_minutes():
    for start in (at("2026-11-23T08:40"), at("2026-11-23T11:58"), at("2026-11-23T12:30"), at("2026-11-23T16:55"),
                  at("2026-11-23T17:30"), at("2026-11-22T10:00")):
        for minutes in (0.5, 1, 10, 62, 300):
            assert MONDAY.open_minutes_between(start, MONDAY.add_open_minutes(start, minutes)) == \
                pytest.approx(minutes, abs=1e-9), (start, minutes)
    assert MONDAY.open_minutes_between(at("2026-11-23T10:00"), at("2026-11-23T09:00")) == 0.0
    assert MONDAY.open_minutes_between(at("2026-11-23T08:00"), at("2026-11-23T08:59")) == 0.0  # before opening
    assert MONDAY.open_minutes_between(at("2026-11-23T11:00"), at("2026-11-23T14:00")) == 120.0  # lunch excluded
