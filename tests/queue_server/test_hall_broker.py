"""The hall's own broker (hallq/broker.py): Mosquitto run by hallq serve, nobody anonymous, each identity in its lane.

A real server with ``[mqtt] url = ""`` starts a real Mosquitto with the
hall's identities and ACL. Against it: an anonymous client and a wrong
password are refused; the server publishes the hall; a kiosk, a gateway or
a board can read the hall and write only their own availability and their
own devices' health. A forged call, notice or retained window state never
reaches anyone: each forgery is followed by a sentinel on a topic the forger
may write, and the subscriber sees the sentinel and never the forgery (the
broker delivers one client's messages in order). No secret is in a file
others can read, an HTTP answer or the server's log.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time

import paho.mqtt.client as paho
import pytest

from hallq import contract
from hallq.hallconfig import load_hall
from hallq.mqtt_auth import SERVER, CredentialStore, Identity, acl, credentials_folder, hall_identities
from hallq.testing import MqttCollector, mosquitto_binary
from tests.conftest import CITY, KIOSK_KEY, own_broker_hall

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="needs mosquitto (./run.sh installs it)")
SITE = "tiny"


@pytest.fixture
def hall(tmp_path, server_proc):
    """A server whose hall runs its own broker, on a free port."""
    config, port = own_broker_hall(tmp_path)
    server = server_proc(config=config, mqtt_url="")
    store = CredentialStore(credentials_folder(server.data_dir))
    return server, f"mqtt://127.0.0.1:{port}", store


def connect(url: str, username: str = "", password: str = "") -> tuple[paho.Client, int]:
    """A raw client; returns it and the CONNACK reason (0 = accepted)."""
    host, port = url.removeprefix("mqtt://").split(":")
    result: list[int] = []
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"probe-{time.monotonic_ns()}")
    if username:
        c.username_pw_set(username, password)
    c.on_connect = lambda cl, u, f, rc, p: result.append(rc.value)
    c.connect(host, int(port))
    c.loop_start()
    deadline = time.monotonic() + 10
    while not result and time.monotonic() < deadline:
        time.sleep(0.01)
    return c, result[0] if result else -1


def as_(store: CredentialStore, kind: str, ident: str) -> tuple[str, str]:
    i = Identity(kind, ident)
    return i.username, store.password(i, create=False)


def test_nobody_anonymous_and_no_wrong_password(hall):
    server, url, store = hall
    c, rc = connect(url)
    assert rc != 0  # not authorised
    c.loop_stop()
    user, _ = as_(store, "kiosk", "kiosk-1")
    c, rc = connect(url, user, "not-the-password")
    assert rc != 0
    c.loop_stop()
    c, rc = connect(url, *as_(store, "kiosk", "kiosk-1"))
    assert rc == 0
    c.disconnect()
    c.loop_stop()


def test_the_server_publishes_and_a_kiosk_reads_the_hall(hall):
    server, url, store = hall
    sub = MqttCollector(url, f"hallq/{SITE}/#", *as_(store, "kiosk", "kiosk-1"))
    try:
        sub.wait_for(lambda t, p: t.endswith("/status/server/queue") and p["state"] == "online")
        server.client(KIOSK_KEY).issue_ticket("alpha")
        clerk = server.client()
        clerk.login("101", "hallq-demo")
        clerk.window_action(1, "sign-in")
        clerk.call_next(1)
        _, call = sub.wait_for(lambda t, p: t == f"hallq/{SITE}/calls")
        assert call["ticket"] == "A001"
        assert server.client().hall()["mqtt_url"] == url  # where, never who or with what password
    finally:
        sub.close()


def forged_then_sentinel(url: str, forger: tuple[str, str], ident: str, kind: str, topic: str, payload: bytes,
                         retain: bool, watcher: MqttCollector) -> list[bytes]:
    """The forger publishes ``payload`` on ``topic`` and then its own status; what the watcher got on ``topic``."""
    c, rc = connect(url, *forger)
    assert rc == 0
    c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    sentinel = json.dumps({"version": 1, "state": "online", "at": f"sentinel-{time.monotonic_ns()}"})
    c.publish(contract.STATUS.topic(SITE, kind=kind, id=ident), sentinel, qos=1, retain=True).wait_for_publish(5)
    watcher.wait_for(lambda t, p: t.endswith(f"/status/{kind}/{ident}") and p.get("at", "").startswith("sentinel"))
    c.disconnect()
    c.loop_stop()
    return [p for p in watcher.of(topic)]


@pytest.mark.parametrize("kind,ident,topic,retain", [
    ("kiosk", "kiosk-1", "calls", False),
    ("kiosk", "kiosk-1", "notices", True),
    ("kiosk", "kiosk-1", "windows/1", True),
    ("kiosk", "kiosk-1", "status/server/queue", True),
    ("kiosk", "kiosk-1", "devices/gateway-1/strip-1/health", True),  # another device's health
    ("kiosk", "kiosk-1", "status/gateway/gateway-1", True),
    ("gateway", "gateway-1", "calls", False),
    ("gateway", "gateway-1", "board", True),
])
def test_a_device_cannot_speak_for_the_hall_or_for_another_device(hall, kind, ident, topic, retain):
    server, url, store = hall
    watcher = MqttCollector(url, f"hallq/{SITE}/#", SERVER.username, store.password(SERVER, create=False))
    try:
        watcher.wait_for(lambda t, p: t.endswith("/status/server/queue") and p["state"] == "online")
        fake = b'{"version": 1, "forged": true}'
        got = forged_then_sentinel(url, as_(store, kind, ident), ident, kind, f"hallq/{SITE}/{topic}", fake,
                                   retain, watcher)
        assert all(p.get("forged") is not True for p in got), f"{kind}.{ident} wrote hallq/{SITE}/{topic}"
    finally:
        watcher.close()
    if topic in ("notices", "windows/1", "status/server/queue", "board"):
        # the server's retained state is what a new subscriber gets, not the forgery
        late = MqttCollector(url, f"hallq/{SITE}/{topic}", SERVER.username, store.password(SERVER, create=False))
        try:
            _, first = late.wait_for(lambda t, p: True)
            assert first.get("forged") is not True
        finally:
            late.close()


def test_a_device_writes_its_own_health_and_status(hall):
    server, url, store = hall
    watcher = MqttCollector(url, f"hallq/{SITE}/#", SERVER.username, store.password(SERVER, create=False))
    try:
        c, rc = connect(url, *as_(store, "kiosk", "kiosk-1"))
        assert rc == 0
        health = contract.encode(contract.DEVICE_HEALTH, {"device": "kiosk-1-printer", "kind": "printer", "ok": True,
                                                          "problems": [], "at": "2026-11-23T09:30:00.000+08:00"})
        c.publish(contract.DEVICE_HEALTH.topic(SITE, owner="kiosk-1", device="kiosk-1-printer"), health, qos=1,
                  retain=True).wait_for_publish(5)
        watcher.wait_for(lambda t, p: t.endswith("/devices/kiosk-1/kiosk-1-printer/health") and p["ok"] is True)
        c.disconnect()
        c.loop_stop()
    finally:
        watcher.close()


def test_the_secrets_are_private_and_never_told(hall):
    server, url, store = hall
    folder = credentials_folder(server.data_dir)
    secrets = []
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        secrets.append(path.read_text().strip())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    broker = server.data_dir / "broker"
    for name in ("passwd", "acl", "mosquitto.conf"):
        assert stat.S_IMODE((broker / name).stat().st_mode) == 0o600
    passwd = (broker / "passwd").read_text()
    answers = json.dumps(server.client().hall()) + json.dumps(server.client().get("/openapi.json"))
    log = server.log.read_text(errors="replace")
    for secret in secrets:
        assert secret not in passwd and secret not in answers and secret not in log
    assert all(line.split(":", 1)[1].startswith("$7$101$") for line in passwd.splitlines())


def test_a_port_in_use_stops_the_server_with_the_cause_and_the_fix(tmp_path, server_proc):
    import socket

    config, port = own_broker_hall(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        with pytest.raises(RuntimeError) as e:
            server_proc(config=config, mqtt_url="")
    assert f"127.0.0.1:{port} is already in use" in str(e.value) and "embedded_listen" in str(e.value)


def test_an_id_that_is_not_an_id_gets_no_broker_account_and_writes_no_acl_rule(tmp_path, caplog):
    """The parts' own files (board.toml …) name their ids; a newline in one would add a line to the ACL file, a
    + or # would widen a topic filter. Such an id is left out and said so, the others are kept."""
    import shutil

    for f in ("hall.toml", "services.toml"):
        shutil.copy(CITY.parent / f, tmp_path / f)
    (tmp_path / "board.toml").write_text('[[boards]]\nid = "lobby"\n\n[[boards]]\nid = "x\\ntopic readwrite #"\n\n'
                                         '[[boards]]\nid = "#"\n', encoding="utf-8")
    (tmp_path / "kiosk.toml").write_text('[kiosk]\nid = 7\n', encoding="utf-8")
    names = [i.username for i in hall_identities(load_hall(tmp_path / "hall.toml"))]
    assert "board.lobby" in names and not [n for n in names if n.startswith("board.") and n != "board.lobby"]
    assert not [n for n in names if n.startswith("kiosk.") and n not in ("kiosk.kiosk-1", "kiosk.kiosk-2")]
    text = acl("liupanshui", hall_identities(load_hall(tmp_path / "hall.toml")))
    assert "topic readwrite #" not in text and "devices/#/#" not in text
    assert "board id 'x\\ntopic readwrite #' is not an id" in caplog.text and "kiosk id 7 is not an id" in caplog.text


def test_the_identities_of_the_sample_city_hall_and_their_acl():
    cfg = load_hall(CITY)
    names = [i.username for i in hall_identities(cfg)]
    assert names[0] == "server.queue"
    assert {"board.lobby", "announcer.lobby", "kiosk.kiosk-1", "kiosk.kiosk-2", "gateway.gateway-1"} <= set(names)
    assert not any(n.startswith("tablet.") for n in names)  # a rating tablet speaks HTTP only
    text = acl("liupanshui", hall_identities(cfg))
    block = text.split("user kiosk.kiosk-1\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert "topic write hallq/liupanshui/status/kiosk/kiosk-1" in block
    assert "topic write hallq/liupanshui/devices/kiosk-1/#" in block
    assert not any(line.startswith(("topic readwrite", "topic write hallq/liupanshui/calls")) for line in block)
    assert not any("devices" in line and line.startswith("topic read ") for line in block)
    # the board and the announcer share the id "lobby": each writes only its own device health, the board none
    board = text.split("user board.lobby\n", 1)[1].split("\n\n", 1)[0].splitlines()
    announcer = text.split("user announcer.lobby\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert not [line for line in board if line.startswith("topic write") and "/devices/" in line]
    assert [line for line in announcer if "/devices/" in line] == [
        "topic write hallq/liupanshui/devices/lobby/announcer-lobby/#"]


def test_a_part_without_an_identity_is_told_what_to_add(tmp_path):
    from hallq.mqtt_auth import client_credentials

    with pytest.raises(PermissionError) as e:
        client_credentials("board", "hall-b", tmp_path, managed=True)
    assert 'id = "hall-b" kind = "board"' in str(e.value)
    assert client_credentials("board", "hall-b", tmp_path) == ("", "")  # a test broker that takes anyone
    os.environ["HALLQ_MQTT_USERNAME"], secret = "board.hall-b", tmp_path / "s"
    secret.write_text("pw\n")
    os.environ["HALLQ_MQTT_PASSWORD_FILE"] = str(secret)
    try:
        assert client_credentials("board", "hall-b", tmp_path, managed=True) == ("board.hall-b", "pw")
    finally:
        del os.environ["HALLQ_MQTT_USERNAME"], os.environ["HALLQ_MQTT_PASSWORD_FILE"]


def test_configure_only_writes_what_a_mosquitto_of_ones_own_needs(tmp_path):
    import subprocess
    import sys

    from hallq.testing import ROOT

    out = subprocess.run([sys.executable, "-m", "launcher", "broker", "--config", str(CITY), "--data-dir", str(tmp_path),
                          "--configure-only"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "acl_file" in conf and "password_file" in conf
    names = {p.name for p in credentials_folder(tmp_path).iterdir()}
    assert {"server.queue.secret", "board.lobby.secret", "gateway.gateway-1.secret"} <= names
    for secret in credentials_folder(tmp_path).iterdir():
        assert secret.read_text().strip() not in out.stdout + out.stderr + conf


def test_another_account_cannot_knock_a_process_off_by_taking_its_client_id(hall):
    """Any account may connect with any client id, and the broker then drops whoever held it (publishing its will,
    "offline"): a kiosk's password could keep the server off the broker. The hall's processes' client ids end in a
    tag derived from their own password, so the id a kiosk can work out is not the server's."""
    server, url, store = hall
    watcher = MqttCollector(url, f"hallq/{SITE}/#", *as_(store, "kiosk", "kiosk-1"))
    try:
        watcher.wait_for(lambda t, p: t.endswith("/status/server/queue") and p["state"] == "online")
        host, port = url.removeprefix("mqtt://").split(":")
        for guess in (f"hallq-{SITE}-server-queue", f"hallq-{SITE}-server-queue"[:64]):
            c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=guess)
            c.username_pw_set(*as_(store, "kiosk", "kiosk-1"))
            c.connect(host, int(port))
            c.loop_start()
            c.publish(f"hallq/{SITE}/status/kiosk/kiosk-1", json.dumps({"version": 1, "state": "online",
                                                                         "at": f"sentinel-{guess}"}), qos=1,
                      retain=True).wait_for_publish(5)
            watcher.wait_for(lambda t, p, g=guess: p.get("at") == f"sentinel-{g}")
            c.disconnect()
            c.loop_stop()
        # the server was never dropped: no "offline" of it, and it still publishes a call at once
        assert not [p for p in watcher.of(f"hallq/{SITE}/status/server/queue") if p.get("state") != "online"]
        server.client(KIOSK_KEY).issue_ticket("alpha")
        clerk = server.client()
        clerk.login("101", "hallq-demo")
        clerk.window_action(1, "sign-in")
        clerk.call_next(1)
        watcher.wait_for(lambda t, p: t == f"hallq/{SITE}/calls" and p["ticket"] == "A001")
    finally:
        watcher.close()


def test_a_packet_larger_than_any_message_of_the_contract_is_refused_by_the_broker(hall):
    """A device's password could publish 150 MB, held in memory by every subscriber before it was refused."""
    server, url, store = hall
    watcher = MqttCollector(url, f"hallq/{SITE}/devices/#", SERVER.username, store.password(SERVER, create=False))
    try:
        c, rc = connect(url, *as_(store, "kiosk", "kiosk-1"))
        assert rc == 0
        gone = threading.Event()
        c.on_disconnect = lambda *a: gone.set()
        big = b"x" * (contract.MAX_PAYLOAD + 16384)
        c.publish(f"hallq/{SITE}/devices/kiosk-1/printer/health", big, qos=1, retain=True)
        assert gone.wait(10), "the broker kept a client that sent an oversized packet"
        c.loop_stop()
        c2, rc = connect(url, *as_(store, "kiosk", "kiosk-1"))
        health = contract.encode(contract.DEVICE_HEALTH, {"device": "printer", "kind": "printer", "ok": True,
                                                          "problems": [], "at": "2026-11-23T09:30:00.000+08:00"})
        c2.publish(f"hallq/{SITE}/devices/kiosk-1/printer/health", health, qos=1, retain=True).wait_for_publish(5)
        watcher.wait_for(lambda t, p: t.endswith("/devices/kiosk-1/printer/health"))
        assert all(len(json.dumps(p)) < contract.MAX_PAYLOAD for p in watcher.of(f"hallq/{SITE}/devices/kiosk-1/printer/health"))
        c2.disconnect()
        c2.loop_stop()
    finally:
        watcher.close()
