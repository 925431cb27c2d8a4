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
