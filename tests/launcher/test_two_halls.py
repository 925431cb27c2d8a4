"""Two halls on one machine: the sample city hall (server 8080, broker 11883) and village station (8081,
11884) each listen where their own config says, so both run side by side (issue 14, item 5)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tomllib
import urllib.request
from argparse import Namespace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from hallq.hallconfig import load_hall
from hallq.testing import ROOT, mosquitto_binary
from launcher.cli import build_parser, server_port

CITY = ROOT / "config" / "city-hall" / "hall.toml"
VILLAGE = ROOT / "config" / "village-station" / "hall.toml"
READY = "Ctrl-C stops everything"  # the banner's last line: the server answers healthy


def _port_of(url: str) -> int:
    return urlsplit(url).port or 80


def _broker_port(hall: Path) -> int:
    return int(load_hall(hall).mqtt.embedded_listen.rsplit(":", 1)[1])


def _free(port: int) -> bool:
    """Whether a server could listen on the port now (SO_REUSEADDR, as servers do: a closed connection may linger)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# -- each hall's config says where it listens --------------------------------------------------------

def test_the_two_sample_halls_listen_on_different_ports_and_the_city_keeps_8080():
    city, village = load_hall(CITY), load_hall(VILLAGE)
    assert (server_port(city), _broker_port(CITY)) == (8080, 11883)
    assert (server_port(village), _broker_port(VILLAGE)) == (8081, 11884)
    assert city.site != village.site


def test_the_server_port_defaults_to_the_halls_public_url_and_an_explicit_port_wins():
    for command in ("serve", "start"):
        assert build_parser().parse_args([command]).port is None  # decided from the config when it is read
        assert build_parser().parse_args([command, "--port", "9000"]).port == 9000
    assert server_port(Namespace(public_url="")) == 8080
    assert server_port(Namespace(public_url="https://hall.example.gov.cn")) == 8080
    assert server_port(Namespace(public_url="http://192.168.10.2:8090")) == 8090


def test_the_village_kiosk_and_parts_talk_to_the_village_server_not_the_citys():
    village_port = server_port(load_hall(VILLAGE))
    for toml in sorted(VILLAGE.parent.glob("*.toml")):  # kiosk.toml, and any device/board config naming a server
        text = toml.read_text(encoding="utf-8")
        assert "127.0.0.1:8080" not in text and ":11883" not in text, toml
    kiosk = tomllib.loads((VILLAGE.parent / "kiosk.toml").read_text(encoding="utf-8"))["kiosk"]
    assert _port_of(kiosk["server_url"]) == village_port
    from kiosk.cli import hall_parts

    args = Namespace(config=str(VILLAGE), host="127.0.0.1", port=village_port, data_dir=None, virtual_clock=None)
    (_, argv, _), = hall_parts(args)
    assert argv[argv.index("--server") + 1] == f"http://127.0.0.1:{village_port}"


# -- both sample halls' servers side by side, real processes --------------------------------------------

def _start(hall: Path, data: Path) -> subprocess.Popen:
    env = {**os.environ, "HALLQ_DATA_DIR": str(data)}
    env.pop("HALLQ_MQTT_URL", None)
    return subprocess.Popen([sys.executable, "-m", "launcher", "start", "--demo", "--config", str(hall),
                             "--only", "server", "--virtual-clock", "2026-11-23T09:30:00+08:00"],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _wait_ready(proc: subprocess.Popen) -> str:
    """What the supervisor said until its banner ended (everything up), or the test fails with it."""
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if READY in line:
            return "".join(lines)
    pytest.fail("".join(lines[-40:]))


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/{path}", timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.skipif(mosquitto_binary() is None, reason="needs mosquitto (./run.sh installs it)")
def test_the_city_hall_and_the_village_station_run_side_by_side_and_stop_cleanly(tmp_path):
    halls = {CITY: load_hall(CITY), VILLAGE: load_hall(VILLAGE)}
    ports = [p for hall, cfg in halls.items() for p in (server_port(cfg), _broker_port(hall))]
    if not all(_free(p) for p in ports):
        pytest.skip(f"a sample hall's port ({ports}) is in use on this machine (a demo hall running?)")
    procs = {}
    try:
        for hall in halls:  # the city hall first, then the village beside it
            procs[hall] = _start(hall, tmp_path / halls[hall].site)
            said = _wait_ready(procs[hall])
            assert f"127.0.0.1:{server_port(halls[hall])}" in said
        for cfg in halls.values():
            port = server_port(cfg)
            assert _get(port, "health")["status"] == "ok"
            assert _get(port, "hall")["site"] == cfg.site
        for proc in procs.values():
            proc.send_signal(signal.SIGINT)  # what Ctrl-C sends the supervisor
        for proc in procs.values():
            _, rest = proc.communicate(timeout=60)
            assert proc.returncode == 0, rest[-3000:]
            assert "stopped server" in rest and "Traceback" not in rest, rest[-3000:]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [p for p in ports if not _free(p)] == []  # everything let go of its port
