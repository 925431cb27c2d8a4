"""The QR/barcode scanner: one contract suite for the serial driver on a pty and the simulator,
and the keyboard-wedge burst detection."""

from __future__ import annotations

import time

import pytest

from device_drivers.base import DeviceError
from device_drivers.factory import build_scanner
from device_drivers.scanner import MAX_SCAN, KeyboardScanner, SerialScanner, clean_scan
from device_drivers.sim_scanner import PtyScanner, ScannerSimulator


@pytest.fixture(params=["simulator", "serial-pty"])
def scanner(request):
    if request.param == "simulator":
        sim = ScannerSimulator()
        yield sim, sim.scan
        return
    device = PtyScanner()
    s = SerialScanner(device.path)
    assert s.status().present     # opens the port (opening flushes what came before, as on real hardware)
    yield s, device.scan
    s.close()
    device.close()


def test_contract_delivers_a_booking_code(scanner):
    s, scan = scanner
    scan("HALLQ-APPT:K7Q2M9XP")
    assert s.read(2) == "HALLQ-APPT:K7Q2M9XP"


def test_contract_delivers_scans_in_order_with_chinese(scanner):
    s, scan = scanner
    for code in ("http://127.0.0.1:8080/t/abc", "受理编号 SQ20261123-0042", "K7Q2M9XP"):
        scan(code)
    assert [s.read(2) for _ in range(3)] == ["http://127.0.0.1:8080/t/abc", "受理编号 SQ20261123-0042", "K7Q2M9XP"]


def test_contract_drops_junk_and_keeps_going(scanner):
    s, scan = scanner
    scan("x" * (MAX_SCAN + 1))
    scan("bad\x07bell")
    scan("")
    scan("GOOD-1")
    assert s.read(2) == "GOOD-1"
    assert s.dropped >= 2


def test_contract_nothing_scanned_returns_none_on_time(scanner):
    s, _ = scanner
    t0 = time.monotonic()
    assert s.read(0.3) is None
    assert time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n"])
def test_serial_terminators(terminator):
    device = PtyScanner(terminator)
    s = SerialScanner(device.path)
    s.status()
    try:
        device.scan("A1B2C3D4")
        device.scan("E5F6G7H8")
        assert [s.read(2), s.read(2)] == ["A1B2C3D4", "E5F6G7H8"]
    finally:
        s.close()
        device.close()


def test_serial_code_split_across_reads_and_gb18030():
    device = PtyScanner()
    s = SerialScanner(device.path)
    s.status()
    try:
        device.inject("受理".encode("gb18030"))
        assert s.read(0.2) is None
        device.inject(b"-42\r\n")
        assert s.read(2) == "受理-42"
    finally:
        s.close()
        device.close()


def test_keyboard_wedge_takes_bursts_not_typing():
    now = [0.0]
    kb = KeyboardScanner(clock=lambda: now[0])
    for ch in "K7Q2M9XP":       # a scanner types 8 characters in a few milliseconds
        kb.key(ch)
        now[0] += 0.004
    assert kb.enter() and kb.read(0) == "K7Q2M9XP"
    for ch in "1234":          # a person types slowly
        kb.key(ch)
        now[0] += 0.3
    assert not kb.enter() and kb.read(0) is None


def test_clean_scan():
    assert clean_scan(b"\xef\xbb\xbfHALLQ-APPT:ABCDEFGH\r") == "HALLQ-APPT:ABCDEFGH"
    assert clean_scan(b"\xff\xfe\xfd") is None
    assert clean_scan("  ") is None


def test_unplugged_and_unknown_driver(tmp_path):
    s = build_scanner("serial", port=str(tmp_path / "ttyACM3"))
    assert s.status().problems == ["unplugged"]
    with pytest.raises(DeviceError):
        s.read(0.1)
    with pytest.raises(DeviceError) as e:
        build_scanner("telepathy")
    assert e.value.code == "bad_config"
    assert isinstance(build_scanner("simulator"), ScannerSimulator)
