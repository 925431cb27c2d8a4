"""``kill -9`` of the server while residents rate services: no acknowledged rating is lost.

Tickets and calls under ``kill -9`` are covered by tests/queue_server/test_durability.py;
here the load is the end of the cycle: a clerk completing and calling, the
window's rating tablet (demo-tablet-1, bound to window 1) rating each service
just finished, residents rating from their phones by the ticket's QR code, and
the kiosk still issuing. The server is killed mid-load and restarted on the
same data: every rating that was answered 201 is there, exactly once; a retry
of an acknowledged rating with its Idempotency-Key is answered with the same
rating, not a second one; numbering continues after the last acknowledged
ticket; the file passes SQLite's integrity check.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid

import pytest

from hallq.client import ApiError
from tests.conftest import CITY, KIOSK_KEY, make_id

pytestmark = pytest.mark.slow
TABLET_KEY = "demo-tablet-1"


def test_kill_9_under_load_loses_no_acknowledged_rating(server_proc):
    server = server_proc(config=CITY, threads=16)
    kiosk = server.client(KIOSK_KEY)
    public_ids: dict[str, str] = {}  # ticket number -> its public id, which the resident's ticket (not the clerk) holds
    for i in range(120):  # commerce for window 1 (rated by the tablet), online for windows 13-14 (phones)
        kiosk.issue_ticket("commerce", id_number=make_id("19800101", seq=i + 1))
        t = kiosk.issue_ticket("online")
        public_ids[t["ticket"]] = t["id"]
    clerks = {}
    for n in (1, 13, 14):
        c = server.client()
        c.login(f"10{n:02d}", "hallq-demo")
        c.window_action(n, "sign-in")
        clerks[n] = c

    acknowledged: list[tuple[dict, str]] = []  # (rating answer, idempotency key)
    issued: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()

    def keep(answer: dict, key: str) -> None:
        with lock:
            acknowledged.append((answer, key))
            if len(acknowledged) >= 40:
                enough.set()

    def window_one() -> None:
        """Complete-and-call, then the tablet rates the service just finished."""
        clerk = server.client(clerks[1].token, retries=0, timeout=2)
        tablet = server.client(TABLET_KEY, retries=0, timeout=2)
        level = 0
        while not stop.is_set():
            try:
                clerk.call_next(1, complete_current=True)
                key = uuid.uuid4().hex
                level = level % 5 + 1
                keep(tablet.request("POST", "/windows/1/rating", {"level": level}, idempotency_key=key), key)
            except ApiError as e:
                if e.code in ("nothing_to_rate", "nobody_waiting"):
                    continue
                return  # the server died: that request was never acknowledged

    def phones(n: int) -> None:
        """A clerk serves; each resident then rates from their phone (the ticket's public id)."""
        clerk = server.client(clerks[n].token, retries=0, timeout=2)
        phone = server.client(retries=0, timeout=2)
        previous = None
        while not stop.is_set():
            try:
                r = clerk.call_next(n, complete_current=True)
                if previous is not None:
                    key = uuid.uuid4().hex
                    keep(phone.request("POST", "/ratings", {"ticket": public_ids[previous], "level": 2,
                                                            "reasons": ["slow"]}, idempotency_key=key), key)
                previous = r["ticket"]["ticket"]
            except ApiError as e:
                if e.code == "nobody_waiting":
                    continue
                return

    def issuer() -> None:
        k = server.client(KIOSK_KEY, retries=0, timeout=2)
        while not stop.is_set():
            try:
                t = k.issue_ticket("construction")
            except ApiError:
                return
            with lock:
                issued.append(t)

    threads = [threading.Thread(target=window_one), threading.Thread(target=phones, args=(13,)),
               threading.Thread(target=phones, args=(14,)), threading.Thread(target=issuer),
               threading.Thread(target=issuer)]
    for t in threads:
        t.start()
    assert enough.wait(30), "the load did not start"
    server.kill9()  # mid-load: ratings, calls and tickets in flight
    stop.set()
    for t in threads:
        t.join(10)

    server.clock = "2026-11-23T09:40:00+08:00"
    server.start()
    db = sqlite3.connect(server.data_dir / "hallq.sqlite3")
    for answer, _ in acknowledged:
        row = db.execute("SELECT level, bad, window, stage FROM ratings WHERE id = ?", (answer["id"],)).fetchone()
        assert row is not None, f"acknowledged rating {answer['id']} was lost"
        assert (row[0], bool(row[1]), row[2]) == (answer["level"], answer["bad"], answer["window"])
    assert db.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] >= len(acknowledged)
    assert db.execute("SELECT COUNT(*) - COUNT(DISTINCT ticket_id || stage) FROM ratings").fetchone()[0] == 0
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # a phone that never saw its answer retries with the same key: the same rating, not a second one
    answer, key = next((a, k) for a, k in acknowledged if a["window"] in (13, 14))
    again = server.client().request("POST", "/ratings", {"ticket": "whatever-the-body", "level": 2},
                                    idempotency_key=key)
    assert again["id"] == answer["id"] and again.get("replayed") is True

    numbers = [n for (n,) in db.execute("SELECT number FROM tickets WHERE origin_business = 'construction' "
                                        "ORDER BY number")]
    assert numbers == list(range(1, len(numbers) + 1)), "numbers have a gap or a duplicate"
    assert {t["ticket"] for t in issued} <= {f"B{n:03d}" for n in numbers}
    db.close()
    after = server.client(KIOSK_KEY).issue_ticket("construction")
    assert after["ticket"] == f"B{len(numbers) + 1:03d}"
