"""A network (port 9100) ticket printer switched off and on between two tickets: the next ticket prints, once.

The printer is a real TCP server (:class:`device_drivers.sim_printer.TcpPrinter`) that closes the kiosk's
connection (FIN), or answers it with a reset (RST) after a reboot, as a printer does after a paper change.
"""

from __future__ import annotations

import pytest

from device_drivers import printer_transports
from device_drivers.base import DeviceError
from device_drivers.factory import build_printer
from device_drivers.printer_transports import NetworkTransport
from device_drivers.sim_printer import TcpPrinter


def ticket(n: int) -> bytes:
    return b"\x1b@" + f"TICKET A{n:03d}\n".encode() * 10 + b"\x1dV\x00"


@pytest.fixture
def device():
    p = TcpPrinter()
    yield p
    p.close()


@pytest.fixture
def printer(device):
    p = build_printer("network", host="127.0.0.1", port=device.port, status_timeout_ms=300)
    yield p
    p.close()


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_the_first_ticket_after_a_power_cycle_prints_once(printer, device, reset):
    first, second, third = ticket(1), ticket(2), ticket(3)
    assert printer.print_job(first).problems == []
    device.wait_for_bytes(lambda got: got == first)
    device.power_cycle(reset=reset)  # staff change the roll: the printer is switched off and on

    status = printer.print_job(second)  # the first resident after the paper change
    assert status.answered and status.problems == []  # asked on a new connection: no false alarm
    device.wait_for_bytes(lambda got: got == first + second)
    assert printer.print_job(third).problems == []
    device.wait_for_bytes(lambda got: got == first + second + third)
    assert device.per_connection == [first, second + third]  # each ticket once, on a live connection
    assert printer.transport.reconnects == 1


def test_a_reset_instead_of_a_status_answer_asks_again_on_a_new_connection(printer, device):
    assert printer.print_job(ticket(1)).problems == []
    device.reset_on_question = 1  # rebooted while the kiosk was idle: its new stack resets the old connection
    status = printer.print_job(ticket(2))
    assert status.answered and status.problems == []
    device.wait_for_bytes(lambda got: got == ticket(1) + ticket(2))
    assert device.per_connection == [ticket(1), ticket(2)] and printer.transport.reconnects == 1


def test_a_printer_that_keeps_resetting_is_reported_after_one_new_try(printer, device):
    device.reset_on_question = 5
    with pytest.raises(DeviceError) as e:
        printer.print_job(ticket(1))
    assert e.value.code == "unplugged" and "closed the connection" in e.value.message
    assert printer.transport.reconnects == 2 and device.received == b""  # asked twice, never printed


def test_a_job_refused_before_its_first_byte_is_sent_again_once(device, monkeypatch):
    transport = NetworkTransport("127.0.0.1", device.port)
    try:
        transport.write(ticket(1))
        device.wait_for_bytes(lambda got: got == ticket(1))
        device.power_cycle(reset=True)
        # the reset arrives after the check made before writing: the write itself is refused
        monkeypatch.setattr(printer_transports, "_closed_by_peer", lambda sock: False)
        transport.write(ticket(2))
        device.wait_for_bytes(lambda got: got == ticket(1) + ticket(2))
        assert device.per_connection == [ticket(1), ticket(2)] and transport.reconnects == 1
    finally:
        transport.close()


def test_a_job_cut_off_midway_is_reported_and_never_sent_again(printer, device):
    big = b"\x1b@" + b"\x00" * (48 << 20)  # more than the kernel's buffers hold: the write is under way
    device.reset_after = 1000  # the printer dies after taking the first 1000 bytes
    with pytest.raises(DeviceError) as e:
        printer.print_job(big)
    assert e.value.code == "unplugged" and "part of it may have printed" in e.value.message
    assert device.per_connection == [big[:1000]]  # never sent again: nothing printed twice
    assert printer.transport.reconnects == 0
