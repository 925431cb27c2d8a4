"""One hall's event must not break what the platform reads county-wide (a review's findings, on a real PostgreSQL).

Each value here passed intake before, was stored, and then raised every time county-wide code read it: the
console's fold (so every console page answered 500, for every hall), the alerts, 就近办, the provincial hand-off
(for that hall and every hall after it):

* a business ``day`` far from the event's own time (``0001-01-01``: the fold's date arithmetic overflowed);
* a boolean where an integer belongs (``"followup": true``: ``bigint = boolean`` in SQL; ``"level": "x"``);
* a journal page's ``now`` thousands of years off (the hall's clock offset overflowed every "today");

Now intake refuses such events into the quarantine with their reason (``malformed``, or ``bad_catchup`` from a
journal page), the catch-up does not use an absurd clock, and, in depth, what an older database already holds is
skipped: the fold and the hand-off go on for the other halls (and the hall's other events).
"""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from county import catchup, console, intake, nearby, registry, store
from county import db as cdb
from county.config import load_county
from county.provincial import Handoff
from hallq.demo import DEMO_PASSWORD_HASH
from tests.county.conftest import sql
from tests.county.test_console import NOW, RULES, _client, a_day_of_hall_a, entry, feed, live

CST = timezone(timedelta(hours=8))


def county(database: str, tmp_path, journal_url: str = "http://127.0.0.1:1", extra: str = ""):
    """Halls A and B (both serve alpha, with coordinates; their journal at ``journal_url``, read with the key in
    $POISON_KEY), a supervisor; ``extra``: more sections (a [provincial] one)."""
    halls = "".join(f'[[halls]]\nsite = "{site}"\nlevel = "town"\nname = {{ zh-Hans = "{site}" }}\n'
                    f'journal_url = "{journal_url}"\ncredential = "env:POISON_KEY"\nbusinesses = ["alpha"]\n'
                    f"coordinates = [26.6, {lon}]\n" for site, lon in (("hall-a", 104.8), ("hall-b", 104.81)))
    path = tmp_path / "county.toml"
    path.write_text(f'[county]\nid = "t"\nname = {{ zh-Hans = "测试县" }}\n[broker]\nurl = "mqtt://127.0.0.1:1"\n'
                    f'{extra}\n{halls}[[accounts]]\nusername = "sup"\nrole = "supervisor"\n'
                    f'password_hash = "{DEMO_PASSWORD_HASH}"\n', encoding="utf-8")
    cdb.migrate(database)
    cfg = load_county(path, database_url=database)
    with cdb.connect(database) as conn:
        registry.sync(conn, cfg)
    return cfg


@pytest.fixture
def cfg(county_db, tmp_path):
    return county(county_db, tmp_path)


def hall_a_folded(cfg) -> dict:
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '20s'")
        console.fold(conn, cfg)
        console.check_alerts(conn, cfg)
        return {h["site"]: h for h in console.overview(conn, cfg)}["hall-a"]


# -- intake ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("day, refused", [
    ("0001-01-01", True), ("9999-12-31", True), ((NOW - timedelta(days=3)).date().isoformat(), True),
    ((NOW + timedelta(days=3)).date().isoformat(), True),
    ((NOW - timedelta(days=1)).date().isoformat(), False), (NOW.astimezone(CST).date().isoformat(), False),
])
def test_a_business_day_far_from_the_events_own_time_is_refused(day, refused):
    e = {**entry(1, "issue", NOW, "B001"), "day": day}
    checked, _ = live("hall-b", e)
    fetched = intake.fetched("hall-b", e, RULES, NOW)
    if not refused:
        assert isinstance(checked, intake.Event) and isinstance(fetched, intake.Event)
        return
    assert (checked.reason, fetched.reason) == ("malformed", "bad_catchup")
    assert f"day {day} is more than" in checked.detail and checked.seq == 1 and checked.digest


@pytest.mark.parametrize("action, data, refused", [
    ("followup_closed", {"followup": True}, "followup True is not a positive integer"),
    ("followup_closed", {"followup": 0}, "followup 0 is not a positive integer"),
    ("followup_closed", {"followup": 2**63}, "is not a positive integer"),
    ("followup_closed", {"followup": 3, "late": False}, None),
    ("rate", {"level": "x"}, "level x is not an integer from 1 to 5"),
    ("rate", {"level": True}, "level True is not an integer from 1 to 5"),
    ("rate", {"level": 4.0}, "is not an integer from 1 to 5"),
    ("rate", {"level": 9}, "is not an integer from 1 to 5"),
    ("rate", {"level": 5, "stage": "window", "bad": False}, None),
    ("followup_opened", {"due": "2026-13-45"}, "due 2026-13-45 is not a real date"),
    ("followup_opened", {"due": 20261201}, "is not a real date"),
    ("application_result_ready", {"tracking_no": ["SQ"], "decision": "approved"}, "tracking_no ['SQ'] is not a text"),
    ("application_result_ready", {"tracking_no": "SQ20261201-AB12", "decision": {"a": 1}}, "is not a text"),
    ("application_result_ready", {"tracking_no": "SQ20261201-AB12", "decision": "refused"}, None),
])
def test_data_the_platform_reads_must_have_the_halls_types(action, data, refused):
    e = entry(1, action, NOW, **data)
    checked, _ = live("hall-b", e)
    fetched = intake.fetched("hall-b", e, RULES, NOW)
    if refused is None:
        assert isinstance(checked, intake.Event) and isinstance(fetched, intake.Event)
    else:
        assert (checked.reason, fetched.reason) == ("malformed", "bad_catchup") and refused in checked.detail
        assert fetched.seq == 1  # accounted for when it comes from the hall's journal


def test_a_boolean_seq_of_a_fetched_entry_is_no_number_in_the_quarantine(cfg):
    refused = intake.fetched("hall-b", {**entry(1, "issue", NOW, "B001"), "seq": True}, RULES, NOW)
    assert refused.reason == "bad_catchup" and refused.seq is None
    with cdb.connect(cfg.database_url) as conn:  # bigint = boolean would have failed the page's transaction
        store.apply_page(conn, "hall-b", 0, [refused], 0)
    assert sql(cfg.database_url, "SELECT seq FROM quarantine") == [{"seq": None}]


# -- the console, the alerts, 就近办 ---------------------------------------------------------------------------

@pytest.mark.parametrize("poison", [
    {**entry(1, "issue", NOW, "B001"), "day": "0001-01-01"},
    entry(1, "followup_closed", NOW, followup=True),
])
def test_one_halls_poisoned_event_is_quarantined_and_every_console_page_still_answers(cfg, poison):
    a_day_of_hall_a(cfg)
    feed(cfg, live("hall-b", poison), live("hall-b", entry(2, "issue", NOW, "B002")))
    assert sql(cfg.database_url, "SELECT seq, reason, source FROM quarantine") == \
        [{"seq": 1, "reason": "malformed", "source": "live"}]
    assert sql(cfg.database_url, "SELECT site, seq FROM events WHERE site = 'hall-b'") == [{"site": "hall-b", "seq": 2}]
    a = hall_a_folded(cfg)
    assert (a["waiting"], a["rated"], a["bad"]) == (2, 2, 1)
    c = _client(cfg, "sup")
    for page in ("/console/", "/console/alerts", "/console/rankings?by=item&days=7", "/console/stats?days=7"):
        assert c.get(page).status_code == 200, page


def test_what_an_older_database_holds_is_skipped_by_the_fold(cfg):
    """Stored before intake refused them: hall B's day 0001-01-01 and a boolean follow-up number. The fold skips
    them (logged), hall B's cursor moves on over them, and its later event is folded."""
    a_day_of_hall_a(cfg)
    feed(cfg, live("hall-b", entry(1, "issue", NOW, "B001")), live("hall-b", entry(2, "issue", NOW, "B002")),
         live("hall-b", entry(3, "followup_closed", NOW, followup=5)), live("hall-b", entry(4, "issue", NOW, "B003")))
    sql(cfg.database_url, "UPDATE events SET business_day = '0001-01-01' WHERE site = 'hall-b' AND seq = 2")
    sql(cfg.database_url, "UPDATE events SET data = '{\"followup\": true}' WHERE site = 'hall-b' AND seq = 3")
    assert hall_a_folded(cfg)["waiting"] == 2
    assert sql(cfg.database_url, "SELECT seq FROM console_cursor WHERE site = 'hall-b'") == [{"seq": 4}]
    assert [r["ticket"] for r in sql(cfg.database_url, "SELECT ticket FROM console_tickets WHERE site = 'hall-b' "
                                                       "ORDER BY ticket")] == ["B001", "B003"]


def test_a_hall_whose_events_cannot_be_folded_does_not_hold_up_the_others(cfg, monkeypatch, caplog):
    """A fault the fold does not foresee, in hall B's events only: hall A's figures are folded all the same, hall
    B's wait (its cursor stays), logged once."""
    real = console._window

    def broken(conn, site, number, open_, at):
        if site == "hall-b":
            raise ValueError("a fault nobody foresaw")
        return real(conn, site, number, open_, at)

    monkeypatch.setattr(console, "_window", broken)
    feed(cfg, live("hall-b", entry(1, "open_window", NOW, window=1, business=None)))
    a_day_of_hall_a(cfg)
    a = hall_a_folded(cfg)
    assert (a["open_windows"], a["waiting"]) == (1, 2)
    assert sql(cfg.database_url, "SELECT site, seq FROM console_cursor ORDER BY site") == \
        [{"site": "hall-a", "seq": 13}, {"site": "hall-b", "seq": 0}]
    assert "hall hall-b's events cannot be folded (ValueError: a fault nobody foresaw)" in caplog.text
    # the supervisors see it: an alert for hall B, which ends once its events fold again
    alert = "SELECT site, kind, cleared_at IS NULL AS open FROM alerts WHERE kind = 'fold_failed'"
    assert sql(cfg.database_url, alert) == [{"site": "hall-b", "kind": "fold_failed", "open": True}]
    console._reported.clear()  # the platform restarted meanwhile (or another process folds): the alert still ends
    monkeypatch.setattr(console, "_window", real)  # mended: hall B's figures catch up
    hall_a_folded(cfg)
    assert sql(cfg.database_url, "SELECT seq FROM console_cursor WHERE site = 'hall-b'") == [{"seq": 1}]
    assert sql(cfg.database_url, alert) == [{"site": "hall-b", "kind": "fold_failed", "open": False}]


def test_an_absurd_clock_on_a_journal_page_is_not_used():
    platform = NOW.timestamp()
    assert catchup.clock_offset({"now": "9999-12-31T23:59:59-23:59"}, platform) is None
    assert catchup.clock_offset({"now": "0001-01-01T00:00:00+23:59"}, platform) is None
    ahead = (NOW + timedelta(minutes=10)).isoformat()
    offset, problem = catchup.hall_clock({"now": ahead}, platform, RULES)
    assert offset is None and "600 s ahead of the platform's clock" in problem
    behind = (NOW - timedelta(days=3)).isoformat()  # a clock days behind is still read (its entries are accepted)
    assert catchup.clock_offset({"now": behind}, platform) == 3 * 86400


def test_an_absurd_clock_offset_already_stored_breaks_no_reading(cfg):
    """An offset stored before the catch-up checked it: the console, the alerts and 就近办 read the hall on the
    platform's clock instead of overflowing."""
    a_day_of_hall_a(cfg)
    sql(cfg.database_url, "UPDATE hall_progress SET clock_offset_seconds = -2.6e11, clock_offset_at = now() "
                          "WHERE site = 'hall-b'")
    feed(cfg, live("hall-b", entry(1, "issue", NOW, "B001")))
    sql(cfg.database_url, "UPDATE events SET received_at = received_at - interval '1 hour' WHERE site = 'hall-b'")
    hall_a_folded(cfg)
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        b = {h["site"]: h for h in console.overview(conn, cfg)}["hall-b"]
        near = nearby.nearby(conn, cfg, "hall-a", ["alpha"])["alpha"]
    assert b["waiting"] == 1 and near[0]["site"] == "hall-b" and near[0]["waiting"] == 1
    assert _client(cfg, "sup").get("/console/").status_code == 200


# -- the provincial hand-off --------------------------------------------------------------------------------

@pytest.fixture
def handoff(county_db, tmp_path):
    cfg = county(county_db, tmp_path, extra=f'[provincial]\nfiles_dir = "{tmp_path / "out"}"\nbatch_size = 10\n')
    return cfg, Handoff(cfg)


def stored(conn, site: str, seq: int, action: str, data: dict) -> None:
    """An event as an older platform stored it (intake refuses these now)."""
    import json

    at = NOW.astimezone(CST)
    conn.execute("INSERT INTO events (site, seq, at, business_day, actor, action, ticket, business, data, digest, "
                 "source) VALUES (%s, %s, %s, %s, 'kiosk:k1', %s, 'A001', 'alpha', %s, %s, 'live')",
                 (site, seq, at, at.date(), action, json.dumps(data), f"{site}-{seq}"))
    conn.execute("UPDATE hall_progress SET high_water = %s, max_seen = %s WHERE site = %s", (seq, seq, site))


def test_the_hand_off_leaves_out_an_event_that_makes_no_record_and_goes_on(handoff, caplog):
    cfg, h = handoff
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        stored(conn, "hall-a", 1, "rate", {"level": "x"})
        stored(conn, "hall-a", 2, "application_result_ready", {"tracking_no": 7, "decision": "approved"})
        stored(conn, "hall-a", 3, "rate", {"level": 4})
        stored(conn, "hall-b", 1, "rate", {"level": True})
        stored(conn, "hall-b", 2, "rate", {"level": 5})
        h.export_once(conn)
    records = sql(cfg.database_url, "SELECT site, seq FROM provincial_records ORDER BY site, seq")
    assert records == [{"site": "hall-a", "seq": 3}, {"site": "hall-b", "seq": 2}]
    assert sql(cfg.database_url, "SELECT site, exported FROM provincial_progress ORDER BY site") == \
        [{"site": "hall-a", "exported": 3}, {"site": "hall-b", "exported": 2}]
    alerts = sql(cfg.database_url, "SELECT site, count FROM alerts WHERE kind = 'provincial_skipped' "
                 "ORDER BY site")
    assert alerts == [{"site": "hall-a", "count": 2}, {"site": "hall-b", "count": 1}]
    assert "hall hall-a's event 1 (rate) left out of the hand-off: rating level 'x' is not an integer" in caplog.text


def test_one_halls_export_failing_does_not_stop_the_halls_after_it(handoff, monkeypatch, caplog):
    cfg, h = handoff
    real = h.rating_record

    def rating_record(e, halls):
        if e["site"] == "hall-a":
            raise ZeroDivisionError("a fault nobody foresaw")
        return real(e, halls)

    monkeypatch.setattr(h, "rating_record", rating_record)
    with cdb.connect(cfg.database_url, autocommit=True) as conn:
        stored(conn, "hall-a", 1, "rate", {"level": 4})
        stored(conn, "hall-b", 1, "rate", {"level": 5})
        h.export_once(conn)
    exported = {r["site"]: r["exported"] for r in sql(cfg.database_url, "SELECT * FROM provincial_progress")}
    assert (exported.get("hall-a", 0), exported["hall-b"]) == (0, 1)  # hall A's next round tries again
    assert "hall hall-a's records cannot be exported (ZeroDivisionError" in caplog.text
