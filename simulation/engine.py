"""Playing a day's plan, event by event, against a hall (the real server, or the in-memory one).

The engine is the residents and the clerks; the backend is the hall. Who is
called next is always the backend's decision (the server's dispatch policy);
the engine only decides what people do: come, take a number, walk to the
window when called (or not: recall, then 过号), get served, be sent on to
another business (转移), come back to re-queue a missed number (过号重排);
clerks sign in, call, pause, break for lunch, and sign out at closing.

Time is integer milliseconds after the hall's local midnight. Events at the
same moment run in a fixed order (changes, then windows, then arrivals, each
by sequence), and every random choice has its own seeded stream, so a run is
reproducible for a seed.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from simulation.model import DayPlan, Resident
from simulation.records import Backend, CallRecord, DayResult, Refused, TicketRecord, WindowRecord
from simulation.scenario import Scenario, Simulation, hhmm_ms

__all__ = ["Engine", "Backend", "DayResult", "Refused", "TicketRecord", "WindowRecord"]

log = logging.getLogger("hallq.simulate")

# event priorities at one moment: hall changes first, then window events, then arrivals
HALL, WINDOW, ARRIVAL = 0, 1, 2


class Engine:
    """Residents and clerks of one day, acting on a backend at the plan's times."""

    def __init__(self, sim: Simulation, plan: DayPlan, scenario: Scenario, backend: Backend,
                 advance: Callable[[int], None], day_start: datetime, start_ms: int | None = None,
                 end_ms: int | None = None, owns_hall: bool = True, poll_idle_ms: int | None = None,
                 appointments: bool = True) -> None:
        self.sim, self.plan, self.scenario, self.hall = sim, plan, scenario, backend
        self.advance = advance  # moves (or waits for) the hall's clock to a moment
        self.day_start = day_start
        self.rng = random.Random(f"{sim.seed}:clerks")  # the same in every scenario: only the allocation differs
        periods = sim.hall.hours.periods_on(sim.day)
        self.periods = [(hhmm_ms(f"{p.start:%H:%M}"), hhmm_ms(f"{p.end:%H:%M}")) for p in periods]
        last_end = self.periods[-1][1] + sim.settings.overtime_minutes * 60_000
        self.start_ms = start_ms if start_ms is not None else min(
            [self.periods[0][0] - 5 * 60_000] + [r.arrives_ms for r in plan.residents])
        self.end_ms = min(end_ms, last_end) if end_ms is not None else last_end
        # a hall of its own (accelerated): it sets the tidal switch and closes the day; a shared hall
        # (the demo, paced) is only played in, its settings left as its manager set them
        self.owns_hall = owns_hall
        self.poll_idle_ms = poll_idle_ms
        self.appointments = appointments
        self.now = self.start_ms
        self.calling = False
        self._heap: list[tuple[int, int, int, Callable, tuple]] = []
        self._seq = 0
        self.events = 0
        self.tickets: dict[str, TicketRecord] = {}
        # by number too: a window's answer names its ticket by number only (a ticket's public id is the resident's)
        self.by_label: dict[str, TicketRecord] = {}
        self.calls: list[CallRecord] = []
        self.windows = {n: WindowRecord(n, list(w.serves)) for n, w in sorted(sim.hall.windows.items())}
        self.turned_away: list[tuple[Resident, str]] = []
        self.came_back: set[int] = set()  # residents who came while numbers were not issued, and waited
        self.bookings: dict[int, str] = {}
        self.booking_refused: list[tuple[Resident, str]] = []
        self.notes: list[str] = list(plan.notes)
        self.stopped = False

    # -- the event queue -----------------------------------------------------------

    def at(self, when: int, prio: int, fn: Callable, *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, prio, self._seq, fn, args))

    def ms(self, iso_text: str) -> int:
        return round((datetime.fromisoformat(iso_text) - self.day_start) / timedelta(milliseconds=1))

    def run(self) -> DayResult:
        """Book (the day before), then play the day; returns what happened."""
        self._book_appointments()
        if self.owns_hall:
            try:
                self.hall.tidal_auto(self.scenario.tidal_auto)
            except Refused as e:
                self.notes.append(f"tidal_auto = {str(self.scenario.tidal_auto).lower()} not applied: {e.message}")
        self._schedule_day()
        try:
            while self._heap:
                when, _, _, fn, args = heapq.heappop(self._heap)
                self.now = max(self.now, when)
                self.advance(self.now)
                self.events += 1
                fn(*args)
        except KeyboardInterrupt:  # Ctrl-C, or the paced clock told to stop: report what was played
            self.stopped = True
            self.notes.append(f"stopped at {self.now // 3600_000:02d}:{self.now // 60_000 % 60:02d}, "
                              "before the end of the day")
        for w in self.windows.values():
            self._mode(w, w.mode)  # account the last stretch
        expired = None
        if self.owns_hall and not self.stopped:
            self.now = max(self.now, self.end_ms)
            self.advance(self.now)
            expired = self.hall.close_day().get("expired")
        for rec in self.tickets.values():
            if rec.outcome == "waiting":
                rec.outcome = "unserved"
        return DayResult(self.scenario, list(self.tickets.values()), list(self.windows.values()), self.turned_away,
                         len(self.bookings), self.booking_refused, self.start_ms, self.end_ms, self.now, expired,
                         self.events, self.notes, len(self.came_back), self.calls, self.day_start)

    def _book_appointments(self) -> None:
        wanted = [r for r in self.plan.residents if r.appointment is not None]
        if not wanted:
            return
        if not self.appointments:
            self.notes.append(f"appointments skipped ({len(wanted)} residents take a number instead): bookings are "
                              "made the day before, which needs a server whose clock the simulator moves")
            log.info("%s", self.notes[-1])
            return
        self.advance(-4 * 3600_000)  # 20:00 the evening before: bookings are made a day ahead
        for r in wanted:
            try:
                self.bookings[r.key] = self.hall.book(r, self.sim.day.isoformat())
            except Refused as e:
                self.booking_refused.append((r, e.code))

    def _schedule_day(self) -> None:
        first = self.periods[0][0]
        sign_in_at = max(self.start_ms, first - 5 * 60_000)
        for n in self.scenario.open_windows:
            self.at(sign_in_at, HALL, self._sign_in, self.windows[n])
        for i, (a, b) in enumerate(self.periods):
            if b <= self.start_ms or a >= self.end_ms:
                continue  # outside the part of the day being played
            self.at(max(a, self.start_ms), HALL, self._period_start)
            if i < len(self.periods) - 1 and b < self.end_ms:
                self.at(b, HALL, self._period_end)
        self.at(self.end_ms, HALL, self._closing)
        for c in self.scenario.changes:
            when = hhmm_ms(c.at)
            if when < self.end_ms:  # a change before the part played is in force from its start
                self.at(max(when, self.start_ms), HALL, self._change, c)
        for r in self.plan.residents:
            if self.start_ms <= r.arrives_ms < self.end_ms and r.comes:
                self.at(r.arrives_ms, ARRIVAL, self._arrive, r)
        for p in self.plan.pauses:
            if self.start_ms <= p.at_ms < self.end_ms:
                self.at(p.at_ms, WINDOW, self._pause, self.windows[p.window], p.minutes_ms)
        if self.poll_idle_ms:
            self.at(self.start_ms + self.poll_idle_ms, HALL, self._poll)

    # -- windows: modes and their time ----------------------------------------------------

    def _mode(self, w: WindowRecord, mode: str) -> None:
        w.time[w.mode] = w.time.get(w.mode, 0) + (self.now - w.since)
        w.mode, w.since = mode, self.now

    def _act(self, w: WindowRecord, fn: Callable, *args: Any) -> dict[str, Any] | None:
        """A window action; a refusal means the window is no longer ours (paced mode): stop using it."""
        try:
            return fn(w.number, *args)
        except Refused as e:
            self._lose(w, fn.__name__, e)
            return None

    def _lose(self, w: WindowRecord, action: str, e: Refused) -> None:
        w.lost = e.code
        self.notes.append(f"window {w.number}: {action} refused ({e.code}); the simulator leaves it")
        log.warning("window %d: %s refused (%s); the simulator leaves it", w.number, action, e.code)
        if w.current is not None and w.current.outcome in ("called", "serving"):
            w.current.outcome = "waiting"
        w.current = None
        self._mode(w, "off")

    def _sign_in(self, w: WindowRecord) -> None:
        if w.mode != "off" or w.lost:
            return
        view = self._act(w, self.hall.sign_in)
        if view is None:
            return
        # a window left as it was by an earlier run (the demo restarted): finish its business first
        window = view.get("window", {})
        if window.get("current") and self._act(w, self.hall.complete) is None:
            return
        if window.get("state") == "paused" and self._act(w, self.hall.resume) is None:
            return
        self._mode(w, "idle" if self.calling else "ready")
        self._try_call(w)

    def leave_all(self) -> None:
        """Sign every window out (finishing its current ticket): the end of a paced run or a stop."""
        for w in self.windows.values():
            if w.mode == "off" or w.lost:
                continue
            try:
                if w.current is not None:
                    self.hall.complete(w.number)
                self.hall.sign_out(w.number)
            except Exception as e:  # the server may be gone already: nothing left to tidy
                log.info("window %d: could not sign out (%s)", w.number, e)
            w.current = None
            self._mode(w, "off")

    def _period_start(self) -> None:
        self.calling = True
        for w in self.windows.values():
            if w.mode == "break":
                if self._act(w, self.hall.resume) is None:
                    continue
                self._mode(w, "idle")
            elif w.mode == "ready":
                self._mode(w, "idle")
        for w in self._shuffled(self.windows.values()):
            self._try_call(w)

    def _period_end(self) -> None:
        """The lunch break: each clerk finishes the current resident, then pauses (午休)."""
        self.calling = False
        for w in self.windows.values():
            if w.mode == "idle":
                if self._act(w, self.hall.pause, "午休") is not None:
                    self._mode(w, "break")
            elif w.mode == "paused":
                self._mode(w, "break")  # the personal pause runs into the break
            elif w.mode == "busy":
                w.pending.append(("break", 0))

    def _closing(self) -> None:
        self.calling = False
        for w in self.windows.values():
            if w.mode in ("idle", "ready", "paused", "break"):
                self._leave(w)
            elif w.mode == "busy":
                w.pending.append(("leave", 0))

    def _leave(self, w: WindowRecord) -> None:
        if self._act(w, self.hall.sign_out) is not None:
            self._mode(w, "off")

    def _change(self, c) -> None:
        w = self.windows[c.window]
        if c.serves is not None:
            self.hall.set_allocation(c.window, list(c.serves))
            w.serves = list(c.serves)
        if c.staffed is True and w.mode == "off" and not w.lost:
            self._sign_in(w)
        elif c.staffed is False:
            if w.mode == "busy":
                w.pending.append(("leave", 0))
            elif w.mode != "off":
                self._leave(w)
        self._try_call(w)

    def _pause(self, w: WindowRecord, minutes_ms: int) -> None:
        if w.mode == "idle":
            self._start_pause(w, minutes_ms)
        elif w.mode == "busy":
            w.pending.append(("pause", minutes_ms))

    def _start_pause(self, w: WindowRecord, minutes_ms: int) -> None:
        if self._act(w, self.hall.pause, "休息") is not None:
            self._mode(w, "paused")
            self.at(self.now + minutes_ms, WINDOW, self._resume, w)

    def _resume(self, w: WindowRecord) -> None:
        if w.mode != "paused":
            return  # the break (or closing) took over; the break's end resumes the window
        if self._act(w, self.hall.resume) is not None:
            self._mode(w, "idle")
            self._try_call(w)

    def _poll(self) -> None:
        """Clerks glance at the queue now and then (when the hall, not the simulator, moves windows)."""
        for w in self._shuffled(self.windows.values()):
            self._try_call(w)
        if self.now + self.poll_idle_ms < self.end_ms:
            self.at(self.now + self.poll_idle_ms, HALL, self._poll)

    def _shuffled(self, windows) -> list[WindowRecord]:
        out = list(windows)
        self.rng.shuffle(out)
        return out

    # -- the calling cycle -----------------------------------------------------------------

    def _try_call(self, w: WindowRecord) -> bool:
        if w.mode != "idle" or not self.calling:
            return False
        result = self._call(w, complete_current=False)
        return result is not None

    def _call(self, w: WindowRecord, complete_current: bool) -> dict[str, Any] | None:
        try:
            result = self.hall.call_next(w.number, complete_current)
        except Refused as e:
            self._lose(w, "call_next", e)
            return None
        if result is None:
            return None
        if "window" in result:
            w.serves = list(result["window"].get("serves", w.serves))
        t = result["ticket"]
        rec = self.by_label.get(t["ticket"])
        if rec is None:  # someone else's ticket (paced mode, a resident at the real kiosk): serve it plainly
            rec = self._record(None, t)
        self._mode(w, "busy")
        w.current = rec
        rec.outcome = "called"
        if t.get("promise_from"):
            self.calls.append(CallRecord(self.ms(t["called_at"]) if t.get("called_at") else self.now, w.number,
                                         tuple(w.serves), rec.public_id, t["business"], t.get("class", "ordinary"),
                                         self.ms(t["promise_from"])))
        if rec.first_call_ms is None:
            rec.first_call_ms = self.ms(t["called_at"]) if t.get("called_at") else self.now
            rec.first_window = w.number
        if not rec.present:
            self.at(self.now + self.sim.settings.recall_after_seconds * 1000, WINDOW, self._absent, w, rec)
        else:
            self.at(self.now + rec.resident.walk_ms, WINDOW, self._start, w, rec)
        return result

    def _absent(self, w: WindowRecord, rec: TicketRecord) -> None:
        if w.current is not rec:
            return
        if rec.recalls < self.sim.settings.recalls:
            if self._act(w, self.hall.recall) is None:
                return
            rec.recalls += 1
            self.at(self.now + self.sim.settings.recall_after_seconds * 1000, WINDOW, self._absent, w, rec)
            return
        if self._act(w, self.hall.no_show) is None:
            return
        rec.outcome = "no_show"
        rec.done_ms = self.now
        if rec.resident.returns_after_ms is not None and rec.requeues == 0:
            self.at(self.now + rec.resident.returns_after_ms, ARRIVAL, self._requeue, rec)
        self._release(w, finished=False)

    def _start(self, w: WindowRecord, rec: TicketRecord) -> None:
        if w.current is not rec or self._act(w, self.hall.start) is None:
            return
        rec.outcome = "serving"
        if rec.start_ms is None:
            rec.start_ms = self.now
        r = rec.resident
        if r.transfer_to and not rec.transferred:
            self.at(self.now + r.check_ms, WINDOW, self._transfer, w, rec)
        else:
            self.at(self.now + (r.transfer_service_ms if rec.transferred else r.service_ms), WINDOW,
                    self._finish, w, rec)

    def _finish(self, w: WindowRecord, rec: TicketRecord) -> None:
        if w.current is not rec:
            return
        rec.outcome, rec.done_ms = "done", self.now
        w.served += 1
        self._release(w, finished=True)

    def _transfer(self, w: WindowRecord, rec: TicketRecord) -> None:
        if w.current is not rec:
            return
        try:
            self.hall.transfer(w.number, rec.resident.transfer_to)
        except Refused as e:  # nowhere to send them: served here after all
            self.notes.append(f"{rec.label}: transfer to {rec.resident.transfer_to} refused ({e.code})")
            rec.transferred = True
            self.at(self.now + rec.resident.service_ms, WINDOW, self._finish, w, rec)
            return
        rec.transferred, rec.outcome = True, "waiting"
        rec.business_now = rec.resident.transfer_to
        self._release(w, finished=False)
        self._wake(rec.business_now)

    def _release(self, w: WindowRecord, finished: bool) -> None:
        """The window is done with its current ticket: call the next one, or do what is pending."""
        w.current = None
        if w.pending or not self.calling:
            if finished and self._act(w, self.hall.complete) is None:
                return
            self._mode(w, "idle")
            self._after_current(w)
            self._try_call(w)
            return
        # one keypad press completes the current ticket and calls the next (refused together when nobody waits)
        if self._call(w, complete_current=finished) is None and w.mode != "off":
            if finished and self._act(w, self.hall.complete) is None:
                return
            self._mode(w, "idle")

    def _after_current(self, w: WindowRecord) -> None:
        kinds = [k for k, _ in w.pending]
        pause = next((ms for k, ms in w.pending if k == "pause"), 0)
        w.pending.clear()
        if "leave" in kinds or self.now >= self.end_ms:
            self._leave(w)
        elif not self.calling:  # lunch break (a break that ended meanwhile is simply over)
            if self._act(w, self.hall.pause, "午休") is not None:
                self._mode(w, "break")
        elif "pause" in kinds:
            self._start_pause(w, pause)

    # -- residents ---------------------------------------------------------------------------

    def _record(self, r: Resident | None, t: dict[str, Any]) -> TicketRecord:
        rng = t.get("est_wait_range")
        # a ticket first seen in a window's answer (someone else's) has no public id there: its number stands in
        rec = TicketRecord(resident=r or _walk_in_stranger(t), public_id=t.get("id") or f"number:{t['ticket']}",
                           label=t["ticket"],
                           business=t["business"], klass=t.get("class", "ordinary"),
                           issued_ms=self.ms(t["issued_at"]) if t.get("issued_at") else self.now,
                           business_now=t["business"],
                           promise_ms=self.ms(t["promise_from"]) if t.get("promise_from") else None,
                           estimate=t.get("est_wait_minutes"), estimate_range=tuple(rng) if rng else None)
        self.tickets[rec.public_id] = rec
        self.by_label[rec.label] = rec
        return rec

    def _arrive(self, r: Resident) -> None:
        try:
            if r.key in self.bookings:
                t = self.hall.check_in(self.bookings[r.key])
            else:
                b = self.sim.hall.businesses[r.business]
                ask_id = b.ticket_requires in ("id", "id_or_phone") or r.elderly or \
                    (r.transfer_to is not None and self.sim.hall.businesses[r.transfer_to].ticket_requires != "none")
                t = self.hall.issue(r, ask_id)
        except Refused as e:
            later = next((a for a, _ in self.periods if a > self.now), None)
            if e.code == "outside_hours" and r.key not in self.came_back and later is not None and later < self.end_ms:
                # numbers are not issued now (the lunch break of a hall that stops issuing): wait and come back
                self.came_back.add(r.key)
                self.at(later + (r.key % 120) * 1000, ARRIVAL, self._arrive, r)
                return
            self.turned_away.append((r, e.code))
            return
        rec = self._record(r, t)
        rec.present = not r.misses_call
        self._wake(r.business)

    def _requeue(self, rec: TicketRecord) -> None:
        try:
            self.hall.requeue(rec.public_id)
        except Refused as e:
            rec.requeue_refused = e.code
            return
        rec.requeues += 1
        rec.present, rec.outcome, rec.recalls = True, "waiting", 0
        self._wake(rec.business_now)

    def _wake(self, business: str) -> None:
        """A ticket is waiting for ``business``: an idle clerk who serves it calls."""
        for w in self._shuffled(self.windows.values()):
            if w.mode == "idle" and business in w.serves and self._try_call(w):
                return


def _walk_in_stranger(t: dict[str, Any]) -> Resident:
    """A resident the simulator did not plan (a real person at a demo kiosk): served in 5 minutes."""
    return Resident(key=0, business=t["business"], arrives_ms=0, service_ms=300_000, walk_ms=30_000,
                    id_number="", phone="", name="")
