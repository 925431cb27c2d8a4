"""A healthy demo logs no error: ``hallq start --demo --virtual-clock next-open``, every part, on free ports.

Without a display its kiosk drives itself (kiosk.autopilot): the test waits for the first printed ticket, lets
the whole hall run a while longer, stops it, and reads every part's log for an ERROR or CRITICAL line or a
traceback. An error line is something an operator must act on; a demo doing what it should gives none.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hallq.client import free_port
from hallq.testing import ROOT, mosquitto_binary

CITY = ROOT / "config" / "city-hall"
BAD = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")


def _city_copy(tmp_path: Path) -> Path:
    """The sample city hall with its broker on a free port (a demo may be running on 11883)."""
    folder = tmp_path / "city-hall"
    shutil.copytree(CITY, folder)
    hall = folder / "hall.toml"
    text = hall.read_text(encoding="utf-8")
    assert 'embedded_listen = "127.0.0.1:11883"' in text
    hall.write_text(text.replace('embedded_listen = "127.0.0.1:11883"',
                                 f'embedded_listen = "127.0.0.1:{free_port()}"'), encoding="utf-8")
    return hall


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.skipif(mosquitto_binary() is None, reason="needs mosquitto (./run.sh installs it)")
def test_the_demo_hall_runs_its_kiosk_by_itself_and_logs_no_error(tmp_path):
    hall = _city_copy(tmp_path)
    data = tmp_path / "data"
    log = tmp_path / "start.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "HALLQ_MQTT_URL")}
    env["HALLQ_DATA_DIR"] = str(data)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "launcher", "start", "--demo", "--config", str(hall),
                                 "--port", str(free_port()), "--virtual-clock", "next-open"],
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        printed = data / "kiosk-1-printed"
        deadline = time.monotonic() + 240
        while not list(printed.glob("*.bin")):     # the autopilot's first flow takes a number
            assert proc.poll() is None, f"hallq start ended ({proc.returncode}):\n{log.read_text()[-5000:]}"
            assert time.monotonic() < deadline, f"no ticket printed in 240 s:\n{log.read_text()[-5000:]}"
            time.sleep(0.5)
        time.sleep(20)          # the hall running on: boards, voice, devices, simulated residents, the kiosk
        assert proc.poll() is None, log.read_text()[-5000:]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    text = log.read_text(encoding="utf-8", errors="replace")
    bad = [line for line in text.splitlines() if BAD.search(line)]
    assert not bad, "error lines in a healthy demo:\n" + "\n".join(bad[:40])
    assert "autopilot: took number" in text
    assert "No data from client" not in text
