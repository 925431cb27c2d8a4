"""The county database on a real PostgreSQL: migrations, the registry, exactly-once storage, the quarantine.

These drive :mod:`county.store` directly (no broker, no hall), so each rule is seen on its own: a
re-delivered event is a duplicate, a different event under a used number is quarantined, a gap holds the
high-water mark until the hall's journal fills it, and a page of the hall's journal confirms the
numbers it does not hold.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from county import db as cdb
from county import intake, registry, store
from county.config import CountyConfigError, Ingest, load_county
from hallq import contract
from hallq.demo import DEMO_PASSWORD_HASH
from tests.county.conftest import sql

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "config" / "county" / "county.toml"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
RULES = Ingest()


def entry(seq: int, action: str = "issue", at: datetime = NOW, **data) -> dict:
    return {"seq": seq, "at": at.isoformat(), "day": "2026-11-23", "actor": "kiosk:kiosk-1", "action": action,
            "ticket": f"A{seq:03d}", "business": "alpha", "window": None, "data": data or {"class": "ordinary"}}


def live(site: str, e: dict, known=frozenset({"dahe-town", "zhoujia-village", "liupanshui"})):
    topic = f"hallq/{site}/journal"
    return intake.live(topic, contract.encode(contract.JOURNAL, {"site": site, **e}), known, RULES, NOW), topic


@pytest.fixture
def db(sample_db):
    return sample_db


def test_migrations_apply_once_and_refuse_a_newer_database(county_db):
    applied = cdb.migrate(county_db)
    assert applied[:2] == ["001_core", "002_hall_state"] and applied == [p.stem for p in cdb.migration_files()]
    assert cdb.migrate(county_db) == []
    sql(county_db, "INSERT INTO _migrations (name) VALUES ('999_future')")
    with pytest.raises(cdb.NewerSchema, match="newer hallq"):
        cdb.migrate(county_db)


def test_the_registry_comes_from_the_county_config(db, tmp_path):
    halls = {h["site"]: h for h in sql(db, "SELECT * FROM halls")}
    assert halls["zhoujia-village"]["parent"] == "dahe-town" and halls["dahe-town"]["parent"] == "liupanshui"
    assert halls["liupanshui"]["level"] == "city" and halls["liupanshui"]["latitude"] == pytest.approx(26.5928)
    assert halls["dahe-town"]["businesses"] == ["social", "proxy"]
    assert halls["dahe-town"]["credential"].startswith("file:")  # a reference, never the key
    accounts = {a["username"]: a for a in sql(db, "SELECT * FROM accounts")}
    assert accounts["dahe-manager"]["site"] == "dahe-town" and accounts["supervisor"]["site"] is None
    # a hall taken out of the file is kept (its events stay) but inactive
    text = SAMPLE.read_text(encoding="utf-8")
    cut = text[:text.index('[[halls]]\nsite = "zhoujia-village"')] + text[text.index("# The platform's own"):]
    (tmp_path / "county.toml").write_text(cut, encoding="utf-8")
    with cdb.connect(db) as conn:
        registry.sync(conn, load_county(tmp_path / "county.toml", database_url=db))
    assert sql(db, "SELECT active FROM halls WHERE site = 'zhoujia-village'") == [{"active": False}]


@pytest.mark.parametrize("change, problem", [
    ('parent = "dahe-town"', 'parent = "nowhere"'),
    ('role = "hall_manager"\nsite = "dahe-town"', 'role = "hall_manager"\nsite = "elsewhere"'),
    ('credential = "file:/etc/hallq/county/keys/dahe-town.key"', 'credential = "the-key-itself"'),
])
def test_a_wrong_county_config_is_refused_with_the_key_at_fault(tmp_path, change, problem):
    (tmp_path / "county.toml").write_text(SAMPLE.read_text(encoding="utf-8").replace(change, problem, 1))
    with pytest.raises(CountyConfigError) as e:
        load_county(tmp_path / "county.toml", database_url="postgresql://x@127.0.0.1/x")
    assert "halls" in str(e.value) or "accounts" in str(e.value)


def test_a_village_cannot_be_the_parent_of_a_town(tmp_path):
    text = SAMPLE.read_text(encoding="utf-8").replace('parent = "liupanshui"', 'parent = "zhoujia-village"', 1)
    (tmp_path / "county.toml").write_text(text)
    with pytest.raises(CountyConfigError, match="level above"):
        load_county(tmp_path / "county.toml", database_url="postgresql://x@127.0.0.1/x")


def test_an_event_is_stored_once_whatever_the_deliveries(db):
    with cdb.connect(db) as conn:
        out = store.apply(conn, [live("dahe-town", entry(1)), live("dahe-town", entry(2)), live("dahe-town", entry(1))])
        assert (out.new, out.duplicates, out.quarantined, out.gaps) == (2, 1, 0, set())
        out = store.apply(conn, [live("dahe-town", entry(2))])  # a QoS 1 re-send, later
        assert (out.new, out.duplicates) == (0, 1)
        # the same entries fetched over HTTP are the same events
        items = [intake.fetched("dahe-town", e, RULES, NOW) for e in (entry(1), entry(2), entry(3))]
        out, high = store.apply_page(conn, "dahe-town", 0, items, 3)
        assert (out.new, out.duplicates, high) == (1, 2, 3)
    rows = sql(db, "SELECT seq, source FROM events WHERE site = 'dahe-town' ORDER BY seq")
    assert rows == [{"seq": 1, "source": "live"}, {"seq": 2, "source": "live"}, {"seq": 3, "source": "catchup"}]
    p = sql(db, "SELECT * FROM hall_progress WHERE site = 'dahe-town'")[0]
    assert (p["high_water"], p["live_events"], p["catchup_events"], p["duplicates"]) == (3, 2, 1, 4)


def test_a_gap_holds_the_high_water_mark_until_the_journal_fills_it(db):
    with cdb.connect(db) as conn:
        out = store.apply(conn, [live("dahe-town", entry(1)), live("dahe-town", entry(4)), live("dahe-town", entry(5))])
        assert out.gaps == {"dahe-town"}
        assert sql(db, "SELECT high_water, max_seen FROM hall_progress WHERE site = 'dahe-town'") == \
            [{"high_water": 1, "max_seen": 5}]
        # the hall's journal after 1: entries 2 and 4 (3 was never written: confirmed absent), up to 4
        items = [intake.fetched("dahe-town", e, RULES, NOW) for e in (entry(2), entry(4))]
        out, high = store.apply_page(conn, "dahe-town", 1, items, 4)
        assert (out.new, out.duplicates, high) == (1, 1, 5)  # and 5, heard live, follows on
    assert [r["seq"] for r in sql(db, "SELECT seq FROM events WHERE site = 'dahe-town' ORDER BY seq")] == [1, 2, 4, 5]


def test_a_replay_with_a_reset_sequence_is_quarantined_never_stored_over(db):
    with cdb.connect(db) as conn:
        store.apply(conn, [live("dahe-town", entry(1)), live("dahe-town", entry(2))])
        # the hall's database was replaced: its journal starts again at 1, with other entries
        out = store.apply(conn, [live("dahe-town", entry(1, action="login", job_no="101")),
                                 live("dahe-town", entry(2, action="logout", job_no="101"))])
        assert (out.new, out.quarantined) == (0, 2)
        again = store.apply(conn, [live("dahe-town", entry(1, action="login", job_no="101"))])  # resent
        assert (again.new, again.quarantined) == (0, 0)  # kept once
    assert [r["action"] for r in sql(db, "SELECT action FROM events ORDER BY seq")] == ["issue", "issue"]
    q = sql(db, "SELECT reason, site, seq, detail FROM quarantine ORDER BY id")
    assert [(r["reason"], r["seq"]) for r in q] == [("seq_reset", 1), ("seq_reset", 2)]
    assert "reset sequence" in q[0]["detail"]
    alerts = sql(db, "SELECT kind, site, count FROM alerts WHERE cleared_at IS NULL")
    assert alerts == [{"kind": "quarantine_seq_reset", "site": "dahe-town", "count": 2}]


def test_bad_input_is_refused_with_its_reason(db):
    far = NOW + timedelta(days=400)
    good = contract.encode(contract.JOURNAL, {"site": "dahe-town", **entry(1)})
    cases = [
        (intake.live("hallq/nowhere/journal", good.replace(b"dahe-town", b"nowhere"), frozenset({"dahe-town"}),
                     RULES, NOW), "unknown_hall"),
        (intake.live("hallq/dahe-town/journal", b"\xff{not json", frozenset({"dahe-town"}), RULES, NOW), "malformed"),
        (intake.live("hallq/dahe-town/journal", b'{"version": 1, "site": "dahe-town", "seq": "x"}',
                     frozenset({"dahe-town"}), RULES, NOW), "malformed"),
        (intake.live("hallq/dahe-town/journal", b"x" * (RULES.max_payload_bytes + 1), frozenset({"dahe-town"}),
                     RULES, NOW), "oversized"),
        (intake.live("hallq/dahe-town/journal", good.replace(b'"site":"dahe-town"', b'"site":"liupanshui"'),
                     frozenset({"dahe-town", "liupanshui"}), RULES, NOW), "site_mismatch"),
        (live("dahe-town", entry(2, at=far))[0], "clock_skew"),
        (live("dahe-town", entry(3, at=NOW - timedelta(days=RULES.max_age_days + 1)))[0], "clock_skew"),
        (intake.live("hallq/dahe-town/status/x", good, frozenset({"dahe-town"}), RULES, NOW), "malformed"),
        (intake.live("hallq/dahe-town/journal", good.replace(b'"day":"2026-11-23"', b'"day":"2026-13-45"'),
                     frozenset({"dahe-town"}), RULES, NOW), "malformed"),  # the right shape, not a real day
        (intake.live("hallq/dahe-town/journal", good.replace(b'"ordinary"', b'"ordi\\u0000nary"'),
                     frozenset({"dahe-town"}), RULES, NOW), "malformed"),  # PostgreSQL holds no NUL
    ]
    for checked, reason in cases:
        assert isinstance(checked, intake.Refused) and checked.reason == reason, (reason, checked)
        assert len(checked.payload) <= intake.KEEP
    with cdb.connect(db) as conn:
        out = store.apply(conn, [(c, "t") for c, _ in cases] + [live("dahe-town", entry(1))])
    assert out.new == 1 and out.quarantined == len(cases)
    # a clock-skewed entry is the hall's own, under its own number: accounted for, so the mark moves past it
    assert sql(db, "SELECT high_water FROM hall_progress WHERE site = 'dahe-town'") == [{"high_water": 3}]


def test_the_quarantine_is_thinned_under_a_flood(db):
    thinner = store.Thinner(per_minute=5)
    flood = [(intake.live("hallq/nowhere/journal", b"{}", frozenset(), RULES, NOW), "t") for _ in range(50)]
    with cdb.connect(db) as conn:
        store.apply(conn, flood, thinner)
    assert sql(db, "SELECT count(*) AS n FROM quarantine") == [{"n": 5}] and thinner.dropped == 45
    assert sql(db, "SELECT count FROM alerts WHERE kind = 'quarantine_unknown_hall'") == [{"count": 5}]


def test_the_sample_accounts_use_argon2():
    cfg = load_county(SAMPLE, database_url="postgresql://x@127.0.0.1/x")
    assert all(a.password_hash.startswith("$argon2id$") for a in cfg.accounts)
    assert cfg.accounts[0].password_hash == DEMO_PASSWORD_HASH  # the demo password: docs/county.md says to change it


def test_an_event_leaves_the_callers_address_in_the_hall_and_big_details_out():
    e = contract.journal_event("dahe-town", {**entry(7, action="login"), "data": {"job_no": "101",
                                                                                 "client": "10.0.0.7"}})
    assert e["data"] == {"job_no": "101"}
    big = contract.journal_event("dahe-town", {**entry(8), "data": {"text": "字" * 3000}})
    assert big["data"] == {"omitted_bytes": len(json.dumps({"text": "字" * 3000}, ensure_ascii=False,
                                                             separators=(",", ":")).encode())}
    assert contract.journal_event("dahe-town", big) == big  # the same function on both paths: idempotent
    assert contract.journal_event("dahe-town", e) == e


def test_a_booking_s_code_stays_in_the_hall_and_other_codes_go_out():
    """A booking's code checks its holder in at a kiosk: not for the county's journal pages. A code that is not a
    booking's (a refusal's error code) goes out as before."""
    for action in sorted(contract.BOOKING_CODE_ACTIONS):
        e = contract.journal_event("dahe-town", {**entry(9, action=action), "data": {"code": "K7Q2M9", "date": "x"}})
        assert e["data"] == {"date": "x"} and contract.journal_event("dahe-town", e) == e
    refused = contract.journal_event("dahe-town", {**entry(10, action="application_route_refused"),
                                                  "data": {"tracking_no": "SQ1", "code": "form_changed"}})
    assert refused["data"] == {"tracking_no": "SQ1", "code": "form_changed"}


def test_a_journal_url_that_answers_for_another_hall_stores_nothing():
    from county.catchup import CatchUp

    with pytest.raises(RuntimeError, match="answers for hall 'liupanshui'"):
        CatchUp._page("dahe-town", 0, {"entries": [{**entry(1), "site": "liupanshui"}], "next_after": 1})
    with pytest.raises(RuntimeError, match="out of order"):
        CatchUp._page("dahe-town", 0, {"entries": [entry(2), entry(1)], "next_after": 2})


def test_a_bad_entry_in_the_halls_own_journal_is_quarantined_and_does_not_block_the_hall(db):
    bad = {**entry(2), "day": "2026-13-45"}  # the right shape, not a real day: PostgreSQL would refuse the page
    items = [intake.fetched("dahe-town", e, RULES, NOW) for e in (entry(1), bad, entry(3))]
    assert isinstance(items[1], intake.Refused) and items[1].reason == "bad_catchup"
    with cdb.connect(db) as conn:
        out, high = store.apply_page(conn, "dahe-town", 0, items, 3)
    assert (out.new, out.quarantined, high) == (2, 1, 3)  # the hall goes on past it; an operator looks at it
    assert sql(db, "SELECT reason, seq, source FROM quarantine") == [{"reason": "bad_catchup", "seq": 2,
                                                                      "source": "catchup"}]
