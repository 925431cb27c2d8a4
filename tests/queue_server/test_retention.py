"""Retention (PIPL): personal data of tickets and appointments is erased after [privacy] days; the
journal is kept. Days pass on the virtual clock; the housekeeping round is run by hand."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import pytest

from hallq.clock import CHINA
from hallq.hallconfig import PrivacySettings, load_hall
from hallq.testing import TINY
from queue_server.domain import retention
from queue_server.watch import Watch
from tests.conftest import make_id
from tests.queue_server.test_appointments import OTHER, PERSON, booked, hall  # noqa: F401 (a fixture)


def at(y, m, d, hh=9, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def erasures(state) -> list[dict]:
    return [json.loads(r["data"]) for r in state.db.connection().execute(
        "SELECT data FROM journal WHERE action = 'personal_data_erased' ORDER BY seq")]


def ticket_row(state, label: str, day: str):
    return state.db.connection().execute("SELECT * FROM tickets WHERE label = ? AND business_day = ?",
                                         (label, day)).fetchone()


def test_a_tickets_id_and_phone_go_thirty_days_after_its_day(api, state, clock):
    api.ok("post", "/tickets", {"business": "beta", "id_number": make_id()}, as_="kiosk", status=201)
    api.ok("post", "/tickets", {"business": "alpha", "phone": "13812345678"}, as_="kiosk", status=201)
    watch = Watch(state)
    clock.set(at(2026, 12, 23))  # 30 days after Monday 2026-11-23: still kept
    watch.run_once()
    assert ticket_row(state, "B001", "2026-11-23")["id_hash"] is not None
    assert erasures(state) == []
    clock.set(at(2026, 12, 24))
    watch.run_once()
    for label in ("B001", "A001"):
        t = ticket_row(state, label, "2026-11-23")
        assert (t["id_hash"], t["id_masked"], t["phone_hash"], t["phone_masked"]) == (None, None, None, None)
        assert t["issued_at"].startswith("2026-11-23")  # the ticket itself stays, for the statistics
    assert erasures(state) == [{"tickets": 2, "appointments": 0, "suspensions": 0, "before": "2026-11-24",
                                "personal_data_days": 30}]
    watch.run_once()  # once a day
    assert len(erasures(state)) == 1


def test_the_number_of_days_is_the_halls(tmp_path, clock):
    from queue_server.app import create_app
    from tests.conftest import Api

    cfg = dataclasses.replace(load_hall(TINY), privacy=PrivacySettings(personal_data_days=7))
    app = create_app(cfg, data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    state = app.extensions["hallq"]
    try:
        Api(app.test_client()).ok("post", "/tickets", {"business": "beta", "id_number": make_id()}, as_="kiosk",
                                  status=201)
        clock.set(at(2026, 12, 1))  # 8 days later
        Watch(state).run_once()
        assert ticket_row(state, "B001", "2026-11-23")["id_masked"] is None
    finally:
        state.close()


def test_appointments_lose_id_phone_and_name_and_a_miss_keeps_its_hash_while_it_counts(hall, clock):
    api, st = hall
    missed = booked(api, "2026-11-24", start="09:00", name="张小三")
    kept = booked(api, "2026-11-24", start="09:30", name="李四", id_number=OTHER)
    clock.set(at(2026, 11, 24, 9, 20))
    api.ok("post", "/appointments/check-in", {"code": kept["code"]}, as_="kiosk", status=201)
    clock.set(at(2026, 11, 25))
    api.issue("alpha")  # the new day marks the missed one
    row = lambda code: st.db.connection().execute("SELECT * FROM appointments WHERE code = ?", (code,)).fetchone()  # noqa: E731
    watch = Watch(st)
    clock.set(at(2026, 12, 25))  # 31 days after their day
    watch.run_once()
    for code, name in ((missed["code"], "张*三"), (kept["code"], "李*")):
        a = row(code)
        assert (a["name"], a["id_masked"], a["phone_hash"], a["phone_masked"]) == (name, "", "", ""), code
    assert row(kept["code"])["id_hash"] == ""
    assert row(missed["code"])["id_hash"] != ""  # [appointments] no_show_window_days (90) still counts it
    assert ticket_row(st, "A001", "2026-11-24")["id_hash"] is None  # the checked-in ticket too
    clock.set(at(2027, 2, 22))  # 90 days after the miss: it no longer counts
    watch.run_once()
    assert row(missed["code"])["id_hash"] != ""
    clock.set(at(2027, 2, 23))
    watch.run_once()
    assert row(missed["code"])["id_hash"] == ""


def test_a_suspension_keeps_the_person_until_it_no_longer_counts(hall, clock):
    api, st = hall
    for day in ("2026-11-24", "2026-11-25", "2026-11-26"):
        booked(api, day)
    clock.set(at(2026, 11, 27))
    api.issue("alpha")  # three misses: suspended until 2026-12-26
    s = lambda: st.db.connection().execute("SELECT id_hash, id_masked FROM appointment_suspensions").fetchone()  # noqa: E731
    watch = Watch(st)
    clock.set(at(2027, 1, 27))  # the suspension ended a month ago, but its misses still count till 02-24
    watch.run_once()
    assert s()["id_hash"] != "" and s()["id_masked"] != ""
    clock.set(at(2027, 2, 25))
    watch.run_once()
    assert tuple(s()) == ("", "")


def test_no_erasing_touches_the_journal(api, state, clock):
    api.ok("post", "/tickets", {"business": "beta", "id_number": make_id()}, as_="kiosk", status=201)
    before = state.db.connection().execute("SELECT seq, at, action, data FROM journal ORDER BY seq").fetchall()
    for month in range(1, 13):  # a year of daily housekeeping, a round a month
        clock.set(at(2027, month, 5))
        retention.erase_personal_data(state.service, clock.now().date())
    after = state.db.connection().execute("SELECT seq, at, action, data FROM journal ORDER BY seq").fetchall()
    assert [tuple(r) for r in after[:len(before)]] == [tuple(r) for r in before]  # every row, unchanged
    assert retention.JOURNAL_MIN_DAYS == 180
    with pytest.raises(Exception, match="append-only"):
        state.db.connection().execute("DELETE FROM journal WHERE at < '2026-12-01'")


def _keyed_ticket(api, key: str, **body) -> dict:
    r = api.post("/tickets", {"business": "alpha", **body}, as_="kiosk", headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _requests(state) -> set[str]:
    return {k for (k,) in state.db.connection().execute("SELECT key FROM requests")}


def _keyed_call(api, key: str) -> dict:
    r = api.post("/windows/3/call-next", {}, as_="101", headers={"Idempotency-Key": key})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_the_record_of_a_keyed_request_goes_after_two_days_with_the_answer_it_kept(api, state, clock):
    """A retried request gets its first answer again from ``requests``: that answer holds what the request showed
    (the called ticket's masked ID number, for the clerk), so the record must not outlive the retry's purpose, nor
    the ticket's own data."""
    api.issue("beta", id_number=make_id())
    api.open_window(3, "101")
    first = _keyed_call(api, "key-monday")
    stored = state.db.connection().execute("SELECT response FROM requests WHERE key = 'key-monday'").fetchone()[0]
    assert first["ticket"]["id_masked"] and first["ticket"]["id_masked"] in stored
    clock.set(at(2026, 11, 24))
    _keyed_ticket(api, "key-tuesday")
    watch = Watch(state)
    clock.set(at(2026, 11, 25))  # two days after Monday: both still remembered, a late retry answered the same
    watch.run_once()
    assert _requests(state) == {"key-monday", "key-tuesday"}
    assert _keyed_ticket(api, "key-tuesday")["replayed"] is True
    clock.set(at(2026, 11, 26))
    watch.run_once()
    assert _requests(state) == {"key-tuesday"}
    clock.set(at(2026, 11, 27))
    watch.run_once()
    assert _requests(state) == set()


def test_records_of_keyed_requests_go_sooner_when_personal_data_does(tmp_path, clock):
    from queue_server.app import create_app
    from tests.conftest import Api

    cfg = dataclasses.replace(load_hall(TINY), privacy=PrivacySettings(personal_data_days=1))
    app = create_app(cfg, data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    api, st = Api(app.test_client()), app.extensions["hallq"]
    _keyed_ticket(api, "key-monday")
    clock.set(at(2026, 11, 24))
    assert retention.forget_requests(st.service, clock.now().date()) == 0
    clock.set(at(2026, 11, 25))
    assert retention.forget_requests(st.service, clock.now().date()) == 1
    assert _requests(st) == set()
    st.close()


def test_forgetting_many_records_takes_short_transactions(api, state, clock, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    for n in range(5):  # the tiny hall's daily limit
        _keyed_ticket(api, f"key-{n}")
    clock.set(at(2026, 11, 30))
    assert retention.forget_requests(state.service, clock.now().date()) == 5
    assert _requests(state) == set()

