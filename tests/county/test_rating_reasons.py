"""A hall's rating reaches the county with the official 差评 reason codes only (county/intake.py RATING_REASONS).

The hall refuses any other reason (queue_server/domain/ratings.py); a rating event that carries a made-up one
anyway (a hall's modified or foreign code) is refused at intake, live (``malformed``) or fetched from the hall's
journal page (``bad_catchup``), and kept in the quarantine: never folded into the county's figures, never handed
to the province. A rating with official codes, or with none, goes in as before.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from county import console, intake
from county import db as cdb
from tests.county.conftest import sql
from tests.county.test_console import NOW, RULES, entry, feed, live, make_county


@pytest.fixture
def cfg(county_db, tmp_path):
    return make_county(county_db, tmp_path)


def rating(seq: int, ticket: str, **data) -> dict:
    return entry(seq, "rate", NOW - timedelta(minutes=5), ticket, window=1, level=1, stage="window", bad=True,
                 **data)


@pytest.mark.parametrize("reasons", [["slow", "窗口收红包"], ["Slow"], "slow", [1], [None]])
def test_a_made_up_reason_is_refused_live_and_from_the_journal_page(reasons):
    checked, _ = live("hall-a", rating(1, "A001", reasons=reasons))
    assert isinstance(checked, intake.Refused) and checked.reason == "malformed" and "reasons" in checked.detail
    fetched = intake.fetched("hall-a", rating(1, "A001", reasons=reasons), RULES, NOW)
    assert isinstance(fetched, intake.Refused) and fetched.reason == "bad_catchup"


@pytest.mark.parametrize("data", [{}, {"reasons": []}, {"reasons": ["slow", "other"]}])
def test_a_rating_with_the_official_codes_or_none_goes_in(data):
    checked, _ = live("hall-a", rating(1, "A001", **data))
    assert isinstance(checked, intake.Event)


def test_the_refused_rating_is_quarantined_and_not_folded(cfg):
    t0 = NOW - timedelta(minutes=30)
    feed(cfg, *[live("hall-a", e) for e in [
        entry(1, "issue", t0, "A001", item="id_card"),
        entry(2, "issue", t0, "A002", item="id_card"),
        rating(3, "A001", reasons=["attitude"]),
        rating(4, "A002", reasons=["attitude", "made_up"]),
    ]])
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        assert console.fold(conn, cfg) == 3  # the refused number is accounted for: the fold is not held up
    daily = sql(cfg.database_url, "SELECT sum(rated) r, sum(bad) b FROM console_daily WHERE site = 'hall-a'")[0]
    assert daily == {"r": 1, "b": 1}
    assert [(r["seq"], r["reason"]) for r in sql(cfg.database_url, "SELECT seq, reason FROM quarantine")] == \
        [(4, "malformed")]
    assert [r["seq"] for r in sql(cfg.database_url, "SELECT seq FROM events WHERE action = 'rate'")] == [3]
