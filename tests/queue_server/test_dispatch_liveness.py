"""Liveness of the dispatch policy: every class is served within a bound, given arrivals and capacity.

With arrivals faster than the windows serve (one window, service time *s*,
``k = max_promises_in_a_row``): an ordinary ticket is called within its target
plus ``k + 1`` services while promises flood in; a green-channel ticket and an
appointment within 30 % of their target plus two services while overdue tickets
flood in; a ticket of a business a window only helps with within its target plus
the services of the tickets with earlier deadlines. Against the real service and
SQLite; test_dispatch_mutations.py checks these fail when the rule is changed.
(The rule itself, call by call, is in test_dispatch_properties.py.)
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallq.clock import VirtualClock, iso
from queue_server.domain import tickets as ticket_rules
from queue_server.domain.context import APPOINTMENT, Actor
from queue_server.domain.service import QueueService
from tests.conftest import MONDAY_0930, make_id
from tests.queue_server.test_dispatch_properties import build_service, staff_actor

# -- liveness: every class is served within a bound, given arrivals and capacity ---------------------

def _live_service(tmp_path_factory, max_in_a_row: int = 2) -> QueueService:
    clock = VirtualClock(MONDAY_0930.replace(hour=0, minute=5), rate=0)
    service = build_service(tmp_path_factory.mktemp("live"), clock, always_open=True)
    service.hall.config.queue = dataclasses.replace(service.hall.config.queue, max_promises_in_a_row=max_in_a_row)
    return service


def _flood(service, window: int, job_no: str, service_s: int, steps: int, arrive, watched):
    """Each step: ``arrive(step)`` adds tickets, the window completes and calls next, the clock moves a service.

    Returns the seconds from ``watched``'s promise start to its call, or None if never called.
    """
    clerk = staff_actor(service, job_no)
    service.sign_in(clerk, window)
    ticket = None
    for step in range(steps):
        made = arrive(step)
        ticket = ticket or made
        got = service.call_next(clerk, window, complete_current=True)
        if ticket and got["ticket"]["ticket"] == ticket["ticket"]:
            start = service.db.connection().execute("SELECT promise_from FROM tickets WHERE public_id = ?",
                                                    (ticket["id"],)).fetchone()[0]
            return (service.hall.now() - datetime.fromisoformat(start)).total_seconds()
        service.hall.clock.advance(service_s)
    return None


LIVENESS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ORDINARY_FLOOD = dict(arrivals=st.integers(min_value=2, max_value=4), service_s=st.integers(min_value=120, max_value=600),
                      at=st.integers(min_value=0, max_value=6), k=st.integers(min_value=1, max_value=3))
PROMISE_FLOOD = dict(arrivals=st.integers(min_value=2, max_value=4), service_s=st.integers(min_value=60, max_value=200),
                     at=st.integers(min_value=3, max_value=40), klass=st.sampled_from(["green", "appointment"]),
                     early_s=st.integers(min_value=0, max_value=1800))
HELPER_FLOOD = dict(arrivals=st.integers(min_value=2, max_value=4), service_s=st.integers(min_value=120, max_value=600),
                    helper_at=st.integers(min_value=0, max_value=6))


def ordinary_under_promise_flood(tmp_path_factory, arrivals, service_s, at, k):
    """Green-channel tickets arrive faster than window 1 serves them: a promise overload.

    The promises can no longer all be kept, and ordinary tickets yield first, but
    not without bound: once the ordinary ticket is overdue, the window calls at
    most ``k`` promises before it.
    """
    service = _live_service(tmp_path_factory, k)
    kiosk = Actor("kiosk", "kiosk-1")
    try:
        def arrive(step):
            for _ in range(arrivals):
                service.issue_ticket(kiosk, "alpha", green_reason="disabled")
            return service.issue_ticket(kiosk, "alpha") if step == at else None
        waited = _flood(service, 1, "101", service_s, 300, arrive, None)
        target = service.hall.config.businesses["alpha"].targets.ordinary * 60
        assert waited is not None, "the ordinary ticket starved"
        assert waited <= target + (k + 1) * service_s
    finally:
        service.db.close()


def promise_under_overdue_flood(tmp_path_factory, arrivals, service_s, at, klass, early_s):
    """Ordinary tickets arrive faster than window 1 serves them, so they are all overdue soon.

    A green-channel ticket (or an appointment checked in ``early_s`` before its
    slot) is urgent once 30 % of its target has passed, and then waits at most for the
    window's current run: two services.
    """
    service = _live_service(tmp_path_factory)
    kiosk = Actor("kiosk", "kiosk-1")
    try:
        def arrive(step):
            for _ in range(arrivals):
                service.issue_ticket(kiosk, "alpha")
            if step != at:
                return None
            if klass == "green":
                return service.issue_ticket(kiosk, "alpha", green_reason="disabled")
            slot = iso(service.hall.now() + timedelta(seconds=early_s))
            return service._run(kiosk, None, lambda tx: service._ticket_view(
                tx, ticket_rules.issue_ticket(tx, "alpha", klass=APPOINTMENT, promise_from=slot)))
        waited = _flood(service, 1, "101", service_s, 400, arrive, None)
        target = getattr(service.hall.config.businesses["alpha"].targets, klass) * 60
        assert waited is not None
        assert waited <= target * 0.3 + 2 * service_s
        assert waited >= 0, "an appointment was called before its slot although others were waiting"
    finally:
        service.db.close()


def helping_business_under_primary_flood(tmp_path_factory, arrivals, service_s, helper_at):
    """Window 2 serves beta first and alpha only as help; beta arrives faster than it is served.

    By rank alone the alpha ticket would wait for ever behind a queue that never
    empties. Once overdue it waits only for the overdue tickets whose deadline is
    earlier than its own: it is called within its target or the time to serve
    those, whichever is later, plus one service.
    """
    service = _live_service(tmp_path_factory)
    kiosk = Actor("kiosk", "kiosk-1")
    hall = service.hall.config
    earlier = {}
    try:
        def arrive(step):
            for _ in range(arrivals):
                service.issue_ticket(kiosk, "beta", id_number=make_id(seq=(step * 10 + _) % 1000 + 1))
            if step != helper_at:
                return None
            t = service.issue_ticket(kiosk, "alpha")
            due = service.hall.now() + timedelta(minutes=hall.businesses["alpha"].targets.ordinary)
            # the beta tickets whose deadline is earlier than alpha's, or the same (they are older: lower ids)
            # (no later arrival can have one, beta's target being the longer)
            before = iso(due - timedelta(minutes=hall.businesses["beta"].targets.ordinary))
            earlier["n"] = service.db.connection().execute(
                "SELECT COUNT(*) FROM tickets WHERE state = 'waiting' AND business = 'beta' AND promise_from <= ?",
                (before,)).fetchone()[0]
            return t
        waited = _flood(service, 2, "102", service_s, 300, arrive, None)
        assert waited is not None, "the helping business starved"
        assert waited <= max(hall.businesses["alpha"].targets.ordinary * 60, earlier["n"] * service_s) + service_s, \
            (waited, earlier)
    finally:
        service.db.close()


test_an_ordinary_ticket_is_served_while_promises_flood_in = LIVENESS(given(**ORDINARY_FLOOD)(ordinary_under_promise_flood))
test_a_promise_is_kept_while_overdue_tickets_flood_in = LIVENESS(given(**PROMISE_FLOOD)(promise_under_overdue_flood))
test_a_helping_business_is_served_within_its_target = LIVENESS(given(**HELPER_FLOOD)(helping_business_under_primary_flood))
LIVENESS_CHECKS = ((ordinary_under_promise_flood, ORDINARY_FLOOD), (promise_under_overdue_flood, PROMISE_FLOOD),
                   (helping_business_under_primary_flood, HELPER_FLOOD))
