"""The sample Mosquitto configuration, for real: passwords required, only the server publishes hall state."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from hallq.client import free_port
from hallq.testing import ROOT, mosquitto_binary, wait_port
from tests.conftest import KIOSK_KEY, MqttCollector

USERS = {"hallq-server": "s3rver", "hallq-board": "b0ard", "hallq-kiosk": "k1osk"}


@pytest.fixture
def secured_broker():
    # started as root, Mosquitto drops to the "mosquitto" user, which must reach these files:
    # pytest's own temporary directories are private, so this one is made readable
    tmp_path = Path(tempfile.mkdtemp(prefix="hallq-mosquitto-"))
    tmp_path.chmod(0o755)
    passwd = tmp_path / "hallq.passwd"
    passwd.write_text("")
    for user, pw in USERS.items():
        subprocess.run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-b", str(passwd), user, pw],
                       check=True, capture_output=True)
    acl = tmp_path / "hallq.acl"
    acl.write_text((ROOT / "config" / "mosquitto" / "hallq.acl").read_text().replace("liupanshui", "tiny"))
    port = free_port()
    conf = (ROOT / "config" / "mosquitto" / "mosquitto.conf").read_text()
    conf = conf.replace("listener 1883 0.0.0.0", f"listener {port} 127.0.0.1")
    conf = conf.replace("/etc/mosquitto/hallq.passwd", str(passwd)).replace("/etc/mosquitto/hallq.acl", str(acl))
    conf = re.sub(r"^log_(dest|type).*$", "", conf, flags=re.M) + "\nlog_dest none\n"
    (tmp_path / "m.conf").write_text(conf)
    for path in (passwd, acl, tmp_path / "m.conf"):
        path.chmod(0o644)
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(tmp_path / "m.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, 10)
    yield port
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(tmp_path, ignore_errors=True)


def client(port: int, user: str | None) -> tuple[paho.Client, threading.Event, list]:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"t-{user}")
    refused: list = []
    connected = threading.Event()

    def on_connect(cl, u, f, rc, p):
        if rc.is_failure:
            refused.append(str(rc))
        connected.set()

    c.on_connect = on_connect
    if user:
        c.username_pw_set(user, USERS[user])
    c.connect("127.0.0.1", port)
    c.loop_start()
    connected.wait(5)
    return c, connected, refused


def test_anonymous_clients_are_refused(secured_broker):
    c, _, refused = client(secured_broker, None)
    assert refused, "an anonymous client was accepted"
    c.loop_stop()


def test_only_the_server_publishes_hall_state(secured_broker, server_proc):
    server = server_proc(mqtt_url=f"mqtt://hallq-server:{USERS['hallq-server']}@127.0.0.1:{secured_broker}")
    watcher = MqttCollector(f"mqtt://127.0.0.1:{secured_broker}", "hallq/tiny/#")  # anonymous: sees nothing
    board, _, refused = client(secured_broker, "hallq-board")
    assert not refused
    seen: list[tuple[str, bytes]] = []
    got = threading.Condition()

    def on_message(cl, u, msg):
        with got:
            seen.append((msg.topic, msg.payload))
            got.notify_all()

    board.on_message = on_message
    board.subscribe("hallq/tiny/#", 1)
    with got:
        assert got.wait_for(lambda: any(t == "hallq/tiny/board" for t, _ in seen), 10), "the server's board arrived"
    # a board tries to fake a call and a board snapshot: the broker drops both
    board.publish("hallq/tiny/calls", b'{"version":1,"seq":999}', qos=1).wait_for_publish(5)
    board.publish("hallq/tiny/board", b'{"version":1}', qos=1, retain=True).wait_for_publish(5)
    board.publish("hallq/tiny/status/board/hall-tv", b'{"version":1,"state":"online"}', qos=1,
                  retain=True).wait_for_publish(5)
    server.client(KIOSK_KEY).issue_ticket("alpha")  # a real change, after the fakes
    with got:
        assert got.wait_for(lambda: any(t == "hallq/tiny/status/board/hall-tv" for t, _ in seen), 10)
        assert got.wait_for(lambda: any(t == "hallq/tiny/queues/alpha" and b'"waiting":1' in p for t, p in seen), 10)
    assert not any(t == "hallq/tiny/calls" for t, _ in seen)
    assert not any(p == b'{"version":1}' for _, p in seen)
    assert watcher.messages == []
    board.loop_stop()
    watcher.close()


