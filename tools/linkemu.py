"""Latency, loss and cut lines on real IP packets, in user space: ``tc netem`` for kernels without ``sch_netem``.

A router (a network namespace of its own, between two sides) sends the packets it forwards into a TUN device
instead of out of the right interface; this process reads each IP packet from the TUN, drops it with the
probability of its link, holds it for the link's delay, and writes it back into the TUN, where the kernel routes it
on, out of the real interface. The packets are real: TCP sees the delay and the loss and really retransmits.

Routing, set up by ``--route-from IFACE`` (once per interface the router forwards from)::

    ip rule add iif IFACE lookup TABLE           # what arrives on IFACE goes to the emulator...
    ip route add default dev TUN table TABLE
    # ...and what the emulator writes back arrives on TUN: no rule for it, the main table routes it out

A packet's link is the most specific rule whose network holds its source or its destination (so one rule covers
both directions, 300 ms each way like netem on both ends of a veth); a packet no rule holds passes at once.
Within a link, packets leave in the order they came (a shorter delay set at run time does not overtake); the queue
is bounded (``--limit`` packets, like netem's ``limit``), the excess dropped and counted.

The rules change at run time over a Unix socket, one JSON object per line, one JSON reply per line::

    {"op": "set", "net": "10.213.5.11/32", "delay_ms": 300, "loss": 1.0}   # a cut line: every packet lost
    {"op": "clear", "net": "10.213.5.11/32"}
    {"op": "stats"}          # every rule with its packets, losses, overflows; what is queued; how late it wrote

:class:`Control` is the client. Run it (as root, in the router's namespace)::

    ip netns exec ROUTER python tools/linkemu.py --tun emu0 --control /tmp/emu.sock \\
        --route-from br0 --route-from veth-up --rule 10.213.5.0/24:300:5

It prints ``ready`` once the TUN is up and routed, and stops cleanly on SIGTERM/SIGINT (its routes and rules go).
Pure standard library, independent of hallq.
"""

from __future__ import annotations

import argparse
import fcntl
import heapq
import ipaddress
import json
import os
import random
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
DEFAULT_TABLE = 7713
DEFAULT_PRIORITY = 7713


@dataclass
class Rule:
    """A link: packets from or to ``net`` are delayed ``delay`` seconds and lost with probability ``loss``."""

    net: ipaddress.IPv4Network | ipaddress.IPv6Network
    delay: float = 0.0
    loss: float = 0.0
    packets: int = 0
    lost: int = 0
    overflow: int = 0
    last_due: float = 0.0
    bounds: tuple[int, int] = field(init=False, default=(0, 0))

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss <= 1.0 or self.delay < 0:
            raise ValueError(f"a link's loss is 0…1 and its delay ≥ 0: {self.net} {self.delay} {self.loss}")
        self.bounds = (int(self.net.network_address), int(self.net.broadcast_address))

    def holds(self, version: int, address: int) -> bool:
        return version == self.net.version and self.bounds[0] <= address <= self.bounds[1]

    def as_dict(self) -> dict:
        return {"net": str(self.net), "delay_ms": round(self.delay * 1000, 3), "loss": self.loss,
                "packets": self.packets, "lost": self.lost, "overflow": self.overflow}


def parse_rule(text: str) -> Rule:
    """``NET:DELAY_MS:LOSS_PERCENT``, e.g. ``10.213.5.0/24:300:5``."""
    net, delay_ms, loss_pct = text.rsplit(":", 2)
    return Rule(ipaddress.ip_network(net, strict=False), float(delay_ms) / 1000, float(loss_pct) / 100)


def addresses(packet: bytes) -> tuple[int, int, int] | None:
    """(IP version, source, destination) of a raw IP packet, None when it is not one."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        return 4, int.from_bytes(packet[12:16], "big"), int.from_bytes(packet[16:20], "big")
    if version == 6 and len(packet) >= 40:
        return 6, int.from_bytes(packet[8:24], "big"), int.from_bytes(packet[24:40], "big")
    return None


def open_tun(name: str) -> tuple[int, str]:
    """A TUN device (IP packets, no packet information header) in this thread's network namespace."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        got = fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd, got[:16].rstrip(b"\0").decode()


class Emulator:
    def __init__(self, tun: str, rules: list[Rule], limit: int = 10000, seed: int | None = None) -> None:
        self.fd, self.tun = open_tun(tun)
        self.rules: list[Rule] = []
        for r in rules:
            self.set(r)
        self.limit = limit
        self.random = random.Random(seed)
        self.queue: list[tuple[float, int, bytes]] = []
        self.count = 0
        self.passed = 0  # held by no rule
        self.written = 0
        self.write_errors = 0
        self.late = [0, 0.0, 0.0, 0, 0]  # held packets written: count, seconds late in all, at most, > 10 ms, > 50 ms
        self.running = True
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.fd, selectors.EVENT_READ, self._read_tun)
        self.control: socket.socket | None = None
        self.clients: dict[socket.socket, bytes] = {}

    # -- rules ------------------------------------------------------------------------------------------------
    def set(self, rule: Rule) -> None:
        kept = [r for r in self.rules if r.net != rule.net]
        old = [r for r in self.rules if r.net == rule.net]
        if old:  # its counters and its order go on
            rule.packets, rule.lost, rule.overflow, rule.last_due = (old[0].packets, old[0].lost, old[0].overflow,
                                                                     old[0].last_due)
        self.rules = sorted(kept + [rule], key=lambda r: -r.net.prefixlen)  # the most specific first

    def clear(self, net: str) -> bool:
        n = ipaddress.ip_network(net, strict=False)
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.net != n]
        return len(self.rules) < before

    def rule_for(self, packet: bytes) -> Rule | None:
        found = addresses(packet)
        if found is None:
            return None
        version, src, dst = found
        for r in self.rules:
            if r.holds(version, src) or r.holds(version, dst):
                return r
        return None

    def stats(self) -> dict:
        return {"tun": self.tun, "rules": [r.as_dict() for r in self.rules], "queued": len(self.queue),
                "passed": self.passed, "written": self.written, "write_errors": self.write_errors,
                "limit": self.limit,
                "late": {"held": self.late[0], "mean_ms": round(self.late[1] / max(1, self.late[0]) * 1000, 3),
                         "max_ms": round(self.late[2] * 1000, 3), "over_10_ms": self.late[3],
                         "over_50_ms": self.late[4]}}

    # -- packets ----------------------------------------------------------------------------------------------
    def _read_tun(self) -> None:
        for _ in range(512):  # then let due packets out
            try:
                packet = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            now = time.monotonic()
            rule = self.rule_for(packet)
            if rule is None:
                self.passed += 1
                self._write(packet)
                continue
            rule.packets += 1
            if rule.loss and (rule.loss >= 1.0 or self.random.random() < rule.loss):
                rule.lost += 1
                continue
            if len(self.queue) >= self.limit:
                rule.overflow += 1
                continue
            due = max(now + rule.delay, rule.last_due)  # never before an earlier packet of its link
            rule.last_due = due
            if due <= now and not self.queue:
                self._write(packet)
            else:
                self.count += 1
                heapq.heappush(self.queue, (due, self.count, packet))

    def _write(self, packet: bytes) -> None:
        try:
            os.write(self.fd, packet)
            self.written += 1
        except OSError:
            self.write_errors += 1

    def _release(self) -> None:
        now = time.monotonic()
        while self.queue and self.queue[0][0] <= now:
            due, _, packet = heapq.heappop(self.queue)
            self._write(packet)
            late, stats = now - due, self.late  # how far past its due time a packet left (a busy machine)
            stats[0] += 1
            stats[1] += late
            stats[2] = max(stats[2], late)
            stats[3] += late > 0.010
            stats[4] += late > 0.050

    # -- control ----------------------------------------------------------------------------------------------
    def listen(self, path: str) -> None:
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        os.chmod(path, 0o600)  # only its owner changes the links
        s.listen(16)
        s.setblocking(False)
        self.control = s
        self.sel.register(s, selectors.EVENT_READ, self._accept)

    def _accept(self) -> None:
        assert self.control is not None
        try:
            c, _ = self.control.accept()
        except BlockingIOError:
            return
        c.setblocking(False)
        self.clients[c] = b""
        self.sel.register(c, selectors.EVENT_READ, lambda: self._client(c))

    def _client(self, c: socket.socket) -> None:
        try:
            data = c.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(c)
            self.clients.pop(c, None)
            c.close()
            return
        buf = self.clients[c] + data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            reply = self.command(line)
            c.setblocking(True)
            try:
                c.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                pass
            c.setblocking(False)
        self.clients[c] = buf

    def command(self, line: bytes) -> dict:
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "set":
                self.set(Rule(ipaddress.ip_network(req["net"], strict=False), float(req.get("delay_ms", 0)) / 1000,
                              float(req.get("loss", 0))))
                return {"ok": True}
            if op == "clear":
                return {"ok": self.clear(req["net"])}
            if op == "stats":
                return {"ok": True, **self.stats()}
            return {"ok": False, "error": f"unknown op {op!r}"}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            return {"ok": False, "error": f"{e.__class__.__name__}: {e}"}

    # -- the loop ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        while self.running:
            timeout = None if not self.queue else max(0.0, self.queue[0][0] - time.monotonic())
            for key, _ in self.sel.select(timeout):
                key.data()
            self._release()

    def close(self) -> None:
        for c in list(self.clients):
            c.close()
        if self.control is not None:
            path = self.control.getsockname()
            self.control.close()
            if isinstance(path, str) and os.path.exists(path):
                os.unlink(path)
        self.sel.close()
        os.close(self.fd)


class Control:
    """The client of a running emulator's control socket."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")

    def request(self, **req: object) -> dict:
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        line = self.file.readline()
        if not line:
            raise ConnectionError("the link emulator closed its control socket")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"link emulator: {reply.get('error', reply)}")
        return reply

    def set(self, net: str, delay_ms: float = 0.0, loss: float = 0.0) -> None:
        """The link of ``net`` (a network or one address): ``delay_ms`` each way, ``loss`` 0…1 (1: cut)."""
        self.request(op="set", net=net, delay_ms=delay_ms, loss=loss)

    def clear(self, net: str) -> None:
        self.request(op="clear", net=net)

    def stats(self) -> dict:
        return self.request(op="stats")

    def rule(self, net: str) -> dict:
        n = str(ipaddress.ip_network(net, strict=False))
        return next(r for r in self.stats()["rules"] if r["net"] == n)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _ip(*args: str) -> None:
    out = subprocess.run(["ip", *args], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {out.stderr.strip()}")


def _sysctl(key: str, value: str) -> None:
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(value)


def route(tun: str, sources: list[str], table: int, priority: int) -> list[list[str]]:
    """Bring ``tun`` up and send what is forwarded from ``sources`` through it; the rules to remove at the end."""
    _ip("link", "set", tun, "txqueuelen", "10000")  # what the kernel queues for us to read: a burst, not a drop
    _ip("link", "set", tun, "up")
    _ip("route", "replace", "default", "dev", tun, "table", str(table))
    _sysctl("net.ipv4.ip_forward", "1")
    for key in ("all", "default", tun):  # what comes back from the TUN comes from addresses routed elsewhere
        _sysctl(f"net.ipv4.conf.{key}.rp_filter", "0")
        _sysctl(f"net.ipv4.conf.{key}.send_redirects", "0")
    added = []
    for dev in sources:
        rule = ["rule", "add", "iif", dev, "lookup", str(table), "priority", str(priority)]
        _ip(*rule)
        added.append(["rule", "del", *rule[2:]])
    return added


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tun", default="emu0", help="the TUN device's name")
    p.add_argument("--control", help="the control socket's path (JSON lines)")
    p.add_argument("--route-from", action="append", default=[], metavar="IFACE",
                   help="send what is forwarded from IFACE through the emulator (policy routing; repeat)")
    p.add_argument("--table", type=int, default=DEFAULT_TABLE, help="the routing table for those rules")
    p.add_argument("--priority", type=int, default=DEFAULT_PRIORITY, help="the priority of those rules")
    p.add_argument("--rule", action="append", default=[], metavar="NET:DELAY_MS:LOSS_PERCENT",
                   help="a link at the start, e.g. 10.213.5.0/24:300:5 (repeat)")
    p.add_argument("--limit", type=int, default=10000, help="packets held at most (netem's limit); more are dropped")
    p.add_argument("--seed", type=int, help="the random seed of the losses")
    args = p.parse_args(argv)

    emu = Emulator(args.tun, [parse_rule(r) for r in args.rule], limit=args.limit, seed=args.seed)
    undo: list[list[str]] = []
    try:
        undo = route(emu.tun, args.route_from, args.table, args.priority) if args.route_from else []
        if args.control:
            emu.listen(args.control)

        def stop(*_: object) -> None:
            emu.running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.set_wakeup_fd(_wakeup(emu))  # a signal wakes the select
        print("ready", emu.tun, flush=True)
        emu.run()
    finally:
        for rule in undo:
            subprocess.run(["ip", *rule], capture_output=True)
        print(json.dumps({"stopped": True, **emu.stats()}), flush=True)
        emu.close()
    return 0


def _wakeup(emu: Emulator) -> int:
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)

    def drain() -> None:
        try:
            os.read(r, 512)
        except BlockingIOError:
            pass

    emu.sel.register(r, selectors.EVENT_READ, drain)
    return w


if __name__ == "__main__":
    sys.exit(main())
