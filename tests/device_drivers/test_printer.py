"""The ticket printer: ESC/POS bytes, Chinese in FS & … FS ., native QR, status, and one contract
suite run against the in-process simulator, the real driver on a pty (serial) and on TCP (network)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_drivers.base import DeviceError
from device_drivers.factory import build_printer
from device_drivers.printer import (FS_CHINESE_OFF, FS_CHINESE_ON, EscPosPrinter, PrinterProfile, PrinterStatus,
                                    TicketDocument, display_columns, wrap)
from device_drivers.printer_transports import NetworkTransport, SerialTransport, UsbLpTransport
from device_drivers.sim_printer import PrinterSimulator, PrinterState, PtyPrinter, TcpPrinter, decode

URL = "http://127.0.0.1:8080/t/4agpv5JkRhlcMETj"


def sample_ticket(profile: PrinterProfile | None = None) -> bytes:
    doc = TicketDocument(profile or PrinterProfile())
    doc.line("六盘水市政务服务中心", align="center", bold=True)
    doc.line("商事登记", align="center")
    doc.number("A001")
    doc.line("前面还有 3 人，预计等候约 15 分钟")
    doc.qr(URL)
    doc.line("——：")
    doc.cut()
    return doc.data


# -- the bytes of a document -------------------------------------------------------------

def test_chinese_goes_as_gb18030_between_fs_and_and_fs_dot():
    data = sample_ticket()
    segment = FS_CHINESE_ON + "六盘水市政务服务中心".encode("gb18030") + FS_CHINESE_OFF
    assert segment in data
    p = decode(data)
    assert p.stray_bytes == 0 and p.unknown == []
    assert "商事登记" in p.chinese_segments


def test_punctuation_only_text_is_not_question_marks():
    p = decode(sample_ticket())
    assert p.find("——：") is not None
    assert "?" not in p.text


def test_number_is_large_bold_and_centred():
    line = decode(sample_ticket()).find("A001")
    assert (line.width, line.height, line.bold, line.align) == (3, 3, True, "center")


def test_native_qr_carries_the_url_and_the_ticket_stays_small():
    data = sample_ticket()
    p = decode(data)
    assert p.qr_codes == [URL]
    assert p.qr_module == 6
    assert b"\x1d(k" in data            # GS ( k: the printer draws the QR itself, no raster image
    assert b"\x1dv0" not in data and b"\x1b*" not in data
    assert len(data) < 1024
    assert p.cuts == 1


def test_encoding_is_per_printer():
    gbk = sample_ticket(PrinterProfile(encoding="gbk"))
    assert "商事登记".encode("gbk") in gbk
    assert decode(gbk, "gbk").find("商事登记")
    # a line with a character the firmware's encoding lacks prints as an image (never as "?"), the rest as text
    doc = TicketDocument(PrinterProfile(encoding="gb2312"))
    doc.line("王𬀩")  # 𬀩: a rare character of personal names
    doc.line("镕")    # in GBK, not in GB2312
    doc.line("王小明")
    p = decode(doc.data, "gb2312")
    assert [line.image is not None for line in p.lines] == [True, True, False] and "?" not in p.text
    assert p.lines[2].text == "王小明"


def test_paper_width_sets_the_wrapping():
    long = "请携带身份证原件及复印件到三号窗口办理，过号后三十分钟内可重新排队"
    narrow = decode(_one_line(long, 58)).lines
    wide = decode(_one_line(long, 80)).lines
    assert len(narrow) > len(wide)
    assert all(display_columns(line.text) <= 32 for line in narrow)
    assert "".join(line.text for line in narrow if line.text).replace(" ", "") == long


def _one_line(text: str, paper: int) -> bytes:
    doc = TicketDocument(PrinterProfile(paper_mm=paper))
    doc.line(text)
    return doc.data


def test_control_characters_in_data_never_become_commands():
    doc = TicketDocument(PrinterProfile())
    doc.line("张三\x1b@\x1dV\x00")
    p = decode(doc.data)
    assert p.cuts == 0 and p.find("张三") is not None


@given(st.text(max_size=80))
def test_wrap_keeps_every_character(text):
    lines = wrap(text.replace("\n", " "), 16)
    assert all(display_columns(line) <= 16 or len(line) == 1 for line in lines)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_decoder_never_raises(data):
    p = decode(data)
    assert p.size == len(data)


def test_bad_profiles_are_configuration_errors():
    for bad in ({"encoding": "utf-8"}, {"paper_mm": 76}, {"qr_module": 0}, {"cut": "maybe"}):
        with pytest.raises(DeviceError) as e:
            PrinterProfile(**bad)
        assert e.value.code == "bad_config"
    with pytest.raises(DeviceError) as e:
        build_printer("parallel-port")
    assert "serial" in e.value.fix


# -- status bytes ---------------------------------------------------------------------------

@pytest.mark.parametrize("replies, paper, blocking", [
    ((0x12, 0x12, None, None), "ok", None),
    ((0x12, 0x1E, None, None), "near_end", None),
    ((0x1A, 0x7E, 0x32, 0x12), "out", "paper_out"),          # the ESC/POS manual's paper-out example
    ((0x1A, 0x12, 0x16, 0x12), "ok", "cover_open"),
    ((0x1A, 0x12, 0x52, 0x1A), "ok", "jammed"),
    ((0x1A, 0x12, 0x12, 0x12), "ok", "offline"),
])
def test_status_bytes_decode(replies, paper, blocking):
    s = PrinterStatus.from_replies(*replies)
    assert s.paper == paper and s.blocking == blocking


# -- one contract for every printer ------------------------------------------------------------

class Target:
    """A printer under test, its physical state, and what reached its paper."""

    def __init__(self, printer, state: PrinterState, received) -> None:
        self.printer, self.state, self.received = printer, state, received


@pytest.fixture(params=["simulator", "serial-pty", "network", "usblp-pty"])
def target(request):
    state = PrinterState()
    if request.param == "simulator":
        sim = PrinterSimulator(state=state)
        yield Target(sim, state, lambda: b"".join(sim.jobs))
        return
    if request.param == "serial-pty":
        device = PtyPrinter(state)
        printer = EscPosPrinter(SerialTransport(device.path, 9600), PrinterProfile(), status_timeout=0.2)
    elif request.param == "usblp-pty":    # the usblp device node is a character device like a pty
        device = PtyPrinter(state)
        printer = EscPosPrinter(UsbLpTransport(device.path), PrinterProfile(), status_timeout=0.2)
    else:
        device = TcpPrinter(state)
        printer = EscPosPrinter(NetworkTransport("127.0.0.1", device.port), PrinterProfile(), status_timeout=0.2)
    yield Target(printer, state, lambda: device.received)
    printer.close()
    device.close()


def _wait_received(target: Target, data: bytes) -> bytes:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        got = target.received()
        if data in got:
            return got
        time.sleep(0.01)
    raise AssertionError(f"the printer received {len(target.received())} bytes, not the job")


def test_contract_prints_a_ticket_when_all_is_well(target):
    job = sample_ticket()
    status = target.printer.print_job(job)
    assert status.answered and status.paper == "ok" and status.problems == []
    got = _wait_received(target, job)
    assert decode(got).qr_codes == [URL]


def test_contract_paper_near_end_prints_and_says_so(target):
    target.state.paper = "near_end"
    status = target.printer.print_job(sample_ticket())
    assert status.problems == ["paper_near_end"]
    _wait_received(target, sample_ticket())


@pytest.mark.parametrize("setup, code", [
    ({"paper": "out"}, "paper_out"),
    ({"cover_open": True}, "cover_open"),
    ({"jammed": True}, "jammed"),
    ({"online": False}, "offline"),
])
def test_contract_refuses_when_it_cannot_print(target, setup, code):
    for k, v in setup.items():
        setattr(target.state, k, v)
    with pytest.raises(DeviceError) as e:
        target.printer.print_job(sample_ticket())
    assert e.value.code == code and e.value.fix
    assert target.printer.status().problems[-1] == code
    assert b"\x1d(k" not in target.received()


def test_contract_silent_printer_is_unknown_not_adequate(target):
    target.state.silent = True
    t0 = time.monotonic()
    status = target.printer.status()
    assert time.monotonic() - t0 < 0.6          # python-escpos' Serial waits a full second here
    assert not status.answered and status.paper == "unknown" and status.problems == ["no_status"]
    target.printer.print_job(sample_ticket())   # no back channel: print, the screen shows the number anyway
    _wait_received(target, sample_ticket())


def test_contract_recovers_after_paper_is_loaded(target):
    target.state.paper = "out"
    with pytest.raises(DeviceError):
        target.printer.print_job(sample_ticket())
    target.state.paper = "ok"
    assert target.printer.print_job(sample_ticket()).problems == []


# -- the real transports -----------------------------------------------------------------------

def test_unplugged_serial_printer_is_a_clear_error(tmp_path):
    printer = build_printer("serial", port=str(tmp_path / "ttyUSB9"))
    with pytest.raises(DeviceError) as e:
        printer.status()
    assert e.value.code == "unplugged" and "plug" in e.value.fix


def test_unplugged_usb_printer_is_a_clear_error(tmp_path):
    printer = build_printer("usb", path=str(tmp_path / "lp0"))
    with pytest.raises(DeviceError) as e:
        printer.print_job(sample_ticket())
    assert e.value.code == "unplugged" and "lp" in e.value.fix


def test_unreachable_network_printer_is_a_clear_error():
    from hallq.client import free_port

    printer = build_printer("network", host="127.0.0.1", port=free_port())
    with pytest.raises(DeviceError) as e:
        printer.print_job(sample_ticket())
    assert e.value.code == "unplugged"


def test_serial_printer_status_uses_dle_eot_and_sends_the_job_byte_for_byte():
    device = PtyPrinter(PrinterState(paper="near_end"))
    try:
        printer = build_printer("serial", port=device.path, status_timeout_ms=200)
        job = sample_ticket()
        printer.print_job(job)
        assert device.wait_for_bytes(lambda b: b.endswith(job)) == job
        assert device.queries[:2] == [1, 4]
        printer.close()
    finally:
        device.close()


def test_simulator_writes_readable_jobs(tmp_path):
    sim = build_printer("simulator", output_dir=str(tmp_path), jobs_until_near_end=1, jobs_until_out=2)
    sim.print_job(sample_ticket())
    texts = list(tmp_path.glob("*.txt"))
    assert len(texts) == 1 and "商事登记" in texts[0].read_text("utf-8") and URL in texts[0].read_text("utf-8")
    assert sim.status().paper == "near_end"
    sim.print_job(sample_ticket())
    with pytest.raises(DeviceError) as e:
        sim.print_job(sample_ticket())
    assert e.value.code == "paper_out"
