"""Messages that pass the contract's shape but that the digest or PostgreSQL would refuse, on a real PostgreSQL.

A lone surrogate (JSON carries one as the escape ``\\ud800``), NaN or infinity in ``data``, a ``seq`` beyond
PostgreSQL's bigint, an integer with more digits than Python parses: each used to raise in the writer (in
:func:`county.intake.live` or in the batch's transaction), so the whole batch was rolled back and rewritten one
message at a time, and the bad one dropped with no quarantine row and no alert. Each is now refused by intake as
``malformed`` (``bad_catchup`` when it comes in the hall's journal page), like any other malformed input, and the
good events of the same batch are stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from county import db as cdb
from county import intake, store
from county.config import Ingest, load_county
from county.ingest import Ingester
from hallq import contract
from tests.county.conftest import sql

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "config" / "county" / "county.toml"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
RULES = Ingest()
KNOWN = frozenset({"dahe-town", "zhoujia-village", "liupanshui"})


def payload(site: str, seq: int, at: datetime = NOW) -> bytes:
    return contract.encode(contract.JOURNAL, {
        "site": site, "seq": seq, "at": at.isoformat(), "day": at.date().isoformat(), "actor": "kiosk:kiosk-1",
        "action": "issue", "ticket": f"A{seq:03d}", "business": "alpha", "window": None,
        "data": {"class": "ordinary", "n": 1}})


def bad_payloads(site: str, at: datetime = NOW) -> dict[str, bytes]:
    """Valid UTF-8 JSON of the contract's shape (bytes as a publisher could send them), each with one flaw."""
    good = payload(site, 5, at)

    def swap(old: bytes, new: bytes) -> bytes:
        assert good.count(old) == 1, old
        return good.replace(old, new)

    return {
        "lone_surrogate_in_data": swap(b'"ordinary"', b'"ordi\\ud800nary"'),
        "lone_low_surrogate_in_data_key": swap(b'"class"', b'"cl\\uDFFFass"'),
        "lone_surrogate_in_actor": swap(b'"kiosk:kiosk-1"', b'"kiosk:\\ud83d"'),
        "nan_in_data": swap(b'"n":1', b'"n":NaN'),
        "infinity_in_data": swap(b'"n":1', b'"n":1e999'),
        "minus_infinity_nested_in_data": swap(b'"n":1', b'"n":{"list":[1,-1e999]}'),
        "infinity_literal_in_data": swap(b'"n":1', b'"n":Infinity'),
        "seq_2_pow_63": swap(b'"seq":5', b'"seq":9223372036854775808'),
        "seq_far_beyond_bigint": swap(b'"seq":5', b'"seq":' + str(10 ** 40).encode()),
        "integer_of_5000_digits_in_data": swap(b'"n":1', b'"n":' + b"9" * 5000),
    }


@pytest.fixture
def db(sample_db):
    return sample_db


CASES = sorted(bad_payloads("dahe-town"))


def checked(site: str, body: bytes, now: datetime = NOW):
    topic = f"hallq/{site}/journal"
    return intake.live(topic, body, KNOWN, RULES, now), topic




@pytest.mark.parametrize("case", CASES)
def test_a_message_postgresql_would_refuse_is_quarantined_as_malformed_and_the_batch_stored(db, case):
    items = [checked("dahe-town", payload("dahe-town", 1)), checked("dahe-town", bad_payloads("dahe-town")[case]),
             checked("zhoujia-village", payload("zhoujia-village", 1)), checked("dahe-town", payload("dahe-town", 2))]
    refused = items[1][0]
    assert isinstance(refused, intake.Refused) and refused.reason == "malformed", refused
    with cdb.connect(db) as conn:
        out = store.apply(conn, items)  # the whole batch in one transaction: nothing raises
    assert (out.new, out.quarantined) == (3, 1)
    assert sql(db, "SELECT site, seq FROM events ORDER BY site, seq") == [
        {"site": "dahe-town", "seq": 1}, {"site": "dahe-town", "seq": 2}, {"site": "zhoujia-village", "seq": 1}]
    rows = sql(db, "SELECT site, reason, source, topic, payload FROM quarantine")
    assert [(r["site"], r["reason"], r["source"], r["topic"]) for r in rows] == [
        ("dahe-town", "malformed", "live", "hallq/dahe-town/journal")]
    assert bytes(rows[0]["payload"]) == bad_payloads("dahe-town")[case][:intake.KEEP]
    assert sql(db, "SELECT kind, site FROM alerts WHERE cleared_at IS NULL") == [
        {"kind": "quarantine_malformed", "site": "dahe-town"}]


def test_a_batch_of_the_writer_holding_every_such_message_is_written_in_one_go(db):
    """The live writer's own step (:meth:`Ingester._write`): one transaction, every good event of every hall
    stored, every bad message quarantined; no rollback, so no rewriting one message at a time."""
    cfg = load_county(SAMPLE, database_url=db)
    ingester = Ingester(cfg)
    at = datetime.now(timezone.utc) - timedelta(minutes=1)  # the writer checks against the real clock
    bad = bad_payloads("zhoujia-village", at)
    batch = [("hallq/dahe-town/journal", payload("dahe-town", 1, at), False)]
    batch += [("hallq/zhoujia-village/journal", body, False) for body in bad.values()]
    batch += [("hallq/zhoujia-village/journal", payload("zhoujia-village", 1, at), False),
              ("hallq/dahe-town/journal", payload("dahe-town", 2, at), False)]
    with cdb.connect(db) as conn:
        ingester._write(conn, batch)
    assert (ingester.stored, ingester.quarantined) == (3, len(bad))
    assert sql(db, "SELECT site, seq FROM events ORDER BY site, seq") == [
        {"site": "dahe-town", "seq": 1}, {"site": "dahe-town", "seq": 2}, {"site": "zhoujia-village", "seq": 1}]
    assert sql(db, "SELECT reason, count(*) AS n FROM quarantine GROUP BY reason") == [
        {"reason": "malformed", "n": len(bad)}]


def test_a_valid_surrogate_pair_is_still_an_ordinary_event(db):
    body = payload("dahe-town", 1).replace(b'"ordinary"', b'"\\ud83d\\ude00"')  # one character, U+1F600
    event = checked("dahe-town", body)[0]
    assert isinstance(event, intake.Event) and event.event["data"]["class"] == "\U0001F600"
    with cdb.connect(db) as conn:
        out = store.apply(conn, [(event, "t")])
    assert (out.new, out.quarantined) == (1, 0)


def test_such_an_entry_in_the_halls_journal_page_is_quarantined_as_bad_catchup(db):
    base = {"seq": 2, "at": NOW.isoformat(), "day": "2026-11-23", "actor": "kiosk:kiosk-1", "action": "issue",
            "ticket": "A002", "business": "alpha", "window": None}
    good = [{**base, "seq": 1, "data": {}}, {**base, "seq": 3, "data": {}}]
    for bad in ({**base, "actor": "kiosk:\ud800", "data": {}}, {**base, "data": {"n": float("nan")}},
                {**base, "data": {"n": float("inf")}}):
        items = [intake.fetched("dahe-town", e, RULES, NOW) for e in (good[0], bad, good[1])]
        assert isinstance(items[1], intake.Refused) and items[1].reason == "bad_catchup", items[1]
    big = intake.fetched("dahe-town", {**base, "seq": 2 ** 63, "data": {}}, RULES, NOW)
    assert isinstance(big, intake.Refused) and big.reason == "bad_catchup" and big.seq is None, big
    with cdb.connect(db) as conn:
        out, high = store.apply_page(conn, "dahe-town", 0, items, 3)
    assert (out.new, out.quarantined, high) == (2, 1, 3)
    assert sql(db, "SELECT reason, seq, source FROM quarantine") == [{"reason": "bad_catchup", "seq": 2,
                                                                      "source": "catchup"}]
