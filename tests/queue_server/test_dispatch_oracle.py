"""The dispatch oracle's opening-time arithmetic agrees with the hall's (``OpeningHours.add_open_minutes``).

The oracle (dispatch_oracle.py) measures opening time its own way, by bisection over a count of the
open microseconds of the day; the property tests trust it to say when a ticket turns urgent or overdue.
An afternoon ticket once came out due a day late (the count started again at midnight, so the
bisection ran past it), which left every afternoon promise unchecked.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hallq.hallconfig import load_hall
from tests.conftest import MONDAY_0930, TINY
from tests.queue_server.dispatch_oracle import add_open

HOURS = load_hall(TINY).hours
MONDAY = MONDAY_0930.replace(hour=0, minute=30)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(min_value=0, max_value=23 * 3600), seconds=st.integers(min_value=1, max_value=3 * 3600))
def test_the_oracle_adds_opening_time_as_the_hall_does(start, seconds):
    begin = MONDAY + timedelta(seconds=start)
    periods = tuple(HOURS.periods_on(begin.date()))
    assert add_open(periods, begin, seconds / 60) == HOURS.add_open_minutes(begin, seconds / 60)


def test_an_afternoon_promise_is_due_the_same_afternoon():
    begin = MONDAY_0930.replace(hour=13, minute=26, second=52)
    periods = tuple(HOURS.periods_on(begin.date()))
    assert HOURS.is_serving(begin)
    assert add_open(periods, begin, 3) == begin + timedelta(minutes=3)
