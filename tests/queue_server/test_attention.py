"""What needs a person: a kiosk's help request (找工作人员帮忙) and devices' health reaching the consoles."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from hallq import contract
from hallq.clock import CHINA
from hallq.testing import wait_until
from queue_server.domain import attention
from queue_server.domain.context import Actor
from queue_server.domain.errors import NotFound
from queue_server.health_listener import health_handler
from tests.conftest import TINY


def test_a_kiosk_asks_for_help_once_and_one_clerk_takes_it(api):
    first = api.ok("post", "/help-requests", as_="kiosk", status=201)
    assert first == {**first, "device": "kiosk-1", "place": "大厅入口", "state": "open", "repeated": False}
    # the resident presses again while nobody has come: the same request, not a second one
    again = api.ok("post", "/help-requests", as_="kiosk", status=201)
    assert (again["id"], again["repeated"]) == (first["id"], True)

    # every console sees it: the window console, the manager's hall page, the attention endpoint
    api.open_window(1, "101")
    console = api.ok("get", "/console/windows/1", as_="101")
    assert [h["id"] for h in console["attention"]["help_requests"]] == [first["id"]]
    assert [h["place"] for h in api.ok("get", "/attention", as_="102")["help_requests"]] == ["大厅入口"]
    assert api.ok("get", "/hall/live", as_="900")["attention"]["help_requests"][0]["device"] == "kiosk-1"

    # the kiosk asks whether someone is coming: not yet
    assert api.ok("get", f"/help-requests/{first['id']}", as_="kiosk")["state"] == "open"
    taken = api.ok("post", f"/help-requests/{first['id']}/take", as_="101")
    seen = api.ok("get", f"/help-requests/{first['id']}", as_="kiosk")
    assert seen["state"] == "taken" and seen["taken_by"]["job_no"] == "101"
    assert taken["state"] == "taken" and taken["taken_by"] == {"job_no": "101", "name": taken["taken_by"]["name"]}
    assert "*" in taken["taken_by"]["name"]  # masked, as everywhere
    r = api.post(f"/help-requests/{first['id']}/take", as_="102")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "help_already_taken"
    assert "101" in r.get_json()["error"]["messages"]["zh-Hans"]
    assert api.ok("get", "/attention", as_="102")["help_requests"] == []

    # a new press after that is a new request
    assert api.ok("post", "/help-requests", as_="kiosk", status=201)["id"] != first["id"]


def test_a_request_nobody_took_expires_with_its_business_day(api, clock, state):
    old = api.ok("post", "/help-requests", as_="kiosk", status=201)
    clock.set(datetime(2026, 11, 24, 9, 5, tzinfo=CHINA))  # Tuesday morning: the resident has long gone
    # the consoles do not greet the morning with yesterday's request waiting 1,400 minutes
    assert api.ok("get", "/attention", as_="101")["help_requests"] == []
    assert api.ok("get", f"/help-requests/{old['id']}", as_="kiosk")["state"] == "expired"
    r = api.post(f"/help-requests/{old['id']}/take", as_="101")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "help_expired"
    # today's press is a new request, not a "repeat" of yesterday's
    new = api.ok("post", "/help-requests", as_="kiosk", status=201)
    assert new["id"] != old["id"] and new["repeated"] is False
    assert [h["id"] for h in api.ok("get", "/attention", as_="101")["help_requests"]] == [new["id"]]
    # nothing was rewritten: yesterday's request is still as it was left, and reads as expired
    states = dict(state.db.connection().execute("SELECT id, state FROM help_requests").fetchall())
    assert states == {old["id"]: "open", new["id"]: "open"}
    assert api.ok("get", f"/help-requests/{old['id']}", as_="kiosk")["state"] == "expired"


def test_help_requests_are_journalled_and_refused_to_others(api, state, clock):
    api.ok("post", "/help-requests", as_="kiosk", status=201)
    rows = state.db.connection().execute("SELECT actor, action FROM journal WHERE action LIKE 'help_%'").fetchall()
    assert [(r["actor"], r["action"]) for r in rows] == [("kiosk:kiosk-1", "help_requested")]
    # staff do not ask the kiosk way; devices and anonymous callers may not read or take
    r = api.post("/help-requests", as_="101")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "kiosk_only"
    assert api.get("/attention", as_="kiosk").status_code == 403
    assert api.post("/help-requests/1/take", as_="gateway").status_code == 403
    assert api.get("/attention").status_code == 401
    # a kiosk sees its own requests only (another kiosk gets 404); other devices and nobody get none
    api.tokens["tablet"] = "demo-tablet-1"
    assert api.get("/help-requests/1", as_="tablet").status_code == 403
    assert api.get("/help-requests/1").status_code == 401
    with state.db.read() as conn:
        assert attention.help_request(conn, Actor("kiosk", "kiosk-1"), 1, clock.now())["device"] == "kiosk-1"
        with pytest.raises(NotFound):
            attention.help_request(conn, Actor("kiosk", "kiosk-2"), 1, clock.now())
    r = api.post("/help-requests/999/take", as_="101")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_help_request"


def _report(device: str, ok: bool, problems: list[str], kind: str = "printer") -> dict:
    return {"device": device, "kind": kind, "ok": ok, "problems": problems, "detail": {},
            "at": "2026-11-23T09:30:00+08:00"}


def test_a_device_offline_is_named_for_what_it_is(api, service):
    handle = health_handler(service, "tiny")[1]
    # a device that went offline is named for what it is, in every language (not 打印机离线 for any device)
    for device, kind, zh, en in (("kiosk-1-printer", "printer", "打印机离线：请检查电源", "printer offline: check its power"),
                                 ("kiosk-1-id-reader", "id_reader", "身份证阅读器离线：请检查电源",
                                  "ID card reader offline: check its power"),
                                 ("kiosk-1-scanner", "scanner", "扫码器离线：请检查电源",
                                  "code scanner offline: check its power"),
                                 ("gw-1-pad-3", "rating_pad", "评价器离线：请检查电源", "rating pad offline: check its power"),
                                 ("gw-1-x", "fax", "设备离线：请检查电源", "device offline: check its power")):
        t = contract.DEVICE_HEALTH.topic("tiny", owner="kiosk-1", device=device)
        handle(t, contract.encode(contract.DEVICE_HEALTH, _report(device, False, ["offline"], kind=kind)), False)
        shown = next(d for d in api.ok("get", "/attention", as_="101")["device_problems"] if d["device"] == device)
        assert shown["problem_texts"] == [{"code": "offline", "zh-Hans": zh, "zh-Hant": shown["problem_texts"][0]["zh-Hant"],
                                           "en": en}]
        assert "打印" not in shown["problem_texts"][0]["zh-Hant"] or kind == "printer"
        assert "印表機" not in shown["problem_texts"][0]["zh-Hant"] or kind == "printer"


def test_device_health_is_kept_and_only_changes_are_journalled(api, service, state):
    handle = health_handler(service, "tiny")[1]
    topic = contract.DEVICE_HEALTH.topic("tiny", owner="kiosk-1", device="kiosk-1-printer")
    handle(topic, contract.encode(contract.DEVICE_HEALTH, _report("kiosk-1-printer", True, [])), True)
    handle(topic, contract.encode(contract.DEVICE_HEALTH, _report("kiosk-1-printer", False, ["paper_out"])), False)
    handle(topic, contract.encode(contract.DEVICE_HEALTH, _report("kiosk-1-printer", False, ["paper_out"])), False)
    problems = api.ok("get", "/attention", as_="101")["device_problems"]
    assert [(d["device"], d["problems"]) for d in problems] == [("kiosk-1-printer", ["paper_out"])]
    assert problems[0]["problem_texts"][0]["zh-Hans"] == "缺纸：请更换纸卷"
    journal = [json.loads(r["data"]) for r in state.db.connection().execute(
        "SELECT data FROM journal WHERE action = 'device_health' ORDER BY seq")]
    assert [(j["ok"], j["problems"]) for j in journal] == [(False, ["paper_out"])]  # an ok first report is quiet

    handle(topic, contract.encode(contract.DEVICE_HEALTH, _report("kiosk-1-printer", True, [])), False)
    assert api.ok("get", "/attention", as_="101")["device_problems"] == []
    assert api.ok("get", "/devices/health", as_="101")["devices"][0]["ok"] is True
    # garbage is dropped, a foreign topic ignored, an empty retained message forgets the device
    handle(topic, b"\xff not json", False)
    handle("hallq/other-site/devices/k/x/health", contract.encode(contract.DEVICE_HEALTH, _report("x", False, [])), False)
    handle(topic, b"", True)
    assert api.ok("get", "/devices/health", as_="101")["devices"] == []


def test_record_health_reports_a_change(service):
    with service.transaction(Actor("device", "strip-1")) as tx:
        assert attention.record_health(tx, _report("strip-1", False, ["unplugged"], "led_strip")) is True
    with service.transaction(Actor("device", "strip-1")) as tx:
        assert attention.record_health(tx, _report("strip-1", False, ["unplugged"], "led_strip")) is False


def test_the_server_hears_device_health_over_mqtt(mosquitto, server_proc):
    """A real server and a real Mosquitto: a retained report published before the server starts arrives too."""
    from hallq.mqtt import BrokerAddress, Connection

    pub = Connection(BrokerAddress.parse(mosquitto.url), "tiny", "kiosk", "kiosk-1")
    pub.start()
    assert pub.wait_connected(10)
    before = contract.DEVICE_HEALTH.topic("tiny", owner="kiosk-1", device="kiosk-1-id-reader")
    pub.publish(before, contract.encode(contract.DEVICE_HEALTH,
                                        _report("kiosk-1-id-reader", False, ["unplugged"], "id_reader")),
                qos=1, retain=True)
    server = server_proc(config=TINY, mqtt_url=mosquitto.url)
    clerk = server.client()
    clerk.login("101", "hallq-demo")
    try:
        # nothing to wait on from outside but the server's own answer: ask until it says so
        assert wait_until(lambda: clerk.get("/attention")["device_problems"])
        pub.publish(contract.DEVICE_HEALTH.topic("tiny", owner="kiosk-1", device="kiosk-1-printer"),
                    contract.encode(contract.DEVICE_HEALTH, _report("kiosk-1-printer", False, ["paper_out"])),
                    qos=1, retain=True)
        got = wait_until(lambda: (d := clerk.get("/attention")["device_problems"]) and len(d) == 2 and d)
        assert {d["device"]: d["problems"] for d in got} == {"kiosk-1-id-reader": ["unplugged"],
                                                            "kiosk-1-printer": ["paper_out"]}
    finally:
        pub.stop()

