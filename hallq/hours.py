"""Opening hours of a hall: when it serves, and when the kiosk may issue numbers.

A hall is open on its working days (see :mod:`hallq.workdays`) during the
``workdays`` periods (seed 004: 周一至周五 09:00-12:00, 13:00-17:00), with
optional per-weekday overrides and optional weekend periods for halls that
offer 错时延时服务 (seed 000 §25). Numbers may be taken a little before opening
and during the lunch break, and issuing may stop a little before closing; all
three are settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from hallq.workdays import WorkCalendar

_PERIOD = re.compile(r"(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Period:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> "Period":
        """``"09:00-12:00"`` → Period; raise ValueError with what is wrong."""
        m = _PERIOD.fullmatch(text.strip())
        try:
            if m is None:
                raise ValueError
            start, end = time.fromisoformat(m.group(1)), time.fromisoformat(m.group(2))
        except ValueError:
            raise ValueError(f"{text!r} is not a period like \"09:00-12:00\"") from None
        if end <= start:
            raise ValueError(f"{text!r} ends before it starts")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def check_no_overlap(periods: list[Period]) -> None:
    ordered = sorted(periods, key=lambda p: p.start)
    for a, b in zip(ordered, ordered[1:]):
        if b.start < a.end:
            raise ValueError(f"periods {a} and {b} overlap")


@dataclass
class OpeningHours:
    calendar: WorkCalendar
    workdays: list[Period]
    by_weekday: dict[str, list[Period]] = field(default_factory=dict)  # overrides on working days
    weekend: dict[str, list[Period]] = field(default_factory=dict)  # "saturday"/"sunday" when not a working day
    issue_before_open_minutes: int = 30
    stop_issuing_before_close_minutes: int = 0
    issue_during_breaks: bool = True

    def periods_on(self, day: date) -> list[Period]:
        """The service periods on ``day`` (empty when the hall is closed)."""
        name = WEEKDAYS[day.weekday()]
        if self.calendar.is_workday(day):
            return self.by_weekday.get(name, self.workdays)
        if self.calendar.holiday_name(day) is None and name in self.weekend:
            return self.weekend[name]
        return []

    def is_serving(self, now: datetime) -> bool:
        t = now.timetz().replace(tzinfo=None)
        return any(p.start <= t < p.end for p in self.periods_on(now.date()))

    def issuing_state(self, now: datetime) -> tuple[bool, str]:
        """Whether a number may be issued now, and a reason code when not.

        Reason codes: ``closed_today``, ``before_opening``, ``after_closing``,
        ``break`` (lunch break with ``issue_during_breaks = false``).
        """
        periods = self.periods_on(now.date())
        if not periods:
            return False, "closed_today"
        t = now.replace(tzinfo=None)
        day = now.date()
        first = datetime.combine(day, periods[0].start) - timedelta(minutes=self.issue_before_open_minutes)
        last = datetime.combine(day, periods[-1].end) - timedelta(minutes=self.stop_issuing_before_close_minutes)
        if t < first:
            return False, "before_opening"
        if t >= last:
            return False, "after_closing"
        if not self.issue_during_breaks and not self.is_serving(now) and t >= datetime.combine(day, periods[0].start):
            return False, "break"
        return True, ""

    def next_opening(self, now: datetime, horizon_days: int = 40) -> datetime | None:
        """The start of the next service period after ``now`` (for "opens at …" messages)."""
        for offset in range(horizon_days):
            day = now.date() + timedelta(days=offset)
            for p in self.periods_on(day):
                start = datetime.combine(day, p.start, tzinfo=now.tzinfo)
                if start > now:
                    return start
        return None

    def add_open_minutes(self, start: datetime, minutes: float) -> datetime:
        """``start`` plus ``minutes`` of service time: the clock stops while the hall is closed.

        A promise such as "called within 10 minutes" counts only while windows
        can call: a number taken at 08:40 for a 09:00 opening is due at 09:10,
        one taken at 11:58 before a lunch break until 13:00 is due at 13:08.
        Past the day's last period the remainder runs on (the day's close
        expires what is still waiting).
        """
        t, left = start, timedelta(minutes=minutes)  # whole microseconds: exact, comparable with other times
        for p in self.periods_on(start.date()):
            begin = datetime.combine(start.date(), p.start, tzinfo=start.tzinfo)
            end = datetime.combine(start.date(), p.end, tzinfo=start.tzinfo)
            if t >= end:
                continue
            t = max(t, begin)
            if left <= end - t:
                return t + left
            left -= end - t
            t = end
        return t + left

    def open_minutes_between(self, start: datetime, end: datetime) -> float:
        """Minutes of service time from ``start`` to ``end`` on ``start``'s day (0 when ``end`` is earlier)."""
        if end <= start:
            return 0.0
        total, t = 0.0, start
        for p in self.periods_on(start.date()):
            begin = datetime.combine(start.date(), p.start, tzinfo=start.tzinfo)
            stop = datetime.combine(start.date(), p.end, tzinfo=start.tzinfo)
            a, b = max(t, begin), min(end, stop)
            if b > a:
                total += (b - a).total_seconds() / 60
        last = self.periods_on(start.date())
        if last:
            close = datetime.combine(start.date(), last[-1].end, tzinfo=start.tzinfo)
            if end > close:
                total += (end - max(close, start)).total_seconds() / 60
        else:
            total = (end - start).total_seconds() / 60
        return total

    def describe(self, day: date) -> dict:
        return {
            "date": day.isoformat(),
            "workday": self.calendar.is_workday(day),
            "periods": [str(p) for p in self.periods_on(day)],
            "holiday": self.calendar.holiday_name(day),
        }
