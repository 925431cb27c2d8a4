"""The county end to end, with real parts: hall servers and their Mosquitto, bridged through a TCP hop to the
county's NATS broker, the platform (``hallq platform serve``) on its own PostgreSQL database.

The assertion is always the same, and strict: for each hall, the platform holds exactly the hall's journal,
every entry once, with the digest of the hall's own entry (``County.assert_exactly_once``). Each test waits
on that condition (or on the platform's own counters), never on a fixed sleep.
"""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as paho
import pytest

from county import db as cdb
from hallq import contract
from hallq.client import HallClient
from tests.county.conftest import County, sql, wait_for

pytestmark = pytest.mark.mosquitto


@pytest.fixture
def county(request, tmp_path, county_db):
    reconcile = getattr(request, "param", 1.0)
    c = County(tmp_path, county_db, ["town-a", "town-b"], paper=["village-c"], reconcile=reconcile)
    cdb.migrate(county_db)
    c.start()
    yield c
    c.stop()


@pytest.mark.parametrize("county", [3600.0], indirect=True)  # no periodic catch-up: what arrives, arrives live
def test_live_events_land_once(county):
    a, b = county.halls["town-a"], county.halls["town-b"]
    for site in ("town-a", "town-b"):  # what the halls journaled before the platform started: fetched at its start
        wait_for(lambda s=site: county.caught_up(s), 30, f"hall {site} caught up at the start")
    # and the catch-ups their servers' availability (retained, "online") asked for are over
    def settled():
        ingest = county.platform.health()["ingest"]
        return ingest["received"] >= 2 and not ingest["queued"] and not {"town-a", "town-b"} & set(ingest["catching_up"])

    wait_for(settled, 30, "both availabilities heard and no catch-up in progress")
    before = a.journal_top()
    a.issue(5)
    b.issue(3)
    for site in ("town-a", "town-b"):
        wait_for(lambda s=site: county.caught_up(s), 30, f"hall {site} caught up")
        county.assert_exactly_once(site)
    assert {r["source"] for r in county.events("town-a") if r["seq"] > before} == {"live"}
    p = county.progress("town-a")
    assert p["live_events"] >= 5 and p["last_event_at"] is not None
    assert p["server_state"] == "online"
    b.stop()  # a clean stop: its server says so over the bridge, and the county knows since when
    wait_for(lambda: county.progress("town-b")["server_state"] == "stopped", 30, "town-b's stop heard")
    assert county.progress("town-b")["server_state_since"] > p["server_state_since"]


def test_a_hall_cut_off_and_restarted_is_caught_up_over_http_without_duplicates(county):
    a, b = county.halls["town-a"], county.halls["town-b"]
    a.issue(2)
    wait_for(lambda: county.caught_up("town-a"), 30, "town-a caught up before the cut")
    a.cut()
    a.issue(4)  # the hall works on: its bridge holds these...
    a.stop()    # ...until its broker stops with the server: what it held is gone for good
    a.start()
    a.issue(3)
    b.issue(2)  # the other hall goes on being heard meanwhile
    wait_for(lambda: county.caught_up("town-b"), 30, "town-b heard while town-a is cut off")
    assert county.progress("town-a")["high_water"] < a.journal_top()
    a.restore()
    wait_for(lambda: county.caught_up("town-a"), 60, "town-a caught up after its link came back")
    assert county.progress("town-a")["server_state"] == "online"  # its server's availability came over the bridge
    county.assert_exactly_once("town-a")
    county.assert_exactly_once("town-b")
    assert county.progress("town-a")["catchup_events"] > 0, "the lost entries came from the hall's journal over HTTP"


def test_the_platform_restarted_mid_stream_loses_nothing(county):
    a = county.halls["town-a"]
    stop = threading.Event()
    issued = []

    def traffic():
        c = HallClient(a.url, token="demo-kiosk-1", retries=3)
        while not stop.is_set() and len(issued) < 60:
            issued.append(c.issue_ticket("alpha"))
        c.close()

    t = threading.Thread(target=traffic)
    t.start()
    wait_for(lambda: len(issued) >= 10, 30, "traffic flowing")
    county.platform.kill9()  # a crash, mid-stream
    wait_for(lambda: len(issued) >= 25, 30, "traffic flowing while the platform is down")
    county.platform.start()
    t.join(60)
    stop.set()
    assert len(issued) == 60
    wait_for(lambda: county.caught_up("town-a"), 60, "town-a caught up after the platform's restart")
    county.assert_exactly_once("town-a")


def publish(county: County, messages: list[tuple[str, bytes]]) -> None:
    """Publish as an account the broker lets write anywhere (a misconfigured or hostile publisher)."""
    done = threading.Event()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="rogue", protocol=paho.MQTTv311)
    c.username_pw_set("rogue", county.rogue_password)
    c.on_connect = lambda *a: done.set()
    c.connect("127.0.0.1", county.mqtt_port)
    c.loop_start()
    assert done.wait(10)
    for topic, payload in messages:
        c.publish(topic, payload, qos=1).wait_for_publish(10)
    c.loop_stop()
    c.disconnect()


def event(site: str, seq: int, at: str = "2026-11-23T09:40:00+08:00", action: str = "issue") -> bytes:
    return contract.encode(contract.JOURNAL, {"site": site, "seq": seq, "at": at, "day": at[:10], "actor": "system",
                                              "action": action, "ticket": None, "business": None, "window": None,
                                              "data": {}})


def test_bad_input_is_quarantined_while_good_events_keep_flowing(county):
    a = county.halls["town-a"]
    a.issue(2)
    publish(county, [
        ("hallq/nowhere/journal", event("nowhere", 1)),                        # not in the registry
        ("hallq/village-c/journal", b"\x00\x01 not json"),                     # malformed
        ("hallq/village-c/journal", b"{" + b" " * 70_000 + b"}"),              # oversized
        ("hallq/village-c/journal", event("town-a", 1)),                       # claims another hall
        ("hallq/village-c/journal", event("village-c", 1)),                    # good
        ("hallq/village-c/journal", event("village-c", 2, at="2031-01-01T09:00:00+08:00")),  # its clock is wrong
        ("hallq/village-c/journal", event("village-c", 1, action="login")),    # replays a reset sequence
    ])
    a.issue(3)
    reasons = {"unknown_hall", "malformed", "oversized", "site_mismatch", "clock_skew", "seq_reset"}
    wait_for(lambda: {r["reason"] for r in sql(county.database, "SELECT reason FROM quarantine")} >= reasons, 30,
             "every bad message quarantined")
    wait_for(lambda: county.caught_up("town-a"), 30, "town-a's events still flowing")
    county.assert_exactly_once("town-a")
    stored = sql(county.database, "SELECT seq, action FROM events WHERE site = 'village-c'")
    assert stored == [{"seq": 1, "action": "issue"}]  # the good one, once; never the replay
    assert not sql(county.database, "SELECT 1 FROM events WHERE site = 'nowhere'")
    alerts = {r["kind"] for r in sql(county.database, "SELECT kind FROM alerts WHERE cleared_at IS NULL")}
    assert {f"quarantine_{r}" for r in reasons} <= alerts
    log = county.platform.log.read_text(errors="replace")
    assert "quarantined a live event from hall village-c (seq 1): seq_reset" in log
    assert "quarantined a live event from hall nowhere" in log and "not in the county's registry" in log
    # village-c has no server: its catch-up fails, is logged with the cause, and holds up nobody
    wait_for(lambda: county.progress("village-c")["catchup_error"], 30, "village-c's catch-up failure noted")
    assert "NO_SUCH_KEY" in county.progress("village-c")["catchup_error"]


def test_the_county_broker_lets_a_hall_publish_only_as_itself(county):
    """A hall's account at the county broker (from its county-bridge.toml) cannot speak for another hall."""
    a = county.halls["town-a"]
    secret = (a.folder / "conf" / "county-bridge.secret").read_text().strip()
    done = threading.Event()
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="impostor", protocol=paho.MQTTv311)
    c.username_pw_set("hall-town-a", secret)
    c.on_connect = lambda *x: done.set()
    c.connect("127.0.0.1", county.mqtt_port)
    c.loop_start()
    assert done.wait(10)
    c.publish("hallq/town-b/journal", event("town-b", 999_999), qos=1)
    a.issue(1)  # a real event after it: once it is in, the forged one had its chance
    wait_for(lambda: county.caught_up("town-a"), 30, "town-a caught up")
    c.loop_stop()
    c.disconnect()
    assert not sql(county.database, "SELECT 1 FROM events WHERE site = 'town-b' AND seq = 999999")
    assert county.progress("town-b")["max_seen"] < 999_999


def test_the_platform_api_by_role(county):
    a = county.halls["town-a"]
    a.issue(1)
    wait_for(lambda: county.caught_up("town-a"), 30, "town-a caught up")
    import urllib.error
    import urllib.request

    def call(path, token=None, body=None):
        req = urllib.request.Request(county.platform.url + path, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    from hallq.demo import DEMO_PASSWORD

    HallClient(a.url).login("101", DEMO_PASSWORD)  # a sign-in: its journal entry names the caller's address
    wait_for(lambda: county.caught_up("town-a"), 30, "town-a caught up after the sign-in")
    assert call("/api/v1/auth/login", body={"username": "sup", "password": "wrong"})[0] == 401
    assert call("/api/v1/halls")[0] == 401
    sup = call("/api/v1/auth/login", body={"username": "sup", "password": DEMO_PASSWORD})[1]["token"]
    mgr = call("/api/v1/auth/login", body={"username": "mgr", "password": DEMO_PASSWORD})[1]["token"]
    assert {h["site"] for h in call("/api/v1/halls", sup)[1]["halls"]} == {"town-a", "town-b", "village-c"}
    assert [h["site"] for h in call("/api/v1/halls", mgr)[1]["halls"]] == ["town-a"]
    status, page = call("/api/v1/halls/town-a/events?after=0&limit=1000", mgr)
    assert status == 200 and len(page["events"]) == a.journal_top()
    assert call("/api/v1/halls/town-b/events", mgr)[0] == 403  # a hall manager reads their own hall only
    assert call("/api/v1/halls/town-b/events", sup)[0] == 200
    assert call("/api/v1/quarantine", mgr)[0] == 403 and call("/api/v1/quarantine", sup)[0] == 200
    login = [e for e in page["events"] if e["action"] == "login"]
    assert login and login[0]["data"]["job_no"] == "101"
    assert "client" not in json.dumps(page)  # callers' addresses stay in the hall's journal
