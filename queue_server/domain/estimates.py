"""Estimated waits: how many are ahead, how many minutes that means, and how sure we are.

For a ticket of business *b* (docs/dispatch.md, "Wait estimates"):

* **people ahead**, as the dispatch policy orders them: for an ordinary ticket
  every promise waiting (green channel, checked-in appointments) and the
  ordinary tickets that came before it; for a promise, the promises that came
  before it;
* **time per call** *s*: the mean time a window of *b* spent per ticket over
  its last 20 (from the call to the end: walking up, service), or the
  configured ``service_minutes`` with fewer than 3 today;
* **capacity** *c*: the staffed windows that serve *b*, weighted 1 where it is their
  primary business and 0.5 where they only help (0.1 when their own queue is
  longer than they can clear at once, since they serve it first); a paused
  window counts half. Before opening and over a break, the windows that will
  call after it count in full. No capacity at all means no estimate (None);
* an ordinary ticket also waits for the promises that arrive while it waits:
  half the recent rate of promises (those called in the last 30 minutes) is
  added to the load;
* a promise waits for the promises ahead of it, but while ordinary tickets
  are overdue at least until it is urgent (the policy holds it until then), and
  an appointment checked in early at least until its slot.

The result is in minutes of opening time, turned into minutes on the clock
with the hall's hours (a ticket taken at 11:50 with 30 minutes of work ahead
is called around 13:20). The **range** spreads it by the uncertainty of the
services ahead (√(n+1) of them, each with the spread typical of a hall's
services) and 15 % of the estimate; the simulation checks how often the real
wait falls inside it (docs/simulation.md). The constants were calibrated on the
city hall's simulated Monday and checked on other days and on the village.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from hallq.clock import iso
from hallq.hours import OpeningHours
from hallq.targets import URGENT_SHARE, Targets
from queue_server.domain.context import ACTIVE_STATES, any_of

SAMPLE = 20
MIN_SAMPLES = 3
PROMISE_WINDOW_MINUTES = 30
PROMISE_LOAD_SHARE = 0.5  # of the promises arriving during a wait, those that get ahead of an ordinary ticket
SERVICE_SPREAD = 0.8  # coefficient of variation of one service, as halls' services go (lognormal, heavy tail)
RELATIVE_SPREAD = 0.15
Z = 1.3  # ± Z σ: the range holds the real wait for about 80 % of tickets (measured in the simulation)


@dataclass(frozen=True)
class QueueState:
    """What an estimate needs of one business now; cheap to keep for a couple of seconds."""

    service_minutes: float  # per call
    capacity: float
    idle_windows: int  # open windows of the business with nobody at the counter
    promise_rate: float  # promises issued per minute, recently
    overdue: bool  # an ordinary ticket of the business is past its target
    targets: Targets


@dataclass(frozen=True)
class Wait:
    minutes: int
    low: int
    high: int

    @property
    def range(self) -> list[int]:
        return [self.low, self.high]


def wait(q: QueueState, hours: OpeningHours, now: datetime, klass: int, ahead: int,
         promise_from: datetime | None = None) -> Wait | None:
    """The expected wait of a ticket of class ``klass`` with ``ahead`` people before it; None without capacity."""
    if q.capacity <= 0:
        return None
    per = q.service_minutes / q.capacity
    # the first people ahead go to the idle windows at once; then a window comes free every ``per`` minutes
    queued = ahead - q.idle_windows
    if klass != 2:
        work = 0.0 if queued < 0 else queued * per
        if q.overdue:
            work = max(work, q.targets.of(klass) * URGENT_SHARE)
        start = max(now, promise_from) if promise_from is not None else now
    else:
        work = 0.0 if queued < 0 else (queued + 0.5) * per
        load = min(0.9, PROMISE_LOAD_SHARE * q.promise_rate * per)
        work /= 1 - load
        start = now
    minutes = (hours.add_open_minutes(start, work) - now).total_seconds() / 60
    sigma = per * math.sqrt(ahead + 1) * SERVICE_SPREAD + RELATIVE_SPREAD * minutes
    return Wait(max(0, round(minutes)), max(0, math.floor(minutes - Z * sigma)), math.ceil(minutes + Z * sigma))



# -- reading a business's state from the database ------------------------------------------------

def queue_state(conn: sqlite3.Connection, hours: OpeningHours, business: str, now: datetime,
                default_minutes: float, rates: PromiseRates | None = None,
                caps: dict[str, tuple[float, int]] | None = None, targets: Targets | None = None) -> QueueState:
    """A business's state for its estimates. ``caps`` (:func:`capacities`) and ``targets``, when the caller
    has them for every business at once (the board's snapshot), save reading them again."""
    day = now.date().isoformat()
    if targets is None:
        b = conn.execute("SELECT green_target_minutes, appointment_target_minutes, ordinary_target_minutes "
                         "FROM businesses WHERE code = ?", (business,)).fetchone()
        targets = Targets(*b) if b is not None else Targets()
    if caps is None:
        caps = capacities(conn, not hours.is_serving(now), day)
    capacity, idle = caps.get(business, (0.0, 0))
    oldest = conn.execute(
        "SELECT promise_from FROM tickets INDEXED BY tickets_waiting WHERE business_day = ? AND business = ? "
        "AND class = 2 AND state = 'waiting' AND target_window IS NULL ORDER BY promise_from LIMIT 1",
        (day, business)).fetchone()
    overdue = oldest is not None and now >= hours.add_open_minutes(datetime.fromisoformat(oldest[0]),
                                                                   targets.ordinary)
    rate = rates.get(conn, business, day, now) if rates is not None else \
        promise_calls(conn, business, day, now) / PROMISE_WINDOW_MINUTES
    return QueueState(service_minutes(conn, business, day, default_minutes), capacity, idle, rate, overdue, targets)


class PromiseRates:
    """The promise rate per business, read at most once a minute: it is a half hour's average.

    Recounting it for every snapshot cost a board's call at 100 calls/s ten
    times its p99; a minute's staleness changes nothing in an estimate.
    """

    TTL = 60.0

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def get(self, conn: sqlite3.Connection, business: str, day: str, now: datetime) -> float:
        key, mono = (business, day), time.monotonic()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and hit[0] > mono:
            return hit[1]
        rate = promise_calls(conn, business, day, now) / PROMISE_WINDOW_MINUTES
        with self._lock:
            self._items[key] = (mono + self.TTL, rate)
        return rate


def promise_calls(conn: sqlite3.Connection, business: str, day: str, now: datetime) -> int:
    """Promises the business called in the last ``PROMISE_WINDOW_MINUTES``: the rate promises come at.

    Read newest first from the calls' index and stopped at the window's start,
    so the cost follows the calls of half an hour, never the length of the queue.
    """
    since = iso(now - timedelta(minutes=PROMISE_WINDOW_MINUTES))
    n = 0
    for at, klass in conn.execute(
            "SELECT j.at, t.class FROM journal j INDEXED BY journal_calls_business JOIN tickets t ON t.id = j.ticket_id "
            "WHERE j.business = ? AND j.business_day = ? AND j.action IN ('call', 'recall', 'call_back') "
            "AND j.action = 'call' ORDER BY j.seq DESC", (business, day)):
        if at < since:
            break
        n += klass < 2
    return n


def service_minutes(conn: sqlite3.Connection, business: str, day: str, default: float) -> float:
    """Mean minutes from call to completion of the business's last services today (the default with few).

    The latest call (``called_at``), not the first (``first_called_at``, where a resident's wait ended): the time
    a window spends per ticket. A ticket held (挂起) and called back counts from its call-back, since over the hold
    the window called and served others, whose own minutes count for them; from its first call the hold would
    count twice. Waits, in the statistics, end at the first call (docs/statistics.md).

    So the minutes on hold never enter the estimates; ``held_seconds`` (schema/029, holds.py), which takes them
    out of the statistics' service times, is not needed here. What a window gave a held ticket before its hold
    is left out too (a slight under-count); counting it would read ``started_at`` less ``held_seconds`` here and
    in the boards' snapshots (queue_server/snapshots.py, the same two columns) in one step, so that a board and
    a ticket keep showing the same estimate."""
    rows = conn.execute(
        "SELECT called_at, finished_at FROM tickets INDEXED BY tickets_finished "
        "WHERE business = ? AND state = 'done' AND finished_at >= ? AND called_at IS NOT NULL "
        "ORDER BY finished_at DESC LIMIT ?", (business, day, SAMPLE)).fetchall()
    return mean_minutes([(datetime.fromisoformat(f) - datetime.fromisoformat(c)).total_seconds() / 60
                         for c, f in rows], default)


@dataclass(frozen=True)
class WindowNow:
    state: str  # open, paused, closed
    busy: bool  # someone is called or at the counter
    serves: tuple[str, ...]  # ranked
    staffed: bool = True  # someone is signed in (a window a manager opened with nobody there calls no one)


def capacity_of(windows: list[WindowNow], waiting: dict[str, int],
                before_calling: bool = False) -> dict[str, tuple[float, int]]:
    """Per business: serving capacity and idle open windows (the rules in this module's docstring).

    ``waiting``: tickets waiting per business; ``before_calling`` (before
    opening, over a break): every window counts as it will once it calls again.
    Otherwise a window counts only while it can call: not closed, and staffed.
    """
    counted = [w for w in windows if w.serves and (before_calling or w.state != "closed" and w.staffed)]
    own: dict[str, int] = {}
    for w in counted:
        own[w.serves[0]] = own.get(w.serves[0], 0) + 1
    out: dict[str, tuple[float, int]] = {}
    for w in counted:
        for rank, business in enumerate(w.serves, start=1):
            weight = 1.0
            if rank > 1:  # a helper serves its own queue first
                weight = 0.1 if waiting.get(w.serves[0], 0) > own[w.serves[0]] else 0.5
            if w.state == "paused" and not before_calling:
                weight /= 2
            cap, idle = out.get(business, (0.0, 0))
            out[business] = (cap + weight, idle + (w.state == "open" and not w.busy))
    return out


def capacities(conn: sqlite3.Connection, before_calling: bool = False,
               day: str | None = None) -> dict[str, tuple[float, int]]:
    """:func:`capacity_of` the hall's windows as the database has them now."""
    windows: dict[int, tuple[str, bool, list[str], bool]] = {}
    for r in conn.execute(
            "SELECT a.window, a.business, w.state, w.staff_id IS NOT NULL AS staffed, "
            "EXISTS (SELECT 1 FROM tickets t INDEXED BY tickets_active WHERE t.window = w.number "
            f"AND {any_of('t.state', ACTIVE_STATES)} AND t.state != 'held') AS busy "
            "FROM allocation a JOIN windows w ON w.number = a.window WHERE w.active ORDER BY a.window, a.rank"):
        windows.setdefault(r["window"], (r["state"], bool(r["busy"]), [], bool(r["staffed"])))[2].append(r["business"])
    waiting = dict(conn.execute("SELECT business, SUM(waiting) FROM queue_counts WHERE business_day = ? "
                                "GROUP BY business", (day,)).fetchall()) if day is not None else {}
    return capacity_of([WindowNow(st, busy, tuple(serves), staffed) for st, busy, serves, staffed in windows.values()],
                       waiting, before_calling)


def mean_minutes(durations: list[float], default: float) -> float:
    """Minutes per call from the last services (``SAMPLE`` of them at most), or ``default`` with too few."""
    return max(sum(durations) / len(durations), 0.5) if len(durations) >= MIN_SAMPLES else float(default)


class EstimateCache:
    """Queue states per business for a couple of seconds, dropped by anything that moves them.

    A kiosk issuing hundreds of tickets a minute need not re-read the last
    services and the windows each time; a completed service or a window
    opening, pausing or closing (in this process) drops the cache at once,
    and another process's changes show within ``ttl`` seconds.
    """

    # actions after which cached states stay true: they change who waits, not how fast
    KEEPS = frozenset({"issue", "cancel", "requeue", "rate", "recall", "login", "login_failed",
                       "notice", "appointment_booked", "appointment_cancelled", "appointment_checked_in",
                       "application_submitted"})

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._items: dict[tuple[str, str], tuple[float, QueueState]] = {}
        self._lock = threading.Lock()
        self.rates = PromiseRates()

    def get(self, conn: sqlite3.Connection, hours: OpeningHours, business: str, now: datetime,
            default_minutes: float) -> QueueState:
        key, mono = (business, now.date().isoformat()), time.monotonic()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and hit[0] > mono:
            return hit[1]
        q = queue_state(conn, hours, business, now, default_minutes, self.rates)
        with self._lock:
            self._items[key] = (mono + self.ttl, q)
        return q

    def after(self, actions: list[str]) -> None:
        if not self.KEEPS.issuperset(actions):
            with self._lock:
                self._items.clear()


def people_ahead(conn: sqlite3.Connection, ticket: sqlite3.Row) -> int:
    """Waiting tickets of the same business that the dispatch policy serves first (close enough for a resident).

    An ordinary ticket has every waiting promise and the ordinary tickets before it
    ahead; a promise, the promises before it.
    """
    pf, tid = ticket["promise_from"], ticket["id"]
    before = "(promise_from < :pf OR (promise_from = :pf AND id < :id))"
    where = f"(class < 2 OR {before})" if ticket["class"] == 2 else f"class < 2 AND {before}"
    return conn.execute(
        "SELECT COUNT(*) FROM tickets INDEXED BY tickets_waiting WHERE business_day = :day AND business = :b "
        f"AND state = 'waiting' AND target_window IS NULL AND {where}",
        {"day": ticket["business_day"], "b": ticket["business"], "pf": pf, "id": tid}).fetchone()[0]


def waiting_counts(conn: sqlite3.Connection, day: str) -> dict[str, tuple[int, int]]:
    """Per business: (waiting, of which green channel), from the trigger-kept counts."""
    out: dict[str, tuple[int, int]] = {}
    for business, klass, waiting in conn.execute(
            "SELECT business, class, waiting FROM queue_counts WHERE business_day = ?", (day,)):
        total, green = out.get(business, (0, 0))
        out[business] = (total + waiting, green + (waiting if klass == 0 else 0))
    return out


def ahead_of_new(conn: sqlite3.Connection, day: str, business: str, klass: int) -> int:
    """The people ahead of a ticket that has just joined ``business``: what :func:`people_ahead` says of it,
    in one statement whatever the queue's length (a ticket's hot path).

    The new ticket is the last of its kind: for an ordinary one every ticket waiting in the business's queue,
    for a promise every promise, less those :func:`people_ahead` leaves out — tickets sent to a window by name
    (转移到指定窗口: that window calls them) and, for a promise, the promises starting after its own (an
    appointment checked in before its slot). It is the business's ticket with the highest number today, so its
    start is read by the key that numbered it. The counts: the trigger-kept ``queue_counts``, and indexed
    ranges of the directed tickets and of the two classes of promises (``promise_from > ?``), a handful each.
    """
    later = "" if klass == 2 else "".join(
        "- (SELECT COUNT(*) FROM tickets INDEXED BY tickets_waiting WHERE business_day = :day AND business = :b "
        f"AND class = {k} AND state = 'waiting' AND target_window IS NULL AND promise_from > (SELECT promise_from "
        "FROM tickets WHERE business_day = :day AND origin_business = :b ORDER BY number DESC LIMIT 1)) "
        for k in (0, 1))
    return conn.execute(
        "SELECT (SELECT COALESCE(SUM(waiting), 0) FROM queue_counts WHERE business_day = :day AND business = :b "
        "AND class <= :k) "
        "- (SELECT COUNT(*) FROM tickets INDEXED BY tickets_directed WHERE state = 'waiting' "
        "AND target_window IS NOT NULL AND target_window > 0 AND business_day = :day AND business = :b "
        "AND class <= :k) " + later + "- 1",
        {"day": day, "b": business, "k": 2 if klass == 2 else 1}).fetchone()[0]
