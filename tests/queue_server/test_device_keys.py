"""Device keys are cached in memory (a kiosk sends its key with every press), and a revoked key is
refused at once: in the process that applied the config, and in every other process on the same
database (queue_server/auth.py, issue 16 item 2)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hallq.testing import ROOT, TINY
from queue_server.app import create_app

KIOSK_KEY = "demo-kiosk-1"
HEADERS = {"Authorization": f"Bearer {KIOSK_KEY}"}


def _without_kiosk(tmp_path: Path) -> Path:
    """The tiny hall with its kiosk's [[devices]] entry taken out: the key revoked."""
    folder = tmp_path / "revoked"
    shutil.copytree(TINY.parent, folder)
    text = (folder / "hall.toml").read_text(encoding="utf-8")
    entry = '[[devices]]\nid = "kiosk-1"\nkind = "kiosk"\nplace = "大厅入口"\n' \
            'key_sha256 = "cc7770e6bd5cd19a6f337365dd9cf71ff0dc2c13427a89e823328b44f1d77bcf"\n'
    assert entry in text
    (folder / "hall.toml").write_text(text.replace(entry, ""), encoding="utf-8")
    return folder / "hall.toml"


def _statements(state) -> list[str]:
    seen: list[str] = []
    state.db.connection().set_trace_callback(seen.append)
    return seen


def _issue(client, key: str) -> int:
    return client.post("/api/v1/tickets", json={"business": "alpha"},
                       headers={**HEADERS, "Idempotency-Key": key}).status_code


@pytest.fixture
def business(state) -> str:
    return next(iter(state.service.businesses()))


def test_a_known_device_key_is_not_looked_up_again(app, state, business):
    client = app.test_client()
    assert client.post("/api/v1/tickets", json={"business": business}, headers=HEADERS).status_code == 201
    seen = _statements(state)
    assert client.post("/api/v1/tickets", json={"business": business}, headers=HEADERS).status_code == 201
    assert not [s for s in seen if "FROM devices" in s or "FROM sessions" in s], seen


def test_a_key_revoked_here_is_refused_at_once(app, state, business, tmp_path, clock):
    client = app.test_client()
    assert client.post("/api/v1/tickets", json={"business": business}, headers=HEADERS).status_code == 201
    # the same database opened with a config that no longer has the kiosk (a restart with an edited hall.toml)
    other = create_app(_without_kiosk(tmp_path), data_dir=state.data_dir, clock=clock, mqtt=False,
                       housekeeping=False)
    try:
        r = client.post("/api/v1/tickets", json={"business": business}, headers=HEADERS)
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"
    finally:
        other.extensions["hallq"].close()


def test_a_key_revoked_by_another_process_is_refused_at_once(app, state, business, tmp_path):
    client = app.test_client()
    for _ in range(2):  # cached by the first, served from the cache by the second
        assert client.post("/api/v1/tickets", json={"business": business}, headers=HEADERS).status_code == 201
    # another process (a worker respawned with an edited hall.toml) applies the config: this process's
    # cache is not touched by it, and must not be trusted after it
    code = ("import sys; from queue_server.app import create_app; "
            "a = create_app(sys.argv[1], data_dir=sys.argv[2], mqtt=False, housekeeping=False); "
            "a.extensions['hallq'].close()")
    subprocess.run([sys.executable, "-c", code, str(_without_kiosk(tmp_path)), str(state.data_dir)], cwd=ROOT,
                   check=True, capture_output=True, timeout=60)
    r = client.post("/api/v1/tickets", json={"business": business}, headers=HEADERS)
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"
    # and a key that stays is still good: the cache was emptied, not poisoned
    gateway = client.get("/api/v1/windows/1", headers={"Authorization": "Bearer demo-gateway-1"})
    assert gateway.status_code != 401
