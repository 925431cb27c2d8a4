"""``hallq county start``: a small county (the platform and two halls) started by one command on this machine;
both halls' events reach the platform, and Ctrl-C (SIGTERM) stops every part."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest

from county.pgcluster import pg_bin
from hallq.client import HallClient, free_ports
from hallq.demo import DEMO_PASSWORD
from hallq.testing import wait_until
from launcher.county import DEFAULT_DEMO, load_demo, write_county

ROOT = Path(__file__).resolve().parents[2]


def _small_demo(tmp_path: Path) -> Path:
    """The sample county's centre and one village station, on free ports."""
    raw = tomllib.loads(DEFAULT_DEMO.read_text(encoding="utf-8"))
    text = DEFAULT_DEMO.read_text(encoding="utf-8")
    ports = iter(free_ports(3 + 2 * len(raw["halls"])))  # all different: a hall on the platform's port answered
    for key in ("platform", "broker", "postgres"):  # its sign-in with 400 once
        text = text.replace(f"{key} = {raw['ports'][key]} ", f"{key} = {next(ports)} ", 1)
    for h in raw["halls"]:
        text = text.replace(f"port = {h['port']}\n", f"port = {next(ports)}\n", 1)
        text = text.replace(f"mqtt_port = {h['mqtt_port']}\n", f"mqtt_port = {next(ports)}\n", 1)
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sample_county_is_valid_and_writes_valid_hall_configs(tmp_path):
    from county.config import load_county
    from hallq.hallconfig import load_hall

    demo = load_demo(DEFAULT_DEMO)
    assert [h["level"] for h in demo["halls"]].count("village") >= 2 and demo["halls"][0]["level"] == "district"
    county_toml, halls = write_county(demo, tmp_path / "data")
    cfg = load_county(county_toml, need_database=False)
    assert set(cfg.halls) == {h.site for h in halls} and cfg.provincial is not None
    ports = set()
    for h in halls:
        hall = load_hall(h.conf)
        assert hall.site == h.site and hall.public_url.endswith(f":{h.port}")
        ports |= {h.port, int(hall.mqtt.embedded_listen.rpartition(":")[2])}
        assert any(d.kind == "county" for d in hall.devices)
    assert len(ports) == 2 * len(halls), "each hall has its own server and broker port"


def test_a_small_county_runs_and_both_halls_events_reach_the_platform(tmp_path):
    try:
        pg_bin("initdb")
    except Exception as e:
        pytest.fail(f"{e}")
    demo_path = _small_demo(tmp_path)
    demo = load_demo(demo_path, ["zhongshan-centre", "zhoujia-village"])
    data = tmp_path / "county"
    log = tmp_path / "county.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen([sys.executable, "-m", "launcher", "county", "start", "--demo-config", str(demo_path),
                                 "--data-dir", str(data), "--halls", "zhongshan-centre,zhoujia-village"],
                                cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
                                env={k: v for k, v in os.environ.items() if k != "HALLQ_MQTT_URL"})
    platform = f"http://127.0.0.1:{demo['ports']['platform']}"
    try:
        def banner():
            if proc.poll() is not None:
                raise AssertionError(f"hallq county start exited with {proc.returncode}:\n"
                                     f"{log.read_text(errors='replace')[-4000:]}")
            return "hallq county is running" in log.read_text(errors="replace")

        wait_until(banner, 240, "the county is up (its banner)")
        text = log.read_text(errors="replace")
        for h in demo["halls"]:
            assert f"http://127.0.0.1:{h['port']}" in text
        assert f"{platform}/console/login" in text and DEMO_PASSWORD in text

        # a clerk signs in at each hall (journaled whatever the day and hour: the halls run on the real clock)
        clerks = {"zhongshan-centre": "1001", "zhoujia-village": "3001"}
        for h in demo["halls"]:
            c = HallClient(f"http://127.0.0.1:{h['port']}", retries=2)
            c.login(clerks[h["site"]], DEMO_PASSWORD)
            c.close()

        req = urllib.request.Request(f"{platform}/api/v1/auth/login", method="POST",
                                     data=json.dumps({"username": "supervisor", "password": DEMO_PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            token = json.loads(r.read())["token"]

        def logins(site: str) -> int:
            req = urllib.request.Request(f"{platform}/api/v1/halls/{site}/events?after=0&limit=1000",
                                         headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=10) as r:
                return sum(1 for e in json.loads(r.read())["events"] if e["action"] == "login")

        for h in demo["halls"]:
            wait_until(lambda site=h["site"]: logins(site) >= 1, 60, f"hall {h['site']}'s sign-in at the platform")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
    for h in demo["halls"]:  # everything it started has stopped: the ports are free again
        for port in (h["port"], h["mqtt_port"]):
            with __import__("socket").socket() as s:
                assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open after the stop"


def test_a_description_giving_two_parts_one_port_is_refused_naming_both(tmp_path):
    from launcher.county import DemoError

    raw = tomllib.loads(DEFAULT_DEMO.read_text(encoding="utf-8"))
    text = DEFAULT_DEMO.read_text(encoding="utf-8")
    first, second = raw["halls"][0], raw["halls"][1]
    text = text.replace(f"port = {second['port']}\n", f"port = {raw['ports']['platform']}\n", 1)
    text = text.replace(f"mqtt_port = {second['mqtt_port']}\n", f"mqtt_port = {first['mqtt_port']}\n", 1)
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DemoError) as refused:
        load_demo(path)
    said = str(refused.value)
    assert f"{raw['ports']['platform']} ([ports] platform and hall {second['site']} port)" in said
    assert f"{first['mqtt_port']} (hall {first['site']} mqtt_port and hall {second['site']} mqtt_port)" in said
    assert load_demo(DEFAULT_DEMO)["halls"]  # the sample itself is fine
