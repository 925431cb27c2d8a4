"""The day's plan: who comes when, for what, and how long each takes. Pure and deterministic.

Times are integer milliseconds after the hall's local midnight (the server
keeps milliseconds too, so the simulator's times and the journal's agree
exactly). Every random draw comes from a stream named after what it is for
(``seed:social:walk_ins``), so a change to one business or one scenario does
not reshuffle the others: two scenarios of a comparison get the very same
residents (common random numbers), and only the allocation differs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from hallq.privacy import id_check_char
from simulation.scenario import Dist, Simulation, hhmm_ms

MINUTE = 60_000


class Lognormal:
    """Service and pause times: lognormal with a given mean and coefficient of variation.

    Service times in halls are skewed: most are near the typical time, a few
    take far longer (a missing paper, a complex case). The lognormal keeps
    them positive and has that long tail.
    """

    def __init__(self, mean: float, spread: float) -> None:
        if mean <= 0:
            raise ValueError("mean must be positive")
        self.mean = mean
        self.spread = spread
        self.sigma = math.sqrt(math.log(1 + spread * spread))
        self.mu = math.log(mean) - self.sigma ** 2 / 2

    @classmethod
    def of(cls, d: Dist) -> "Lognormal":
        return cls(d.mean, d.spread)

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma) if self.sigma > 0 else self.mean

    def sample_ms(self, rng: random.Random, unit_ms: int = MINUTE) -> int:
        return max(1000, round(self.sample(rng) * unit_ms))


class ArrivalProfile:
    """Arrivals over the day: a relative rate from each time to the next (the last rate is 0).

    ``expected(total)`` gives the expected arrivals in each interval, which
    add up to ``total``; ``sample(rng, total)`` draws arrival times of a
    non-homogeneous Poisson process with exactly those expectations.
    """

    def __init__(self, points: list[tuple[str, float]]) -> None:
        if len(points) < 2 or points[-1][1] != 0:
            raise ValueError("a profile needs at least two times and ends with rate 0")
        self.points = [(hhmm_ms(t), float(r)) for t, r in points]
        self.intervals = [(a, b, r) for (a, r), (b, _) in zip(self.points, self.points[1:])]
        self.weight = sum((b - a) * r for a, b, r in self.intervals)
        if self.weight <= 0:
            raise ValueError("every rate is 0")

    @property
    def start_ms(self) -> int:
        return self.points[0][0]

    @property
    def end_ms(self) -> int:
        return self.points[-1][0]

    def expected(self, total: float) -> list[tuple[int, int, float]]:
        """(start, end, expected arrivals) per interval, summing to ``total``."""
        return [(a, b, total * (b - a) * r / self.weight) for a, b, r in self.intervals]

    def expected_between(self, total: float, start_ms: int, end_ms: int) -> float:
        out = 0.0
        for a, b, n in self.expected(total):
            lo, hi = max(a, start_ms), min(b, end_ms)
            if hi > lo:
                out += n * (hi - lo) / (b - a)
        return out

    def sample(self, rng: random.Random, total: float) -> list[int]:
        """Arrival times (ms, sorted): a Poisson process with the profile's rate, ``total`` expected."""
        times: list[int] = []
        for a, b, n in self.expected(total):
            if n <= 0:
                continue
            rate = n / (b - a)  # arrivals per ms in this interval
            t = a + rng.expovariate(rate)
            while t < b:
                times.append(int(t))
                t += rng.expovariate(rate)
        return times


@dataclass
class Resident:
    """One person coming to the hall, and what they will do."""

    key: int
    business: str
    arrives_ms: int
    service_ms: int
    walk_ms: int
    id_number: str
    phone: str
    name: str
    elderly: bool = False
    appointment: tuple[str, str] | None = None  # (item, slot start HH:MM) booked the day before
    comes: bool = True  # False: booked, never turns up (爽约)
    misses_call: bool = False  # called, not there: recalls, then no-show (过号)
    returns_after_ms: int | None = None  # after the no-show, back at the kiosk to re-queue (过号重排)
    transfer_to: str | None = None  # sent on to another business after a short check
    check_ms: int = 0  # time at the first window before the transfer
    transfer_service_ms: int = 0  # service at the business transferred to


@dataclass
class Pause:
    window: int
    at_ms: int
    minutes_ms: int


@dataclass
class DayPlan:
    day: date
    residents: list[Resident]
    pauses: list[Pause]
    notes: list[str] = field(default_factory=list)

    def by_business(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.residents:
            out[r.business] = out.get(r.business, 0) + 1
        return out


# -- people ---------------------------------------------------------------------------

AREAS = ("520201", "520203", "520221", "520281", "520102", "520103")  # Guizhou codes: fictitious people
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("秀英", "建国", "桂兰", "志强", "海燕", "明", "静", "伟", "丽娟", "国庆", "小红", "文华", "春梅", "德明", "玉兰")


class People:
    """Fictitious residents with valid, unique GB 11643 ID numbers (real check digit)."""

    def __init__(self, seed: int, day: date) -> None:
        self.rng = random.Random(f"{seed}:people")
        self.day = day
        self.used: set[str] = set()

    def id_number(self, age: int) -> str:
        try:
            anchor = self.day.replace(year=self.day.year - age)  # the day they turned ``age``
        except ValueError:  # 29 February
            anchor = self.day.replace(year=self.day.year - age, day=28)
        while True:
            born = anchor - timedelta(days=self.rng.randrange(364))
            first17 = f"{self.rng.choice(AREAS)}{born:%Y%m%d}{self.rng.randrange(1, 999):03d}"
            value = first17 + id_check_char(first17)
            if value not in self.used:
                self.used.add(value)
                return value

    def phone(self) -> str:
        return f"1{self.rng.choice('3589')}{self.rng.randrange(10**9):09d}"

    def name(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)


# -- the plan -------------------------------------------------------------------------

def appointment_slots(sim: Simulation) -> list[str]:
    """Slot starts (HH:MM) of the simulated day, as the server lists them."""
    step = timedelta(minutes=sim.hall.appointments.slot_minutes)
    out = []
    for p in sim.hall.hours.periods_on(sim.day):
        t, end = datetime.combine(sim.day, p.start), datetime.combine(sim.day, p.end)
        while t + step <= end:
            out.append(f"{t:%H:%M}")
            t += step
    return out


def plan_day(sim: Simulation, arrival_scale: float = 1.0, window: tuple[int, int] | None = None) -> DayPlan:
    """Every resident of the day and every staff pause, from the seed.

    ``arrival_scale`` multiplies walk-ins and bookings (a gentle demo: 0.2);
    ``window`` keeps only what happens between two times (ms), for short runs.
    """
    people = People(sim.seed, sim.day)
    profile = ArrivalProfile(sim.profile)
    rules = sim.settings
    green_age = sim.hall.queue.green_channel_age or 60
    walk = rules.walk_seconds
    residents: list[Resident] = []
    notes: list[str] = []
    slots = appointment_slots(sim)
    slot_used: dict[tuple[str, str], int] = {}
    item_used: dict[tuple[str, str, str], int] = {}
    appt_rules = sim.hall.appointments

    for code, load in sim.businesses.items():
        rng = random.Random(f"{sim.seed}:{code}:walk_ins")
        service = Lognormal.of(load.service)
        times = [(t, None) for t in profile.sample(rng, load.walk_ins * arrival_scale)]
        bookable = sorted(c for c, it in sim.hall.items.items() if it.business == code and it.guide.get("appointment"))
        arng = random.Random(f"{sim.seed}:{code}:appointments")
        wanted = round(load.appointments * arrival_scale)
        for booked in range(wanted):
            free = [(s, it) for s in slots for it in bookable
                    if slot_used.get((code, s), 0) < appt_rules.business_capacity.get(code, 10**6)
                    and item_used.get((code, s, it), 0) < appt_rules.item_capacity.get(it, appt_rules.capacity)]
            if not free:
                notes.append(f"{code}: only {booked} of {wanted} bookings fit the slots' capacity")
                break
            s, it = arng.choice(free)
            slot_used[(code, s)] = slot_used.get((code, s), 0) + 1
            item_used[(code, s, it)] = item_used.get((code, s, it), 0) + 1
            # residents check in from 30 minutes before their slot; most come 5-20 minutes early
            early = arng.randint(-5 * MINUTE, 20 * MINUTE)
            times.append((hhmm_ms(s) - early, (it, s)))
        for t, appt in times:
            elderly = rng.random() < load.green_share
            age = rng.randint(green_age, green_age + 28) if elderly else rng.randint(18, max(18, green_age - 1))
            r = Resident(key=0, business=code, arrives_ms=t, service_ms=service.sample_ms(rng),
                         walk_ms=rng.randint(walk[0] * 1000, walk[1] * 1000), id_number=people.id_number(age),
                         phone=people.phone(), name=people.name(), elderly=elderly, appointment=appt)
            if appt is not None:
                r.comes = rng.random() >= load.appointment_no_show
            if rng.random() < load.no_show:
                r.misses_call = True
                if rng.random() < load.requeue:
                    grace = sim.hall.queue.no_show_grace_minutes
                    # some come back in time, some too late (then they are told to take a new number)
                    r.returns_after_ms = rng.randint(2 * MINUTE, max(3, grace + 10) * MINUTE)
            roll = rng.random()
            for target, share in sorted(load.transfer.items()):
                if roll < share:
                    r.transfer_to = target
                    r.check_ms = Lognormal.of(rules.transfer_check_minutes).sample_ms(rng)
                    r.transfer_service_ms = Lognormal.of(sim.businesses[target].service).sample_ms(rng) \
                        if target in sim.businesses else service.sample_ms(rng)
                    break
                roll -= share
            residents.append(r)

    residents.sort(key=lambda r: (r.arrives_ms, r.business, r.id_number))
    if window is not None:
        residents = [r for r in residents if window[0] <= r.arrives_ms < window[1]]
    for i, r in enumerate(residents, 1):
        r.key = i

    pauses: list[Pause] = []
    periods = [(hhmm_ms(f"{p.start:%H:%M}"), hhmm_ms(f"{p.end:%H:%M}")) for p in sim.hall.hours.periods_on(sim.day)]
    open_ms = sum(b - a for a, b in periods)
    pause_len = Lognormal.of(rules.pause_minutes)
    for n in sorted(sim.hall.windows):
        prng = random.Random(f"{sim.seed}:pauses:{n}")
        t = prng.expovariate(rules.pauses_per_window / open_ms) if rules.pauses_per_window > 0 else math.inf
        while t < open_ms:
            at = _open_time_to_clock(periods, int(t))
            if window is None or window[0] <= at < window[1]:
                pauses.append(Pause(n, at, pause_len.sample_ms(prng)))
            t += prng.expovariate(rules.pauses_per_window / open_ms)
    return DayPlan(sim.day, residents, pauses, notes)


def _open_time_to_clock(periods: list[tuple[int, int]], t: int) -> int:
    """The clock time of the ``t``-th ms of opening time (pauses fall only in opening hours)."""
    for a, b in periods:
        if t < b - a:
            return a + t
        t -= b - a
    return periods[-1][1]


def day_start(day: date, tz) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)
