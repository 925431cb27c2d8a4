"""Working days (工作日): China's public holidays and make-up workdays (调休).

Deadlines (承诺办结时限, 差评整改时限) and appointment days count working days,
not weekdays. The State Council moves holidays every year, so the calendar is

1. the hall's own overrides (``[calendar]`` in hall.toml: ``holidays`` and
   ``workdays`` lists), which always win; then
2. the ``chinesecalendar`` package, which knows the official arrangement for
   the years it was released for; then
3. for a year nobody has told us about: Monday to Friday, less the statutory
   holidays that the law fixes (:func:`statutory_holidays`: 元旦, 春节, 清明,
   劳动节, 端午, 中秋, 国庆, the lunar ones computed with ``borax``), so that
   2027-01-01 is not offered for bookings before the State Council publishes
   2027's arrangement. The make-up workdays (调休) and the bridging days around
   them cannot be computed: that year is reported by
   :meth:`WorkCalendar.unknown_years` so the server warns the operator in its
   log and the manager's calendar page asks to confirm it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

try:  # imported lazily-cheap; a missing package is a clear setup error, not a silent fallback
    import chinese_calendar as _cc
except ImportError:  # pragma: no cover - declared as a dependency
    _cc = None


# 《全国年节及纪念日放假办法》 as amended by 国务院令第795号 (2024-11-10), in force from 2025: the days off for all
# citizens. The names are chinesecalendar's (queue_server.domain.appointments.HOLIDAYS turns them into texts).
STATUTORY_SINCE = 2025
_FIXED = {(1, 1): "New Year's Day",                                  # 元旦 1 day
          (5, 1): "Labour Day", (5, 2): "Labour Day",                # 劳动节 2 days
          (10, 1): "National Day", (10, 2): "National Day", (10, 3): "National Day"}  # 国庆节 3 days


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[date, str]:
    """The statutory holidays of ``year`` by the law alone (no 调休): date → chinesecalendar's English name.

    Fixed dates always; 春节 (除夕 to 初三, 4 days), 清明 (the solar term's day), 端午 (五月初五) and 中秋 (八月十五)
    from the lunar calendar of ``borax`` (1900-2100; outside that range only the fixed dates). Years before
    :data:`STATUTORY_SINCE` had other rules and are not computed (empty).
    """
    if year < STATUTORY_SINCE:
        return {}
    out = {date(year, m, d): name for (m, d), name in _FIXED.items()}
    try:
        from borax.calendars.lunardate import LunarDate, TermUtils
    except ImportError:  # pragma: no cover - declared as a dependency
        return out
    try:
        new_year = LunarDate(year, 1, 1).to_solar_date()
        lunar = {new_year + timedelta(days=i): "Spring Festival" for i in range(-1, 3)}   # 除夕, 初一..初三
        lunar[TermUtils.nth_term_day(year, term_name="清明")] = "Tomb-sweeping Day"
        lunar[LunarDate(year, 5, 5).to_solar_date()] = "Dragon Boat Festival"
        lunar[LunarDate(year, 8, 15).to_solar_date()] = "Mid-autumn Festival"
    except ValueError:  # outside borax's table (InvalidLunarDateError is a ValueError)
        return out
    return {**lunar, **out}  # 中秋 on 10-1..10-3 (2028: 10-3) keeps the National Day name


class WorkCalendar:
    """Which dates are working days in one hall."""

    def __init__(self, mode: str = "china", holidays: Iterable[date] = (),
                 workdays: Iterable[date] = ()) -> None:
        if mode not in ("china", "weekdays"):
            raise ValueError(f"calendar mode must be 'china' or 'weekdays', not {mode!r}")
        if mode == "china" and _cc is None:
            raise RuntimeError("calendar mode 'china' needs the chinesecalendar package: pip install chinesecalendar")
        self.mode = mode
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        clash = self.holidays & self.workdays
        if clash:
            raise ValueError(f"dates listed both as holiday and as workday: {sorted(map(str, clash))}")
        self._unknown: set[int] = set()
        # chinesecalendar scans its whole table on every call; a hall asks about few dates
        self._memo: dict[date, bool] = {}

    def is_workday(self, d: date) -> bool:
        known = self._memo.get(d)
        if known is None:
            known = self._memo[d] = self._is_workday(d)
        return known

    def _is_workday(self, d: date) -> bool:
        if d in self.holidays:
            return False
        if d in self.workdays:
            return True
        if self.mode == "china":
            try:
                return bool(_cc.is_workday(d))
            except NotImplementedError:
                self._unknown.add(d.year)
                if d in statutory_holidays(d.year):
                    return False
        return d.weekday() < 5

    def holiday_name(self, d: date) -> str | None:
        """The official holiday's English name (``"National Day"``) when known."""
        if self.mode != "china" or d in self.workdays:
            return None
        try:
            on_holiday, name = _cc.get_holiday_detail(d)
        except NotImplementedError:
            return statutory_holidays(d.year).get(d)
        return name if on_holiday and name else None

    def is_known(self, year: int) -> bool:
        """Whether the official arrangement for ``year`` is known (package or overrides)."""
        if self.mode != "china":
            return True
        if any(d.year == year for d in self.holidays | self.workdays):
            return True
        try:
            _cc.is_workday(date(year, 6, 1))
            return True
        except NotImplementedError:
            return False

    def unknown_years(self) -> set[int]:
        """Years asked about whose arrangement nobody told us (weekdays less the statutory holidays were assumed)."""
        return {y for y in self._unknown if not self.is_known(y)}

    def add_workdays(self, start: date, n: int) -> date:
        """The date ``n`` working days after ``start`` (``start`` itself not counted).

        ``add_workdays(friday, 1)`` is the next Monday, unless that is a holiday.
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        d = start
        while n > 0:
            d += timedelta(days=1)
            if self.is_workday(d):
                n -= 1
        return d

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many have passed since ``start``."""
        if end <= start:
            return 0
        count, d = 0, start
        while d < end:
            d += timedelta(days=1)
            count += self.is_workday(d)
        return count

    def next_workdays(self, start: date, count: int, include_start: bool = False) -> list[date]:
        out: list[date] = []
        d = start if include_start else start + timedelta(days=1)
        while len(out) < count:
            if self.is_workday(d):
                out.append(d)
            d += timedelta(days=1)
        return out
