"""The county counts a ticket's wait as the hall does (docs/statistics.md): from issue to its FIRST call, once.

A call-back of a held ticket (``call_back``), a recall, a missed number re-queued and called again, a transfer
called at its next window: none is a second wait, and none moves the first (county/console.py's fold).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from county import console
from county import db as cdb
from tests.county.conftest import sql
from tests.county.test_console import NOW, entry, feed, live, make_county


@pytest.fixture
def cfg(county_db, tmp_path):
    return make_county(county_db, tmp_path)


def test_a_held_requeued_or_transferred_ticket_waited_until_its_first_call(cfg):
    t0 = NOW - timedelta(minutes=90)
    m = lambda n: t0 + timedelta(minutes=n)  # noqa: E731
    events = [
        entry(1, "issue", m(0), "A001", item="id_card"),
        entry(2, "issue", m(0), "A002", item="id_card"),
        entry(3, "issue", m(0), "A003", item="id_card"),
        entry(4, "call", m(10), "A001", window=1, call_seq=1, recalls=0),  # A001: 10 min
        entry(5, "hold", m(11), "A001", window=1),
        entry(6, "call", m(20), "A002", window=1, call_seq=2, recalls=0),  # A002: 20 min
        entry(7, "recall", m(22), "A002", window=1, call_seq=3, recalls=1),
        entry(8, "no_show", m(25), "A002", window=1),
        entry(9, "requeue", m(30), "A002"),
        entry(10, "call", m(31), "A003", window=1, call_seq=4, recalls=0),  # A003: 31 min
        entry(11, "transfer", m(32), "A003", window=1, business="beta"),
        entry(12, "call_back", m(41), "A001", window=1, call_seq=5, recalls=0),
        entry(13, "complete", m(45), "A001", window=1),
        entry(14, "call", m(60), "A002", window=1, call_seq=6, recalls=0),
        entry(15, "complete", m(65), "A002", window=1),
        entry(16, "call", m(70), "A003", window=2, call_seq=7, recalls=0, business="beta"),
    ]
    feed(cfg, *[live("hall-a", e) for e in events[:9]])
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        assert console.fold(conn, cfg) == 9
    feed(cfg, *[live("hall-a", e) for e in events[9:]])  # a later fold: the first calls are read back stored
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        assert console.fold(conn, cfg) == 7
    daily = sql(cfg.database_url, "SELECT sum(called) c, sum(wait_seconds) w, max(wait_max) x, sum(on_time) o "
                                  "FROM console_daily WHERE site = 'hall-a'")[0]
    assert (daily["c"], daily["w"], daily["x"], daily["o"]) == (3, (10 + 20 + 31) * 60, 31 * 60, 2)
