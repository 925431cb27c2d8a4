"""The ports tests and benchmarks start servers on: chosen where no outgoing connection can take them first.

CI once failed because a county test's hall found its broker port taken: `free_port` had handed out a port
from the kernel's ephemeral range, and in the seconds before the hall bound it, one of the suite's many
client connections was given the same port as its local end."""

import socket

from hallq import client
from hallq.client import free_port, free_ports


def _ephemeral() -> tuple[int, int]:
    lo, hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    return lo, hi


def test_ports_are_outside_the_range_the_kernel_gives_outgoing_connections():
    lo, hi = _ephemeral()
    ports = free_ports(50) + [free_port() for _ in range(50)]
    assert all(not lo <= p <= hi for p in ports), [p for p in ports if lo <= p <= hi]
    assert len(set(ports)) == len(ports)  # never the same port twice in one process


def test_each_port_can_be_bound_at_once():
    for p in free_ports(10):
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))
            s.listen(1)


def test_a_port_in_use_is_not_given(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen(1)
        port = taken.getsockname()[1]
        monkeypatch.setattr(client, "_quiet_range", lambda: (port, port))  # the only quiet port is taken
        given = free_ports(1)
        assert given != [port]
        with socket.socket() as s:
            s.bind(("127.0.0.1", given[0]))  # the port given instead (the kernel's) is free


def test_without_a_quiet_span_the_kernel_chooses(monkeypatch, tmp_path):
    whole = tmp_path / "range"
    whole.write_text("1024\t65535\n")
    monkeypatch.setattr(client, "_EPHEMERAL_FILE", str(whole))
    assert client._quiet_range() is None
    ports = free_ports(3)
    assert len(set(ports)) == 3 and all(1024 <= p <= 65535 for p in ports)
