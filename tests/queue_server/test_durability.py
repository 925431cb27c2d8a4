"""Concurrency and crashes, for real: a Granian server, many client threads, SIGKILL.

* Twenty windows calling next at once over HTTP never get the same ticket,
  with one worker process (threads) or two (processes sharing the file).
* ``kill -9`` of the server in the middle of a load of tickets and calls
  loses nothing that was acknowledged, and the numbering continues without a
  gap or a duplicate after the restart.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from itertools import count

import pytest

from hallq.client import ApiError
from tests.conftest import CITY, KIOSK_KEY, make_id

pytestmark = pytest.mark.slow


def issue_many(server, n: int) -> list[dict]:
    kiosk = server.client(KIOSK_KEY)
    seq = count(1)
    out = []
    businesses = ["commerce", "construction", "social", "online"]
    for i in range(n):
        b = businesses[i % 4]
        body = {"id_number": make_id("19800101", area=f"5202{next(seq) % 100:02d}", seq=i % 1000)} \
            if b in ("commerce", "social") else {}
        out.append(kiosk.issue_ticket(b, **body))
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_many_windows_calling_at_once_never_share_a_ticket(server_proc, workers):
    server = server_proc(config=CITY, workers=workers, threads=16)
    issued = issue_many(server, 400)
    windows = list(range(1, 19))  # every acceptance window; 19-20 serve only result delivery
    clerks = {}
    for n in windows:
        c = server.client()
        c.login(str(1000 + n), "hallq-demo")
        c.window_action(n, "sign-in")
        clerks[n] = c
    called: list[tuple[int, str]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(len(windows))

    def work(n: int) -> None:
        try:
            start.wait()
            while True:
                try:
                    r = clerks[n].call_next(n, complete_current=True)
                except ApiError as e:
                    if e.code == "nobody_waiting":
                        return
                    raise
                with lock:
                    called.append((n, r["ticket"]["ticket"]))  # staff see the number, never the public id
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in windows]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    ids = Counter(i for _, i in called)
    assert not [i for i, c in ids.items() if c > 1], "a ticket was called twice"
    assert set(ids) == {t["ticket"] for t in issued}, "every ticket was called exactly once"
    assert len({n for n, _ in called}) > 10, "the load was spread over the windows"


def test_kill_9_under_load_loses_no_acknowledged_ticket_or_call(server_proc):
    server = server_proc(config=CITY, threads=16)
    clerk = server.client()
    clerk.login("1004", "hallq-demo")
    clerk.window_action(4, "sign-in")
    acknowledged: list[dict] = []
    calls: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()

    def issuer() -> None:
        kiosk = server.client(KIOSK_KEY, retries=0, timeout=2)
        while not stop.is_set():
            try:
                t = kiosk.issue_ticket("construction")
            except ApiError:
                return  # the server died under us: that request was never acknowledged
            with lock:
                acknowledged.append(t)
                if len(acknowledged) >= 60:
                    enough.set()

    def caller() -> None:
        c = server.client(clerk.token, retries=0, timeout=2)
        while not stop.is_set():
            try:
                r = c.call_next(4, complete_current=True)
            except ApiError as e:
                if e.code == "nobody_waiting":
                    continue
                return
            with lock:
                calls.append(r)

    threads = [threading.Thread(target=issuer) for _ in range(6)] + [threading.Thread(target=caller)]
    for t in threads:
        t.start()
    assert enough.wait(30), "the load did not start"
    server.kill9()  # mid-load: requests are in flight
    stop.set()
    for t in threads:
        t.join(10)

    server.clock = "2026-11-23T09:45:00+08:00"  # the restarted server's virtual clock moves on
    server.start()
    reader = server.client()
    for t in acknowledged:
        assert reader.ticket(t["id"])["ticket"] == t["ticket"]
    db = sqlite3.connect(server.data_dir / "hallq.sqlite3")
    for r in calls:
        state, window = db.execute("SELECT state, window FROM tickets WHERE label = ?",
                                   (r["ticket"]["ticket"],)).fetchone()
        assert state in ("called", "done") and window == 4
        seq = db.execute("SELECT COUNT(*) FROM journal WHERE action = 'call' AND json_extract(data, '$.seq') = ?",
                         (r["seq"],)).fetchone()[0]
        assert seq == 1
    numbers = [n for (n,) in db.execute("SELECT number FROM tickets WHERE origin_business = 'construction' "
                                        "ORDER BY number")]
    assert numbers == list(range(1, len(numbers) + 1)), "numbers have a gap or a duplicate"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    after = server.client(KIOSK_KEY).issue_ticket("construction")
    assert after["ticket"] == f"B{len(numbers) + 1:03d}"
