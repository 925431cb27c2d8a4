"""Time for the whole hall: one clock object, real or virtual.

Every rule that depends on time (opening hours, business day, waits, grace
periods) asks a :class:`Clock`, never ``datetime.now()``. Tests and the
simulator (``hallq simulate``) run the server on a :class:`VirtualClock` that
starts at a chosen moment and runs at a chosen speed, and can be moved by the
manager API when the server was started with ``--virtual-clock``.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from hallq.hallconfig import HallConfig

CHINA = ZoneInfo("Asia/Shanghai")


class Clock:
    """The real wall clock in the hall's time zone."""

    virtual = False

    def __init__(self, tz: tzinfo = CHINA) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def describe(self) -> dict:
        return {"virtual": False, "now": iso(self.now())}


class VirtualClock(Clock):
    """A clock that starts at ``start`` and advances ``rate`` times real time.

    ``rate=0`` freezes it (tests move it with :meth:`advance`). Moving it is
    thread-safe, and it never goes backwards unless :meth:`set` is told to.
    """

    virtual = True

    def __init__(self, start: datetime, rate: float = 1.0, tz: tzinfo = CHINA) -> None:
        super().__init__(tz)
        if start.tzinfo is None:
            start = start.replace(tzinfo=tz)
        self._lock = threading.Lock()
        self._base = start
        self._mono = time.monotonic()
        self.rate = rate

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._mono) * self.rate
            return (self._base + timedelta(seconds=elapsed)).astimezone(self.tz)

    def set(self, when: datetime, rate: float | None = None) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.tz)
        with self._lock:
            self._base = when
            self._mono = time.monotonic()
            if rate is not None:
                self.rate = rate

    def advance(self, seconds: float) -> datetime:
        self.set(self.now() + timedelta(seconds=seconds))
        return self.now()

    def describe(self) -> dict:
        return {"virtual": True, "now": iso(self.now()), "rate": self.rate}


def iso(dt: datetime) -> str:
    """ISO-8601 with milliseconds and offset: ``2026-11-23T09:31:02.123+08:00``."""
    return dt.isoformat(timespec="milliseconds")


def parse_iso(s: str) -> datetime:
    return datetime.fromisoformat(s)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def clock_from_spec(spec: str | None, hall: HallConfig) -> Clock:
    """The clock a command's ``--virtual-clock`` asks for, in the hall's time zone.

    ``None`` → the real clock; ``next-open`` → virtual, now if the hall is serving, else five
    minutes after its next opening; an ISO time (``2026-11-23T09:30+08:00``) → virtual from then.
    A spec that is none of these raises :class:`ValueError` saying so.
    """
    tz = ZoneInfo(hall.timezone)
    if not spec:
        return Clock(tz)
    now = datetime.now(tz)
    if spec == "next-open":
        if hall.hours.is_serving(now):
            return VirtualClock(now, tz=tz)
        nxt = hall.hours.next_opening(now)
        return VirtualClock((nxt or now) + timedelta(minutes=5), tz=tz)
    try:
        when = datetime.fromisoformat(spec)
    except ValueError:
        raise ValueError(f"--virtual-clock {spec!r} is neither 'next-open' nor an ISO time "
                         "like 2026-11-23T09:30+08:00") from None
    return VirtualClock(when if when.tzinfo else when.replace(tzinfo=tz), tz=tz)
