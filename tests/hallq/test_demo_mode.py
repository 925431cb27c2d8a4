"""No default accounts in production: the demo credentials are served only in demo mode."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from hallq.client import free_port
from hallq.demo import DEMO_ENV, demo_credentials, demo_mode, refusal
from hallq.hallconfig import load_hall
from hallq.testing import ROOT, TINY


def hallq(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != DEMO_ENV}
    return subprocess.run([sys.executable, "-m", "launcher", *argv], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={**clean, **(env or {})})


@pytest.mark.parametrize("command", ["serve", "start"])
def test_a_config_with_the_demo_credentials_is_refused_with_the_cause_and_the_fix(command, tmp_path):
    r = hallq(command, "--config", str(TINY), "--port", str(free_port()), "--data-dir", str(tmp_path))
    assert r.returncode == 2
    assert "demo credentials" in r.stderr and "staff 101" in r.stderr and "device kiosk-1" in r.stderr
    assert "hallq hash-password" in r.stderr and "hallq device-key" in r.stderr  # the fix
    assert f"hallq {command} --demo" in r.stderr and "HALLQ_DEMO=1" in r.stderr  # or demo mode
    assert not (tmp_path / "hallq.sqlite3").exists()  # refused before anything was opened


def test_demo_mode_is_the_flag_or_the_environment(monkeypatch):
    monkeypatch.delenv(DEMO_ENV, raising=False)
    assert not demo_mode() and demo_mode(True)
    monkeypatch.setenv(DEMO_ENV, "1")
    assert demo_mode()
    monkeypatch.setenv(DEMO_ENV, "0")
    assert not demo_mode()


def test_a_hall_with_its_own_credentials_may_start():
    cfg = load_hall(TINY)
    assert demo_credentials(cfg)[:2] == ["staff 101", "staff 102"]
    own = dataclasses.replace(
        cfg, staff=[dataclasses.replace(s, password_hash="$argon2id$v=19$m=65536,t=3,p=4$b3du$aGFzaA") for s in cfg.staff],
        devices=[dataclasses.replace(d, key_sha256="0" * 64) for d in cfg.devices])
    assert demo_credentials(own) == [] and refusal(own) is None


def test_every_sample_hall_is_a_demo():
    for hall in ("city-hall", "village-station"):
        assert refusal(load_hall(ROOT / "config" / hall / "hall.toml"), "start"), hall


def test_hash_password_applies_the_password_rules():
    r = hallq("hash-password", "--job-no", "1001", env={"HALLQ_PASSWORD": "Hallq-1001x"})
    assert r.returncode == 2 and "job number" in r.stderr
    r = hallq("hash-password", env={"HALLQ_PASSWORD": "Window-2026"})
    assert r.returncode == 0 and r.stdout.startswith("$argon2id$")
