"""The provincial hand-off (county/provincial.py): records from the halls' events, daily files, and a push to a
local receiver that fails its first attempts; every record arrives once, in order, across a restart."""

from __future__ import annotations

import csv
import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from county import db as cdb
from county import registry
from county.config import load_county
from county.provincial import Handoff
from hallq.demo import DEMO_PASSWORD_HASH
from tests.county.conftest import sql

CST = timezone(timedelta(hours=8))
FULL_ID = "110101199003071234"


class Receiver:
    """The provincial endpoint: answers 503 to the first ``fail`` requests, then 200; keeps batches by id."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.requests: list[dict] = []
        self.batches: dict[str, dict] = {}
        self.order: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append({"headers": dict(self.headers), "body": body})
                    failing = len(outer.requests) <= outer.fail
                    if not failing and body["batch_id"] not in outer.batches:  # idempotent on the batch id
                        outer.batches[body["batch_id"]] = body
                        outer.order.append(body["batch_id"])
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/haocaiping"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def records(self) -> list[dict]:
        with self.lock:
            return [r for b in self.order for r in self.batches[b]["records"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver(fail=3)
    yield r
    r.close()


def _county(tmp_path: Path, database: str, endpoint: str, batch_size: int = 4) -> Path:
    (tmp_path / "token").write_text("province-token\n")
    path = tmp_path / "county.toml"
    halls = "".join(
        f'[[halls]]\nsite = "{site}"\nlevel = "{level}"\nname = {{ zh-Hans = "{name}" }}\n'
        f'journal_url = "http://127.0.0.1:9"\ncredential = "env:NONE"\n' + (f'parent = "{parent}"\n' if parent else "")
        for site, level, name, parent in (("centre", "district", "钟山区政务服务中心", None),
                                          ("dahe", "town", "大河镇便民服务中心", "centre")))
    path.write_text(f'''[county]
id = "zhongshan"
name = {{ zh-Hans = "钟山区" }}

[broker]
url = "mqtt://127.0.0.1:1"

[provincial]
files_dir = "{tmp_path / 'out'}"
endpoint = "{endpoint}"
token = "file:{tmp_path / 'token'}"
region_code = "520201"
batch_size = {batch_size}
retry_base_seconds = 0.05
retry_max_seconds = 0.2
alert_after = 2
interval_seconds = 0.1
channel_codes = {{ kiosk = "4", pad = "3", mobile = "2" }}
departments = {{ social = "区人力资源和社会保障局" }}

{halls}
[[accounts]]
username = "sup"
role = "supervisor"
password_hash = "{DEMO_PASSWORD_HASH}"
''', encoding="utf-8")
    return path


def _event(conn, site: str, seq: int, action: str, at: datetime, actor: str = "staff:1001", ticket: str | None = None,
           business: str | None = "social", window: int | None = None, data: dict | None = None) -> None:
    data = data or {}
    conn.execute("INSERT INTO events (site, seq, at, business_day, actor, action, ticket, business, window_no, data, "
                 "digest, source) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,'live')",
                 (site, seq, at, at.date(), actor, action, ticket, business, window, json.dumps(data),
                  hashlib.sha256(f"{site}{seq}".encode()).hexdigest()))


def _journals(url: str) -> dict[str, int]:
    """Two halls' journals over two days: ratings from a kiosk, a pad and a phone, applications completed and not,
    and events the province does not want. Returns each hall's top seq."""
    day1 = datetime(2026, 12, 3, 9, 0, tzinfo=CST)
    day2 = day1 + timedelta(days=1)
    with cdb.connect(url, autocommit=True) as conn:
        n = 0
        for site in ("centre", "dahe"):
            seq = 0

            def ev(*args, site=site, **kw):
                nonlocal seq
                seq += 1
                _event(conn, site, seq, *args, **kw)

            for day in (day1, day2):
                for i in range(5):
                    t = day + timedelta(minutes=10 * i)
                    n += 1
                    ev("issue", t, actor="kiosk:k1", ticket=f"A{i + 1:03d}")
                    ev("rate", t + timedelta(minutes=5), actor=("kiosk:k1", "tablet:pad-3", "anonymous:10.0.0.9")[i % 3],
                       ticket=f"A{i + 1:03d}", window=3, data={"level": 5 - i, "stage": "window", "bad": 5 - i <= 2,
                                                              "item": "520201-SB-0007",
                                                              # a hall's rating names its item's department
                                                              **({"department": "区医疗保障局"} if i == 1 else {})})
                tn = f"{site[:2].upper()}{day:%m%d}01"
                ev("application_submitted", day + timedelta(hours=1),
                   data={"tracking_no": tn, "item": "520201-SB-0012", "missing_required": 0, "delivery": "mail",
                         "department": "区市场监督管理局"})
                ev("application_accepted", day + timedelta(hours=2), data={"tracking_no": tn, "from": "pre_review"})
                ev("application_result_ready", day + timedelta(hours=3),
                   data={"tracking_no": tn, "from": "accepted", "decision": "approved"})
                ev("application_submitted", day + timedelta(hours=4),
                   data={"tracking_no": tn + "x", "item": "520201-SB-0013", "missing_required": 1,
                         "delivery": "onsite"})
                ev("application_rejected", day + timedelta(hours=5),
                   data={"tracking_no": tn + "x", "from": "pre_review", "reason": f"证件号 {FULL_ID} 不符"})
            conn.execute("UPDATE hall_progress SET high_water = %s WHERE site = %s", (seq, site))
    return {"centre": seq, "dahe": seq}


def _setup(tmp_path, county_db, endpoint, batch_size=4):
    cfg = load_county(_county(tmp_path, county_db, endpoint, batch_size), database_url=county_db)
    cdb.migrate(county_db)
    with cdb.connect(county_db) as conn:
        registry.sync(conn, cfg)
    return cfg


def _run_until_pushed(handoff: Handoff, url: str, max_rounds: int = 200) -> None:
    import time

    with cdb.connect(url, autocommit=True) as conn:
        for _ in range(max_rounds):
            wait = handoff.run_once(conn)
            if wait is None:
                return
            time.sleep(wait)  # the backoff the hand-off asked for (50-200 ms here)
    raise AssertionError("batches still unsent")


def test_every_record_arrives_once_in_order_after_failures_and_a_restart(tmp_path, county_db, receiver):
    cfg = _setup(tmp_path, county_db, receiver.url)
    _journals(county_db)
    first = Handoff(cfg)
    with cdb.connect(county_db, autocommit=True) as conn:
        assert first.run_once(conn) > 0  # the receiver refused: a batch waits for its retry
        first.run_once(conn)
    assert len(receiver.requests) == 1 and not receiver.batches
    # the platform restarts: a new hand-off resumes from the outbox, exports nothing twice
    second = Handoff(cfg)
    _run_until_pushed(second, county_db)
    records = receiver.records()
    expected = sql(county_db, "SELECT site, seq FROM events WHERE action IN ('rate', 'application_result_ready', "
                              "'application_rejected') ORDER BY site, seq")
    assert [r["record_id"] for r in records] == [f"{e['site']}:{e['seq']}" for e in expected]  # once, in order
    assert len(receiver.requests) == len(receiver.batches) + 3  # three refusals, then each batch once
    ids = [rq["body"]["batch_id"] for rq in receiver.requests]
    assert ids[:4] == [ids[0]] * 4, "the first batch is retried until accepted before any later one"
    assert all(rq["headers"]["Idempotency-Key"] == rq["body"]["batch_id"] for rq in receiver.requests)
    assert all(rq["headers"]["Authorization"] == "Bearer province-token" for rq in receiver.requests)
    # a third run has nothing new
    assert Handoff(cfg).run_once(cdb.connect(county_db, autocommit=True)) is None
    assert sql(county_db, "SELECT count(*) AS n FROM provincial_batches WHERE sent_at IS NULL")[0]["n"] == 0

    by_id = {r["record_id"]: r for r in records}
    kiosk = next(r for r in records if r["kind"] == "rating" and r["channel"] == "4")
    assert kiosk["channel_name"] == "政务服务一体机" and kiosk["level"] == 5 and kiosk["level_name"] == "非常满意"
    assert kiosk["item_code"] == "520201-SB-0007" and kiosk["department"] == "区人力资源和社会保障局"
    assert kiosk["service_no"].startswith("centre-2026-12-03-A") and kiosk["rated_at"].endswith("+08:00")
    assert {r["channel"] for r in records if r["kind"] == "rating"} == {"2", "3", "4"}
    assert any(r["bad"] and r["level_name"] == "非常不满意" for r in records if r["kind"] == "rating")
    done = [r for r in records if r["kind"] == "application"]
    assert {(r["status"], r["item_code"], r["delivery"]) for r in done} == {
        ("approved", "520201-SB-0012", "mail"), ("rejected", "520201-SB-0013", "onsite")}
    approved = next(r for r in done if r["status"] == "approved")
    # the department the event names, else (an event from a hall before events named it) the config's by business
    assert {r["department"] for r in done} == {"区市场监督管理局", "区人力资源和社会保障局"}
    assert approved["department"] == "区市场监督管理局"
    assert {r["department"] for r in records if r["kind"] == "rating"} == {"区医疗保障局", "区人力资源和社会保障局"}
    assert approved["submitted_at"] < approved["accepted_at"] < approved["completed_at"]
    assert by_id[approved["record_id"]]["region_code"] == "520201"
    # nothing of a person, a device or an address: not the clerk's free text, not the actor
    text = json.dumps(records, ensure_ascii=False)
    for secret in (FULL_ID, "10.0.0.9", "pad-3", "k1", "staff:"):
        assert secret not in text

    # the files: one per kind and day, each complete and in the order pushed
    out = tmp_path / "out"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == [
        f"{kind}/2026-12-0{d}.{fmt}" for kind in ("application", "rating") for d in (3, 4) for fmt in ("csv", "jsonl")]
    for kind in ("rating", "application"):
        for day in ("2026-12-03", "2026-12-04"):
            want = [r for r in records if r["kind"] == kind and r["day"] == day]
            assert want
            lines = (out / kind / f"{day}.jsonl").read_text(encoding="utf-8").splitlines()
            assert [json.loads(x) for x in lines] == want
            with open(out / kind / f"{day}.csv", encoding="utf-8-sig", newline="") as f:
                rows = list(csv.DictReader(f))
            assert [r["record_id"] for r in rows] == [r["record_id"] for r in want]
            assert not list(out.rglob("*.tmp"))


def test_new_events_extend_the_day_files_and_the_outbox(tmp_path, county_db, receiver):
    receiver.fail = 0
    cfg = _setup(tmp_path, county_db, receiver.url, batch_size=100)
    top = _journals(county_db)
    _run_until_pushed(Handoff(cfg), county_db)
    before = len(receiver.records())
    at = datetime(2026, 12, 4, 16, 0, tzinfo=CST)
    with cdb.connect(county_db, autocommit=True) as conn:
        # a gap: seq top+2 is stored, top+1 is not yet accounted for; nothing past the gap is exported
        _event(conn, "dahe", top["dahe"] + 2, "rate", at, actor="kiosk:k1", ticket="B001", data={"level": 1})
    _run_until_pushed(Handoff(cfg), county_db)
    assert len(receiver.records()) == before
    with cdb.connect(county_db, autocommit=True) as conn:
        _event(conn, "dahe", top["dahe"] + 1, "rate", at, actor="tablet:p", ticket="B000", data={"level": 4})
        conn.execute("UPDATE hall_progress SET high_water = %s WHERE site = 'dahe'", (top["dahe"] + 2,))
    _run_until_pushed(Handoff(cfg), county_db)
    added = receiver.records()[before:]
    assert [r["record_id"] for r in added] == [f"dahe:{top['dahe'] + 1}", f"dahe:{top['dahe'] + 2}"]
    lines = (tmp_path / "out" / "rating" / "2026-12-04.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["record_id"] for x in lines[-2:]] == [r["record_id"] for r in added]


def test_failures_raise_an_alert_cleared_by_the_next_success(tmp_path, county_db):
    receiver = Receiver(fail=10**6)
    try:
        cfg = _setup(tmp_path, county_db, receiver.url)
        _journals(county_db)
        h = Handoff(cfg)
        import time

        with cdb.connect(county_db, autocommit=True) as conn:
            delays = []  # the delay each failure set: base x 2^n up to the maximum
            while h.failures < 4:
                before = h.failures
                wait = h.run_once(conn)
                if h.failures > before:
                    delays.append(round(wait, 3))
                time.sleep(wait)
        assert delays == [0.05, 0.1, 0.2, 0.2]
        alert = sql(county_db, "SELECT * FROM alerts WHERE kind = 'provincial_push' AND cleared_at IS NULL")
        assert len(alert) == 1 and "HTTP 503" in alert[0]["detail"] and "zhongshan-centre-" in alert[0]["detail"]
        receiver.fail = 0
        _run_until_pushed(h, county_db)
        assert not sql(county_db, "SELECT * FROM alerts WHERE kind = 'provincial_push' AND cleared_at IS NULL")
        assert receiver.records()
    finally:
        receiver.close()
