"""`hallq kiosk --autopilot`: the demo kiosk without a screen goes through real flows by itself, against a real server.

It takes a number (printed by the simulated printer), reads a guide and prints its notice, books an
appointment and submits an application, all by touches on the drawn widgets; every screen's screenshot is
written. What it did is then checked where a resident's visit leaves it: the printed bytes and the server.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from device_drivers.sim_printer import decode
from hallq.client import HallClient
from hallq.testing import ROOT

SCREENS = ["home-menu", "take_number-result", "guide-item", "guide-guide", "appointment-menu", "book-day",
           "book-slot", "book-person", "book-confirm", "book-result", "apply-item", "apply-materials",
           "apply-applicant", "apply-confirm", "apply-result"]


def _env():
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}


def _wait_for(what: str, found, timeout: float, log: Path, missing=lambda: ""):
    """Poll for files the kiosk writes (an event on disk), up to ``timeout``; fail with the kiosk's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    lines = [line for line in log.read_text().splitlines() if "autopilot" in line or "ERROR" in line]
    pytest.fail(f"waited {timeout:.0f} s for {what} {missing()}; the kiosk's log:\n" + "\n".join(lines[-60:]))


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_autopilot_takes_a_number_reads_a_guide_books_and_applies(city, tmp_path):
    data = tmp_path / "data"
    log = tmp_path / "kiosk.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "launcher", "kiosk", "--simulate", "--autopilot", "1",
                                 "--server", city.url, "--data-dir", str(data),
                                 "--config", str(ROOT / "config" / "city-hall" / "kiosk.toml")],
                                env=_env(), stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    shots, printed = data / "kiosk-1-screens", data / "kiosk-1-printed"
    try:
        # one round of the four flows (about 80 s alone; a loaded 2-core machine may take three times that)
        _wait_for("a screenshot of every screen of the four flows",
                  lambda: all((shots / f"{stem}.png").exists() for stem in SCREENS), 300, log,
                  lambda: [stem for stem in SCREENS if not (shots / f"{stem}.png").exists()])
        _wait_for("the application's line in the log", lambda: "tracking number" in log.read_text(), 30, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    text = log.read_text()
    assert "autopilot: the kiosk takes a number" in text
    assert "given up" not in text and "Traceback" not in text, text[-4000:]

    # the ticket: real ESC/POS bytes (initialise, GB18030 text, a QR, a cut) with the number the server issued
    tickets = [decode(p.read_bytes(), "gb18030") for p in sorted(printed.glob("*.bin"))]
    assert tickets, "nothing printed"
    first = sorted(printed.glob("*.bin"))[0].read_bytes()
    assert first.startswith(b"\x1b@") and b"\x1dV" in first, first[:40]
    number = re.search(r"took number (\w+) \(printed\)", text).group(1)
    ticket = next(t for t in tickets if number in t.text)
    public_id = ticket.qr_codes[0].rstrip("/").rsplit("/", 1)[-1]
    assert city.client().ticket(public_id)["ticket"] == number

    # the booking and the application, as the server has them
    code = re.search(r"autopilot: booked .* \(code (\w+)\)", text).group(1)
    booking = HallClient(city.url, token="demo-kiosk-1").get(f"/appointments/{code}")
    assert booking["code"] == code
    tracking = re.search(r"tracking number ([\w-]+)\)", text).group(1)
    application = city.client().get(f"/applications/{tracking}")
    assert application["tracking_no"] == tracking
    assert any(tracking in t.text for t in tickets)               # its receipt was printed too
