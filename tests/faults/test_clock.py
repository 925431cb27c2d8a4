"""Time faults on a running server (``--virtual-clock``, moved through ``PUT /api/v1/clock``).

* The day rolls over at midnight with tickets still waiting: yesterday's
  open tickets are expired, windows closed and their staff signed out, the
  numbering restarts at 001, and the boards are told the new business day.
* The clock is set backwards and forwards during the day: numbers stay
  unique and continue; tickets are called by their arrival time as the
  server recorded it, so among tickets issued after a change first come is
  still first served, and tickets issued after a backward jump are ahead of
  those issued before it by the size of the jump (docs/faults.md).
* The clock set back to an earlier day and forward again: the backward jump
  is treated as a change of day (windows closed), today's tickets are not
  expired, and numbering does not restart or repeat.
"""

from __future__ import annotations

import sqlite3

import pytest

from hallq.client import ApiError
from tests.conftest import KIOSK_KEY, MqttCollector, make_id

pytestmark = pytest.mark.slow
SITE = "tiny"


def manager(server):
    c = server.client()
    c.login("900", "hallq-demo")
    return c


def set_clock(m, when: str) -> dict:
    return m.request("PUT", "/clock", {"now": when, "rate": 0})


def clerk(server, job_no: str, window: int):
    c = server.client()
    c.login(job_no, "hallq-demo")
    c.window_action(window, "sign-in")
    return c


def test_midnight_with_tickets_still_waiting(mosquitto, server_proc):
    server = server_proc(mqtt_url=mosquitto.url, clock="2026-11-23T16:30:00+08:00")  # a Monday afternoon
    boards = MqttCollector(mosquitto.url, f"hallq/{SITE}/board")
    try:
        m = manager(server)
        set_clock(m, "2026-11-23T16:30:00+08:00")
        kiosk = server.client(KIOSK_KEY)
        monday = [kiosk.issue_ticket("beta", id_number=make_id(seq=i)) for i in range(1, 5)]
        monday.append(kiosk.issue_ticket("alpha"))
        c = clerk(server, "102", 2)
        called = c.call_next(2)["ticket"]  # called, never served: still open at midnight
        boards.wait_for(lambda t, p: p["business_day"] == "2026-11-23" and
                        {q["business"]: q["waiting"] for q in p["queues"]} == {"alpha": 1, "beta": 3})

        set_clock(m, "2026-11-24T00:00:01+08:00")  # Tuesday: moving the clock is itself the first action
        _, board = boards.wait_for(lambda t, p: p["business_day"] == "2026-11-24", timeout=15)
        assert {q["business"]: q["waiting"] for q in board["queues"]} == {"alpha": 0, "beta": 0}
        assert board["recent_calls"] == [] and all(w["state"] == "closed" for w in board["windows"])

        reader = server.client()
        assert {reader.ticket(t["id"])["state"] for t in monday} == {"expired"}
        journal = m.get("/journal?limit=1000")["entries"]
        rolled = [e for e in journal if e["action"] == "day_rolled_over"]
        assert len(rolled) == 1 and rolled[0]["data"]["previous_day"] == "2026-11-23"
        assert rolled[0]["data"]["expired"] == 5 and rolled[0]["data"]["windows_closed"] == [2]
        assert {e["ticket"] for e in journal if e["action"] == "expire"} == {t["ticket"] for t in monday}
        assert called["ticket"] in {e["ticket"] for e in journal if e["action"] == "expire"}
        with pytest.raises(ApiError) as staff:
            c.call_next(2)
        assert staff.value.code in ("not_signed_in_here", "window_closed", "invalid_token")

        with pytest.raises(ApiError) as early:  # the hall is not issuing at midnight
            kiosk.issue_ticket("alpha")
        assert early.value.code == "outside_hours"
        set_clock(m, "2026-11-24T08:45:00+08:00")
        assert kiosk.issue_ticket("alpha")["ticket"] == "A001"  # numbering restarts each business day
        assert kiosk.issue_ticket("beta", id_number=make_id(seq=1))["ticket"] == "B001"  # yesterday's hold is gone
    finally:
        boards.close()


def test_the_clock_set_backwards_and_forwards_during_the_day(server_proc):
    server = server_proc(clock="2026-11-23T10:00:00+08:00")
    m = manager(server)
    kiosk = server.client(KIOSK_KEY)
    people = iter(make_id(seq=n) for n in range(1, 100))
    set_clock(m, "2026-11-23T10:00:00+08:00")
    before = [kiosk.issue_ticket("beta", id_number=next(people)) for _ in range(2)]  # B001 B002 at 10:00
    set_clock(m, "2026-11-23T09:30:00+08:00")  # half an hour back
    after_back = [kiosk.issue_ticket("beta", id_number=next(people)) for _ in range(2)]  # B003 B004 at 09:30
    set_clock(m, "2026-11-23T11:00:00+08:00")  # and forward
    after_forward = kiosk.issue_ticket("beta", id_number=next(people))  # B005 at 11:00
    labels = [t["ticket"] for t in (*before, *after_back, after_forward)]
    assert labels == ["B001", "B002", "B003", "B004", "B005"]  # unique and continuing, whatever the clock did

    c = clerk(server, "103", 3)  # window 3 serves beta only
    order = [c.call_next(3, complete_current=True)["ticket"]["ticket"] for _ in range(5)]
    # called by recorded arrival: the two issued after the backward jump first (09:30), then 10:00, then 11:00
    assert order == ["B003", "B004", "B001", "B002", "B005"]
    db = sqlite3.connect(server.data_dir / "hallq.sqlite3")
    arrived = dict(db.execute("SELECT label, arrived_at FROM tickets"))
    assert arrived["B003"] <= arrived["B004"] < arrived["B001"] < arrived["B005"]  # ties go by issue order
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT label) FROM tickets").fetchone() == (5, 5)
    db.close()


def test_the_clock_set_back_to_yesterday_and_forward_again(server_proc):
    server = server_proc(clock="2026-11-23T10:00:00+08:00")
    m = manager(server)
    kiosk = server.client(KIOSK_KEY)
    set_clock(m, "2026-11-23T10:00:00+08:00")
    monday = [kiosk.issue_ticket("beta", id_number=make_id(seq=n)) for n in (1, 2)]
    clerk(server, "102", 2)

    set_clock(m, "2026-11-22T10:00:00+08:00")  # back to Sunday: the hall is closed that day
    with pytest.raises(ApiError) as sunday:
        kiosk.issue_ticket("beta", id_number=make_id(seq=3))
    assert sunday.value.code == "outside_hours" and sunday.value.detail["reason"] == "closed_today"
    windows = {w["number"]: w["state"] for w in server.client().get("/windows")}
    assert windows[2] == "closed"  # the jump back was taken as a change of day: windows closed

    set_clock(m, "2026-11-23T10:05:00+08:00")  # forward to Monday again
    reader = server.client()
    assert [reader.ticket(t["id"])["state"] for t in monday] == ["waiting", "waiting"]  # not expired
    assert kiosk.issue_ticket("beta", id_number=make_id(seq=3))["ticket"] == "B003"  # no restart, no repeat
    c = clerk(server, "102", 2)
    assert c.call_next(2)["ticket"]["ticket"] == "B001"
