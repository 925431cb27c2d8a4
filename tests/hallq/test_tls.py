"""TLS on the hall LAN (hallq/tls.py): the hall's own CA, HTTPS for the server, MQTT over TLS for its broker.

Real servers and a real Mosquitto: a client that trusts the hall's CA gets
through; one that trusts only the system's CAs, or speaks plain HTTP or plain
MQTT to the TLS port, does not.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import time

import paho.mqtt.client as paho
import pytest

from hallq import tls
from hallq.client import HallClient, Unreachable
from hallq.mqtt_auth import Identity, CredentialStore, credentials_folder
from hallq.testing import ROOT, mosquitto_binary, wait_until
from tests.conftest import TINY, own_broker_hall


def test_the_hall_ca_and_the_server_certificate(tmp_path):
    from cryptography import x509

    files, made = tls.init(tmp_path, "测试大厅", ["hall-server.local", "192.168.10.2"])
    assert made and files.ready()
    for key in (files.ca_key, files.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.folder.stat().st_mode) == 0o700
    assert tls.names_in(files.cert) == ["hall-server.local", "192.168.10.2"]
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    assert cert.issuer == ca.subject and ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ca_before, cert_before = files.ca.read_bytes(), files.cert.read_bytes()
    assert tls.init(tmp_path, "测试大厅")[1] is False  # kept
    assert files.cert.read_bytes() == cert_before
    tls.init(tmp_path, "测试大厅", renew=True)  # a new server certificate, the same CA: devices need nothing new
    assert files.ca.read_bytes() == ca_before and files.cert.read_bytes() != cert_before


def test_hallq_tls_prints_where_and_never_a_key(tmp_path):
    out = subprocess.run([sys.executable, "-m", "launcher", "tls", "--config", str(TINY), "--data-dir", str(tmp_path),
                          "--hosts", "127.0.0.1,hall.local"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "ca.crt" in out.stdout and "127.0.0.1, hall.local" in out.stdout.replace("hall.local, 127.0.0.1",
                                                                                   "127.0.0.1, hall.local")
    assert "PRIVATE KEY" not in out.stdout + out.stderr


def test_https_with_the_hall_ca_and_refused_without(tmp_path, server_proc):
    data = tmp_path / "server0"
    tls.init(data, "测试大厅", ["127.0.0.1", "localhost"])
    server = server_proc(tls=True)
    assert server.url.startswith("https://")
    assert server.client().hall()["site"] == "tiny"  # trusts the hall's CA
    with pytest.raises(Unreachable) as e:
        HallClient(server.url, retries=0, ca_file=None).hall()  # the system's CAs do not know the hall
    assert "CERTIFICATE_VERIFY_FAILED" in e.value.detail["cause"]
    with pytest.raises(Unreachable):
        HallClient(server.url.replace("https://", "http://"), retries=0, timeout=2).hall()


@pytest.mark.skipif(mosquitto_binary() is None, reason="needs mosquitto")
def test_the_hall_broker_speaks_tls_only(tmp_path, server_proc):
    config, port = own_broker_hall(tmp_path, "tls = true\n")
    files, _ = tls.init(tmp_path / "server0", "测试大厅", ["127.0.0.1"])
    server = server_proc(config=config, mqtt_url="")
    assert server.client().hall()["mqtt_url"] == f"mqtts://127.0.0.1:{port}"
    store = CredentialStore(credentials_folder(server.data_dir))
    user = Identity("kiosk", "kiosk-1")

    def attempt(ca: str | None, use_tls: bool = True) -> str:
        got: list[str] = []
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"tls-{time.monotonic_ns()}")
        c.username_pw_set(user.username, store.password(user, create=False))
        if use_tls:
            import ssl
            c.tls_set_context(ssl.create_default_context(cafile=ca))
        c.on_connect = lambda cl, u, f, rc, p: got.append("ok" if rc.value == 0 else f"refused {rc}")
        try:
            c.connect("127.0.0.1", port)
        except Exception as e:  # a TLS handshake that fails, a socket closed on a plain client
            return f"failed: {e.__class__.__name__}"
        c.loop_start()
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        c.loop_stop()
        c.disconnect()
        return got[0] if got else "no answer"

    assert wait_until(lambda: server.client().health().get("mqtt") == "connected", what="the server over TLS")
    assert attempt(str(files.ca)) == "ok"
    assert attempt(None).startswith("failed")  # the system's CAs do not vouch for the hall's broker
    assert attempt(None, use_tls=False) != "ok"  # plain MQTT on the TLS port
