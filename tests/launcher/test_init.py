"""A hall from nothing: ``hallq init`` writes a new hall's own config; ``hallq serve`` with none refuses."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys

import pytest
from argon2 import PasswordHasher

from hallq.client import free_port
from hallq.demo import DEMO_ENV, demo_credentials
from hallq.hallconfig import load_hall
from hallq.testing import ROOT
from launcher.init import InitError, init_hall, new_password
from launcher.processes import ServerProcess
from hallq.passwords import password_problem


def hallq(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in (DEMO_ENV, "HALLQ_CONFIG")}
    return subprocess.run([sys.executable, "-m", "launcher", *argv], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={**clean, **(env or {})})


@pytest.mark.parametrize("command", ["serve", "start"])
def test_without_a_config_the_server_refuses_and_shows_the_way_forward(command, tmp_path):
    r = hallq(command, "--port", str(free_port()), "--data-dir", str(tmp_path))
    assert r.returncode == 2
    assert "No config was named" in r.stderr
    assert "hallq init --site" in r.stderr and f"hallq {command} --config" in r.stderr  # a hall of one's own
    assert f"hallq {command} --demo" in r.stderr                                         # or the sample hall
    assert not (tmp_path / "hallq.sqlite3").exists()


def test_a_new_town_hall_from_the_city_sample_has_its_own_identity_passwords_and_keys(tmp_path):
    hall = init_hall(tmp_path / "zhongshan", site="zhongshan-town", name="钟山镇便民服务中心", name_en="Zhongshan Town",
                     level="town", address="钟山镇人民路1号", public_url="http://192.168.10.2:8080")
    cfg = load_hall(hall.folder / "hall.toml")
    assert (cfg.site, cfg.level, cfg.name["zh-Hans"], cfg.name["en"]) == \
        ("zhongshan-town", "town", "钟山镇便民服务中心", "Zhongshan Town")
    assert cfg.public_url == "http://192.168.10.2:8080"
    assert demo_credentials(cfg) == []
    names = {p.name for p in hall.files}
    assert {"hall.toml", "services.toml", "kiosk.toml", "board.toml", "announcer.toml", "devices.toml"} <= names
    assert "simulation.toml" not in names  # no simulated residents in a real hall

    # every account: a password shown once that the rules accept, and only its argon2 hash in the config
    assert len(hall.accounts) == len(cfg.staff) and {a.job_no for a in hall.accounts} == {s.job_no for s in cfg.staff}
    hashes = {s.job_no: s.password_hash for s in cfg.staff}
    ph = PasswordHasher()
    for a in hall.accounts[:3] + hall.accounts[-2:]:  # argon2 is slow on purpose: a sample of them
        assert ph.verify(hashes[a.job_no], a.password)
        assert password_problem(a.password, a.job_no) is None
    text = (hall.folder / "hall.toml").read_text(encoding="utf-8")
    assert not any(a.password in text for a in hall.accounts)
    assert len({a.password for a in hall.accounts}) == len(hall.accounts)

    # every device: a key file of its own, 0600, whose SHA-256 is in the config
    assert set(hall.keys) == {d.id for d in cfg.devices}
    for d in cfg.devices:
        path = hall.keys[d.id]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert hashlib.sha256(path.read_text().strip().encode()).hexdigest() == d.key_sha256
    assert stat.S_IMODE((hall.folder / "secrets").stat().st_mode) == 0o700
    from kiosk.config import load_kiosk

    kiosk = load_kiosk(hall.folder / "kiosk.toml")
    assert kiosk.device_key == hall.keys[kiosk.id].read_text().strip()
    assert "demo-gateway-1" not in (hall.folder / "devices.toml").read_text(encoding="utf-8")


def test_the_village_sample_makes_a_village_station(tmp_path):
    hall = init_hall(tmp_path / "v", site="shuicheng-v3", name="三岔村便民服务站", sample="village-station")
    cfg = load_hall(hall.folder / "hall.toml")
    assert cfg.level == "village" and cfg.site == "shuicheng-v3" and demo_credentials(cfg) == []
    assert len(cfg.windows) == 2  # the clerk's and the proxy agent's (代办员)


def test_init_refuses_what_would_lose_or_misplace_a_hall(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "hall.toml").write_text("# a hall already here\n")
    with pytest.raises(InitError, match="never overwrites"):
        init_hall(tmp_path / "old", site="x-town", name="某镇")
    assert (tmp_path / "old" / "hall.toml").read_text() == "# a hall already here\n"
    with pytest.raises(InitError, match="source tree"):
        init_hall(ROOT / "config" / "mine", site="x-town", name="某镇")
    assert not (ROOT / "config" / "mine").exists()
    for bad in ("X", "1town", "town_1", "a" * 41, "镇"):
        with pytest.raises(InitError, match="site id"):
            init_hall(tmp_path / "new", site=bad, name="某镇")
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["old"]  # no staging folder left behind


def test_generated_passwords_pass_the_rules_for_any_job_number():
    for job_no in ("1001", "2001", "9001", "abcd"):
        p = new_password(job_no)
        assert password_problem(p, job_no) is None and len(p) == 19


def test_the_command_prints_each_password_once_and_the_new_hall_serves_outside_demo_mode(tmp_path, monkeypatch):
    r = hallq("init", "--site", "test-town", "--name", "测试镇便民服务中心", "--level", "town",
              "--sample", "village-station", "--to", str(tmp_path / "hall"))
    assert r.returncode == 0, r.stderr
    assert "shown ONCE" in r.stdout and "hallq serve --config" in r.stdout
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith("  3001 ") or line.startswith("  3002 ")]
    passwords = {row[0]: row[-1] for row in rows}
    assert set(passwords) == {"3001", "3002"}

    monkeypatch.delenv(DEMO_ENV, raising=False)
    server = ServerProcess(tmp_path / "data", config=tmp_path / "hall" / "hall.toml", demo=False)
    server.start()
    try:
        me = server.client().login("3001", passwords["3001"])
        assert me["staff"]["job_no"] == "3001"
        kiosk_key = (tmp_path / "hall" / "secrets" / "kiosk-station.key").read_text().strip()
        business = next(iter(load_hall(tmp_path / "hall" / "hall.toml").businesses))
        ticket = server.client(token=kiosk_key).issue_ticket(business)
        assert ticket["ticket"].startswith(load_hall(tmp_path / "hall" / "hall.toml").businesses[business].prefix)
    finally:
        server.stop()
    again = hallq("init", "--site", "test-town", "--name", "测试镇", "--to", str(tmp_path / "hall"))
    assert again.returncode == 2 and "never overwrites" in again.stderr
