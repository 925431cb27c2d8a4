"""``hallq status`` given retained payloads that are JSON but not an object (``[]``, ``1``, ``"x"``): reported
like an unreadable payload, never a traceback. The broker is a stand-in paho client feeding retained messages."""

from __future__ import annotations

from types import SimpleNamespace

import paho.mqtt.client as paho
import pytest

from launcher import status

SITE = "tiny"
NOT_OBJECTS = [b"[]", b"1", b'"x"', b"null", b"true"]


def fake_client(retained: dict[str, bytes]):
    class FakeClient:
        def __init__(self, *args, **kwargs) -> None:
            self.mid = 0

        def username_pw_set(self, *args) -> None:
            pass

        def tls_set(self, **kwargs) -> None:
            pass

        def connect(self, host, port, keepalive=60) -> None:
            pass

        def subscribe(self, topic, qos=0):
            self.mid += 1
            return 0, self.mid

        def loop_start(self) -> None:
            self.on_connect(self, None, {}, SimpleNamespace(is_failure=False), None)
            for topic, payload in retained.items():
                self.on_message(self, None, SimpleNamespace(topic=topic, payload=payload, retain=True))
            self.on_subscribe(self, None, self.mid, [], None)

        def disconnect(self) -> None:
            pass

        def loop_stop(self) -> None:
            pass

    return FakeClient


def hall_status(monkeypatch, tmp_path, payload: bytes) -> list[status.Check]:
    monkeypatch.delenv("HALLQ_MQTT_USERNAME", raising=False)
    monkeypatch.delenv("HALLQ_MQTT_PASSWORD_FILE", raising=False)
    monkeypatch.setattr(paho, "Client", fake_client({
        f"hallq/{SITE}/status/kiosk/kiosk-1": payload,
        f"hallq/{SITE}/devices/kiosk-1/printer-1/health": payload,
    }))
    cfg = SimpleNamespace(site=SITE, devices=[], path=str(tmp_path / "hall.toml"), mqtt=SimpleNamespace(
        username="status.operator", password="pw", embedded=False, effective_url="mqtt://127.0.0.1:1883", tls_ca=""))
    report = status.Report()
    status.check_hall_parts(report, cfg, tmp_path, timeout=1)
    return report.checks


@pytest.mark.parametrize("payload", NOT_OBJECTS)
def test_a_payload_that_is_not_an_object_is_unreadable(payload):
    assert status.parse_payload(payload) == status.parse_payload(b"not json") == {"_unreadable": True}


def test_an_object_payload_is_read():
    assert status.parse_payload(b'{"state": "online"}') == {"state": "online"}


@pytest.mark.parametrize("payload", NOT_OBJECTS)
def test_status_reports_a_non_object_payload_like_an_unreadable_one(monkeypatch, tmp_path, payload):
    checks = hall_status(monkeypatch, tmp_path, payload)
    assert checks == hall_status(monkeypatch, tmp_path, b"not json")
    by_part = {c.part: c for c in checks}
    assert not by_part["kiosk.kiosk-1"].ok and "unreadable" in by_part["kiosk.kiosk-1"].detail
    assert not by_part["device printer-1"].ok


def test_a_health_payload_with_problems_not_a_list(monkeypatch, tmp_path):
    checks = hall_status(monkeypatch, tmp_path, b'{"ok": false, "problems": 5, "kind": "printer"}')
    assert [c.detail for c in checks if c.part == "device printer-1"] == ["(printer of kiosk-1) 5 since ?"]
