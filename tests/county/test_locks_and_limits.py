"""The platform's advisory locks and its limits against a hall that answers too much (a review's findings).

* Every PostgreSQL advisory-lock key differs: the provincial hand-off, which holds its lock as long as it runs,
  had the console fold's key, and with a ``[provincial]`` section every console page waited for ever.
* An answer of a hall is read up to a cap (hallq/client.py): a hall answering the catch-up with a page of
  100 MB is refused without it being read (16 halls are caught up at once); a page that is only too long for its
  number of entries is asked again with fewer.
* An empty journal page cannot move a hall's high-water mark (else every later real event is ``seq_reset``).
* The quarantine has a retention (store.prune_quarantine, hourly by the ingesting process).
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from county import console, routing, store
from county import db as cdb
from county.catchup import CatchUp
from county.ingest import Ingester
from county.provincial import PROVINCIAL_LOCK, Handoff
from hallq.client import ApiError, HallClient
from hallq.testing import wait_until
from tests.county.conftest import sql
from tests.county.test_console import NOW, _client, a_day_of_hall_a, entry, feed, live
from tests.county.test_poison_events import county

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
LOCK_CONSTANT = re.compile(r"^([A-Z_]*LOCK)\s*=\s*(0x[0-9A-Fa-f]+|\d+)", re.M)
LOCK_CALL = re.compile(r"pg_\w*advisory\w*_lock\(%s\)[^\n]*?\(([\w.]+),\)")


# -- advisory locks ----------------------------------------------------------------------------------------

def test_every_advisory_lock_key_is_its_own():
    keys: dict[str, int] = {}
    for folder in ("county", "queue_server", "hallq"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name, value in LOCK_CONSTANT.findall(path.read_text(encoding="utf-8")):
                keys[f"{path.relative_to(ROOT)}:{name}"] = int(value, 0)
    assert {k.rpartition(":")[2] for k in keys} >= {"MIGRATION_LOCK", "INGEST_LOCK", "FOLD_LOCK", "PROVINCIAL_LOCK"}
    assert len(set(keys.values())) == len(keys), f"two advisory locks share a key: {keys}"
    # and every advisory lock the platform takes is one of those (or a sign-in's, keyed by a hash of its client)
    for path in sorted((ROOT / "county").rglob("*.py")):
        for used in LOCK_CALL.findall(path.read_text(encoding="utf-8")):
            assert used.rpartition(".")[2] in {k.rpartition(":")[2] for k in keys} | {"key"}, (path, used)


def test_the_console_folds_and_answers_while_the_hand_off_runs(county_db, tmp_path):
    cfg = county(county_db, tmp_path, extra=f'[provincial]\nfiles_dir = "{tmp_path / "out"}"\ninterval_seconds = 0.2\n')
    a_day_of_hall_a(cfg)
    h = Handoff(cfg)
    h.start()
    try:
        wait_until(lambda: sql(county_db, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                                          "(classid::bigint << 32) + objid::bigint = %s", (PROVINCIAL_LOCK,)),
                   20, "the hand-off holds its lock")
        with cdb.connect(county_db, autocommit=True) as conn:
            conn.execute("SET statement_timeout = '5s'")  # waiting for the hand-off's lock: canceled, not hung
            assert console.fold(conn, cfg) == 13
            assert {h["site"] for h in console.overview(conn, cfg)} == {"hall-a", "hall-b"}
        c = _client(cfg, "sup")
        answer: dict = {}
        page = threading.Thread(target=lambda: answer.update(status=c.get("/console/").status_code), daemon=True)
        page.start()
        page.join(30)
        assert answer.get("status") == 200
    finally:
        h.stop()


# -- answers read up to a cap ---------------------------------------------------------------------------------

class FakeHall:
    """A hall's API as a hostile or odd hall answers: ``answer(after, limit)`` gives the body's chunks and its
    declared length (None: chunked). Counts what it managed to send."""

    def __init__(self, answer) -> None:
        self.requests: list[str] = []
        self.sent = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                q = parse_qs(urlsplit(self.path).query)
                outer.requests.append(self.path)
                chunks, length = answer(int(q.get("after", ["0"])[0]), int(q.get("limit", ["0"])[0]))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header(*(("Transfer-Encoding", "chunked") if length is None else ("Content-Length",
                                                                                          str(length))))
                self.end_headers()
                try:
                    for c in chunks:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c) if length is None else c)
                        outer.sent += len(c)
                    if length is None:
                        self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    self.close_connection = True  # the client hung up: what it wanted

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def body(value: dict, pad_to: int = 0) -> tuple[list[bytes] | object, int]:
    """A JSON answer, padded with spaces (still valid JSON) to ``pad_to`` bytes, sent 1 MB at a time."""
    raw = json.dumps(value).encode()
    size = max(len(raw), pad_to)

    def chunks():
        yield raw
        left = size - len(raw)
        while left > 0:
            yield b" " * min(MB, left)
            left -= MB
    return chunks(), size


@pytest.fixture
def fake_hall():
    halls: list[FakeHall] = []

    def make(answer) -> FakeHall:
        halls.append(FakeHall(answer))
        return halls[-1]
    yield make
    for h in halls:
        h.close()


@pytest.mark.parametrize("chunked", [False, True])
def test_an_answer_over_the_clients_cap_is_refused_unread(fake_hall, chunked):
    def answer(after, limit):
        chunks, size = body({"entries": [], "next_after": after}, 100 * MB if limit > 1 else 0)
        return chunks, None if chunked else size

    hall = fake_hall(answer)
    client = HallClient(hall.url, token="k", timeout=10, retries=2, max_answer_bytes=MB)
    with pytest.raises(ApiError) as refused:
        client.get("/journal?after=0&limit=500")
    assert refused.value.code == "answer_too_large" and refused.value.detail["limit"] == MB
    assert len(hall.requests) == 1  # an answer, not a failure: not retried
    assert client.get("/journal?after=7&limit=1") == {"entries": [], "next_after": 7}  # the client goes on
    assert hall.sent < 40 * MB
    client.close()
    with pytest.raises(ApiError, match="answer_too_large"):  # and a client's default cap is not unlimited
        HallClient(hall.url, retries=0).get("/journal?after=0&limit=500")


def test_routing_reads_a_handling_halls_answers_up_to_a_cap(fake_hall, county_db, tmp_path):
    hall = fake_hall(lambda after, limit: body({"item": "x-1", "fields": []}, 100 * MB))
    cfg = county(county_db, tmp_path, journal_url=hall.url)
    cfg.halls["hall-b"] = dataclasses.replace(cfg.halls["hall-b"], routes={"x-1": "hall-a"})
    routing._definitions.pop(("hall-a", "x-1"), None)
    [item] = routing.definitions(cfg, "hall-b")
    assert item["definition"] is None and item["error"] == "200 answer_too_large"
    assert hall.sent < 40 * MB


@pytest.fixture
def hall_b(county_db, tmp_path, monkeypatch, fake_hall):
    """The county, hall B's journal served by ``answer``: returns (cfg, the fake hall, a catch-up of hall B)."""
    monkeypatch.setenv("POISON_KEY", "county-key")

    def make(answer):
        hall = fake_hall(answer)
        cfg = county(county_db, tmp_path, journal_url=hall.url)

        def catch_up() -> int:
            fetcher = CatchUp(cfg, store.Thinner())
            try:
                return fetcher.catch_up("hall-b")
            finally:
                fetcher._conn().close()
                fetcher.stop()
        return cfg, hall, catch_up
    return make


def journal(after: int, limit: int, top: int = 120) -> dict:
    entries = [{**entry(s, "issue", NOW, f"B{s:03d}")} for s in range(after + 1, min(after + limit, top) + 1)]
    return {"entries": entries, "next_after": entries[-1]["seq"] if entries else after, "now": NOW.isoformat()}


def test_the_catch_up_reads_a_journal_whose_long_pages_are_too_big_in_smaller_pages(hall_b):
    cfg, hall, catch_up = hall_b(lambda after, limit: body(journal(after, limit), 100 * MB if limit > 50 else 0))
    assert catch_up() == 120
    assert sql(cfg.database_url, "SELECT high_water FROM hall_progress WHERE site = 'hall-b'") == [{"high_water": 120}]
    assert [re.search(r"limit=(\d+)", r).group(1) for r in hall.requests] == ["500", "125", "31", "31", "31", "31"]
    assert hall.sent < 60 * MB  # three answers of 100 MB: refused unread


def test_the_catch_up_refuses_a_hall_whose_every_page_is_too_big(hall_b):
    cfg, hall, catch_up = hall_b(lambda after, limit: body({"entries": [], "next_after": after}, 100 * MB))
    with pytest.raises(RuntimeError, match=r"answered 200 answer_too_large \(one entry over 8388608 bytes"):
        catch_up()
    assert hall.sent < 100 * MB and sql(cfg.database_url, "SELECT catchup_events FROM hall_progress "
                                                          "WHERE site = 'hall-b'") == [{"catchup_events": 0}]


def test_an_empty_journal_page_cannot_move_the_high_water_mark(hall_b):
    cfg, hall, catch_up = hall_b(lambda after, limit: body({"entries": [], "next_after": 10**12, "now": None}))
    with pytest.raises(RuntimeError, match="says next_after 1000000000000, its entries end at 0 .none"):
        catch_up()
    assert sql(cfg.database_url, "SELECT high_water FROM hall_progress WHERE site = 'hall-b'") == [{"high_water": 0}]
    feed(cfg, live("hall-b", entry(1, "issue", NOW, "B001")))  # the hall's next real event is stored
    assert sql(cfg.database_url, "SELECT seq FROM events WHERE site = 'hall-b'") == [{"seq": 1}]
    assert sql(cfg.database_url, "SELECT count(*) AS n FROM quarantine") == [{"n": 0}]


# -- the quarantine's retention ------------------------------------------------------------------------------

@pytest.fixture
def cfg(county_db, tmp_path):
    return county(county_db, tmp_path)


def refusals(url: str, site: str | None, n: int, age: timedelta = timedelta(0)) -> None:
    sql(url, "INSERT INTO quarantine (received_at, site, seq, reason, detail, source, payload) "
             "SELECT now() - %s, %s, g, 'malformed', 'x', 'live', repeat('x', 4096)::bytea FROM generate_series(1, %s) g",
        (age, site, n))


def test_the_quarantine_keeps_a_bounded_history(cfg):
    url = cfg.database_url
    refusals(url, "hall-a", 5, timedelta(days=40))
    refusals(url, "hall-a", 3)
    refusals(url, "hall-b", 30)
    refusals(url, None, 12)
    newest_b = [r["id"] for r in sql(url, "SELECT id FROM quarantine WHERE site = 'hall-b' ORDER BY id DESC LIMIT 10")]
    with cdb.connect(url, autocommit=True) as conn:
        assert store.prune_quarantine(conn, keep_days=30, per_hall=10) == 5 + 20 + 2
    kept = sql(url, "SELECT site, count(*) AS n FROM quarantine GROUP BY site ORDER BY site")
    assert kept == [{"site": "hall-a", "n": 3}, {"site": "hall-b", "n": 10}, {"site": None, "n": 10}]
    assert sorted(newest_b) == [r["id"] for r in sql(url, "SELECT id FROM quarantine WHERE site = 'hall-b' "
                                                          "ORDER BY id")]


def test_the_ingesting_process_prunes_the_quarantine(cfg):
    refusals(cfg.database_url, "hall-a", 4, timedelta(days=store.QUARANTINE_KEEP_DAYS + 1))
    refusals(cfg.database_url, "hall-a", 2)
    ingester = Ingester(cfg)
    keeper = threading.Thread(target=ingester._housekeep, daemon=True)
    keeper.start()
    try:
        wait_until(lambda: sql(cfg.database_url, "SELECT count(*) AS n FROM quarantine")[0]["n"] == 2, 20,
                   "the old rows pruned")
    finally:
        ingester._stop.set()
        keeper.join(5)
    assert not keeper.is_alive()
