"""``hallq status`` against a real hall: a real server running its own Mosquitto.

All well: server and broker up, exit 0. A kiosk's printer reporting paper out (published as the
kiosk publishes it, with the kiosk's own identity): exit 1 naming the device and what to do. The
server stopped: exit 1 saying so. Backups: none, or too old, is a problem.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import paho.mqtt.client as paho
import pytest

from hallq import contract
from hallq.mqtt_auth import STATUS_READER, CredentialStore, Identity, acl, credentials_folder
from hallq.testing import MqttCollector, mosquitto_binary
from launcher.cli import main
from tests.conftest import own_broker_hall

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="needs mosquitto (./run.sh installs it)")
SITE = "tiny"


@pytest.fixture
def hall(tmp_path, server_proc):
    config, port = own_broker_hall(tmp_path)
    server = server_proc(config=config, mqtt_url="")
    return server, config, f"mqtt://127.0.0.1:{port}"


def status(server, config, capsys, *extra: str) -> tuple[int, str]:
    code = main(["status", "--config", str(config), "--data-dir", str(server.data_dir), "--url", server.url,
                 "--timeout", "5", *extra])
    return code, capsys.readouterr().out


def test_all_well_server_and_broker_up(hall, capsys):
    server, config, _ = hall
    code, out = status(server, config, capsys)
    assert code == 0, out
    assert "ok       server" in out and "database ok" in out
    assert "ok       broker" in out and "all is well" in out
    assert "kiosk.kiosk-1" in out  # configured, listed though not started
    code, out = status(server, config, capsys, "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] is True
    assert {c["part"] for c in data["checks"]} >= {"server", "broker", "disk"}


def test_a_printer_out_of_paper_needs_an_operator(hall, capsys):
    server, config, url = hall
    store = CredentialStore(credentials_folder(server.data_dir))
    kiosk = Identity("kiosk", "kiosk-1")
    watcher = MqttCollector(url, f"hallq/{SITE}/devices/#", STATUS_READER.username,
                            store.password(STATUS_READER, create=False))
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="kiosk-1-test")
    c.username_pw_set(kiosk.username, store.password(kiosk, create=False))
    c.connect("127.0.0.1", int(url.rsplit(":", 1)[1]))
    c.loop_start()
    try:
        c.publish(contract.DEVICE_HEALTH.topic(SITE, owner="kiosk-1", device="kiosk-1-printer"),
                  contract.encode(contract.DEVICE_HEALTH, {"device": "kiosk-1-printer", "kind": "printer", "ok": False,
                                                           "problems": ["paper_out"], "at": "2026-11-23T09:31:00+08:00"}),
                  qos=1, retain=True).wait_for_publish(5)
        watcher.wait_for(lambda t, p: t.endswith("/kiosk-1-printer/health"))  # the broker has it, retained
    finally:
        c.disconnect()
        c.loop_stop()
        watcher.close()
    code, out = status(server, config, capsys)
    assert code == 1, out
    problems = out.split("need an operator:", 1)[1]
    assert "device kiosk-1-printer" in problems and "paper_out" in problems and "load a new roll" in problems
    data = json.loads(status(server, config, capsys, "--json")[1])
    bad = [c for c in data["checks"] if not c["ok"]]
    assert [c["part"] for c in bad] == ["device kiosk-1-printer"]


def test_the_server_stopped(hall, capsys):
    server, config, _ = hall
    server.stop()
    code, out = status(server, config, capsys)
    assert code == 1
    problems = out.split("need an operator:", 1)[1]
    assert "- server:" in problems and "does not answer" in problems and "start it" in problems
    assert "- broker:" in problems  # the hall's own broker went with it


def test_backups_none_or_too_old(hall, capsys, tmp_path):
    server, config, _ = hall
    backups = tmp_path / "backups"
    backups.mkdir()
    code, out = status(server, config, capsys, "--backups", str(backups))
    assert code == 1 and "no backup in" in out
    old = backups / "tiny-2026-11-20.sqlite3"
    old.write_bytes(b"x")
    (backups / ".tiny-2026-11-23.sqlite3.1.partial").write_bytes(b"x")  # one being written is not a backup
    two_days_ago = time.time() - 48 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    code, out = status(server, config, capsys, "--backups", str(backups))
    assert code == 1 and "tiny-2026-11-20.sqlite3, 48.0 h old" in out
    os.utime(old)
    assert status(server, config, capsys, "--backups", str(backups))[0] == 0


def test_the_status_identity_only_reads():
    text = acl(SITE, [STATUS_READER])
    block = text.split(f"user {STATUS_READER.username}\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block == [f"topic read hallq/{SITE}/status/#", f"topic read hallq/{SITE}/devices/+/+/health"]


def test_hallq_status_is_a_subcommand():
    out = subprocess.run([sys.executable, "-m", "launcher", "status", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "--backups" in out and "--json" in out
