"""Guards on the business day and the catalogue: what a manager's change must not do to residents waiting.

* undoing a mistaken end-of-day close (POST /day/reopen) gives back exactly the tickets that close
  expired, in the queue, and nothing else (schema/027 records them);
* a business with residents still waiting is not deactivated, by the console's form or by a CSV import;
* a business does not take a prefix another business issued numbers under today (A003 twice in a day).

The tiny hall: alpha (A, windows 1 and 2), beta (B, an ID number needed; windows 2 and 3); Monday 2026-11-23.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from hallq.clock import CHINA
from queue_server.migrations import SCHEMA_DIR, split_statements
from tests.conftest import make_id
from tests.queue_server.test_targets import csv_of, import_csv
from tests.queue_server.test_directed_and_capacity import send_to_window_2
from tests.queue_server.test_appointments import booking_hall as make_booking_hall

MANAGER = "900"


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def err(r) -> tuple[int, str | None]:
    j = r.get_json()
    return r.status_code, (j or {}).get("error", {}).get("code")


def states(state, day: str) -> dict[str, str]:
    return dict(state.db.connection().execute(
        "SELECT label, state FROM tickets WHERE business_day = ? ORDER BY id", (day,)).fetchall())


def journal(state, action: str) -> list[tuple[str, dict]]:
    return [(r[0], json.loads(r[1])) for r in state.db.connection().execute(
        "SELECT ticket, data FROM journal WHERE action = ? ORDER BY seq", (action,))]


# -- the end-of-day close undone ------------------------------------------------------------------

def tuesday_with_every_kind_of_ticket(api, clock) -> None:
    """Monday's A001 left open (rolled over: expired); on Tuesday A001 missed (no_show), A002 called at
    window 1, A003 held at window 2, A004 and B001 waiting."""
    api.issue("alpha")
    clock.set(at(2026, 11, 24, 10, 0))
    for _ in range(3):
        api.issue("alpha")
    api.open_window(1, "101")
    api.open_window(2, "102")
    assert api.act(1, "call-next", "101")["ticket"]["ticket"] == "A001"
    api.act(1, "no-show", "101")
    assert api.act(1, "call-next", "101")["ticket"]["ticket"] == "A002"
    assert api.act(2, "call-next", "102")["ticket"]["ticket"] == "A003"
    api.act(2, "hold", "102")
    api.issue("alpha")
    api.issue("beta", id_number=make_id(seq=1))


def test_reopening_a_closed_day_gives_back_exactly_the_tickets_the_close_expired(api, clock, state):
    tuesday_with_every_kind_of_ticket(api, clock)
    before = states(state, "2026-11-24")
    assert before == {"A001": "no_show", "A002": "called", "A003": "held", "A004": "waiting", "B001": "waiting"}
    assert api.ok("post", "/day/close", as_=MANAGER)["expired"] == 4
    assert set(states(state, "2026-11-24").values()) == {"no_show", "expired"}

    answer = api.ok("post", "/day/reopen", as_=MANAGER)
    assert (answer["restored"], answer["not_restored"], answer["issuing"]) == (4, [], True)
    # the close's four wait again; the missed one stays missed, Monday's rolled-over one stays expired
    assert states(state, "2026-11-24") == {"A001": "no_show", "A002": "waiting", "A003": "waiting",
                                           "A004": "waiting", "B001": "waiting"}
    assert states(state, "2026-11-23") == {"A001": "expired"}
    # taken from a window, a ticket waits in its queue (the close signed every clerk out), at its place
    row = state.db.connection().execute(
        "SELECT window, staff_id, called_at, finished_at, arrived_at, issued_at FROM tickets "
        "WHERE business_day = '2026-11-24' AND label = 'A002'").fetchone()
    assert (row["window"], row["staff_id"], row["called_at"], row["finished_at"]) == (None, None, None, None)
    assert row["arrived_at"] == row["issued_at"]
    # journaled, each with the state the close took it from
    back = [(label, data) for label, data in journal(state, "requeue") if data.get("reason") == "day_reopened"]
    assert back == [("A002", {"reason": "day_reopened", "from": "called"}),
                    ("A003", {"reason": "day_reopened", "from": "held"}),
                    ("A004", {"reason": "day_reopened", "from": "waiting"}),
                    ("B001", {"reason": "day_reopened", "from": "waiting"})]
    assert journal(state, "day_reopened")[-1][1] == {"restored": 4, "not_restored": []}
    # the queues count them, and the windows call them again in their order
    assert api.ok("get", "/businesses/alpha")["queue"]["waiting"] == 3
    api.open_window(1, "101")
    assert api.act(1, "call-next", "101")["ticket"]["ticket"] == "A002"
    assert api.issue("alpha")["ticket"] == "A005"  # numbering goes on


def test_a_second_close_and_reopen_of_the_same_day_give_back_the_same_tickets(api, clock, state):
    tuesday_with_every_kind_of_ticket(api, clock)
    api.ok("post", "/day/close", as_=MANAGER)
    api.ok("post", "/day/close", as_=MANAGER)  # pressed twice: the second close ends nothing more
    api.ok("post", "/day/reopen", as_=MANAGER)
    api.ok("post", "/day/close", as_=MANAGER)
    api.ok("post", "/day/reopen", as_=MANAGER)
    assert list(states(state, "2026-11-24").values()) == ["no_show", "waiting", "waiting", "waiting", "waiting"]


def test_reopening_after_the_day_rolled_over_gives_nothing_back(api, clock, state):
    api.issue("alpha")
    api.issue("alpha")
    api.ok("post", "/day/close", as_=MANAGER)
    clock.set(at(2026, 11, 24, 9, 0))
    api.login(MANAGER)  # the manager's session ended with Monday
    api.ok("post", "/day/reopen", as_=MANAGER)  # Monday is over: Tuesday was never closed
    assert states(state, "2026-11-23") == {"A001": "expired", "A002": "expired"}
    assert not [d for _, d in journal(state, "requeue") if d.get("reason") == "day_reopened"]
    assert state.db.connection().execute("SELECT COUNT(*) FROM day_close_tickets").fetchone()[0] == 0


def test_a_ticket_whose_business_was_deactivated_after_the_close_stays_expired(api, state):
    api.issue("alpha")
    api.ok("post", "/day/close", as_=MANAGER)
    api.ok("put", "/settings/businesses/alpha", {"active": False}, as_=MANAGER)
    api.ok("post", "/day/reopen", as_=MANAGER)
    assert states(state, "2026-11-23") == {"A001": "expired"}
    assert journal(state, "day_reopened")[-1][1] == {"restored": 0, "not_restored": ["A001"]}


@pytest.fixture
def booking_hall(tmp_path, clock):
    yield from make_booking_hall(tmp_path, clock)


def test_reopening_gives_a_checked_in_appointment_its_ticket_back(booking_hall, clock):
    api, state = booking_hall
    booked = api.ok("post", "/appointments", {"item": "T-ALPHA-1", "date": "2026-11-24", "start": "10:00",
                                              "name": "张小三", "id_number": make_id(seq=123),
                                              "phone": "13812345678"}, as_="kiosk", status=201)
    clock.set(at(2026, 11, 24, 9, 50))
    ticket = api.ok("post", "/appointments/check-in", {"code": booked["code"]}, as_="kiosk", status=201)
    clock.set(at(2026, 11, 24, 10, 5))
    api.ok("post", "/day/close", as_=MANAGER)
    assert api.ok("get", f"/tickets/{ticket['id']}")["state"] == "expired"
    api.ok("post", "/day/reopen", as_=MANAGER)
    # the booking is checked in and its number waits again: the resident is in the queue, as the check-in said
    assert api.ok("get", f"/tickets/{ticket['id']}")["state"] == "waiting"
    assert api.ok("get", f"/appointments/{booked['code']}", as_="kiosk")["status"] == "checked_in"
    again = api.post("/appointments/check-in", {"code": booked["code"]}, as_="kiosk")
    assert err(again) == (409, "already_checked_in") and ticket["ticket"] in again.get_json()["error"]["message"]
    api.open_window(1, "101")
    assert api.act(1, "call-next", "101")["ticket"]["ticket"] == ticket["ticket"]


def test_the_migration_finds_the_tickets_a_close_before_it_expired(api, clock, state):
    """A database closed today by the release before 027: its journal says which tickets the close ended."""
    tuesday_with_every_kind_of_ticket(api, clock)
    api.ok("post", "/day/close", as_=MANAGER)
    conn = state.db.connection()
    query = "SELECT ticket_id, business_day, state, window FROM day_close_tickets ORDER BY ticket_id"
    recorded = [tuple(r) for r in conn.execute(query)]
    assert [r[2] for r in recorded] == ["called", "held", "waiting", "waiting"]
    with state.db.write() as w:
        w.execute("DELETE FROM day_close_tickets")
        for statement in split_statements((SCHEMA_DIR / "027_day_close_tickets.sql").read_text(encoding="utf-8")):
            if statement.startswith("INSERT"):
                w.execute(statement)
    assert [tuple(r) for r in conn.execute(query)] == recorded
    api.ok("post", "/day/reopen", as_=MANAGER)
    assert list(states(state, "2026-11-24").values()) == ["no_show", "waiting", "waiting", "waiting", "waiting"]


# -- deactivating a business --------------------------------------------------------------------------

def business(state, code: str) -> dict:
    return dict(state.db.connection().execute("SELECT * FROM businesses WHERE code = ?", (code,)).fetchone())


def test_a_business_with_residents_waiting_is_not_deactivated(api, state):
    t = api.issue("alpha")
    api.open_window(1, "101")
    r = api.put("/settings/businesses/alpha", {"active": False, "daily_limit": 9}, as_=MANAGER)
    assert err(r) == (409, "business_has_tickets")
    e = r.get_json()["error"]
    assert e["detail"] == {"businesses": {"alpha": 1}}
    assert "甲业务" in e["messages"]["zh-Hans"] and "1" in e["messages"]["zh-Hans"]
    assert "Alpha" in e["messages"]["en"]
    assert business(state, "alpha")["active"] == 1 and business(state, "alpha")["daily_limit"] == 5  # nothing
    # called (and held) count too: the window could still miss it and the resident requeue
    api.act(1, "call-next", "101")
    assert err(api.put("/settings/businesses/alpha", {"active": False}, as_=MANAGER)) == (409, "business_has_tickets")
    api.act(1, "start", "101")
    api.act(1, "complete", "101")
    assert api.ok("get", f"/tickets/{t['id']}")["state"] == "done"
    assert api.ok("put", "/settings/businesses/alpha", {"active": False}, as_=MANAGER)["active"] is False
    assert api.ok("put", "/settings/businesses/beta", {"active": False}, as_=MANAGER)["active"] is False


def test_the_csv_import_does_not_deactivate_a_business_with_residents_waiting_and_writes_nothing(api, state):
    api.issue("beta", id_number=make_id(seq=1))
    api.issue("beta", id_number=make_id(seq=2))
    text = csv_of(api)
    edited = text.replace("alpha,A,甲业务", "alpha,A,甲业务改名")
    edited = "\n".join(line[: line.rindex(",")] + ",0" if line.startswith("beta,") else line
                       for line in edited.splitlines()) + "\n"
    assert edited != text and ",0\n" in edited
    r = import_csv(api, edited)
    assert err(r) == (409, "business_has_tickets")
    assert r.get_json()["error"]["detail"] == {"businesses": {"beta": 2}}
    assert json.loads(business(state, "alpha")["name"])["zh-Hans"] == "甲业务"  # all or nothing
    assert business(state, "beta")["active"] == 1


# -- prefixes -----------------------------------------------------------------------------------------

def test_a_prefix_another_business_issued_numbers_under_today_is_refused(api, clock, state):
    assert [api.issue("alpha")["ticket"] for _ in range(3)] == ["A001", "A002", "A003"]
    assert api.issue("beta", id_number=make_id(seq=1))["ticket"] == "B001"
    step1 = csv_of(api).replace("alpha,A,", "alpha,X,")
    assert import_csv(api, step1).status_code == 200  # alpha's own numbers go on as X004
    step2 = step1.replace("beta,B,乙业务", "beta,A,乙业务改名")
    r = import_csv(api, step2)
    assert err(r) == (422, "invalid_csv")
    problems = r.get_json()["error"]["detail"]["problems"]
    assert [(p["column"], "alpha" in p["problem"]) for p in problems] == [("prefix", True)]
    beta = business(state, "beta")
    assert beta["prefix"] == "B" and json.loads(beta["name"])["zh-Hans"] == "乙业务"  # nothing written
    assert api.issue("beta", id_number=make_id(seq=3))["ticket"] == "B002"
    assert api.issue("alpha")["ticket"] == "X004"
    labels = [r[0] for r in state.db.connection().execute("SELECT label FROM tickets")]
    assert len(labels) == len(set(labels))
    # alpha may take its own prefix back (its counter goes on: A005), and tomorrow A is anybody's
    assert import_csv(api, csv_of(api).replace("alpha,X,", "alpha,A,")).status_code == 200
    assert api.issue("alpha")["ticket"] == "A005"
    clock.set(at(2026, 11, 24, 9, 0))
    api.login(MANAGER)
    swapped = csv_of(api).replace("alpha,A,", "alpha,X,")
    assert import_csv(api, swapped).status_code == 200
    assert import_csv(api, swapped.replace("beta,B,", "beta,A,")).status_code == 200


def test_reopening_gives_back_a_ticket_sent_to_a_window_by_name_to_its_queue(api, state):
    """The close signs every window out: a ticket that was waiting for a window by name would wait for nothing."""
    send_to_window_2(api, state)
    api.act(1, "sign-out", "101")  # window 2 stays signed in, so A001 still waits for it by name
    api.ok("post", "/day/close", as_=MANAGER)
    assert api.ok("post", "/day/reopen", as_=MANAGER)["restored"] == 2
    assert state.db.connection().execute("SELECT target_window FROM tickets WHERE label = 'A001'").fetchone()[0] is None
    api.open_window(1, "101")
    assert api.act(1, "call-next", "101")["ticket"]["ticket"] == "A001"  # its place kept, ahead of A002
