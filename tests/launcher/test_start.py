"""``hallq start``: its banner names the hall actually started, a port clash stops it with the fix, the parts
stop in reverse order, and a part that keeps crashing at start is given up (launcher/supervisor.py)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hallq.client import free_port
from hallq.demo import DEMO_PASSWORD
from hallq.hallconfig import load_hall
from hallq.testing import ROOT, mosquitto_binary
from launcher import supervisor
from launcher.banner import banner, job_ranges

VILLAGE = ROOT / "config" / "village-station" / "hall.toml"
CITY = ROOT / "config" / "city-hall" / "hall.toml"
needs_mosquitto = pytest.mark.skipif(mosquitto_binary() is None, reason="needs mosquitto (./run.sh installs it)")


def _village_copy(tmp_path: Path) -> tuple[Path, int]:
    """The village station's config, its broker on a free port (the city hall's may be running)."""
    folder = tmp_path / "village-station"
    shutil.copytree(VILLAGE.parent, folder)
    hall = folder / "hall.toml"
    mqtt_port = free_port()
    hall.write_text(hall.read_text(encoding="utf-8").replace('embedded_listen = "127.0.0.1:11884"',
                                                             f'embedded_listen = "127.0.0.1:{mqtt_port}"'),
                    encoding="utf-8")
    return hall, mqtt_port


def _start(hall: Path, tmp_path: Path, port: int, only: str) -> subprocess.Popen:
    env = {**os.environ, "HALLQ_DATA_DIR": str(tmp_path / "data")}
    env.pop("HALLQ_MQTT_URL", None)
    return subprocess.Popen([sys.executable, "-m", "launcher", "start", "--demo", "--config", str(hall),
                             "--port", str(port), "--only", only, "--virtual-clock", "2026-11-23T09:30:00+08:00"],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _listening(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


# -- the banner ------------------------------------------------------------------------------------

def test_the_village_banner_names_its_own_accounts_and_where_each_part_shows_itself(tmp_path):
    text = banner(load_hall(VILLAGE), ["server", "board", "announcer", "kiosk", "devices", "simulation"],
                  "http://127.0.0.1:8080", tmp_path, demo=True)
    assert "manager         3001" in text and "window staff    3002" in text
    assert not any(n in text for n in ("1001", "2001", "9001", "administrator  ")), text
    assert f"password        {DEMO_PASSWORD}" in text
    for where in ("http://127.0.0.1:8080/api/v1/health", "http://127.0.0.1:8080/console/login",
                  "http://127.0.0.1:8080/t/<ticket id>", "127.0.0.1:11884", str(tmp_path / "board-station.png"),
                  str(tmp_path / "announcements"), str(tmp_path / "kiosk-station-screens"),
                  str(tmp_path / "kiosk-station-printed"), "hallq devices show"):
        assert where in text, where


def test_the_banner_names_the_printer_kiosk_toml_chooses_outside_a_demo(tmp_path):
    """Without --demo the kiosk runs kiosk.toml's devices (kiosk/cli.py hall_parts): a serial printer prints, so the
    banner sends nobody to a folder of simulated tickets."""
    import shutil

    conf = tmp_path / "village"
    shutil.copytree(VILLAGE.parent, conf)
    kiosk = conf / "kiosk.toml"
    text = kiosk.read_text(encoding="utf-8")
    assert 'driver = "simulator"' in text
    kiosk.write_text(text.replace('driver = "simulator"', 'driver = "serial"', 1), encoding="utf-8")
    data = tmp_path / "data"
    real = banner(load_hall(conf / "hall.toml"), ["kiosk"], "http://127.0.0.1:8080", data, demo=False)
    assert "tickets on the serial printer kiosk.toml names" in real and "-printed" not in real
    demo = banner(load_hall(conf / "hall.toml"), ["kiosk"], "http://127.0.0.1:8080", data, demo=True)
    assert "kiosk-station-printed" in demo


def test_the_city_banner_names_its_clerks_manager_and_administrator(tmp_path):
    text = banner(load_hall(CITY), ["server"], "http://127.0.0.1:8080", tmp_path, demo=True)
    assert "administrator   9001" in text and "manager         2001" in text and "window staff    1001–1020" in text
    assert "kiosk" not in text  # only the parts started


def test_no_password_is_shown_but_the_published_demo_one_in_demo_mode(tmp_path):
    cfg = load_hall(VILLAGE)
    assert DEMO_PASSWORD not in banner(cfg, ["server"], "http://h", tmp_path, demo=False)
    hall = tmp_path / "own" / "hall.toml"
    shutil.copytree(VILLAGE.parent, hall.parent)
    own_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
    hall.write_text(hall.read_text(encoding="utf-8").replace(cfg.staff[0].password_hash, own_hash), encoding="utf-8")
    text = banner(load_hall(hall), ["server"], "http://h", tmp_path, demo=True)
    assert DEMO_PASSWORD not in text and own_hash not in text and "not shown" in text


def test_job_numbers_in_a_row_are_one_range():
    assert job_ranges(["1001", "1002", "1003", "1005", "2001", "A7"]) == "1001–1003, 1005, 2001, A7"


# -- a port clash stops the start with the fix ------------------------------------------------------

def test_a_server_port_in_use_stops_the_start_naming_the_port_and_the_setting(tmp_path):
    hall, _ = _village_copy(tmp_path)
    port = free_port()
    with _listening(port):
        proc = _start(hall, tmp_path, port, "server")
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err
    assert f"127.0.0.1:{port}" in err and "--port" in err and "public_url" in err
    assert "started server" not in err  # nothing was started, nothing restarted


def test_a_broker_port_in_use_stops_the_start_naming_embedded_listen(tmp_path):
    hall, mqtt_port = _village_copy(tmp_path)
    with _listening(mqtt_port):
        proc = _start(hall, tmp_path, free_port(), "server")
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err
    assert f"127.0.0.1:{mqtt_port}" in err and "[mqtt] embedded_listen" in err and str(hall) in err


# -- stopping in reverse order ------------------------------------------------------------------------

@needs_mosquitto
def test_the_village_hall_starts_shows_its_banner_and_stops_the_simulation_before_the_server(tmp_path):
    hall, _ = _village_copy(tmp_path)
    proc = _start(hall, tmp_path, free_port(), "server,simulation")
    lines = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # until the banner's last line: everything is up
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        else:
            pytest.fail("".join(lines[-40:]))
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends the supervisor
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines) + rest
    assert proc.returncode == 0, out[-3000:]
    accounts = out[out.index("Accounts (sign in"):out.index("Ctrl-C stops everything")]
    assert "3001" in accounts and "3002" in accounts and "1001" not in accounts
    assert out.index("stopped simulation") < out.index("stopped server"), out[-3000:]
    assert "Broken pipe" not in out and "could not sign out" not in out and "Traceback" not in out


def _child(tmp_path: Path, name: str, on_term: str) -> supervisor.Part:
    """A real process that says it is ready, then on SIGTERM runs ``on_term`` (and writes to ``log``)."""
    code = (f"import signal, sys, time\nlog = open({str(tmp_path / 'log')!r}, 'a')\n"
            f"def term(*a):\n    {on_term}\n"
            "signal.signal(signal.SIGTERM, term)\nprint('ready', flush=True)\nwhile True:\n    time.sleep(1)\n")
    part = supervisor.Part(name, [])
    part.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, process_group=0)
    assert part.proc.stdout is not None and part.proc.stdout.readline() == "ready\n"
    return part


def test_parts_stop_in_reverse_order_each_gone_before_the_next_and_a_stuck_one_is_killed(tmp_path):
    first = _child(tmp_path, "first", "log.write('first asked\\n'); log.close(); sys.exit(0)")
    slow = _child(tmp_path, "slow", "time.sleep(0.3); log.write('slow gone\\n'); log.close(); sys.exit(0)")
    stuck = _child(tmp_path, "stuck", "log.write('stuck ignores it\\n'); log.flush()")
    t0 = time.monotonic()
    supervisor.stop_parts([first, slow, stuck], timeout=1.0)
    assert (tmp_path / "log").read_text().splitlines() == ["stuck ignores it", "slow gone", "first asked"]
    assert stuck.proc is not None and stuck.proc.returncode == -signal.SIGKILL
    assert time.monotonic() - t0 < 8


def test_a_part_that_keeps_crashing_at_start_is_given_up_with_its_last_words(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(supervisor, "RESTART_PAUSE", 0.01)
    caplog.set_level(logging.INFO, "hallq.start")
    part = supervisor.Part("board", ["check-config", str(tmp_path / "missing.toml")])
    part.launch()
    assert supervisor._watch([part], threading.Event()) == 1  # nothing left running
    assert part.proc is None
    assert "giving up on it" in caplog.text and "3 times in a row" in caplog.text
    assert "missing.toml" in caplog.text  # its last error, as it said it
    server = supervisor.Part("server", ["check-config", str(tmp_path / "missing.toml")])
    server.launch()
    assert supervisor._watch([server], threading.Event()) == 1  # no hall without its server
