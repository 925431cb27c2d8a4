"""The dispatch policy of docs/dispatch.md, restated by brute force for the tests.

Written apart from ``queue_server.domain.dispatch`` on purpose: it reads every
waiting ticket (not the few candidates the SQL fetches), keeps each window's
run of promises itself, and measures opening time with a cumulative function
of the day rather than by walking the periods. The property tests compare the
server's every call with it; the mutation tests check that it notices a
changed rule.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

GREEN, APPOINTMENT, ORDINARY = 0, 1, 2
COLUMNS = {GREEN: "green_target_minutes", APPOINTMENT: "appointment_target_minutes",
           ORDINARY: "ordinary_target_minutes"}


US = timedelta(microseconds=1)


def _open_until(periods, t: datetime, midnight: datetime) -> int:
    """Microseconds the hall has been open on the day that starts at ``midnight`` up to ``t``; after closing
    the count runs on (past the next midnight too, so that it only grows: the bisection below needs that)."""
    if not periods:
        return (t - midnight) // US
    spans = [(midnight + timedelta(hours=p.start.hour, minutes=p.start.minute),
              midnight + timedelta(hours=p.end.hour, minutes=p.end.minute)) for p in periods]
    total = sum(max(0, (min(t, b) - a) // US) for a, b in spans)
    return total + max(0, (t - spans[-1][1]) // US)


@functools.lru_cache(maxsize=100_000)
def add_open(periods: tuple, start: datetime, minutes: float) -> datetime:
    """``start`` plus ``minutes`` of opening time: the first microsecond at which the count reaches it.

    Found by bisection over whole microseconds, so it is exact (every time here
    is a whole number of microseconds, every target a whole number of seconds).
    """
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    goal = _open_until(periods, start, midnight) + round(minutes * 60_000_000)
    lo, hi = 0, round((minutes + 24 * 60) * 60_000_000)  # offsets from start, in microseconds
    while lo < hi:
        mid = (lo + hi) // 2
        if _open_until(periods, start + mid * US, midnight) < goal:
            lo = mid + 1
        else:
            hi = mid
    return start + lo * US


class Oracle:
    """Picks what a window should call, and follows each window's run of promises."""

    def __init__(self, service, max_in_a_row: int) -> None:
        self.service = service
        self.k = max_in_a_row
        self.runs: dict[int, int] = {}

    def expected(self, window: int, run: int | None = None) -> tuple[int | None, int]:
        """The id of the ticket ``window`` should get next, and the window's run after that call.

        ``run``: the window's run of promises, if not the one this oracle followed.
        """
        conn = self.service.db.connection()
        now = self.service.hall.now()
        periods = tuple(self.service.hall.config.hours.periods_on(now.date()))
        ranks = {r["business"]: r["rank"] for r in conn.execute(
            "SELECT business, rank FROM allocation WHERE window = ?", (window,))}
        targets = {r["code"]: r for r in conn.execute("SELECT * FROM businesses")}
        run = self.runs.get(window, 0) if run is None else run
        directed, promises, overdue, rest = [], [], [], []
        for r in conn.execute("SELECT * FROM tickets WHERE state = 'waiting' AND business_day = ?",
                              (now.date().isoformat(),)):
            if r["target_window"] is not None:
                if r["target_window"] == window:
                    directed.append(((r["arrived_at"], r["id"]), r["id"]))
                continue
            if r["business"] not in ranks:
                continue
            start = datetime.fromisoformat(r["promise_from"])
            target = targets[r["business"]][COLUMNS[r["class"]]]
            due = add_open(periods, start, target)
            urgent = add_open(periods, start, target * 0.3 if r["class"] != ORDINARY else target)  # 30 %: a promise
            if now >= urgent:
                (promises if r["class"] != ORDINARY else overdue).append(((due, r["class"], r["id"]), r["id"]))
            else:
                klass = r["class"] if start <= now else ORDINARY  # before its slot, an appointment is no promise yet
                rest.append(((klass, ranks[r["business"]], r["promise_from"], r["id"]), r["id"]))
        if directed:
            return min(directed)[1], run
        if promises and overdue:
            return (min(promises)[1], run + 1) if run < self.k else (min(overdue)[1], 0)
        if promises or overdue:
            return min(promises or overdue)[1], 0
        return (min(rest)[1] if rest else None), (0 if rest else run)

    def called(self, window: int, run: int) -> None:
        self.runs[window] = run


