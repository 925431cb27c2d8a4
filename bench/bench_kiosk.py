"""Kiosk figures: cold start to the home screen, "confirm" → ticket bytes at the printer, ticket size.

    .venv/bin/python bench/bench_kiosk.py [--presses 60] [--starts 3]

* cold start: a fresh process (Python, Kivy offscreen through Mesa, the CJK
  font, kv files, the first answer of the server) until the home screen's
  first frame is drawn. Target ≤ 3 s.
* confirm → bytes at the printer: the press that issues a number, through
  the take-number presenter, HTTP to a real ``hallq serve`` on loopback, the
  ticket built, DLE EOT status asked of a printer on a pseudo-terminal (the
  real serial driver), the job written, until the printer has received the
  cut command. Target p95 ≤ 1 s. The wire time a 9600-baud printer would add
  is reported apart (bytes × 10 / baud).
* ticket size: ESC/POS bytes of each printed ticket. Target ≤ 1 KB.

Prints one JSON object. The server, the kiosk and the printer simulator
share this machine's cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import ROOT, add_broker_option, emit, labels, machine, percentiles, start_server, tempdir

CHILD = r"""
import sys, tempfile, time
sys.path.insert(0, {root!r})
from kiosk.ui.setup import prepare
prepare((1080, 1920), fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())
from kivy.clock import Clock
from kiosk.ui.app import KioskApp
from tests.kiosk.conftest import make_session
app = KioskApp(make_session({url!r}), headless=True)
def check(dt):
    if app.first_frame_at is not None and app.sm.current == "home" and app.flows["home"].hall:
        print("READY", repr(time.time()), flush=True)
        app.stop()
        return False
Clock.schedule_interval(check, 0.01)
app.run()
"""


def cold_start(url: str, runs: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    samples = []
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), url=url)], env=env,
                             capture_output=True, text=True, timeout=60).stdout
        ready = [line for line in out.splitlines() if line.startswith("READY")]
        if ready:
            samples.append(float(ready[0].split()[1]) - t0)
    return {"runs": len(samples), "median_s": round(statistics.median(samples), 3) if samples else None,
            "max_s": round(max(samples), 3) if samples else None, "target_s": 3.0}


def confirm_to_printer(url: str, presses: int, workdir) -> dict:
    from device_drivers.printer import EscPosPrinter, PrinterProfile
    from device_drivers.printer_transports import SerialTransport
    from device_drivers.sim_printer import PtyPrinter, decode
    from kiosk.presenters.take_number import NO_ITEM, TakeNumber
    from kiosk.voice import SpokenPrompts
    from tests.kiosk.conftest import make_session

    device = PtyPrinter()
    session = make_session(url)
    session.devices.printer = EscPosPrinter(SerialTransport(device.path, 9600), PrinterProfile(), "bench-printer",
                                            status_timeout=0.3)
    session.devices.voice = SpokenPrompts("wav-dir", save_dir=str(workdir / "voice"))   # real speech, as on a kiosk
    flow = TakeNumber(session)
    samples = []
    for i in range(presses):
        flow.start()
        flow.handle("choose", "construction")
        t0 = time.perf_counter()
        flow.handle("choose", NO_ITEM)                                   # the press that issues the number
        device.wait_for_bytes(lambda b, n=i + 1: b.count(b"\x1dV") >= n, timeout=10)
        samples.append((time.perf_counter() - t0) * 1000)
        if flow.view().step != "result":
            raise SystemExit(f"press {i} did not issue a number: {flow.view().notice}")
    jobs = [b"\x1b@" + j for j in device.received.split(b"\x1b@") if j]
    sizes = [len(j) for j in jobs]
    last = decode(jobs[-1])
    session.devices.voice.wait_idle(30)
    session.devices.close()
    device.close()
    return {"latency": {**percentiles(samples), "target_p95_ms": 1000},
            "ticket_bytes": {"max": max(sizes), "median": statistics.median(sizes), "target_max": 1024,
                             "qr_payload": last.qr_codes[0] if last.qr_codes else None,
                             "stray_bytes": last.stray_bytes},
            "wire_ms_at_9600_baud": round(max(sizes) * 10 / 9600 * 1000, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=60)
    ap.add_argument("--starts", type=int, default=3)
    add_broker_option(ap)
    args = ap.parse_args()
    work = tempdir()
    server = start_server(work, broker=args.broker)
    try:
        result = {"benchmark": "kiosk", "machine": machine(), "system": labels(server),
                  "confirm_to_printer": confirm_to_printer(server.url, args.presses, work),
                  "cold_start_to_home": cold_start(server.url, args.starts)}
    finally:
        server.stop()
    emit(result)


if __name__ == "__main__":
    main()
