"""tools/linkemu.py on real packets: two network namespaces routed through a third, where the emulator holds and drops.

    side A (10.215.N.2, .3) ── veth ── router (TUN + tools/linkemu.py) ── veth ── side B (10.216.N.2)

Measured, not assumed: ICMP echo through a 300 ms / 5 % link takes ≈ 600 ms (300 each way) and ~10 % of the round
trips are lost (5 % each way, the emulator's own count is ~5 % of the packets); TCP across it delivers every byte
with the kernel counting retransmissions; a cut set at run time for one address stops that address's packets and
not the other's, and the link's return lets them through again; without impairment it forwards megabytes per second.
Needs root (namespaces, /dev/net/tun); CI runs as root.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hallq.testing import wait_until
from tests.county.netns import enter

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("linkemu", ROOT / "tools" / "linkemu.py")
assert _spec and _spec.loader
linkemu = importlib.util.module_from_spec(_spec)
sys.modules["linkemu"] = linkemu  # its dataclasses look their module up
_spec.loader.exec_module(linkemu)

pytestmark = pytest.mark.slow


def ip(*args: str) -> None:
    out = subprocess.run(["ip", *args], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {out.stderr.strip()}")


def in_ns(ns: str, fn, *args):
    """``fn(*args)`` on a thread moved into ``ns`` (a network namespace is per thread); what it creates lives there."""
    box: dict = {}

    def run():
        enter(ns)
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # handed to the caller
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class Topology:
    def __init__(self, tmp: Path) -> None:
        tag = os.getpid() % 100000
        n = 20 + os.getpid() % 200
        self.a, self.b, self.r = f"lea{tag}", f"leb{tag}", f"ler{tag}"
        self.a_net, self.a1, self.a2 = f"10.215.{n}.0/24", f"10.215.{n}.2", f"10.215.{n}.3"
        self.b1 = f"10.216.{n}.2"
        self.control = str(tmp / "emu.sock")
        self.proc: subprocess.Popen | None = None
        self.namespaces: list[str] = []

    def up(self) -> None:
        n = self.a_net.split(".")[2]
        for ns in (self.a, self.b, self.r):
            ip("netns", "add", ns)
            self.namespaces.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        for side, ns, net in (("a", self.a, f"10.215.{n}"), ("b", self.b, f"10.216.{n}")):
            outer, inner = f"r{side}", f"{side}0"
            ip("-n", self.r, "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
            ip("-n", self.r, "addr", "add", f"{net}.1/24", "dev", outer)
            ip("-n", self.r, "link", "set", outer, "up")
            ip("-n", ns, "addr", "add", f"{net}.2/24", "dev", inner)
            ip("-n", ns, "link", "set", inner, "up")
            ip("-n", ns, "route", "add", "default", "via", f"{net}.1")
        ip("-n", self.a, "addr", "add", f"{self.a2}/24", "dev", "a0")

    def start(self, *rules: str) -> linkemu.Control:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.r, sys.executable, str(ROOT / "tools" / "linkemu.py"), "--tun", "emu0",
             "--control", self.control, "--route-from", "ra", "--route-from", "rb", "--seed", "13",
             *[x for r in rules for x in ("--rule", r)]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # "ready emu0" once routed, or nothing when it failed
        assert line.startswith("ready"), f"the emulator did not start: {line}{self.proc.stderr.read()}"
        return linkemu.Control(self.control)

    def down(self) -> str:
        out = ""
        if self.proc is not None:
            self.proc.terminate()
            out, err = self.proc.communicate(timeout=10)
            code, self.proc = self.proc.returncode, None
            assert code == 0, err
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces = []
        return out


@pytest.fixture
def topo(tmp_path):
    if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
        pytest.skip("the link emulator needs root, iproute2 and /dev/net/tun")
    t = Topology(tmp_path)
    try:
        t.up()
    except RuntimeError as e:
        t.down()
        pytest.skip(f"cannot build network namespaces here: {e}")
    yield t
    t.down()


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(topo: Topology, source: str, target: str, count: int, interval: float, wait: float = 1.5) -> dict[int, float]:
    """ICMP echo from ``source`` in side A: {sequence: round-trip seconds} of the replies that came back."""
    sock = in_ns(topo.a, lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
    sock.bind((source, 0))
    sock.settimeout(0.2)
    ident = (os.getpid() + hash(source)) & 0xFFFF
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    done = threading.Event()

    def receive():
        while not done.is_set():
            try:
                data, _ = sock.recvfrom(2048)
            except TimeoutError:
                continue
            now = time.monotonic()
            icmp = data[(data[0] & 0x0F) * 4:]
            kind, _, _, rid, seq = struct.unpack("!BBHHH", icmp[:8])
            if kind == 0 and rid == ident and seq in sent and seq not in got:
                got[seq] = now - sent[seq]

    th = threading.Thread(target=receive, daemon=True)
    th.start()
    start = time.monotonic()
    for seq in range(count):
        time.sleep(max(0.0, start + seq * interval - time.monotonic()))  # the pace of the pings, not a wait
        header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        payload = b"linkemu-" * 7
        packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq) + payload
        sent[seq] = time.monotonic()
        sock.sendto(packet, (target, 0))
    last = time.monotonic()
    try:  # every reply, or as long as one still could come
        wait_until(lambda: len(got) == count or time.monotonic() > last + wait, wait + 5, "the replies")
    finally:
        done.set()
        th.join()
        sock.close()
    return got


def tcp_retransmissions(ns: str) -> int:
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"], capture_output=True, text=True,
                         check=True).stdout
    names, values = [line.split()[1:] for line in out.splitlines() if line.startswith("Tcp:")]
    return int(values[names.index("RetransSegs")])


def transfer(topo: Topology, size: int, timeout: float) -> tuple[float, bool]:
    """``size`` random bytes from side A to side B over TCP: (seconds, whether B got exactly them)."""
    data = os.urandom(size)
    server = in_ns(topo.b, lambda: socket.create_server((topo.b1, 0)))
    port = server.getsockname()[1]
    server.settimeout(timeout)
    received = hashlib.sha256()
    n = [0]

    def accept():
        c, _ = server.accept()
        c.settimeout(timeout)
        while chunk := c.recv(1 << 16):
            received.update(chunk)
            n[0] += len(chunk)
        c.close()

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    client = in_ns(topo.a, lambda: socket.create_connection((topo.b1, port), timeout=timeout))
    t = time.monotonic()
    client.sendall(data)
    client.shutdown(socket.SHUT_WR)
    th.join(timeout)
    took = time.monotonic() - t
    client.close()
    server.close()
    return took, n[0] == size and received.digest() == hashlib.sha256(data).digest()


def test_300_ms_and_5_percent_each_way_on_real_packets(topo):
    ctl = topo.start(f"{topo.a_net}:300:5")
    try:
        count = 1000
        got = ping(topo, topo.a1, topo.b1, count, 0.005)
        rtts = sorted(got.values())
        median = statistics.median(rtts)
        link = ctl.rule(topo.a_net)
        one_way = link["lost"] / link["packets"]
        lost = 1 - len(got) / count
        print(f"\nlinkemu 300 ms / 5 %: {count} pings, RTT min {rtts[0] * 1000:.1f} median {median * 1000:.1f} "
              f"max {rtts[-1] * 1000:.1f} ms; round trips lost {lost:.1%} (expected 9.75 %); "
              f"packets lost by the emulator {link['lost']} of {link['packets']} ({one_way:.2%})")
        assert rtts[0] >= 0.600, "a packet went faster than its link's delay"
        assert 0.600 <= median <= 0.650, f"median RTT {median * 1000:.0f} ms through a 300 ms each way link"
        assert 0.03 <= one_way <= 0.07, f"the emulator lost {one_way:.2%} of packets on a 5 % link"
        assert 0.055 <= lost <= 0.145, f"{lost:.1%} of round trips lost on a 5 % each way link (expected 9.75 %)"
        assert link["packets"] >= 2 * count * 0.9, link
        assert link["overflow"] == 0
        late = ctl.stats()["late"]
        print(f"written after their due time: mean {late['mean_ms']:.2f} ms, at most {late['max_ms']:.1f} ms, "
              f"{late['over_10_ms']} of {late['held']} over 10 ms")
        assert late["held"] >= link["packets"] - link["lost"]

        retrans = tcp_retransmissions(topo.a)
        took, intact = transfer(topo, 100_000, 120)
        retransmitted = tcp_retransmissions(topo.a) - retrans
        print(f"100 kB over TCP across it: {took:.1f} s, {retransmitted} segments retransmitted")
        assert intact, "TCP through the emulator did not deliver every byte"
        assert retransmitted > 0, "5 % loss and not one TCP retransmission: the packets were not really lost"
    finally:
        ctl.close()
        assert "stopped" in topo.down()


def test_a_cut_at_run_time_for_one_address_and_its_return(topo):
    ctl = topo.start(f"{topo.a_net}:50:0")
    try:
        assert len(ping(topo, topo.a1, topo.b1, 20, 0.01, wait=0.5)) == 20
        ctl.set(f"{topo.a1}/32", delay_ms=50, loss=1.0)  # a1's line is cut; a2 on the same side is not
        assert ping(topo, topo.a1, topo.b1, 20, 0.01, wait=0.5) == {}
        through = ping(topo, topo.a2, topo.b1, 20, 0.01, wait=0.5)
        assert len(through) == 20 and min(through.values()) >= 0.100
        cut = ctl.rule(f"{topo.a1}/32")
        assert cut["lost"] == cut["packets"] == 20  # the requests: nothing came back to lose
        with pytest.raises(OSError):  # TCP does not get through either: no reset, nothing
            in_ns(topo.a, lambda: socket.create_connection((topo.b1, 9), timeout=2, source_address=(topo.a1, 0)))
        ctl.clear(f"{topo.a1}/32")  # the link's return
        assert len(ping(topo, topo.a1, topo.b1, 20, 0.01, wait=0.5)) == 20
        ctl.set(topo.a_net, delay_ms=0, loss=0)
        took, intact = transfer(topo, 50_000_000, 60)  # without impairment: what it can carry
        rate = 50 / took
        stats = ctl.stats()
        print(f"\nlinkemu without impairment: 50 MB over TCP in {took:.2f} s ({rate:.0f} MB/s), "
              f"{ctl.rule(topo.a_net)['packets']} packets; write errors {stats['write_errors']}")
        assert intact
        assert rate >= 5, f"{rate:.1f} MB/s through the emulator"
        with pytest.raises(RuntimeError, match="unknown op"):
            ctl.request(op="nonsense")
        with pytest.raises(RuntimeError, match="loss"):
            ctl.set(topo.a_net, loss=2.0)
    finally:
        ctl.close()
        assert "stopped" in topo.down()
