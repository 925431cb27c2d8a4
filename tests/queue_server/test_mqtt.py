"""The server's MQTT output, against a real Mosquitto (the hall's own broker: test_hall_broker.py).

Each test runs a real ``hallq serve`` process and a real subscriber; nothing
sleeps for a message, tests wait for the condition they need.
"""

from __future__ import annotations

import json

import paho.mqtt.client as paho
import pytest

from hallq import contract
from hallq.testing import wait_until
from tests.conftest import KIOSK_KEY, MqttCollector, make_id

SITE = "tiny"


def by(topic):
    return lambda t, p: t == topic


def valid(topic: str, payload: dict) -> dict:
    """The payload as received passes the contract's own decoder."""
    found = contract.identify(SITE, topic)
    assert found, topic
    return contract.decode(found[0], json.dumps(payload).encode())


def staff(server, job_no="101"):
    c = server.client()
    c.login(job_no, "hallq-demo")
    return c


@pytest.fixture
def hall(mosquitto, server_proc):
    server = server_proc(mqtt_url=mosquitto.url)
    sub = MqttCollector(mosquitto.url, f"hallq/{SITE}/#")
    yield server, sub
    sub.close()


def test_status_and_retained_snapshots_on_start(hall):
    server, sub = hall
    _, status = sub.wait_for(lambda t, p: t == f"hallq/{SITE}/status/server/queue" and p.get("state") == "online")
    valid(f"hallq/{SITE}/status/server/queue", status)
    for topic in ("board", "windows/1", "windows/3", "queues/alpha", "queues/beta", "notices"):
        _, payload = sub.wait_for(by(f"hallq/{SITE}/{topic}"))
        valid(f"hallq/{SITE}/{topic}", payload)
        assert payload["version"] == contract.VERSION


def test_a_call_is_published_after_commit_with_its_sequence_number(hall):
    server, sub = hall
    kiosk = server.client(KIOSK_KEY)
    clerk = staff(server)
    kiosk.issue_ticket("alpha")
    sub.wait_for(lambda t, p: t.endswith("/queues/alpha") and p["waiting"] == 1)
    clerk.window_action(1, "sign-in")
    sub.wait_for(lambda t, p: t.endswith("/windows/1") and p["state"] == "open" and p["staff"]["name"] == "张*三")
    result = clerk.call_next(1)
    _, call = sub.wait_for(by(f"hallq/{SITE}/calls"))
    valid(f"hallq/{SITE}/calls", call)
    assert call["seq"] == result["seq"] == 1
    assert (call["ticket"], call["window"], call["kind"]) == ("A001", 1, "call")
    assert call["business_name"]["zh-Hans"] == "甲业务"
    _, window = sub.wait_for(lambda t, p: t.endswith("/windows/1") and p["current"] is not None)
    assert window["current"]["ticket"] == "A001" and window["current"]["state"] == "called"
    _, board = sub.wait_for(lambda t, p: t.endswith("/board") and p["recent_calls"])
    assert board["recent_calls"][0]["ticket"] == "A001" and board["last_seq"] == 1
    clerk.window_action(1, "recall")
    _, recall = sub.wait_for(lambda t, p: t.endswith("/calls") and p["seq"] == 2)
    assert recall["kind"] == "recall" and recall["recalls"] == 1


def test_a_board_switched_on_later_gets_the_state_at_once(hall, mosquitto):
    server, sub = hall
    server.client(KIOSK_KEY).issue_ticket("alpha")
    clerk = staff(server)
    clerk.window_action(1, "sign-in")
    clerk.call_next(1)
    sub.wait_for(lambda t, p: t.endswith("/board") and p["last_seq"] == 1)
    late = MqttCollector(mosquitto.url, f"hallq/{SITE}/board")
    try:
        _, board = late.wait_for(by(f"hallq/{SITE}/board"))
        assert board["recent_calls"][0]["ticket"] == "A001"
        assert [w["current"] for w in board["windows"] if w["number"] == 1] == ["A001"]
    finally:
        late.close()


def test_no_personal_data_on_any_topic(hall):
    server, sub = hall
    person = make_id("19500101")
    server.client(KIOSK_KEY).issue_ticket("beta", id_number=person, phone="13812345678")
    clerk = staff(server, "103")
    clerk.window_action(3, "sign-in")
    clerk.call_next(3)
    sub.wait_for(lambda t, p: t.endswith("/windows/3") and p["current"])
    everything = "\n".join(f"{t} {p}" for t, p, _, _ in sub.messages)
    for secret in (person, person[6:14], "13812345678", "王五"):
        assert secret not in everything


def test_server_survives_a_broker_restart_and_catches_up(hall, mosquitto):
    server, sub = hall
    kiosk = server.client(KIOSK_KEY)
    clerk = staff(server)
    clerk.window_action(1, "sign-in")
    kiosk.issue_ticket("alpha")
    clerk.call_next(1)
    sub.wait_for(lambda t, p: t.endswith("/calls") and p["seq"] == 1)

    mosquitto.stop()
    # the hall goes on: numbers are issued and called with the broker away
    kiosk.issue_ticket("alpha")
    clerk.call_next(1, complete_current=True)
    # the server learns of it from its socket (the broker's exit closes it), in its own time: wait, not a race
    wait_until(lambda: server.client().health()["mqtt"] == "disconnected", timeout=10)
    sub.clear()
    mosquitto.start()

    _, status = sub.wait_for(lambda t, p: t.endswith("/status/server/queue") and p["state"] == "online", timeout=15)
    _, call = sub.wait_for(lambda t, p: t.endswith("/calls") and p["seq"] == 2, timeout=15)
    assert call["ticket"] == "A002"
    _, window = sub.wait_for(lambda t, p: t.endswith("/windows/1") and p["current"], timeout=15)
    assert window["current"]["ticket"] == "A002"
    sub.wait_for(lambda t, p: t.endswith("/board") and p["last_seq"] == 2, timeout=15)
    assert server.client().health()["mqtt"] == "connected"


def test_last_will_marks_a_killed_server_offline(hall):
    server, sub = hall
    sub.wait_for(lambda t, p: t.endswith("/status/server/queue") and p["state"] == "online")
    server.kill9()
    sub.wait_for(lambda t, p: t.endswith("/status/server/queue") and p["state"] == "offline", timeout=15)


def test_a_clean_stop_says_stopped(hall):
    server, sub = hall
    sub.wait_for(lambda t, p: t.endswith("/status/server/queue") and p["state"] == "online")
    server.stop()
    sub.wait_for(lambda t, p: t.endswith("/status/server/queue") and p["state"] == "stopped", timeout=15)




def test_the_server_restores_its_availability_when_someone_clears_it(hall, mosquitto):
    """An empty retained message clears a topic for every later subscriber; the server says online again."""
    server, sub = hall
    topic = f"hallq/{SITE}/status/server/queue"
    sub.wait_for(lambda t, p: t == topic and p["state"] == "online")
    vandal = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="vandal")
    vandal.connect("127.0.0.1", mosquitto.port)
    vandal.loop_start()
    for payload in (b"", b'{"version": 1, "state": "offline"}'):
        sub.clear()
        vandal.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
        sub.wait_for(lambda t, p: t == topic and p.get("state") == "online")
    vandal.loop_stop()
    late = MqttCollector(mosquitto.url, topic)  # a board switched on now learns the server is there
    try:
        late.wait_for(lambda t, p: p.get("state") == "online")
    finally:
        late.close()
