"""An in-memory hall for the engine: tests without a server, and a quick preview (``--engine memory``).

It keeps only what the engine asks about (numbers, the waiting list, windows
and their allocation) and calls with the server's own dispatch policy
(:func:`queue_server.domain.dispatch.choose`, which is pure), so its answers
have the server's shapes and ordering. It is not the server: no journal, no
idempotency, no MQTT. Reports that matter come from runs against the real
server; this one is for checking the engine and for a first look.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from hallq.clock import iso
from hallq.hallconfig import HallConfig
from hallq.privacy import IdNumber
from simulation.records import Refused
from simulation.model import Resident

CLASSES = {0: "green", 1: "appointment", 2: "ordinary"}


@dataclass
class _Ticket:
    id: int
    public_id: str
    label: str
    business: str
    klass: int
    state: str
    issued_at: str
    arrived_at: str
    promise_from: str
    window: int | None = None
    called_at: str | None = None
    finished_at: str | None = None
    requeues: int = 0

    def view(self) -> dict[str, Any]:
        return {"id": self.public_id, "ticket": self.label, "business": self.business, "class": CLASSES[self.klass],
                "state": self.state, "issued_at": self.issued_at, "called_at": self.called_at,
                "promise_from": self.promise_from, "window": self.window}


class MemoryHall:
    """The engine's :class:`~simulation.engine.Backend`, in memory."""

    def __init__(self, hall: HallConfig, start: datetime) -> None:
        self.hall = hall
        self.now = start
        self.tickets: list[_Ticket] = []
        self.numbers: dict[str, int] = {}
        self.serves = {n: list(w.serves) for n, w in hall.windows.items()}
        self.state = {n: "closed" for n in hall.windows}
        self.bookings: dict[str, tuple[str, str]] = {}  # code -> (business, slot start HH:MM)
        self.runs = {n: 0 for n in hall.windows}  # promises called in a row (dispatch.choose)
        self.calls = 0
        self.day_closed = False

    # -- time, set-up --------------------------------------------------------------------

    def set_time(self, at: datetime) -> None:
        self.now = at

    def tidal_auto(self, on: bool) -> None:
        if on:
            raise Refused("not_supported", "the in-memory hall has no tidal automation; use the real server")

    def book(self, r: Resident, day: str) -> str:
        code = secrets.token_hex(4).upper()
        self.bookings[code] = (r.business, r.appointment[1] if r.appointment else "")
        return code

    # -- tickets ------------------------------------------------------------------------------

    def _issue(self, business: str, klass: int, promise_from: datetime | None = None) -> _Ticket:
        b = self.hall.businesses[business]
        ok, reason = self.hall.hours.issuing_state(self.now)
        if self.day_closed or not ok:
            raise Refused("outside_hours" if not self.day_closed else "day_closed", reason)
        n = self.numbers.get(business, 0) + 1
        if n > b.daily_limit and klass != 1:
            raise Refused("daily_limit_reached")
        self.numbers[business] = n
        at = iso(self.now)
        t = _Ticket(len(self.tickets) + 1, secrets.token_urlsafe(9), f"{b.prefix}{n:03d}", business, klass,
                    "waiting", at, at, iso(max(promise_from or self.now, self.now)))
        self.tickets.append(t)
        return t

    def issue(self, r: Resident, ask_id: bool) -> dict[str, Any]:
        klass = 2
        age = self.hall.queue.green_channel_age
        if ask_id and age and IdNumber.parse(r.id_number).age_on(self.now.date()) >= age:
            klass = 0
        return self._estimated(self._issue(r.business, klass))

    def _estimated(self, t: _Ticket) -> dict[str, Any]:
        """The view with the server's estimate, from this hall's state (queue_server.domain.estimates.wait)."""
        from queue_server.domain.estimates import wait

        waiting = [x for x in self.tickets if x.state == "waiting" and x.business == t.business and x is not t]
        if t.klass == 2:
            ahead = sum(x.klass < 2 or x.promise_from <= t.promise_from for x in waiting)
        else:
            ahead = sum(x.klass < 2 and x.promise_from <= t.promise_from for x in waiting)
        w = wait(self._queue_state(t.business), self.hall.hours, self.now, t.klass, ahead,
                 datetime.fromisoformat(t.promise_from))
        return {**t.view(), "people_ahead": ahead, "est_wait_minutes": w.minutes if w else None,
                "est_wait_range": w.range if w else None}

    def _queue_state(self, business: str):
        """What the server's estimate reads of a business, from this hall (queue_server.domain.estimates)."""
        from queue_server.domain.estimates import (PROMISE_WINDOW_MINUTES, SAMPLE, QueueState, WindowNow,
                                                   capacity_of, mean_minutes)

        waiting: dict[str, int] = {}
        for x in self.tickets:
            if x.state == "waiting":
                waiting[x.business] = waiting.get(x.business, 0) + 1
        windows = [WindowNow(self.state[n], any(x.window == n and x.state in ("called", "serving")
                                                for x in self.tickets), tuple(serves))
                   for n, serves in self.serves.items()]
        capacity, idle = capacity_of(windows, waiting, not self.hall.hours.is_serving(self.now)).get(business, (0, 0))
        done = sorted((x for x in self.tickets if x.business == business and x.state == "done" and x.called_at),
                      key=lambda x: x.finished_at)[-SAMPLE:]
        b = self.hall.businesses[business]
        service = mean_minutes([(datetime.fromisoformat(x.finished_at) - datetime.fromisoformat(x.called_at))
                                .total_seconds() / 60 for x in done], b.service_minutes)
        since = self.now - timedelta(minutes=PROMISE_WINDOW_MINUTES)
        promises = sum(x.business == business and x.klass < 2 and x.called_at is not None
                       and datetime.fromisoformat(x.called_at) >= since for x in self.tickets)
        oldest = min((x.promise_from for x in self.tickets
                      if x.state == "waiting" and x.business == business and x.klass == 2), default=None)
        overdue = oldest is not None and self.now >= self.hall.hours.add_open_minutes(
            datetime.fromisoformat(oldest), b.targets.ordinary)
        return QueueState(service, capacity, idle, promises / PROMISE_WINDOW_MINUTES, overdue, b.targets)

    def check_in(self, code: str) -> dict[str, Any]:
        business, slot = self.bookings[code]
        starts = datetime.combine(self.now.date(), time.fromisoformat(slot), tzinfo=self.now.tzinfo) if slot else None
        return self._estimated(self._issue(business, 1, starts))

    def requeue(self, public_id: str) -> dict[str, Any]:
        t = next(t for t in self.tickets if t.public_id == public_id)
        if t.state != "no_show":
            raise Refused("not_missed")
        if self.now - datetime.fromisoformat(t.finished_at) > timedelta(minutes=self.hall.queue.no_show_grace_minutes):
            raise Refused("grace_expired")
        if t.requeues >= self.hall.queue.max_requeues:
            raise Refused("requeue_limit")
        t.state, t.window, t.called_at, t.finished_at = "waiting", None, None, None
        t.arrived_at = t.promise_from = iso(self.now)
        t.requeues += 1
        return t.view()

    # -- windows ------------------------------------------------------------------------------

    def _result(self, number: int, t: _Ticket | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"window": {"number": number, "state": self.state[number], "serves": self.serves[number]}}
        if t is not None:
            out["ticket"] = t.view()
        return out

    def _current(self, number: int) -> _Ticket:
        t = next((t for t in self.tickets if t.window == number and t.state in ("called", "serving")), None)
        if t is None:
            raise Refused("no_current_ticket")
        return t

    def _set(self, number: int, state: str) -> dict[str, Any]:
        self.state[number] = state
        return self._result(number)

    def sign_in(self, number: int) -> dict[str, Any]:
        return self._set(number, "open")

    def sign_out(self, number: int) -> dict[str, Any]:
        if any(t.window == number and t.state in ("called", "serving") for t in self.tickets):
            raise Refused("window_busy")
        return self._set(number, "closed")

    def pause(self, number: int, reason: str) -> dict[str, Any]:
        if self.state[number] != "open":
            raise Refused("window_not_open")
        return self._set(number, "paused")

    def resume(self, number: int) -> dict[str, Any]:
        if self.state[number] != "paused":
            raise Refused("window_not_paused")
        return self._set(number, "open")

    def set_allocation(self, number: int, serves: list[str]) -> dict[str, Any]:
        self.serves[number] = list(serves)
        return self._result(number)

    def call_next(self, number: int, complete_current: bool) -> dict[str, Any] | None:
        from queue_server.domain import dispatch

        if self.state[number] != "open":
            raise Refused("window_paused" if self.state[number] == "paused" else "window_closed")
        current = next((t for t in self.tickets if t.window == number and t.state in ("called", "serving")), None)
        if current is not None and not complete_current:
            raise Refused("current_ticket_open")
        ranks = {b: i + 1 for i, b in enumerate(self.serves[number])}
        cands = [dispatch.Candidate(t.id, t.business, t.klass, t.arrived_at, t.promise_from, False)
                 for t in self.tickets if t.state == "waiting" and t.business in ranks]
        q = self.hall.queue
        policy = dispatch.Policy(q.dispatch, {b: self.hall.businesses[b].targets for b in ranks}, self.hall.hours,
                                 q.max_promises_in_a_row)
        chosen, run = dispatch.choose(cands, ranks, self.now, self.runs[number], policy)
        if chosen is None:
            return None  # like the server: nothing changes, the current ticket stays current
        if complete_current and current is not None:
            current.state, current.finished_at = "done", iso(self.now)
        self.runs[number] = run
        t = self.tickets[chosen.id - 1]
        t.state, t.window, t.called_at = "called", number, iso(self.now)
        self.calls += 1
        return {**self._result(number, t), "seq": self.calls}

    def recall(self, number: int) -> dict[str, Any]:
        t = self._current(number)
        if t.state != "called":
            raise Refused("already_serving")
        return self._result(number, t)

    def start(self, number: int) -> dict[str, Any]:
        t = self._current(number)
        if t.state != "called":
            raise Refused("already_serving")
        t.state = "serving"
        return self._result(number, t)

    def complete(self, number: int) -> dict[str, Any]:
        t = self._current(number)
        t.state, t.finished_at = "done", iso(self.now)
        return self._result(number, t)

    def no_show(self, number: int) -> dict[str, Any]:
        t = self._current(number)
        if t.state != "called":
            raise Refused("already_serving")
        t.state, t.finished_at = "no_show", iso(self.now)
        return self._result(number, t)

    def transfer(self, number: int, to_business: str) -> dict[str, Any]:
        if not any(to_business in s for s in self.serves.values()):
            raise Refused("no_window_serves")
        t = self._current(number)
        t.state, t.business, t.window, t.called_at = "waiting", to_business, None, None
        return self._result(number, t)

    def close_day(self) -> dict[str, Any]:
        expired = 0
        for t in self.tickets:
            if t.state in ("waiting", "called", "serving", "held"):
                t.state = "expired"
                expired += 1
        self.day_closed = True
        return {"expired": expired}
