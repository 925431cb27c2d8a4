"""No secret in any HTTP answer, log line or MQTT message: a day's worth of traffic, scanned.

A real server with the hall's own broker; a subscriber (as the server's
identity, which reads everything) records every message. Staff sign in,
change a password, a manager resets one and reads what managers read, a
kiosk and the gateway work with their keys, windows call. Then every answer
body (but a sign-in's own token, given to the one who signed in), the
server's log and every MQTT payload are searched for every secret the hall
has: passwords (old and new), device keys, session tokens, the broker's
secrets, the installation's secret key.
"""

from __future__ import annotations

import base64
import json

import pytest

from hallq.client import ApiError
from hallq.mqtt_auth import SERVER, CredentialStore, credentials_folder
from hallq.testing import MqttCollector, mosquitto_binary
from tests.conftest import GATEWAY_KEY, KIOSK_KEY, make_id, own_broker_hall

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="needs mosquitto")


def test_no_secret_in_any_answer_log_or_topic(tmp_path, server_proc):
    config, port = own_broker_hall(tmp_path)
    server = server_proc(config=config, mqtt_url="")
    store = CredentialStore(credentials_folder(server.data_dir))
    mqtt = MqttCollector(f"mqtt://127.0.0.1:{port}", "hallq/#", SERVER.username, store.password(SERVER, create=False))
    answers: list[str] = []
    tokens: list[str] = []

    def keep(value) -> None:
        answers.append(json.dumps(value, ensure_ascii=False))

    def staff(job_no: str, password: str = "hallq-demo"):
        c = server.client()
        c.login(job_no, password)
        tokens.append(c.token)
        return c

    try:
        mqtt.wait_for(lambda t, p: t.endswith("/status/server/queue") and p["state"] == "online")
        kiosk, gateway = server.client(KIOSK_KEY), server.client(GATEWAY_KEY)
        for business, extra in (("alpha", {}), ("beta", {"id_number": make_id()})):
            keep(kiosk.request("POST", "/tickets", {"business": business, **extra}, idempotency_key=f"k-{business}"))
        clerk = staff("101")
        keep(clerk.window_action(1, "sign-in"))
        keep(clerk.call_next(1))
        keep(gateway.request("POST", "/windows/1/recall", {}))
        keep(clerk.request("POST", "/auth/password", {"current": "hallq-demo", "new": "Queue-Hall-2026!"}))
        manager = staff("900")
        for path in ("/hall", "/accounts", "/journal", "/attention", "/settings", "/windows", "/board", "/auth/me",
                     "/openapi.json", "/devices/health", "/stats"):
            try:
                keep(manager.request("GET", path))
            except ApiError as e:  # a refusal's body is an answer too
                keep({"status": e.status, "code": e.code, "messages": e.messages})
        keep(manager.request("POST", "/accounts/102/password", {"password": "Reset-Pass-2026!"}))
        keep(staff("102", "Reset-Pass-2026!").request("GET", "/auth/me"))
        keep(kiosk.request("GET", "/hall"))
        mqtt.wait_for(lambda t, p: t.endswith("/calls"))
    finally:
        mqtt.close()
    secrets = ["hallq-demo", "Queue-Hall-2026!", "Reset-Pass-2026!", KIOSK_KEY, GATEWAY_KEY, "demo-tablet-1",
               *tokens, *(p.read_text().strip() for p in credentials_folder(server.data_dir).iterdir())]
    raw = (server.data_dir / "secret.key").read_bytes()  # the installation's key for hashing ID numbers
    secrets += [raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    topics = [json.dumps(p, ensure_ascii=False) for _, p, _, _ in mqtt.messages]
    log = server.log.read_text(errors="replace")
    assert len(answers) > 15 and len(topics) > 10 and "hallq.publisher" in log  # the scan saw real traffic
    for secret in secrets:
        assert len(secret) >= 8
        where = [name for name, texts in (("an HTTP answer", answers), ("an MQTT message", topics), ("the log", [log]))
                 if any(secret in text for text in texts)]
        assert not where, f"a secret ({secret[:3]}…) appears in {where}"
