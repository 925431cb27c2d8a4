"""What a simulated day says of the hall's promises: targets kept, bounds held, estimates right. Pure.

* **Targets** (:func:`by_class`): for each class, overall and per business,
  the wait from the promise's start (taking the number; an appointment's slot
  if it checked in early) to the first call, in minutes of opening time as the
  targets count it, and the share called within the target.
* **Bound** (:func:`bound_check`): once a ticket is urgent (a promise from
  30 % of its target on, an ordinary ticket from its target), the dispatch
  policy lets it wait only for urgent tickets that come first: of its own
  kind with an earlier deadline, and of the other kind only as the run guard
  allows (an ordinary ticket sees at most ``k`` promises in a row at any
  window serving it; an urgent promise sees an ordinary ticket at a window
  only after ``k`` promises there). Every call the hall made is replayed
  against that for every urgent ticket (docs/dispatch.md, "What is
  guaranteed").
* **Estimates** (:func:`estimate_errors`): the wait the hall printed on the
  ticket against the wait it had, per business and class: median and p90
  of the absolute error, and how often the printed range held the real wait.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from simulation.records import CallRecord, DayResult, TicketRecord
from simulation.percentiles import percentile, summary
from hallq.targets import URGENT_SHARE

CLASSES = ("green", "appointment", "ordinary")
MIN = 60_000.0


class _Clock:
    """Milliseconds of the simulated day ↔ the hall's times, and its targets."""

    def __init__(self, hall, day_start: datetime) -> None:
        self.hall, self.day_start = hall, day_start

    def at(self, ms: int) -> datetime:
        return self.day_start + timedelta(milliseconds=ms)

    def target(self, business: str, klass: str) -> int:
        return getattr(self.hall.businesses[business].targets, klass)

    def open_minutes(self, start_ms: int, end_ms: int) -> float:
        return self.hall.hours.open_minutes_between(self.at(start_ms), self.at(end_ms))

    def after(self, start_ms: int, minutes: float) -> int:
        return round((self.hall.hours.add_open_minutes(self.at(start_ms), minutes) - self.day_start)
                     / timedelta(milliseconds=1))


def by_class(result: DayResult, hall, day_start: datetime) -> dict[str, Any]:
    """Per class (and per business and class): waits from the promise's start in opening time, share kept."""
    clock = _Clock(hall, day_start)
    groups: dict[tuple[str, str], list[tuple[float, bool]]] = defaultdict(list)
    for t in result.tickets:
        if t.first_call_ms is None or t.promise_ms is None or t.klass not in CLASSES:
            continue
        waited = clock.open_minutes(t.promise_ms, t.first_call_ms)
        kept = waited <= clock.target(t.business, t.klass) + 1e-9
        groups[(t.business, t.klass)].append((waited, kept))
        groups[("*", t.klass)].append((waited, kept))

    def figures(rows: list[tuple[float, bool]]) -> dict[str, Any]:
        return {**summary([w for w, _ in rows]),
                "kept": round(sum(k for _, k in rows) / len(rows), 3) if rows else None}
    return {
        "classes": {k: figures(groups.get(("*", k), [])) for k in CLASSES},
        "businesses": _nest({(b, k): figures(rows) for (b, k), rows in groups.items() if b != "*"}),
    }


def _nest(flat: dict[tuple[str, str], Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for (b, k), v in sorted(flat.items()):
        out.setdefault(b, {})[k] = v
    return out


def bound_check(result: DayResult, hall, day_start: datetime, max_in_a_row: int) -> dict[str, Any]:
    """Replay every call against every urgent ticket's bound; list what broke it (nothing, if the policy holds)."""
    clock = _Clock(hall, day_start)
    calls = result.calls

    def urgency(business: str, klass: str, promise_ms: int) -> tuple[int, int]:
        target = clock.target(business, klass)
        urgent = target * URGENT_SHARE if klass != "ordinary" else target
        return clock.after(promise_ms, urgent), clock.after(promise_ms, target)

    timing = [urgency(c.business, c.klass, c.promise_ms) for c in calls]  # per call: a re-queue starts anew
    index: dict[str, int] = {}
    for i, c in enumerate(calls):
        index.setdefault(c.ticket, i)  # a ticket's first call
    checked, skipped, problems = 0, 0, []
    waited_past = defaultdict(list)
    for t in result.tickets:
        if t.first_call_ms is None or t.promise_ms is None or t.public_id not in index:
            continue
        if t.transferred or t.requeues:
            skipped += 1  # its queue changed under it: the bound restarts, not replayed here
            continue
        urgent_ms, deadline_ms = timing[index[t.public_id]]
        checked += 1
        if t.first_call_ms <= urgent_ms:
            continue
        waited_past[t.klass].append((t.first_call_ms - urgent_ms) / MIN)
        mine = t.klass != "ordinary"
        runs: dict[int, list[bool]] = defaultdict(list)  # per window: the kinds it called meanwhile (True = promise)
        for i in range(index[t.public_id]):
            c = calls[i]
            if c.ms < urgent_ms or t.business not in c.serves:
                continue
            u, d = timing[i]
            theirs = c.klass != "ordinary"
            why = None
            if u > c.ms:
                why = "called a ticket that was not urgent"
            elif theirs == mine and d > deadline_ms:
                why = "called a ticket with a later deadline"
            runs[c.window].append(theirs)
            if why:
                problems.append(_problem(t, c, why))
        for window, kinds in runs.items():
            why = _run_broken(kinds, mine, max_in_a_row)
            if why:
                problems.append({"ticket": t.label, "window": window, "why": why})
    return {"checked": checked, "not_replayed": skipped, "beyond_bound": len({p["ticket"] for p in problems}),
            "problems": problems[:20],
            "past_urgent_minutes": {k: summary(v) for k, v in waited_past.items()}}


def _run_broken(kinds: list[bool], waiting_is_promise: bool, k: int) -> str | None:
    if not waiting_is_promise:  # an overdue ordinary ticket waited: at most k promises in a row
        run = 0
        for promise in kinds:
            run = run + 1 if promise else 0
            if run > k:
                return f"{run} promises in a row while an overdue ticket waited (at most {k})"
        return None
    since, first = 0, True  # an urgent promise waited: an ordinary call only after k promises
    for promise in kinds:
        if promise:
            since += 1
        else:
            if not first and since < k:
                return f"an ordinary ticket after {since} promises while a promise was urgent (needs {k})"
            first, since = False, 0
    return None


def _problem(t: TicketRecord, c: CallRecord, why: str) -> dict[str, Any]:
    return {"ticket": t.label, "window": c.window, "called": c.ticket, "at_ms": c.ms, "why": why}


def estimate_errors(result: DayResult) -> dict[str, Any]:
    """The printed estimate against the real wait (taking the number → first call), and the range's hits."""
    groups: dict[tuple[str, str], list[tuple[float, bool | None, float | None]]] = defaultdict(list)
    for t in result.tickets:
        if t.first_call_ms is None or t.estimate is None:
            continue
        real = (t.first_call_ms - t.issued_ms) / MIN
        hit = width = None
        if t.estimate_range:
            lo, hi = t.estimate_range
            hit, width = lo - 0.5 <= real <= hi + 0.5, hi - lo  # the range is printed in whole minutes
        row = (abs(t.estimate - real), hit, width)
        for key in (("*", "*"), (t.business, "*"), ("*", t.klass), (t.business, t.klass)):
            groups[key].append(row)

    def figures(rows) -> dict[str, Any]:
        errors = [e for e, _, _ in rows]
        hits = [h for _, h, _ in rows if h is not None]
        widths = [w for _, _, w in rows if w is not None]
        return {"n": len(rows), "median_abs_error": round(percentile(errors, 50), 2),
                "p90_abs_error": round(percentile(errors, 90), 2),
                "range_holds": round(sum(hits) / len(hits), 3) if hits else None,
                "median_range_width": percentile(widths, 50)}
    return {"all": figures(groups[("*", "*")]) if groups else None,
            "classes": {k: figures(groups[("*", k)]) for k in CLASSES if ("*", k) in groups},
            "businesses": {b: figures(rows) for (b, k), rows in sorted(groups.items()) if b != "*" and k == "*"},
            "business_classes": _nest({(b, k): figures(rows) for (b, k), rows in groups.items()
                                       if b != "*" and k != "*"})}
